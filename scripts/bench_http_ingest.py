"""HTTP ingest throughput and latency of the collector, beside a bare JSON handler on the same server.

    .venv/bin/python scripts/bench_http_ingest.py [--duration 10] [--connections 1,16,64]
        [--threads 8] [--workers 1] [--repeat 1] [--pin] [--rabbit-url amqp://guest:guest@127.0.0.1:5672/%2F]
        [--yang-lock] [--json FILE]

Needs ``wrk`` (Debian package ``wrk``) and a RabbitMQ broker. Serves the collector's real Flask app
(``arca.collector.http.create_app``) on the collector's real server (``HttpIngestServer``: waitress) with
an ``Ingestor`` publishing to RabbitMQ with publisher confirms (a fresh exchange and queue, deleted
afterwards), plus one extra route on the same app and server: ``/bench/bare``, which parses the
JSON body and answers 202 with a JSON body (the reference). For each connection count, wrk drives
the reference and then the detector-event route for ``--duration`` seconds each, with the same body
shape and a Lua script that gives every request a fresh event id (no duplicates) and counts answers
by status class. After the runs the bench checks that the queue holds exactly one message per event
the server accepted (every accepted event was confirmed and none was published twice).

``--workers N`` serves the app from N processes sharing the port with ``SO_REUSEPORT``, as
``collector.http_workers`` does (``HttpIngestServer(reuse_port=True)``), each with its own
``RabbitBus`` connection and ``Ingestor``; the bare handler is served by the same processes. The CPU
per request is then the sum of the worker processes' CPU time (``/proc/<pid>/stat``) over the run,
divided by the requests; "per core" figures are req/s divided by the workers.

``--repeat R`` drives the pair (bare handler, then the event route) R times per connection count on the
same server processes, each pair one row of ``runs`` (the spread on a shared machine, each event figure
beside the bare handler measured just before it).

``--pin`` pins each server process to a CPU of its own, as ``collector.http_pin_cpus`` does (the
bench's wrk and the broker stay free to run anywhere).

``--server werkzeug`` serves the same app on werkzeug's threaded development server, which the
collector used before waitress (the figures of issue 15). ``--yang-lock`` measures the alternative
to per-thread yangson models: one shared model with a lock around only the yangson calls.

Prints one JSON document (also written to ``--json FILE``) with, per connection count and route:
req/s, p50/p99/max ms, counts of 2xx/4xx/5xx and socket errors, the CPU seconds this process spent
per request, and the load average; then whether the queue holds one message per event the server
accepted. ``BENCH_SWITCH=<seconds>`` sets ``sys.setswitchinterval`` (the GIL's switch interval).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
from flask import Response, request  # noqa: E402

from arca.bus.rabbitmq import RabbitBus  # noqa: E402
from arca.collector import events as events_mod  # noqa: E402
from arca.collector import yang_model  # noqa: E402
from arca.collector.events import build_notification, build_payload  # noqa: E402
from arca.collector.http import EVENT_PATH, HttpIngestServer, create_app  # noqa: E402
from arca.collector.ingest import Ingestor, Outcome  # noqa: E402
from arca.collector.settings import CollectorSettings  # noqa: E402
from arca.collector.severity import SeverityScales  # noqa: E402
from arca.collector.workers import cpu_for, pin_process  # noqa: E402
from arca.config import BusSettings  # noqa: E402

TOKEN = "bench-token"  # a throwaway token of the bench's own collector
SOURCE = "bench-detector"
BARE_PATH = "/bench/bare"

LUA = r"""
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  n, s2, s4, s5, other = 0, 0, 0, 0, 0
end
function request()
  n = n + 1
  local body = string.format(TEMPLATE, PREFIX .. "-" .. tid .. "-" .. n)
  return wrk.format("POST", PATH, HEADERS, body)
end
function response(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 200 and status < 300 then s2 = s2 + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local t2, t4, t5, to = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    t2 = t2 + t:get("s2"); t4 = t4 + t:get("s4"); t5 = t5 + t:get("s5"); to = to + t:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    'ARCA-RESULT {"requests": %d, "duration_s": %.3f, "rps": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "s2xx": %d, "s4xx": %d, "s5xx": %d, "other": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    t2, t4, t5, to, e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def lua_script(path: str, prefix: str, template: str) -> str:
    headers = ('{["Content-Type"] = "application/yang-data+json", '
               f'["Authorization"] = "Bearer {TOKEN}"}}')
    return (f'PATH = "{path}"\nPREFIX = "{prefix}"\nHEADERS = {headers}\n'
            f"TEMPLATE = [==[{template}]==]\n{LUA}")


def body_template() -> str:
    """The notification as JSON with ``%s`` where the event id goes (Lua's string.format)."""
    t0 = datetime(2026, 11, 22, 2, tzinfo=UTC)
    doc = build_notification(event_id="@@ID@@", source=SOURCE, timestamp=t0,
                             payload=build_payload("bigdata", severity=2, description="bench"))
    return json.dumps(doc).replace("%", "%%").replace("@@ID@@", "%s")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes ``pids`` spent so far, from /proc."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, path: str, prefix: str, connections: int, duration: float,
            workdir: Path, pids: list[int]) -> dict[str, Any]:
    """One wrk run; adds the CPU the server processes (server, ingest, bus) spent per request, in µs."""
    cpu0 = cpu_seconds(pids)
    script = workdir / f"{prefix}.lua"
    script.write_text(lua_script(path, prefix, body_template()))
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
         "-s", str(script), url],
        capture_output=True, text=True, timeout=duration + 60, check=True,
    ).stdout
    match = re.search(r"^ARCA-RESULT (\{.*\})$", out, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result = dict(json.loads(match.group(1)))
    cpu = cpu_seconds(pids) - cpu0
    result["server_cpu_us_per_request"] = round(cpu / max(1, result["requests"]) * 1e6)
    return result


def use_locked_yang() -> None:
    """One shared yangson model, a lock around only the yangson calls (the alternative measured)."""
    shared = yang_model.DataModel.from_file(str(yang_model.YANG_LIBRARY), [str(yang_model.YANG_DIR)])
    lock = threading.Lock()
    yang_model.data_model = lambda: shared
    for name in ("validate_notification", "validate_data"):
        fn = getattr(events_mod, name)

        def locked(*args: Any, _fn: Any = fn) -> None:
            with lock:
                _fn(*args)

        setattr(events_mod, name, locked)


class WerkzeugServer:
    """werkzeug's threaded development server, as the collector ran it before waitress."""

    def __init__(self, app: Any, port: int) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)
        self.server.server_close()


def queue_depth(url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def cleanup(url: str, token: str, queue: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    for q in (queue, f"bench-dlq-{token}"):
        ch.queue_delete(q)
    for x in (f"bench-{token}", f"bench-dlx-{token}"):
        ch.exchange_delete(x)
    conn.close()


def serve(args: argparse.Namespace, token: str, port: int, ready: Any, stop: Any, results: Any,
          index: int = 0, cpus: tuple[int, ...] = (), offset: int = 0) -> None:
    """One server process: its own bus connection, ingestor and app on ``port`` (SO_REUSEPORT when
    several), until ``stop`` is set; puts its outcome counts on ``results``. With ``cpus`` (``--pin``)
    it pins itself as ``collector.http_pin_cpus`` pins HTTP process ``index`` (``offset``: the parent's
    pid)."""
    if cpus:
        pin_process(cpu_for(index, cpus, offset))
    if os.environ.get("BENCH_SWITCH"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH"]))
    if args.yang_lock:
        use_locked_yang()
    bus = RabbitBus(bus_settings(args, token), service="collector")
    bus.start()
    settings = CollectorSettings(tokens={SOURCE: TOKEN}, http_threads=args.threads)
    ingestor = Ingestor(settings, bus.publish_tracked, SeverityScales(),
                        confirm=lambda tickets: bus.wait_confirmed(tickets, 30.0))
    outcomes: Counter[str] = Counter()  # what the server answered, counted server-side
    outcomes_lock = threading.Lock()
    detector_event = ingestor.detector_event

    def counted(*a: Any, **kw: Any) -> Outcome:
        outcome = detector_event(*a, **kw)
        with outcomes_lock:
            outcomes[outcome.status] += 1
        return outcome

    ingestor.detector_event = counted  # type: ignore[method-assign]
    app = create_app(ingestor, lambda: datetime.now(UTC))

    @app.post(BARE_PATH)
    def bare() -> Response:
        doc = json.loads(request.get_data())
        return Response(json.dumps({"status": "accepted", "members": len(doc)}), status=202,
                        mimetype="application/json")

    server: Any = (HttpIngestServer(app, "127.0.0.1", port, threads=args.threads, reuse_port=True)
                   if args.server == "waitress" else WerkzeugServer(app, port))
    server.start()
    ready.put(os.getpid())
    stop.wait()
    server.stop()
    bus.stop()
    results.put(dict(outcomes))


def bus_settings(args: argparse.Namespace, token: str) -> BusSettings:
    return BusSettings(kind="rabbitmq", url=args.rabbit_url, exchange=f"bench-{token}",
                       dead_letter_exchange=f"bench-dlx-{token}",
                       dead_letter_queue=f"bench-dlq-{token}", queue_prefix=f"bench-{token}.")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--connections", default="1,16,64", help="comma-separated wrk connection counts")
    ap.add_argument("--threads", type=int, default=CollectorSettings().http_threads,
                    help="waitress worker threads (collector.http_threads)")
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes sharing the port (collector.http_workers)")
    ap.add_argument("--repeat", type=int, default=1, help="bare/event pairs per connection count")
    ap.add_argument("--pin", action="store_true",
                    help="pin each server process to a CPU of its own (collector.http_pin_cpus)")
    ap.add_argument("--rabbit-url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    ap.add_argument("--yang-lock", action="store_true", help="shared yangson model behind a lock")
    ap.add_argument("--server", choices=["waitress", "werkzeug"], default="waitress",
                    help="werkzeug: the development server the collector used before (for comparison)")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 1
    if args.workers < 1 or (args.server == "werkzeug" and args.workers != 1):
        print("--workers must be >= 1 (and 1 with --server werkzeug)", file=sys.stderr)
        return 1

    token = uuid.uuid4().hex[:8]
    queue = f"bench-{token}.sink"
    declarer = RabbitBus(bus_settings(args, token), service="collector")
    declarer.declare(queue, ["#"])
    declarer.start()
    declarer.stop()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ctx = multiprocessing.get_context("fork")  # nothing of pika is open in this process any more
    ready, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    cpus = tuple(sorted(os.sched_getaffinity(0))) if args.pin else ()
    procs = [ctx.Process(target=serve, args=(args, token, port, ready, stop, results, k, cpus, os.getpid()),
                         daemon=True) for k in range(args.workers)]
    for proc in procs:
        proc.start()
    pids = [ready.get(timeout=120) for _ in procs]
    result: dict[str, Any] = {
        "server": args.server, "duration_s": args.duration, "workers": args.workers,
        "threads": args.threads if args.server == "waitress" else "one per request",
        "yang": "shared model + lock" if args.yang_lock else "per-thread models",
        "pinned_cpus": [cpu_for(k, cpus, os.getpid()) for k in range(args.workers)] if cpus else None,
        "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()], "runs": [],
    }
    outcomes: Counter[str] = Counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_wrk(url, BARE_PATH, f"warm-{token}", 4, 2, Path(tmp), pids)
            warm = run_wrk(url, EVENT_PATH, f"warmev-{token}", 4, 2, Path(tmp), pids)
            counts = [int(x) for x in args.connections.split(",")]
            pairs = [(c, k) for c in counts for k in range(args.repeat)]
            for c, k in pairs:
                bare_r = run_wrk(url, BARE_PATH, f"bare-{c}-{k}-{token}", c, args.duration, Path(tmp), pids)
                event_r = run_wrk(url, EVENT_PATH, f"ev-{c}-{k}-{token}", c, args.duration, Path(tmp), pids)
                result["runs"].append({
                    "connections": c, "pair": k + 1, "bare": bare_r, "event": event_r,
                    "ratio_rps": round(event_r["rps"] / bare_r["rps"], 3) if bare_r["rps"] else None,
                    "ratio_cpu": round(bare_r["server_cpu_us_per_request"]
                                       / max(1, event_r["server_cpu_us_per_request"]), 3),
                    "load": [round(x, 2) for x in os.getloadavg()],
                })
                print(f"c={c:3d} pair {k + 1} workers={args.workers}  bare {bare_r['rps']:8.1f} req/s p99 "
                      f"{bare_r['p99_ms']:7.2f} ms | event {event_r['rps']:8.1f} req/s p99 "
                      f"{event_r['p99_ms']:7.2f} ms (cpu/request: bare "
                      f"{bare_r['server_cpu_us_per_request']} µs, "
                      f"event {event_r['server_cpu_us_per_request']} µs) "
                      f"(2xx {event_r['s2xx']}, 4xx {event_r['s4xx']}, 5xx {event_r['s5xx']}, "
                      f"socket errors {event_r['socket_errors']}, load {result['runs'][-1]['load'][0]})",
                      file=sys.stderr)
        time.sleep(0.5)
        depth = queue_depth(args.rabbit_url, queue)
        stop.set()
        for _ in procs:
            outcomes.update(results.get(timeout=60))
        # wrk stops counting at its deadline while the server still answers the requests in flight:
        # the servers' own count of accepted events (warm-up included) is the one to compare
        result["wrk_2xx"] = warm["s2xx"] + sum(r["event"]["s2xx"] for r in result["runs"])
        result["server_outcomes"] = dict(outcomes)
        result["queue_depth"] = depth
        result["one_message_per_accepted_event"] = depth == outcomes["accepted"]
    finally:
        stop.set()
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        cleanup(args.rabbit_url, token, queue)
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
