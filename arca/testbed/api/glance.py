"""Emulated Glance v2: the fixed images, and images made while the testbed runs (``POST /v2/images``,
``PUT /v2/images/{id}/file``, ``DELETE``; Nova's shelve snapshots), kept in ``Cloud.images``."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import PROJECT_ID, Cloud, guard, json_errors
from arca.testbed.api.nova import IMAGES, images_of, iso

CREATE_FIELDS = {"id", "name", "container_format", "disk_format", "min_ram", "min_disk", "visibility",
                 "tags", "protected", "os_hidden"}
"""The fields of ``POST /v2/images`` with a meaning here; any other string field is a property."""

TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 500: "Internal Server Error",
          503: "Service Unavailable"}


def _error(status: int, message: str) -> tuple[Any, int]:
    """Glance's error as JSON: ``{"code": 404, "title": "Not Found", "message": ...}``."""
    return jsonify({"code": status, "title": TITLES.get(status, "Error"), "message": message}), status


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-glance")
    guard(
        app,
        cloud,
        "image",
        open_paths=("/", "/versions"),
        on_error=lambda s, m: _error(s, m),
    )
    json_errors(app, _error, "image", cloud)
    created = iso(cloud.model.start)

    fixed = {i["id"] for i in IMAGES}

    def body(i: dict[str, Any]) -> dict[str, Any]:
        out = {
            "id": i["id"],
            "name": i["name"],
            "status": i.get("status", "active"),
            "visibility": i.get("visibility", "public"),
            "container_format": i.get("container_format", "bare"),
            "disk_format": i.get("disk_format", "qcow2"),
            "size": i.get("size", 21430272),
            "virtual_size": None,
            "min_disk": int(i.get("min_disk") or 0),
            "min_ram": int(i.get("min_ram") or 0),
            "protected": bool(i.get("protected", False)),
            "os_hidden": bool(i.get("os_hidden", False)),
            "owner": PROJECT_ID,
            "checksum": i.get("checksum", "c8fc807773e5354afe61636071771906"),
            "os_hash_algo": "sha512",
            "os_hash_value": i.get("os_hash_value"),
            "tags": list(i.get("tags", [])),
            "created_at": i.get("created_at", created),
            "updated_at": i.get("updated_at", created),
            "self": f"/v2/images/{i['id']}",
            "file": f"/v2/images/{i['id']}/file",
            "schema": "/v2/schemas/image",
        }
        out.update(i.get("properties", {}))
        return out

    def made(image_id: str) -> dict[str, Any] | None:
        with cloud.lock:
            return cloud.images.get(image_id)

    @app.get("/")
    @app.get("/versions")
    def versions() -> Any:
        href = request.host_url.rstrip("/") + "/v2/"
        vs = [
            {
                "id": f"v2.{n}",
                "status": "CURRENT" if n == 16 else "SUPPORTED",
                "links": [{"rel": "self", "href": href}],
            }
            for n in (16, 15, 9, 0)
        ]
        return jsonify({"versions": vs}), 300

    @app.get("/v2/images")
    def images() -> Any:
        items = [body(i) for i in images_of(cloud)]
        for key in ("name", "status", "visibility", "container_format", "disk_format"):
            if key in request.args:
                items = [i for i in items if str(i[key]) == request.args[key]]
        if "marker" in request.args:
            ids = [i["id"] for i in items]
            if request.args["marker"] not in ids:
                return _error(400, f"Invalid marker. Image {request.args['marker']} could not be found.")
            items = items[ids.index(request.args["marker"]) + 1 :]
        if "limit" in request.args:
            try:
                items = items[: max(0, int(request.args["limit"]))]
            except ValueError:
                return _error(400, "limit param must be an integer")
        return jsonify({"images": items, "schema": "/v2/schemas/images", "first": "/v2/images"})

    @app.get("/v2/images/<image_id>")
    def image(image_id: str) -> Any:
        for i in images_of(cloud):
            if i["id"] == image_id:
                return jsonify(body(i))
        return _error(404, f"No image found with ID {image_id}")

    @app.post("/v2/images")
    def create_image() -> Any:
        spec = request.get_json(silent=True)
        if not isinstance(spec, dict):
            return _error(400, "Malformed JSON in request body.")
        image_id = spec.get("id") or str(uuid.uuid4())
        if image_id in fixed or made(image_id) is not None:
            return _error(409, f"Image with identifier {image_id} already exists!")
        for key in ("min_ram", "min_disk"):
            if not isinstance(spec.get(key, 0), int) or spec.get(key, 0) < 0:
                return _error(400, f"Invalid value for {key}: it must be a non-negative integer")
        if spec.get("visibility", "shared") not in ("public", "private", "shared", "community"):
            return _error(400, f"Invalid visibility value: {spec.get('visibility')}")
        from datetime import UTC, datetime

        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rec: dict[str, Any] = {
            "id": image_id, "name": spec.get("name"), "status": "queued",
            "visibility": spec.get("visibility", "shared"),
            "container_format": spec.get("container_format"), "disk_format": spec.get("disk_format"),
            "size": None, "checksum": None, "min_ram": spec.get("min_ram", 0),
            "min_disk": spec.get("min_disk", 0), "protected": bool(spec.get("protected", False)),
            "os_hidden": bool(spec.get("os_hidden", False)), "tags": list(spec.get("tags", [])),
            "created_at": now, "updated_at": now,
            "properties": {k: x for k, x in spec.items() if k not in CREATE_FIELDS and isinstance(x, str)},
        }
        with cloud.lock:
            cloud.images[image_id] = rec
        resp = jsonify(body(rec))
        resp.status_code = 201
        resp.headers["Location"] = f"{request.host_url.rstrip('/')}/v2/images/{image_id}"
        return resp

    @app.put("/v2/images/<image_id>/file")
    def upload(image_id: str) -> Any:
        rec = made(image_id)
        if rec is None:
            if image_id in fixed:
                return _error(409, "Image status transition from active to saving is not allowed")
            return _error(404, f"No image found with ID {image_id}")
        data = request.get_data()
        with cloud.lock:
            if rec["status"] != "queued":
                return _error(409, f"Image status transition from {rec['status']} to saving is not allowed")
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            rec.update(status="active", size=len(data), checksum=md5,
                       os_hash_value=hashlib.sha512(data).hexdigest())
        return "", 204

    @app.patch("/v2/images/<image_id>")
    def update(image_id: str) -> Any:
        """JSON Patch (``application/openstack-images-v2.1-json-patch``) on an image made here."""
        ops = request.get_json(force=True, silent=True)
        if not isinstance(ops, list) or not all(isinstance(o, dict) for o in ops):
            return _error(400, "Malformed JSON in request body.")
        if image_id in fixed:
            return _error(403, f"You are not permitted to modify image {image_id}: it is public, not yours")
        rec = made(image_id)
        if rec is None:
            return _error(404, f"No image found with ID {image_id}")
        readonly = {"id", "status", "size", "checksum", "created_at", "updated_at", "owner", "self", "file",
                    "schema", "os_hash_algo", "os_hash_value", "virtual_size"}
        with cloud.lock:
            for o in ops:
                path = str(o.get("path", "")).lstrip("/")
                if o.get("op") not in ("add", "replace", "remove") or not path or "/" in path:
                    return _error(400, f"Invalid JSON pointer or operation: {o}")
                if path in readonly:
                    return _error(403, f"Attribute '{path}' is read-only.")
                props = rec.setdefault("properties", {})
                top = path in CREATE_FIELDS
                if o["op"] == "remove":
                    if (path not in props) and not top:
                        return _error(409, f"Property {path} does not exist.")
                    props.pop(path, None)
                elif top:
                    rec[path] = o.get("value")
                else:
                    props[path] = o.get("value")
        return jsonify(body(rec))

    @app.delete("/v2/images/<image_id>")
    def delete(image_id: str) -> Any:
        if image_id in fixed:
            return _error(403, f"You are not permitted to delete image {image_id}: it is public, not yours")
        with cloud.lock:
            rec = cloud.images.get(image_id)
            if rec is None:
                return _error(404, f"No image found with ID {image_id}")
            if rec.get("protected"):
                return _error(403, f"Image {image_id} is protected and cannot be deleted.")
            del cloud.images[image_id]
        return "", 204

    return app
