"""What one SPARQL Update request costs on each store, by the number of updates it carries.

The durable writer (arca/kb/durable.py) joins the updates waiting on the broker into one request of
at most ``kb.write_batch_max``; the store commits each request as one transaction. This measures that
request, as the writer sends it (``application/sparql-update`` body, basic auth on Fuseki), with the
updates ARCA really sends (``store_message`` of situations carrying two active incidents), on an
Oxigraph server and on Fuseki Main with the shipped config (TDB2 on disk), started here on loopback:

    .venv/bin/python scripts/bench_store_commit.py [--sizes 1,10,100,500] [--requests 20] [--json FILE]

Per store and batch size: milliseconds per request (p50, p95) and per update (p50 / size), with the
store's data growing through the run as it does in the loop (nothing is cleared between sizes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arca.app.cli.stores import STORE_KINDS, SparqlEndpoints, make_server
from arca.kb.messages import store_message
from arca.kb.terms import render
from arca.messages import ActiveIncident, Situation

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class _Capture:
    """Collects the rendered updates ``store_message`` submits (the text the writer would send)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def submit(self, template: str, **bindings: Any) -> None:
        self.texts.append(render(template, bindings))


def updates(n: int, offset: int) -> list[str]:
    cap = _Capture()
    for i in range(offset, offset + n):
        t = T0 + timedelta(seconds=i)
        incidents = tuple(ActiveIncident(incident_id=f"ev-{i}-{k}", severity=k + 2, onset=t, source="seismo")
                          for k in range(2))
        store_message(cap, Situation(event_time=t, system=f"bench-{i % 100}", servants_active=3,  # type: ignore[arg-type]
                                     average_load=0.5, incidents=incidents))
    return cap.texts


def measure(ep: SparqlEndpoints, sizes: list[int], n_requests: int) -> dict[str, Any]:
    session = requests.Session()
    session.auth = ep.auth
    out: dict[str, Any] = {}
    offset = 0
    for size in sizes:
        times = []
        for _ in range(n_requests):
            body = " ;\n".join(updates(size, offset)).encode()
            offset += size
            start = time.perf_counter()
            r = session.post(ep.update_url, data=body, timeout=120,
                             headers={"Content-Type": "application/sparql-update; charset=utf-8"})
            times.append((time.perf_counter() - start) * 1000)
            r.raise_for_status()
        times.sort()
        p50 = statistics.median(times)
        out[str(size)] = {"request_ms_p50": round(p50, 1),
                          "request_ms_p95": round(times[min(len(times) - 1, int(len(times) * 0.95))], 1),
                          "per_update_ms": round(p50 / size, 2), "requests": n_requests,
                          "bytes_per_request": len(body)}
    session.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,10,100,500")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    report: dict[str, Any] = {}
    for kind in STORE_KINDS:
        with tempfile.TemporaryDirectory(prefix=f"arca-commit-{kind}-") as d:
            server = make_server(kind, Path(d)).start()
            try:
                report[kind] = measure(server.endpoints, sizes, args.requests)
            finally:
                server.stop()
    print(f"{'updates per request':>20} | " + " | ".join(f"{k:>28}" for k in STORE_KINDS))
    print(f"{'':>20} | " + " | ".join(f"{'request p50/p95 ms, per update':>28}" for _ in STORE_KINDS))
    for size in sizes:
        cells = [f"{report[k][str(size)]['request_ms_p50']:>7} / {report[k][str(size)]['request_ms_p95']:>7}"
                 f", {report[k][str(size)]['per_update_ms']:>6}" for k in STORE_KINDS]
        print(f"{size:>20} | " + " | ".join(f"{c:>28}" for c in cells))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
