"""Emulated Gnocchi v1: instance resources and their ``cpu_util`` measures at the telemetry granularity.

``GET /v1/resource/instance/{server_id}/metric/cpu_util/measures?start=&granularity=`` answers
``[[timestamp, granularity, percent], ...]`` with one point per *complete* telemetry window
(mean of the servant's CPU utilisation over the window, in percent), as Ceilometer + Gnocchi do.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import PROJECT_ID, USER_ID, Cloud, guard, json_errors
from arca.testbed.api.nova import FLAVORS, iso
from arca.testbed.model import Servant

METRICS = ("cpu_util",)
_NS = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")


def metric_id(server_id: str, name: str) -> str:
    return str(uuid.uuid5(_NS, f"{server_id}/{name}"))


def _err(status: int, description: str) -> tuple[Any, int]:
    title = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
             500: "Internal Server Error"}.get(status, "Error")
    return jsonify({"code": status, "description": description, "title": title}), status


def parse_time(value: str) -> datetime:
    """Gnocchi accepts ISO 8601 timestamps and UNIX epochs."""
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_span(value: str) -> float:
    """Granularity: seconds (``10``, ``10.0``) or a timespan (``10s``, ``1min``)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(s|sec|second|seconds|min|minute|minutes|h|hour|hours)?\s*", value)
    if not m:
        raise ValueError(value)
    n = float(m.group(1))
    unit = (m.group(2) or "s")[0]
    return n * {"s": 1, "m": 60, "h": 3600}[unit]


def resource_body(s: Servant, cloud: Cloud) -> dict[str, Any]:
    model = cloud.model
    flavor = next((f for f in FLAVORS if f["id"] == s.flavor_id), FLAVORS[0])
    return {
        "id": s.id,
        "type": "instance",
        "original_resource_id": s.id,
        "project_id": PROJECT_ID,
        "user_id": USER_ID,
        "created_by_project_id": PROJECT_ID,
        "created_by_user_id": USER_ID,
        "creator": f"{USER_ID}:{PROJECT_ID}",
        "started_at": iso(model.time_of(s.created_s)),
        "ended_at": iso(model.time_of(s.deleted_s)) if s.deleted_s is not None else None,
        "revision_start": iso(model.time_of(s.created_s)),
        "revision_end": None,
        "metrics": {m: metric_id(s.id, m) for m in METRICS},
        "display_name": s.name,
        "flavor_id": flavor["id"],
        "flavor_name": flavor["name"],
        "host": "compute-hq-1",
        "image_ref": s.image_id,
        "server_group": None,
    }


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-gnocchi")
    model = cloud.model
    guard(app, cloud, "metric", open_paths=("/", "/v1"), on_error=lambda s, m: _err(s, m))
    json_errors(app, _err, "metric", cloud)

    @app.get("/")
    def versions() -> Any:
        href = request.host_url.rstrip("/") + "/v1/"
        return jsonify(
            {
                "build": "4.6.0",
                "versions": [
                    {
                        "id": "v1.0",
                        "status": "CURRENT",
                        "updated": "2015-03-19",
                        "links": [{"rel": "self", "href": href}],
                    }
                ],
            }
        )

    def servant(server_id: str) -> Servant | None:
        with model.lock:
            return model.servants.get(server_id)

    def by_metric(mid: str) -> tuple[Servant, str] | None:
        with model.lock:
            for s in model.servants.values():
                for m in METRICS:
                    if metric_id(s.id, m) == mid:
                        return s, m
        return None

    def measures(s: Servant, name: str) -> Any:
        if name not in METRICS:
            return _err(404, f"Metric {name} does not exist")
        g = model.params.telemetry_granularity_s
        if "granularity" in request.args:
            try:
                asked = parse_span(request.args["granularity"])
            except ValueError:
                return _err(400, f"Invalid value for granularity: {request.args['granularity']}")
            if abs(asked - g) > 1e-9:
                return _err(
                    404,
                    f"Aggregation method 'mean' at granularity '{asked}' for metric "
                    f"{metric_id(s.id, name)} does not exist",
                )
        aggregation = request.args.get("aggregation", "mean")
        if aggregation != "mean":
            return _err(
                404, f"Aggregation method '{aggregation}' for metric {metric_id(s.id, name)} does not exist"
            )
        start_s = stop_s = None
        try:
            if request.args.get("start"):
                start_s = model.seconds_of(parse_time(request.args["start"]))
            if request.args.get("stop"):
                stop_s = model.seconds_of(parse_time(request.args["stop"]))
        except ValueError:
            return _err(400, "Invalid value for start/stop: not a timestamp")
        points = []
        for w0, value in model.cpu_measures(s.id, start_s=start_s, granularity_s=g):
            if stop_s is not None and w0 >= stop_s:
                continue
            points.append([model.time_of(w0).isoformat(), g, round(100.0 * value, 4)])
        return jsonify(points)

    @app.get("/v1/resource/instance")
    @app.get("/v1/resource/generic")
    def list_resources() -> Any:
        with model.lock:
            items = sorted(model.servants.values(), key=lambda s: (s.created_s, s.id))
        return jsonify([resource_body(s, cloud) for s in items])

    @app.get("/v1/resource/instance/<server_id>")
    @app.get("/v1/resource/generic/<server_id>")
    def show_resource(server_id: str) -> Any:
        s = servant(server_id)
        if s is None:
            return _err(404, f"Resource {server_id} does not exist")
        return jsonify(resource_body(s, cloud))

    @app.get("/v1/resource/instance/<server_id>/metric/<name>/measures")
    @app.get("/v1/resource/generic/<server_id>/metric/<name>/measures")
    def resource_measures(server_id: str, name: str) -> Any:
        s = servant(server_id)
        if s is None:
            return _err(404, f"Resource {server_id} does not exist")
        return measures(s, name)

    def metric_body(s: Servant, name: str) -> dict[str, Any]:
        return {
            "id": metric_id(s.id, name),
            "name": name,
            "unit": "%",
            "resource_id": s.id,
            "creator": f"{USER_ID}:{PROJECT_ID}",
            "created_by_project_id": PROJECT_ID,
            "created_by_user_id": USER_ID,
            "archive_policy_name": "ceilometer-low-rate",
            "archive_policy": {
                "name": "ceilometer-low-rate",
                "back_window": 0,
                "aggregation_methods": ["mean"],
                "definition": [
                    {
                        "granularity": f"0:00:{int(model.params.telemetry_granularity_s):02d}",
                        "points": 8640,
                        "timespan": "1 day",
                    }
                ],
            },
        }

    @app.get("/v1/resource/instance/<server_id>/metric/<name>")
    @app.get("/v1/resource/generic/<server_id>/metric/<name>")
    def resource_metric(server_id: str, name: str) -> Any:
        s = servant(server_id)
        if s is None:
            return _err(404, f"Resource {server_id} does not exist")
        if name not in METRICS:
            return _err(404, f"Metric {name} does not exist")
        return jsonify(metric_body(s, name))

    def archive_policy() -> dict[str, Any]:
        g = int(model.params.telemetry_granularity_s)
        return {
            "name": "ceilometer-low-rate",
            "back_window": 0,
            "aggregation_methods": ["mean"],
            "definition": [
                {"granularity": f"0:00:{g:02d}", "points": 86400 // g, "timespan": "1 day, 0:00:00"}
            ],
        }

    @app.get("/v1/archive_policy")
    @app.get("/v1/archive_policy/")
    def list_archive_policies() -> Any:
        return jsonify([archive_policy()])

    @app.get("/v1/archive_policy/<name>")
    def show_archive_policy(name: str) -> Any:
        if name != "ceilometer-low-rate":
            return _err(404, f"Archive policy {name} does not exist")
        return jsonify(archive_policy())

    @app.get("/v1/metric")
    def list_metrics() -> Any:
        with model.lock:
            items = sorted(model.servants.values(), key=lambda s: (s.created_s, s.id))
        rid = request.args.get("resource_id")
        return jsonify([metric_body(s, m) for s in items for m in METRICS if rid in (None, s.id)])

    @app.get("/v1/metric/<mid>")
    def show_metric(mid: str) -> Any:
        found = by_metric(mid)
        if found is None:
            return _err(404, f"Metric {mid} does not exist")
        return jsonify(metric_body(*found))

    @app.get("/v1/metric/<mid>/measures")
    def metric_measures(mid: str) -> Any:
        found = by_metric(mid)
        if found is None:
            return _err(404, f"Metric {mid} does not exist")
        return measures(*found)

    return app
