"""Resilience of the live loop: faults injected into the four ``arca run`` services, counted.

The suite starts its own RabbitMQ node (own ``RABBITMQ_NODENAME``, ports, mnesia and log dirs in a
temporary directory, so it can be stopped and have its connections closed without touching the
shared broker), its own Oxigraph server (killed for the store outage), the testbed's emulated
OpenStack, and the four services as processes. A detector keeps posting seismometer events to the
collector over HTTP (retrying what is refused, as a detector does) and a telemetry source keeps
publishing observations, while each fault is injected in turn:

* every connection closed by the broker (``rabbitmqctl close_all_connections``);
* the broker stopped for 10 s and for 60 s (``stop_app`` / ``start_app``);
* kill -9 of each service while it has a backlog, then a restart;
* the SPARQL store killed for 30 s (and the decider restarted while it is away).

After each fault the loop must be whole again — counted in the store and the testbed: every event
accepted by the collector is in the audit trail exactly once, with exactly one event situation and
one decision on it (0 lost, 0 duplicate effects); no observation handled twice by one analyzer
process; the decider's in-memory samples equal the store's (no sample learned twice); no server
created twice; nothing unroutable; and the recovery time (fault over -> a new event's decision in
the store) is printed per fault in a table at the end.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pytest
import requests

from arca.bus.rabbitmq import RabbitBus
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Observation
from arca.messages.ids import derived_id
from arca.settings import BusSettings, KbSettings
from collector.http import EVENT_PATH
from testbed.model import ModelParams
from testbed.platform import Testbed
from testbed.timeline import parse_timeline
from tests.livekit import (
    LIVE_TOKEN,
    SERVICES,
    Proc,
    free_port,
    fresh_event,
    seed_store,
    service_env,
    start_service,
    stop_services,
    wait_http,
    wait_log,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]

SYSTEM = "emergency"
RESULTS: list[dict[str, Any]] = []


# ------------------------------------------------------------------------------ the faulty parts

class RabbitNode:
    """A RabbitMQ node of the suite's own (own name, ports and directories)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.name = f"arcares{uuid.uuid4().hex[:6]}@localhost"
        # the server drops to the rabbitmq user when started as root: a world-writable directory
        self.base = Path(tempfile.mkdtemp(prefix="arca-resilience-rmq-"))
        self.base.chmod(0o777)
        conf = self.base / "rabbitmq.conf"
        conf.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        plugins = self.base / "enabled_plugins"
        plugins.write_text("[].\n")
        for f in (conf, plugins):
            f.chmod(0o666)
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
        }
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def ctl(self, *args: str, timeout: float = 90) -> None:
        out = subprocess.run(["rabbitmqctl", "-n", self.name, *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr[-2000:]}")

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace")[-3000:] for p in (self.base / "log").glob("*.log"))

    def reachable(self) -> bool:
        try:
            pika.BlockingConnection(pika.URLParameters(self.url)).close()
            return True
        except Exception:
            return False

    def start(self) -> None:
        self.popen = subprocess.Popen(["rabbitmq-server"], env=self.env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        self.wait_reachable(time.monotonic() + 120)

    def wait_reachable(self, deadline: float) -> None:
        assert self.popen is not None
        while not self.reachable():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"own RabbitMQ node not reachable (exit {self.popen.poll()}):\n{self.logs()}")
            time.sleep(0.5)

    def start_app(self) -> None:
        """``rabbitmqctl start_app``, retried on a loaded machine, until AMQP answers again."""
        deadline = time.monotonic() + 180
        while True:
            try:
                self.ctl("start_app", timeout=120)
                break
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                if time.monotonic() > deadline:
                    pytest.fail(f"start_app failed: {exc}\n{self.logs()}")
                time.sleep(2)
        self.wait_reachable(deadline)

    def ensure_up(self) -> None:
        """Bring the node back if an earlier test left it down (so one failure does not cascade)."""
        if self.reachable():
            return
        if self.popen is None or self.popen.poll() is not None:
            self.start()
        else:
            self.start_app()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            try:
                self.ctl("stop", timeout=60)
            except Exception:
                self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        shutil.rmtree(self.base, ignore_errors=True)


@dataclass(frozen=True)
class Endpoints:
    base: str

    @property
    def query_url(self) -> str:
        return self.base + "/query"

    @property
    def update_url(self) -> str:
        return self.base + "/update"

    @property
    def store_url(self) -> str:
        return self.base + "/store"


class StoreServer:
    """An Oxigraph server of the suite's own, on a fixed port so it can be killed and restarted."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.port = free_port()
        self.endpoints = Endpoints(f"http://127.0.0.1:{self.port}")
        self.popen: subprocess.Popen[bytes] | None = None
        candidate = Path(sys.executable).parent / "oxigraph"
        self.binary = str(candidate) if candidate.exists() else (shutil.which("oxigraph") or "oxigraph")

    def start(self) -> None:
        self.popen = subprocess.Popen([self.binary, "serve", "--location", str(self.location),
                                       "--bind", f"127.0.0.1:{self.port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(self.endpoints.query_url, params={"query": "ASK {}"}, timeout=1)
                return
            except requests.ConnectionError:
                if self.popen.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("oxigraph server did not start")
                time.sleep(0.1)

    def kill(self) -> None:
        if self.popen is not None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)


# ------------------------------------------------------------------------------ the live loop

@dataclass
class Loop:
    node: RabbitNode
    store: StoreServer
    cloud: Testbed
    env: dict[str, str]
    logs: Path
    collector_url: str
    procs: dict[str, Proc]
    kb: SparqlKnowledgeBase | Any = None
    telemetry: RabbitBus | Any = None
    accepted: list[str] = field(default_factory=list)  # event ids the collector accepted
    starts: dict[str, list[int]] = field(default_factory=dict)  # log line index of each restart
    observations: int = 0

    def env_for(self, name: str) -> dict[str, str]:
        """The analyzer logs each observation it handles (DEBUG): counted for duplicates."""
        return {**self.env, "ARCA_OPS__LOG_LEVEL": "DEBUG"} if name == "analyzer" else self.env

    def restart(self, name: str, *, wait_ready: bool = True) -> Proc:
        before = len(self.procs[name].lines())  # the old process is dead: its lines all precede
        self.starts.setdefault(name, []).append(before)
        proc = self.procs[name] = start_service(name, self.env_for(name), self.logs)
        deadline = time.monotonic() + 60
        wait_log(proc, f"service {name} started", deadline, after=before)
        if wait_ready:
            wait_http(proc, f"http://127.0.0.1:{proc.metrics_port}/readyz", deadline)
        return proc

    def post_event(self, deadline: float) -> str:
        """Post one fresh event until the collector accepts it (a detector's retry); its event id."""
        import json

        body = fresh_event()
        event_id = json.loads(body)["ietf-restconf:notification"][
            "ietf-nmrg-nict-resource-anticipation:event"]["id"]
        while True:
            try:
                r = requests.post(self.collector_url + EVENT_PATH, data=body, timeout=40,
                                  headers={"Content-Type": "application/yang-data+json",
                                           "Authorization": f"Bearer {LIVE_TOKEN}"})
                if r.status_code in (200, 202):
                    self.accepted.append(event_id)
                    return event_id
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"event {event_id} never accepted by the collector")
            time.sleep(0.5)

    def publish_observations(self, n: int) -> None:
        now = datetime.now(UTC)
        for i in range(n):
            self.telemetry.publish(Observation(event_time=now, producer="test-telemetry", system=SYSTEM,
                                               metric="cpu_util", value=40.0 + i % 7, unit="%",
                                               resource=f"obs-{i % 3}"))
        self.observations += n


class Poster:
    """A detector in a thread: one event every ``period_s`` until stopped."""

    def __init__(self, loop: Loop, period_s: float = 0.3) -> None:
        self.loop, self.period_s = loop, period_s
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.loop.post_event(time.monotonic() + 180)
            self.loop.publish_observations(3)
            self.stop_flag.wait(self.period_s)

    def __enter__(self) -> Poster:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_flag.set()
        self.thread.join(200)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    node = RabbitNode()
    store = StoreServer(tmp_path_factory.mktemp("resilience-store"))
    cloud = Testbed(parse_timeline({"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}),
                    ModelParams()).start()
    cloud.start_ticker(speed=20.0)
    procs: dict[str, Proc] = {}
    telemetry: RabbitBus | None = None
    kb: SparqlKnowledgeBase | None = None
    try:
        node.start()
        store.start()
        seed_store(store.endpoints)
        token = uuid.uuid4().hex[:8]
        logs = tmp_path_factory.mktemp("resilience-logs")
        collector_port = free_port()
        env = service_env(node.url, store.endpoints, cloud, token, collector_port)
        env["ARCA_BUS__RECONNECT_MAX_S"] = "4"  # reconnect within seconds of the broker's return
        env["ARCA_BUS__CONFIRM_TIMEOUT_S"] = "20"
        settings = BusSettings(kind="rabbitmq", url=node.url, exchange=f"arca-{token}",
                               dead_letter_exchange=f"arca-{token}.dlx",
                               dead_letter_queue=f"arca-{token}.dead-letter", queue_prefix=f"arca-{token}.",
                               reconnect_max_s=4)
        loop = Loop(node, store, cloud, env, logs, f"http://127.0.0.1:{collector_port}", procs)
        for name in SERVICES:
            procs[name] = start_service(name, loop.env_for(name), logs)
        deadline = time.monotonic() + 90
        for proc in procs.values():
            wait_log(proc, f"service {proc.name} started", deadline)
            wait_http(proc, f"http://127.0.0.1:{proc.metrics_port}/readyz", deadline)
        loop.telemetry = telemetry = RabbitBus(settings, service="test-telemetry")
        telemetry.start()
        loop.kb = kb = SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=store.endpoints.query_url,
                                                      update_url=store.endpoints.update_url,
                                                      store_url=store.endpoints.store_url))
        yield loop
    finally:
        if telemetry is not None:
            telemetry.stop()
        stop_services(procs)
        if kb is not None:
            kb.close()
        node.stop()
        store.kill()
        cloud.stop_ticker()
        cloud.stop()
        if RESULTS:
            print("\n\nresilience: fault                      | recovery s | events | observations | "
                  "lost | duplicate effects | re-handled after kill")
            for r in RESULTS:
                print(f"resilience: {r['fault']:<30} | {r['recovery_s']:>10.1f} | {r['events']:>6} | "
                      f"{r['observations']:>12} | {r['lost']:>4} | {r['duplicates']:>17} | "
                      f"{r['rehandled']:>5}")


# ------------------------------------------------------------------------------ counting

@pytest.fixture(autouse=True)
def node_up(loop: Loop) -> None:
    """Each test starts on a reachable broker, whatever the test before it left behind."""
    loop.node.ensure_up()


def _rows(loop: Loop, text: str) -> list[dict[str, Any]]:
    return loop.kb.query(text)


def ledger(loop: Loop) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Per accepted event id: stored events, event situations, and the decision taken on each such
    situation when it arrived (id ``derived_id(situation, "decision")``), counted as the number of
    values its ``arca:targetServants`` has (2 would be a second copy written over the first; the
    decider's later tick decisions on the same situation are legitimate and not counted).

    An event's situation that a newer event's situation of its system superseded in the decider's
    backlog (``arca.bus.order``: a burst folds into one decision on the latest state) has no decision
    of its own; it counts as decided (-1) when a newer event situation of its system was decided."""
    events = {str(r["id"]): int(r["n"]) for r in _rows(loop, (
        "SELECT ?id (COUNT(DISTINCT ?m) AS ?n) WHERE { GRAPH ?g { ?m a arca:ExternalEvent ; "
        "arca:eventId ?id } } GROUP BY ?id"))}
    rows = _rows(loop, (
        "SELECT ?id ?s ?sys ?t (COUNT(DISTINCT ?load) AS ?n) WHERE { GRAPH ?g { ?m a arca:ExternalEvent ; "
        "arca:eventId ?id ; arca:correlationId ?c } GRAPH ?h { ?s a arca:Situation ; "
        "arca:correlationId ?c ; arca:trigger \"event\" ; arca:averageLoad ?load ; arca:system ?sys ; "
        "arca:eventTime ?t } } GROUP BY ?id ?s ?sys ?t"))
    situations: dict[str, int] = {}
    wanted: dict[str, str] = {}  # forced decision node -> event id
    when: dict[str, tuple[str, str]] = {}  # event id -> (system, situation time)
    for r in rows:
        eid = str(r["id"])
        situations[eid] = situations.get(eid, 0) + max(1, int(r["n"]))
        sid = str(r["s"]).removeprefix("urn:uuid:")
        wanted[f"urn:uuid:{derived_id(sid, 'decision')}"] = eid
        when[eid] = (str(r["sys"]), str(r["t"]))
    decisions: dict[str, int] = {}
    for r in _rows(loop, "SELECT ?d (COUNT(?n) AS ?k) WHERE { GRAPH ?g { ?d a arca:Decision ; "
                         "arca:targetServants ?n } } GROUP BY ?d"):
        eid = wanted.get(str(r["d"]))
        if eid is not None:
            decisions[eid] = decisions.get(eid, 0) + int(r["k"])
    decided = [when[e] for e in decisions if e in when]
    for eid, (system, t) in when.items():
        if eid not in decisions and any(s == system and u > t for s, u in decided):
            decisions[eid] = -1  # folded into a newer event's decision
    return events, situations, decisions


def audit(loop: Loop, timeout_s: float = 120.0) -> tuple[int, int]:
    """Wait until every accepted event's effects are in the store; (lost, duplicates)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            events, situations, decisions = ledger(loop)
        except Exception:
            events, situations, decisions = {}, {}, {}
        lost = [e for e in loop.accepted
                if events.get(e, 0) < 1 or situations.get(e, 0) < 1 or decisions.get(e, 0) == 0]
        if not lost or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    dups = [e for e in loop.accepted
            if events.get(e, 0) > 1 or situations.get(e, 0) > 1 or decisions.get(e, 0) > 1]
    folded = sum(1 for e in loop.accepted if decisions.get(e, 0) == -1)
    if folded:
        print(f"  {folded} events folded into a newer event's decision")
    for e in lost + dups:
        print(f"  event {e}: {events.get(e, 0)} stored, {situations.get(e, 0)} situations, "
              f"{decisions.get(e, 0)} decisions")
    return len(lost), len(dups)


def observations_handled_twice(loop: Loop) -> int:
    """Observations one analyzer process handled more than once (split at each start)."""
    twice = 0
    seen: set[str] = set()
    starts = set(loop.starts.get("analyzer", []))
    for index, line in enumerate(loop.procs["analyzer"].lines()):
        if index in starts:
            seen = set()
        if line.get("msg", "").startswith("handled observation"):
            mid = str(line.get("message_id"))
            twice += mid in seen
            seen.add(mid)
    return twice


def servers_created_twice(loop: Loop) -> int:
    """Live servers sharing a name: the enforcer created one servant twice (names are reused only
    after a deletion, by scale-in then scale-out)."""
    names = [s.name for s in loop.cloud.model.live_servants()]
    return len(names) - len(set(names))


def samples_mismatch(loop: Loop) -> float:
    """The decider's in-memory sample count minus the store's (0: nothing learned twice)."""
    stored = _rows(loop, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s a arca:LearnedSample ; "
                         f"arca:system \"{SYSTEM}\" }} }}")
    n_store = int(stored[0]["n"]) if stored else 0
    text = requests.get(f"http://127.0.0.1:{loop.procs['decider'].metrics_port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f'arca_learned_samples{{system="{SYSTEM}"}}'):
            return float(line.rsplit(" ", 1)[1]) - n_store
    return 0.0


def recovery(loop: Loop, since: float) -> float:
    """Seconds from ``since`` until a fresh event's decision is in the store."""
    event_id = loop.post_event(time.monotonic() + 180)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if ledger(loop)[2].get(event_id, 0) != 0:
                return time.monotonic() - since
        except Exception:
            pass
        time.sleep(0.2)
    pytest.fail(f"the loop did not recover: no decision on {event_id}")


def rehandled(lines: list[dict[str, Any]], split: int) -> int:
    """Messages handled (any outcome) both before and after line ``split`` of a service's log."""
    def ids(part: list[dict[str, Any]]) -> set[str]:
        return {str(d["message_id"]) for d in part
                if str(d.get("msg", "")).startswith("handled ") and d.get("message_id")}
    return len(ids(lines[:split]) & ids(lines[split:]))


def record(loop: Loop, fault: str, recovered_s: float, rehandled: int = 0) -> None:
    lost, dups = audit(loop)
    unroutable = dead_letters(loop)
    RESULTS.append({"fault": fault, "recovery_s": recovered_s, "events": len(loop.accepted),
                    "lost": lost, "duplicates": dups, "rehandled": rehandled,
                    "observations": loop.observations})
    print(f"{fault}: recovered in {recovered_s:.1f}s; {len(loop.accepted)} events, {lost} lost, "
          f"{dups} duplicate effects")
    assert lost == 0, f"{fault}: {lost} accepted events lack their event, situation or decision"
    assert dups == 0, f"{fault}: {dups} events with a duplicate effect in the store"
    assert observations_handled_twice(loop) == 0, f"{fault}: an observation was handled twice"
    assert servers_created_twice(loop) == 0, f"{fault}: a server was created twice"
    assert samples_mismatch(loop) == 0, f"{fault}: the decider's samples differ from the store's"
    assert unroutable == 0, f"{fault}: {unroutable} messages dead-lettered"


def dead_letters(loop: Loop) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(loop.node.url))
    try:
        ch = conn.channel()
        q = ch.queue_declare(loop.env["ARCA_BUS__DEAD_LETTER_QUEUE"], durable=True, passive=True)
        return int(q.method.message_count)
    finally:
        conn.close()


# ------------------------------------------------------------------------------ the faults

def test_connection_drops(loop: Loop) -> None:
    with Poster(loop):
        time.sleep(2)
        for _ in range(2):
            loop.node.ctl("close_all_connections", "resilience test")
            time.sleep(1.5)
        ended = time.monotonic()
    record(loop, "close_all_connections x2", recovery(loop, ended))


@pytest.mark.parametrize("seconds", [10, 60])
def test_broker_stop_start(loop: Loop, seconds: int) -> None:
    with Poster(loop):
        time.sleep(1.5)
        loop.node.ctl("stop_app", timeout=120)
        time.sleep(seconds)
        loop.node.start_app()
        ended = time.monotonic()
        time.sleep(1)
    record(loop, f"broker stopped {seconds} s", recovery(loop, ended))


@pytest.mark.parametrize("service", ["analyzer", "decider", "enforcer", "collector"])
def test_kill_9_with_a_backlog(loop: Loop, service: str) -> None:
    for _ in range(15):  # a burst: events through the whole loop and observations for the analyzer
        loop.post_event(time.monotonic() + 60)
    loop.publish_observations(1500)
    loop.telemetry.flush()
    time.sleep(0.2)
    loop.procs[service].popen.send_signal(signal.SIGKILL)
    loop.procs[service].popen.wait(10)
    before = len(loop.procs[service].lines())
    with Poster(loop, period_s=0.2):
        time.sleep(1.0)  # the backlog grows while it is away
        restarted = time.monotonic()
        proc = loop.restart(service)
        assert proc.popen.poll() is None
        print(f"kill -9 {service}: restarted and ready in {time.monotonic() - restarted:.1f}s")
    again = rehandled(loop.procs[service].lines(), before)
    print(f"kill -9 {service}: {again} messages handled by both the killed and the new process")
    record(loop, f"kill -9 {service} + backlog", recovery(loop, restarted), rehandled=again)


def test_store_outage_of_30_s(loop: Loop) -> None:
    with Poster(loop):
        time.sleep(1)
        loop.store.kill()
        killed = time.monotonic()
        time.sleep(2)
        # a service started while the store is down runs, and says it is not ready
        loop.procs["decider"].popen.send_signal(signal.SIGTERM)
        loop.procs["decider"].popen.wait(30)
        decider = loop.restart("decider", wait_ready=False)
        ready = requests.get(f"http://127.0.0.1:{decider.metrics_port}/readyz", timeout=5)
        assert ready.status_code == 503, ready.text
        assert ready.json()["knowledge_base"] is False
        time.sleep(max(0.0, 30 - (time.monotonic() - killed)))
        loop.store.start()
        ended = time.monotonic()
        wait_http(decider, f"http://127.0.0.1:{decider.metrics_port}/readyz", time.monotonic() + 60)
    record(loop, "store down 30 s", recovery(loop, ended))
