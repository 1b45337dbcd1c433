"""The testbed's own control API (not an OpenStack/OSM API): status, fault injection, manual time.

- ``GET  /testbed/status`` simulated time, servants, last accounting record, summary so far.
- ``POST /testbed/faults`` ``{"service": "compute", "count": 3, "status": 503}``: the next N requests
  to that API (identity, compute, image, metric, load-balancer, network, osm) fail with that status.
- ``POST /testbed/never-active`` ``{"count": 1}``: the next N servers created stay in BUILD forever.
- ``POST /testbed/kill`` ``{"server_id": "..."}`` or ``{"servants": 2}``: servants die (status ERROR).
- ``POST /testbed/advance`` ``{"seconds": 10}``: move simulated time (when no ticker runs).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.accounting import summarize
from arca.testbed.api.common import Cloud, json_errors
from arca.testbed.model import ACTIVE, DELETED

SERVICES = ("identity", "compute", "image", "metric", "load-balancer", "network", "osm")


def _bad(detail: str) -> tuple[Any, int]:
    return jsonify({"error": detail}), 400


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-control")
    json_errors(app, lambda s, m: (jsonify({"error": m}), s), "control")
    model = cloud.model

    def body() -> dict[str, Any]:
        b = request.get_json(silent=True)
        return b if isinstance(b, dict) else {}

    @app.get("/testbed/status")
    def status() -> Any:
        last = model.last_record()
        with model.lock:
            servants = [
                {
                    "id": s.id,
                    "name": s.name,
                    "status": s.status,
                    "owner": s.owner,
                    "created_s": s.created_s,
                    "active_s": s.active_s,
                    "pools": sorted(s.pools),
                }
                for s in model.servants.values()
                if s.status != DELETED
            ]
        return jsonify(
            {
                "t": model.t,
                "now": model.now().isoformat(),
                "duration_s": model.timeline.duration_s,
                "servants": servants,
                "last_record": asdict(last) if last else None,
                "summary": summarize(model).as_dict(),
                "requests_per_api": cloud.requests_served,
            }
        )

    @app.post("/testbed/faults")
    def faults() -> Any:
        b = body()
        service, count, status = b.get("service"), b.get("count", 1), b.get("status", 503)
        if service not in SERVICES:
            return _bad(f"service must be one of {', '.join(SERVICES)}")
        if not isinstance(count, int) or count < 0 or not isinstance(status, int) or not 400 <= status <= 599:
            return _bad("count must be an integer >= 0 and status an HTTP error status (400..599)")
        cloud.faults.inject(service, count, status)
        return jsonify({"service": service, "count": count, "status": status})

    @app.post("/testbed/never-active")
    def never_active() -> Any:
        count = body().get("count", 1)
        if not isinstance(count, int) or count < 0:
            return _bad("count must be an integer >= 0")
        with model.lock:
            model.never_active_next = count
        return jsonify({"count": count})

    @app.post("/testbed/kill")
    def kill() -> Any:
        b = body()
        killed: list[str] = []
        if "server_id" in b:
            if b["server_id"] not in model.servants:
                return jsonify({"error": f"no server {b['server_id']}"}), 404
            model.kill_servant(b["server_id"])
            killed.append(b["server_id"])
        else:
            n = b.get("servants", 1)
            if not isinstance(n, int) or n < 1:
                return _bad("servants must be an integer >= 1")
            with model.lock:
                victims = sorted(
                    (s for s in model.servants.values() if s.status == ACTIVE),
                    key=lambda s: (s.active_s or 0.0, s.id),
                )[:n]
                for v in victims:
                    model.kill_servant(v.id)
                    killed.append(v.id)
        model.flush_events()
        return jsonify({"killed": killed})

    @app.post("/testbed/advance")
    def advance() -> Any:
        seconds = body().get("seconds")
        if not isinstance(seconds, int | float) or seconds < 0:
            return _bad("seconds must be a number >= 0")
        model.advance(float(seconds))
        return jsonify({"t": model.t})

    return app
