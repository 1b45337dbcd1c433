"""Emulated Keystone v3: version discovery, password authentication, token with a service catalog.

Enough for keystoneauth1 / openstacksdk (``openstack.connect(auth_url=.../v3, username=...,
password=..., project_name=..., user_domain_name=..., project_domain_name=...)``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import (
    ALT_PROJECT_ID,
    ALT_USER_ID,
    DOMAIN_ID,
    DOMAIN_NAME,
    PROJECT_ID,
    READER_ID,
    REGION,
    USER_ID,
    Cloud,
    guard,
    json_errors,
)

SERVICE_NAMES = {
    "compute": "nova",
    "image": "glance",
    "metric": "gnocchi",
    "load-balancer": "octavia",
    "identity": "keystone",
    "network": "neutron",
}


def _error(status: int, message: str) -> tuple[Any, int]:
    title = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
             405: "Method Not Allowed", 500: "Internal Server Error", 503: "Service Unavailable"}
    return jsonify(
        {"error": {"code": status, "message": message, "title": title.get(status, "Error")}}
    ), status


def _version(base: str) -> dict[str, Any]:
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base}/v3/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
    }


def catalog(cloud: Cloud) -> list[dict[str, Any]]:
    out = []
    for i, (stype, url) in enumerate(sorted(cloud.urls.items())):
        eps = [
            {
                "id": f"{i:02d}{j}{'e' * 29}",
                "interface": iface,
                "region": REGION,
                "region_id": REGION,
                "url": url,
            }
            for j, iface in enumerate(("public", "internal", "admin"))
        ]
        out.append(
            {
                "id": f"{i:02d}{'c' * 30}",
                "type": stype,
                "name": SERVICE_NAMES.get(stype, stype),
                "endpoints": eps,
            }
        )
    return out


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-keystone")
    guard(app, cloud, "identity", auth=False, on_error=lambda s, m: _error(s, m))
    json_errors(app, _error, "identity", cloud)

    def base() -> str:
        return request.host_url.rstrip("/")

    @app.get("/")
    def root() -> Any:
        return jsonify({"versions": {"values": [_version(base())]}}), 300

    @app.get("/v3")
    @app.get("/v3/")
    def v3() -> Any:
        return jsonify({"version": _version(base())})

    @app.post("/v3/auth/tokens")
    def tokens() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("auth"), dict):
            return _error(400, "Expecting to find auth in request body")
        auth = body["auth"]
        ident = auth.get("identity") or {}
        if "password" not in (ident.get("methods") or []):
            return _error(401, "Only the password method is supported by the testbed")
        user = ((ident.get("password") or {}).get("user")) or {}
        creds = cloud.credentials
        udom = user.get("domain") or {}
        reader = user.get("name") == creds.reader_username or user.get("id") == READER_ID
        alt = user.get("name") == creds.alt_username or user.get("id") == ALT_USER_ID
        known = reader or alt or user.get("name") in (creds.username, None) or user.get("id") == USER_ID
        if not known or user.get("password") != creds.password:
            return _error(401, "The request you have made requires authentication.")
        if udom and udom.get("name", DOMAIN_NAME) != creds.user_domain_name and udom.get("id") != DOMAIN_ID:
            return _error(401, "The request you have made requires authentication.")
        scope = auth.get("scope") or {}
        project = scope.get("project") or {}
        alt_name = f"{creds.project_name}-alt"
        mine = (alt_name, ALT_PROJECT_ID) if alt else (creds.project_name, PROJECT_ID)
        if project and project.get("name") not in (mine[0], None) and project.get("id") != mine[1]:
            return _error(401, f"project {project.get('name') or project.get('id')} not found")
        now = datetime.now(UTC)
        token = cloud.new_token(alt=alt)
        domain = {"id": DOMAIN_ID, "name": DOMAIN_NAME}
        out: dict[str, Any] = {
            "methods": ["password"],
            "user": {
                "id": READER_ID if reader else ALT_USER_ID if alt else USER_ID,
                "name": creds.reader_username if reader else creds.alt_username if alt else creds.username,
                "domain": domain,
                "password_expires_at": None,
            },
            "audit_ids": [token[-22:]],
            "issued_at": now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
            "expires_at": (now + timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        }
        if project:
            out["project"] = {"id": mine[1], "name": mine[0], "domain": domain}
            out["is_domain"] = False
            member = [] if reader else [{"id": "r" * 32, "name": "member"}]
            out["roles"] = [*member, {"id": "m" * 32, "name": "reader"}]
            out["catalog"] = catalog(cloud)
        resp = jsonify({"token": out})
        resp.status_code = 201
        resp.headers["X-Subject-Token"] = token
        return resp

    @app.get("/v3/auth/tokens")
    def validate() -> Any:
        token = request.headers.get("X-Subject-Token")
        if not cloud.valid(token):
            return _error(404, "Could not find token")
        return jsonify({"token": {"methods": ["password"], "catalog": catalog(cloud)}})

    @app.get("/v3/auth/catalog")
    def get_catalog() -> Any:
        if not cloud.valid(request.headers.get("X-Auth-Token")):
            return _error(401, "The request you have made requires authentication.")
        return jsonify({"catalog": catalog(cloud)})

    return app
