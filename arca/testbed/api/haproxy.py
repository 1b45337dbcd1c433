"""HAProxy-style statistics of each building's load balancer: ``GET /haproxy/<lb>/stats;csv``.

The CSV is HAProxy 1.6's ``show stat`` format (the first 51 fields; header line starts with
``# ``): one FRONTEND row (``stot``/``req_tot`` requests received, ``dreq`` requests discarded by
the testbed because no servant could take them and the queue was full, ``hrsp_5xx`` the same,
``req_rate`` requests in the last second), one row per servant in service, and a BACKEND row
(``qcur`` requests waiting, ``stot`` requests served). Counters are cumulative integers.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

from arca.testbed.api.common import Cloud, json_errors
from arca.testbed.api.octavia import lb_name
from arca.testbed.scenario import BUILDINGS

FIELDS = [
    "pxname",
    "svname",
    "qcur",
    "qmax",
    "scur",
    "smax",
    "slim",
    "stot",
    "bin",
    "bout",
    "dreq",
    "dresp",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "status",
    "weight",
    "act",
    "bck",
    "chkfail",
    "chkdown",
    "lastchg",
    "downtime",
    "qlimit",
    "pid",
    "iid",
    "sid",
    "throttle",
    "lbtot",
    "tracked",
    "type",
    "rate",
    "rate_lim",
    "rate_max",
    "check_status",
    "check_code",
    "check_duration",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
    "hanafail",
    "req_rate",
    "req_rate_max",
    "req_tot",
    "cli_abrt",
    "srv_abrt",
]


def _row(values: dict[str, Any]) -> str:
    return ",".join(str(values.get(f, "")) for f in FIELDS) + ","


def stats_csv(cloud: Cloud, building: str) -> str:
    model = cloud.model
    c = model.lb_counters(building)
    servers = sorted(model.eligible_servants(), key=lambda s: s.name)
    total, served, dropped = round(c["requests"]), round(c["served"]), round(c["discarded"])
    rate_max = round(c["rate_max"])
    name = lb_name(building)
    lines = ["# " + ",".join(FIELDS) + ","]
    lines.append(
        _row(
            {
                "pxname": name,
                "svname": "FRONTEND",
                "scur": 0,
                "smax": 0,
                "slim": 2000,
                "stot": total,
                "bin": total * 300,
                "bout": served * 1200,
                "dreq": dropped,
                "dresp": 0,
                "ereq": 0,
                "status": "OPEN",
                "pid": 1,
                "iid": 2,
                "sid": 0,
                "type": 0,
                "rate": round(c["rate"]),
                "rate_lim": 0,
                "rate_max": rate_max,
                "hrsp_1xx": 0,
                "hrsp_2xx": served,
                "hrsp_3xx": 0,
                "hrsp_4xx": 0,
                "hrsp_5xx": dropped,
                "hrsp_other": 0,
                "req_rate": round(c["rate"]),
                "req_rate_max": rate_max,
                "req_tot": total,
            }
        )
    )
    share = served // max(1, len(servers))
    for i, s in enumerate(servers):
        lines.append(
            _row(
                {
                    "pxname": "servants",
                    "svname": s.name,
                    "qcur": 0,
                    "qmax": 0,
                    "scur": 0,
                    "stot": share,
                    "status": "UP",
                    "weight": 1,
                    "act": 1,
                    "bck": 0,
                    "chkfail": 0,
                    "chkdown": 0,
                    "lastchg": round(model.t - (s.active_s or 0.0)),
                    "downtime": 0,
                    "pid": 1,
                    "iid": 3,
                    "sid": i + 1,
                    "lbtot": share,
                    "type": 2,
                    "check_status": "L7OK",
                    "check_code": 200,
                    "check_duration": 1,
                    "hrsp_2xx": share,
                }
            )
        )
    lines.append(
        _row(
            {
                "pxname": "servants",
                "svname": "BACKEND",
                "qcur": round(c["queue"]),
                "qmax": model.params.queue_limit,
                "stot": served,
                "econ": 0,
                "eresp": 0,
                "status": "UP" if servers else "DOWN",
                "weight": len(servers),
                "act": len(servers),
                "bck": 0,
                "pid": 1,
                "iid": 3,
                "sid": 0,
                "lbtot": served,
                "type": 1,
                "rate": round(c["rate"]),
                "hrsp_2xx": served,
                "hrsp_5xx": dropped,
            }
        )
    )
    return "\n".join(lines) + "\n"


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-haproxy")
    json_errors(app, lambda s, m: Response(f"{s} {m}\n", status=s, mimetype="text/plain"), "haproxy")

    def building_of(lb: str) -> str | None:
        return next((b for b in BUILDINGS if lb in (b, lb_name(b))), None)

    @app.get("/haproxy/<lb>/stats;csv")
    @app.get("/haproxy/<lb>/stats")
    def stats(lb: str) -> Any:
        cloud.count("haproxy")
        b = building_of(lb)
        if b is None:
            return Response(f"no load balancer {lb}\n", status=404, mimetype="text/plain")
        if not request.path.endswith(";csv") and "csv" not in request.query_string.decode():
            return Response("append ;csv for the CSV statistics\n", status=400, mimetype="text/plain")
        return Response(stats_csv(cloud, b), mimetype="text/plain")

    @app.get("/haproxy")
    def index() -> Any:
        return {"load_balancers": {lb_name(b): f"/haproxy/{lb_name(b)}/stats;csv" for b in BUILDINGS}}

    return app
