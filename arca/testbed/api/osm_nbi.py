"""Emulated OSM NBI (SOL005-style REST): tokens, NS instances, VNF instances, VNF packages (their
VNFDs: the scaling aspects a client reads before scaling), scale, heal, LCM op occs.

JSON in and out (the real NBI also speaks YAML); ``Authorization: Bearer <token id>``; errors are
``{"code": "UNPROCESSABLE_ENTITY", "status": 422, "detail": "..."}`` like the real NBI.
"""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus
from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import Cloud, json_errors
from arca.testbed.osm import Osm, OsmError

ADMIN_PROJECT = "admin"


def _err(status: int, code: str, detail: str) -> tuple[Any, int]:
    return jsonify({"code": code, "status": status, "detail": detail}), status


def create_app(cloud: Cloud, osm: Osm, username: str = "admin", password: str = "admin") -> Flask:
    app = Flask("testbed-osm")
    tokens: set[str] = set()
    base = "/osm"
    json_errors(app, lambda s, m: _err(s, HTTPStatus(s).name, m), "osm", cloud)

    @app.before_request
    def check() -> Any:
        cloud.count("osm")
        status = cloud.faults.take("osm")
        if status is not None:
            return _err(
                status, "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR", "injected fault"
            )
        if request.path == f"{base}/admin/v1/tokens" and request.method == "POST":
            return None
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in tokens:
            return _err(401, "UNAUTHORIZED", "Needed a token or Authorization http header")
        return None

    @app.post(f"{base}/admin/v1/tokens")
    def new_token() -> Any:
        body = request.get_json(silent=True) or {}
        if body.get("username") != username or body.get("password") != password:
            return _err(401, "UNAUTHORIZED", "Invalid username or password")
        tok = uuid.uuid4().hex
        tokens.add(tok)
        now = time.time()
        return jsonify(
            {
                "_id": tok,
                "id": tok,
                "issued_at": now,
                "expires": now + 3600,
                "project_id": body.get("project_id", ADMIN_PROJECT),
                "project_name": ADMIN_PROJECT,
                "username": username,
                "user_id": uuid.uuid5(uuid.NAMESPACE_DNS, username).hex,
                "admin": True,
                "roles": [{"name": "system_admin", "id": "system_admin"}],
                "remote_host": request.remote_addr,
                "remote_port": 0,
            }
        )

    @app.get(f"{base}/nslcm/v1/ns_instances_content")
    @app.get(f"{base}/nslcm/v1/ns_instances")
    def list_ns() -> Any:
        with osm.model.lock:
            return jsonify([osm.ns_doc()])

    @app.get(f"{base}/nslcm/v1/ns_instances_content/<ns_id>")
    @app.get(f"{base}/nslcm/v1/ns_instances/<ns_id>")
    def show_ns(ns_id: str) -> Any:
        if ns_id != osm.ns.id:
            return _err(404, "NOT_FOUND", f"nsrs '{ns_id}' not found")
        with osm.model.lock:
            return jsonify(osm.ns_doc())

    @app.get(f"{base}/nslcm/v1/vnf_instances")
    @app.get(f"{base}/nslcm/v1/vnfrs")
    def list_vnfrs() -> Any:
        ref = request.args.get("nsr-id-ref")
        with osm.model.lock:
            return jsonify([osm.vnfr_doc(v) for v in osm.ns.vnfrs.values() if ref in (None, osm.ns.id)])

    @app.get(f"{base}/nslcm/v1/vnf_instances/<vnfr_id>")
    @app.get(f"{base}/nslcm/v1/vnfrs/<vnfr_id>")
    def show_vnfr(vnfr_id: str) -> Any:
        with osm.model.lock:
            for v in osm.ns.vnfrs.values():
                if v.id == vnfr_id:
                    return jsonify(osm.vnfr_doc(v))
        return _err(404, "NOT_FOUND", f"vnfrs '{vnfr_id}' not found")

    @app.get(f"{base}/vnfpkgm/v1/vnf_packages_content")
    def list_vnfds() -> Any:
        with osm.model.lock:
            return jsonify([osm.vnfd_doc(v) for v in osm.vnfd_ids().values()])

    @app.get(f"{base}/vnfpkgm/v1/vnf_packages_content/<vnfd_id>")
    @app.get(f"{base}/vnfpkgm/v1/vnf_packages/<vnfd_id>/vnfd")
    def show_vnfd(vnfd_id: str) -> Any:
        with osm.model.lock:
            ids = osm.vnfd_ids()
            name = ids.get(vnfd_id) or (vnfd_id if vnfd_id in ids.values() else None)
            if name is None:
                return _err(404, "NOT_FOUND", f"vnfds '{vnfd_id}' not found")
            return jsonify(osm.vnfd_doc(name))

    def operation(kind: str, ns_id: str) -> Any:
        body = request.get_json(silent=True)
        try:
            op = osm.scale(ns_id, body) if kind == "scale" else osm.heal(ns_id, body)
        except OsmError as exc:
            return _err(exc.status, exc.code, exc.detail)
        resp = jsonify({"id": op.id})
        resp.status_code = 202
        resp.headers["Location"] = f"{base}/nslcm/v1/ns_lcm_op_occs/{op.id}"
        return resp

    @app.post(f"{base}/nslcm/v1/ns_instances/<ns_id>/scale")
    def scale(ns_id: str) -> Any:
        return operation("scale", ns_id)

    @app.post(f"{base}/nslcm/v1/ns_instances/<ns_id>/heal")
    def heal(ns_id: str) -> Any:
        return operation("heal", ns_id)

    @app.get(f"{base}/nslcm/v1/ns_lcm_op_occs")
    def list_ops() -> Any:
        ref = request.args.get("nsInstanceId")
        with osm.model.lock:
            return jsonify([osm.op_doc(o) for o in osm.ops.values() if ref in (None, o.ns_id)])

    @app.get(f"{base}/nslcm/v1/ns_lcm_op_occs/<op_id>")
    def show_op(op_id: str) -> Any:
        with osm.model.lock:
            op = osm.ops.get(op_id)
            if op is None:
                return _err(404, "NOT_FOUND", f"nslcmops '{op_id}' not found")
            return jsonify(osm.op_doc(op))

    return app
