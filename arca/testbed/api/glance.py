"""Emulated Glance v2 (image list/show) for clients that read images from the image service."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import PROJECT_ID, Cloud, guard, json_errors
from arca.testbed.api.nova import IMAGES, iso

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

    def body(i: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": i["id"],
            "name": i["name"],
            "status": "active",
            "visibility": "public",
            "container_format": "bare",
            "disk_format": "qcow2",
            "size": 21430272,
            "virtual_size": None,
            "min_disk": 0,
            "min_ram": 0,
            "protected": False,
            "os_hidden": False,
            "owner": PROJECT_ID,
            "checksum": "c8fc807773e5354afe61636071771906",
            "os_hash_algo": "sha512",
            "os_hash_value": None,
            "tags": [],
            "created_at": created,
            "updated_at": created,
            "self": f"/v2/images/{i['id']}",
            "file": f"/v2/images/{i['id']}/file",
            "schema": "/v2/schemas/image",
        }

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
        items = [body(i) for i in IMAGES if request.args.get("name") in (None, i["name"])]
        return jsonify({"images": items, "schema": "/v2/schemas/images", "first": "/v2/images"})

    @app.get("/v2/images/<image_id>")
    def image(image_id: str) -> Any:
        for i in IMAGES:
            if i["id"] == image_id:
                return jsonify(body(i))
        return _error(404, f"No image found with ID {image_id}")

    return app
