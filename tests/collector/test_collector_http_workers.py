"""Several HTTP worker processes on one port (``collector.http_workers``), on the real broker.

``arca run collector`` is started as a process with ``collector.http_workers = 2``: it binds its port
with SO_REUSEPORT and starts one worker process that binds the same port. Asserts: both processes
answer on the one port (each answer names its worker in ``X-Arca-Worker``), every event a worker
accepted (202) is on the real queue exactly once and no refused one is, a duplicate on one
connection is absorbed, and SIGTERM to the collector stops every process cleanly (exit 0). The pure
parts (a worker's environment, the orphan check) are table-tested; the pool's respawn delay and its
SIGKILL after the stop timeout are checked on real short-lived processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pika
import pytest
import requests

from arca.app.cli.main import main
from arca.app.cli.stores import SparqlEndpoints
from arca.collector.events import build_notification, build_payload
from arca.collector.http import EVENT_PATH
from arca.collector.workers import (
    METRICS_PORT_ENV,
    PARENT_ENV,
    PORT_ENV,
    RESPAWN_DELAY_S,
    WORKER_ENV,
    HttpWorkers,
    parent_gone,
    worker_env,
)
from arca.messages import ExternalEvent, decode
from tests.conftest import free_port
from tests.prockit import alive, children_of

TOKEN = "tok-bd"
SOURCE = "bigdata-analyser"
HEADERS = {"Content-Type": "application/yang-data+json", "Authorization": f"Bearer {TOKEN}"}

ENVS = {
    "worker-number-port-and-parent-set": (
        {"ARCA_BUS__KIND": "rabbitmq", PORT_ENV: "0"}, 1, 8123, 77,
        {"ARCA_BUS__KIND": "rabbitmq", PORT_ENV: "8123", WORKER_ENV: "1", PARENT_ENV: "77"}),
    "an-inherited-worker-number-is-replaced": (
        {WORKER_ENV.lower(): "5"}, 2, 9000, 1,
        {WORKER_ENV: "2", PORT_ENV: "9000", PARENT_ENV: "1"}),
    "a-fixed-metrics-port-becomes-any-free-port": (
        {METRICS_PORT_ENV: "9100"}, 1, 9000, 1,
        {METRICS_PORT_ENV: "0", WORKER_ENV: "1", PORT_ENV: "9000", PARENT_ENV: "1"}),
    "no-metrics-port-stays-none": (
        {"PATH": "/bin"}, 3, 9000, 1,
        {"PATH": "/bin", WORKER_ENV: "3", PORT_ENV: "9000", PARENT_ENV: "1"}),
}


@pytest.mark.parametrize(("base", "index", "port", "parent", "expected"), ENVS.values(), ids=list(ENVS))
def test_worker_env(base: dict[str, str], index: int, port: int, parent: int,
                    expected: dict[str, str]) -> None:
    assert worker_env(base, index, port, parent) == expected


ORPHAN = {
    "first-process-alive": (1234, 1234, False),
    "reparented-to-init": (1234, 1, True),
    "not-a-worker": (None, 1, False),
}


@pytest.mark.parametrize(("expected_pid", "current", "gone"), ORPHAN.values(), ids=list(ORPHAN))
def test_parent_gone(expected_pid: int | None, current: int, gone: bool) -> None:
    assert parent_gone(expected_pid, current) is gone


def test_a_dead_worker_is_started_again_after_the_delay() -> None:
    workers = HttpWorkers(2, port=1, command=[sys.executable, "-c", "import sys; sys.exit(3)"])
    workers.start()
    try:
        first = workers.procs[1]
        first.wait(30)
        dead = [f"HTTP worker 1 (pid {first.pid}) exited with 3"]
        assert workers.check(now=100.0) == dead
        assert workers.procs[1] is first and workers.restarts == 0  # not before RESPAWN_DELAY_S
        assert workers.check(now=100.0 + RESPAWN_DELAY_S - 0.1) == dead and workers.restarts == 0
        assert workers.check(now=100.0 + RESPAWN_DELAY_S) == dead
        assert workers.procs[1] is not first and workers.restarts == 1
    finally:
        workers.stop()
    assert workers.procs == {}


def test_a_worker_that_ignores_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    code = ("import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)")
    workers = HttpWorkers(2, port=1, stop_timeout_s=1.0, command=[sys.executable, "-c", code])
    workers.start()
    proc = workers.procs[1]
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    started = time.monotonic()
    workers.stop()
    assert proc.returncode == -signal.SIGKILL
    assert 1.0 <= time.monotonic() - started < 10


def test_http_workers_need_the_broker(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ARCA_CONFIG_FILE", raising=False)
    monkeypatch.setenv("ARCA_COLLECTOR__HTTP_WORKERS", "2")
    monkeypatch.setenv("ARCA_BUS__KIND", "memory")
    assert main(["run", "collector"]) == 1
    err = capsys.readouterr().err
    assert "collector.http_workers = 2 needs bus.kind = 'rabbitmq'" in err, err
    assert "Traceback" not in err






def event_body(event_id: str) -> str:
    now = datetime.now(UTC) - timedelta(seconds=5)
    return json.dumps(build_notification(event_id=event_id, source=SOURCE, timestamp=now,
                                         payload=build_payload("bigdata", severity=2, description="w")))


Collector = tuple[subprocess.Popen[bytes], str, str, dict[str, str]]


@pytest.fixture
def collector(rabbit_url: str, unique: str, oxigraph: SparqlEndpoints, tmp_path: Path) -> Iterator[Collector]:
    """``arca run collector`` with two HTTP workers on the real broker and a real store, its log in
    tmp_path; (process, base URL, sink queue of the events, its environment)."""
    exchange, sink = f"w-{unique}", f"w-{unique}.sink"
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    ch = conn.channel()
    ch.exchange_declare(exchange, exchange_type="topic", durable=True)
    ch.queue_declare(sink, durable=True)
    ch.queue_bind(sink, exchange, "event.#")
    conn.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ARCA_")}
    env.update({
        "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": rabbit_url, "ARCA_BUS__EXCHANGE": exchange,
        "ARCA_BUS__DEAD_LETTER_EXCHANGE": f"{exchange}.dlx", "ARCA_BUS__DEAD_LETTER_QUEUE": f"{exchange}.dlq",
        "ARCA_BUS__QUEUE_PREFIX": f"{exchange}.", "ARCA_COLLECTOR__HTTP_PORT": str(port),
        "ARCA_COLLECTOR__HTTP_WORKERS": "2", "ARCA_COLLECTOR__TOKENS": json.dumps({SOURCE: TOKEN}),
        "ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": oxigraph.query_url,
        "ARCA_KB__UPDATE_URL": oxigraph.update_url, "ARCA_KB__STORE_URL": oxigraph.store_url,
    })
    log = (tmp_path / "collector.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "arca.app.cli.main", "run", "collector"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        yield proc, base, sink, env
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in children_of(proc.pid):
            os.kill(child, signal.SIGKILL)
        log.close()
        conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
        ch = conn.channel()
        for q in (sink, f"{exchange}.dlq"):
            ch.queue_delete(q)
        conn.close()


def workers_answering(base: str, want: int, timeout_s: float = 60) -> set[str]:
    """The worker numbers seen on /healthz over fresh connections, until ``want`` answered."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout_s
    while len(seen) < want and time.monotonic() < deadline:
        try:
            resp = requests.get(base + "/healthz", headers={"Connection": "close"}, timeout=5)
            seen.add(resp.headers.get("X-Arca-Worker", "none"))
        except requests.ConnectionError:
            time.sleep(0.2)
    return seen


def test_two_workers_serve_one_port_and_each_accepted_event_is_queued_once(
        collector: Collector, rabbit_url: str, tmp_path: Path) -> None:
    proc, base, sink, _env = collector
    assert workers_answering(base, 2) == {"0", "1"}, (tmp_path / "collector.log").read_text()[-3000:]
    assert len(children_of(proc.pid)) == 1

    answers: list[tuple[str, int, str, str]] = []  # (event id, status, worker, reason or status)
    lock = threading.Lock()

    def client(c: int) -> None:
        for i in range(25):
            event_id = f"c{c}-e{i}"
            bad = i % 5 == 4  # one in five refused: a severity outside the scale
            body = event_body(event_id)
            if bad:
                body = body.replace(build_payload("bigdata", severity=2, description="w"),
                                    build_payload("bigdata", severity=9))
            # a fresh connection per request: the kernel spreads them over both workers
            resp = requests.post(base + EVENT_PATH, data=body, headers={**HEADERS, "Connection": "close"},
                                 timeout=30)
            answer = resp.json()
            reason = (answer["ietf-restconf:errors"]["error"][0]["error-app-tag"] if resp.status_code >= 400
                      else answer["status"])
            with lock:
                answers.append((event_id, resp.status_code, resp.headers.get("X-Arca-Worker", ""), reason))

    threads = [threading.Thread(target=client, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(answers) == 200
    by_status = Counter((status, reason) for _, status, _, reason in answers)
    assert by_status == {(202, "accepted"): 160, (400, "severity"): 40}, by_status
    accepted = {event_id for event_id, status, _, _ in answers if status == 202}
    per_worker = Counter(worker for _, status, worker, _ in answers if status == 202)
    assert set(per_worker) == {"0", "1"} and min(per_worker.values()) >= 10, per_worker

    # a duplicate on one keep-alive connection reaches the same worker and is absorbed
    with requests.Session() as session:
        first = session.post(base + EVENT_PATH, data=event_body("dup-1"), headers=HEADERS, timeout=30)
        again = session.post(base + EVENT_PATH, data=event_body("dup-1"), headers=HEADERS, timeout=30)
    assert (first.status_code, first.json()["status"]) == (202, "accepted")
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")
    assert first.headers["X-Arca-Worker"] == again.headers["X-Arca-Worker"]
    accepted.add("dup-1")

    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    ch = conn.channel()
    queued: Counter[str] = Counter()
    while True:
        method, _props, body = ch.basic_get(sink, auto_ack=True)
        if method is None:
            break
        message = decode(body)
        assert isinstance(message, ExternalEvent)
        queued[message.event_id] += 1
    conn.close()
    assert set(queued) == accepted  # every accepted event, no refused one
    assert set(queued.values()) == {1}  # each exactly once

    # SIGTERM to the collector stops both processes cleanly
    worker_pids = children_of(proc.pid)
    assert len(worker_pids) == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    deadline = time.monotonic() + 10
    while any(alive(p) for p in worker_pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in worker_pids)
    log = (tmp_path / "collector.log").read_text()
    assert "service collector stopped" in log and log.count("service collector stopped") == 2, log[-3000:]
    assert "the collector that started it is gone" not in log  # stopped by the collector, not orphaned


TRUST = """@prefix arca: <https://w3id.org/arca/ns#> .
arca:trust-workers a arca:SourceTrust ;
    arca:forSource "%s" ;
    arca:eventLimit 2 ;
    arca:eventWindowSeconds 3600 ;
    arca:learnCredibility false .
"""


def test_every_worker_reloads_the_policies(collector: Collector, tmp_path: Path) -> None:
    """A source trust applied while the workers run reaches each of them (a queue of its own each):
    every worker then applies the rate limit at its door (2 events per window, counted per worker)."""
    proc, base, _sink, env = collector
    assert workers_answering(base, 2) == {"0", "1"}, (tmp_path / "collector.log").read_text()[-3000:]
    policy = tmp_path / "trust.ttl"
    policy.write_text(TRUST % SOURCE)
    applied = subprocess.run([sys.executable, "-m", "arca.app.cli.main", "policy", "apply", str(policy),
                              "--by", "test"], env=env, capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stderr
    limited: dict[str, str] = {}
    accepted: Counter[str] = Counter()
    deadline = time.monotonic() + 60
    i = 0
    while len(limited) < 2 and time.monotonic() < deadline:
        i += 1
        resp = requests.post(base + EVENT_PATH, data=event_body(f"limited-{i}"),
                             headers={**HEADERS, "Connection": "close"}, timeout=30)
        worker = resp.headers["X-Arca-Worker"]
        if resp.status_code == 429:
            limited[worker] = resp.json()["ietf-restconf:errors"]["error"][0]["error-app-tag"]
            assert resp.headers["Retry-After"] == "3600"
        else:
            assert resp.status_code == 202, resp.text
            accepted[worker] += 1
    assert limited == {"0": "rate_limited", "1": "rate_limited"}, (limited, accepted)
    assert proc.poll() is None
