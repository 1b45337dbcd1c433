"""The live loop of the suites that run the four ``arca run`` services as processes, and its ledger.

``Loop`` holds the broker (one node or a cluster), the store server (Oxigraph or Fuseki), the testbed
and the service processes; ``Poster`` is a detector posting events to the collector (and telemetry on
the bus);
``audit`` counts, in the store, every accepted event's event, situation and decision (lost or
duplicated); ``created_twice`` lists servants the enforcer created twice in the testbed,
over every server the testbed ever created (its record of creates), not only the live ones.
Shared by ``tests/resilience`` (faults on one node) and the cluster tests (node stop, replica kill).
"""

from __future__ import annotations

import contextlib
import itertools
import json
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

from arca.app.settings import BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.collector.http import EVENT_PATH
from arca.kb.messages import graph_of
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Observation
from arca.messages.ids import derived_id
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline
from tests.clusterkit import RabbitCluster, RabbitNode
from tests.livekit import (
    LIVE_TOKEN,
    SERVICES,
    Proc,
    free_port,
    fresh_event,
    seed_store,
    service_env,
    start_service,
    start_services,
    stop_services,
    wait_http,
    wait_log,
)
from tests.storekit import StoreServer, make_server

SYSTEM = "emergency"
EVENTS, SITUATIONS, DECISIONS = (str(graph_of(k)) for k in ("event", "situation", "decision"))


@dataclass
class Loop:
    node: RabbitNode | RabbitCluster
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

    services: dict[str, str] = field(default_factory=dict)  # process label -> service
    extra: dict[str, dict[str, str]] = field(default_factory=dict)  # process label -> its own env

    def env_for(self, label: str) -> dict[str, str]:
        return {**self.env, **self.extra.get(label, {})}

    def start(self, label: str) -> Proc:
        return start_service(self.services.get(label, label), self.env_for(label), self.logs, label=label)

    def restart(self, label: str, *, wait_ready: bool = True) -> Proc:
        before = len(self.procs[label].lines())  # the old process is dead: its lines all precede
        self.starts.setdefault(label, []).append(before)
        proc = self.procs[label] = self.start(label)
        deadline = time.monotonic() + 60
        wait_log(proc, f"service {self.services.get(label, label)} started", deadline, after=before)
        if wait_ready:
            wait_http(proc, f"http://127.0.0.1:{proc.metrics_port}/readyz", deadline)
        return proc

    def post_event(self, deadline: float) -> str:
        """Post one fresh event until the collector accepts it (a detector's retry); its event id."""
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


# ------------------------------------------------------------------------------ counting

def rows(loop: Loop, text: str) -> list[dict[str, Any]]:
    return loop.kb.query(text)


def ledger(loop: Loop) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Per accepted event id: stored events, event situations, and the decision taken on each such
    situation when it arrived (id ``derived_id(situation, "decision")``), counted as the number of
    values its ``arca:targetServants`` has (2 would be a second copy written over the first; the
    decider's later tick decisions on the same situation are legitimate and not counted).

    An event's situation that a newer event's situation of its system superseded in the decider's
    backlog (``arca.bus.order``: a burst folds into one decision on the latest state) has no decision
    of its own; it counts as decided (-1) when a newer event situation of its system was decided.
    An event whose situation the analyzer coalesced into a later event's (``arca.analyzer.service``) is
    situated by the first event situation of its system that carries its incident."""
    # each kind in its own graph (arca.kb.messages.graph_of), named: ARQ (Fuseki) then walks the
    # graph's indexes instead of every graph for each binding -- with ?g/?h the "carried" join below
    # took longer than the loop's recovery deadline on a store the fault table had filled
    events = {str(r["id"]): int(r["n"]) for r in rows(loop, (
        "SELECT ?id (COUNT(DISTINCT ?m) AS ?n) WHERE { GRAPH <" + EVENTS + "> { ?m a arca:ExternalEvent ; "
        "arca:eventId ?id } } GROUP BY ?id"))}
    found = rows(loop, (
        "SELECT ?id ?s ?sys ?t (COUNT(DISTINCT ?load) AS ?n) WHERE { GRAPH <" + EVENTS + "> { "
        "?m a arca:ExternalEvent ; arca:eventId ?id ; arca:correlationId ?c } GRAPH <" + SITUATIONS + "> { "
        "?s a arca:Situation ; arca:correlationId ?c ; arca:trigger \"event\" ; "
        "arca:system ?sys ; arca:eventTime ?t OPTIONAL { ?s arca:averageLoad ?load } } } "
        "GROUP BY ?id ?s ?sys ?t"))  # no average load when no servant has a fresh CPU figure
    situations: dict[str, int] = {}
    wanted: dict[str, list[str]] = {}  # forced decision node -> event ids
    when: dict[str, tuple[str, str]] = {}  # event id -> (system, situation time)
    for r in found:
        eid = str(r["id"])
        situations[eid] = situations.get(eid, 0) + max(1, int(r["n"]))
        sid = str(r["s"]).removeprefix("urn:uuid:")
        wanted.setdefault(f"urn:uuid:{derived_id(sid, 'decision')}", []).append(eid)
        when[eid] = (str(r["sys"]), str(r["t"]))
    # an event the analyzer coalesced (a later event of its system was waiting behind it) has no
    # situation of its own: its incident is in the first event situation of its system after it
    carried = rows(loop, (
        "SELECT ?id ?s ?sys ?t WHERE { GRAPH <" + EVENTS + "> { ?m a arca:ExternalEvent ; "
        "arca:eventId ?id } GRAPH <" + SITUATIONS + "> { ?i arca:incidentId ?id . "
        "?s arca:activeIncident ?i ; a arca:Situation ; "
        "arca:trigger \"event\" ; arca:system ?sys ; arca:eventTime ?t } } ORDER BY ?t"))
    for r in carried:
        eid = str(r["id"])
        if eid in situations:
            continue
        situations[eid] = 1
        sid = str(r["s"]).removeprefix("urn:uuid:")
        wanted.setdefault(f"urn:uuid:{derived_id(sid, 'decision')}", []).append(eid)
        when[eid] = (str(r["sys"]), str(r["t"]))
    decisions: dict[str, int] = {}
    for r in rows(loop, "SELECT ?d (COUNT(?n) AS ?k) WHERE { GRAPH <" + DECISIONS + "> { "
                         "?d a arca:Decision ; arca:targetServants ?n } } GROUP BY ?d"):
        for eid in wanted.get(str(r["d"]), []):
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


def servers_ever_created(loop: Loop) -> int:
    """Every server the testbed ever created (deleted ones included: its record of creates)."""
    with loop.cloud.model.lock:
        return len(loop.cloud.model.servants)


def created_twice(loop: Loop) -> list[str]:
    """Servers created for a servant the enforcer already had, each described (name, id, testbed times,
    what the enforcer reported on it), counted over every server the testbed ever created (deleted ones
    included), not only the live ones:

    * a server deleted before it ever became ACTIVE, though no fault touched it (not killed, not made
      to stay in BUILD) and its creation was not reported cancelled: a boot thrown away and made again
      (e.g. condemned as "stuck" by a clock that disagrees with the cloud's). The one other way a
      boot is deleted is planning rule 4a — the target fell while it booted (an incident released,
      decisions caught up after an outage) — and the enforcer reports that creation ``skipped``,
      "cancelled: ...", naming the server: those are read from the store and not counted;
    * two servers of one name alive at the same time (names are reused only after a deletion)."""
    model = loop.cloud.model
    with model.lock:
        servers = list(model.servants.values())
    reports: dict[str, list[str]] = {}
    for r in rows(loop, (
            "SELECT ?t ?o ?d WHERE { GRAPH ?g { ?e a arca:Enforcement ; arca:outcome ?o ; arca:target ?t . "
            "OPTIONAL { ?e arca:detail ?d } } }")):
        reports.setdefault(str(r["t"]), []).append(f"{r['o']}: {r.get('d', '')}")
    cancelled = {t for t, said in reports.items() if any(x.startswith("skipped: cancelled:") for x in said)}

    enforcer_lines = [line for label, proc in loop.procs.items()
                      if loop.services.get(label, label) == "enforcer" for line in proc.lines()]

    def described(s: Any, why: str) -> str:
        logged = [f"{line.get('ts', '')} {line.get('msg', '')}" for line in enforcer_lines
                  if s.name in str(line.get("msg", "")) or s.id in str(line.get("msg", ""))][-12:]
        return (f"{why}: {s.name} {s.id} created {s.created_s:.1f} s, active {s.active_s}, "
                f"deleted {s.deleted_s} (testbed seconds); enforcer reported {reports.get(s.id, [])}; "
                f"its log on it: {logged}")

    found = [described(s, "deleted before it was ever active") for s in servers
             if s.deleted_s is not None and s.active_s is None and s.died_s is None
             and not s.never_active and s.id not in cancelled]
    by_name: dict[str, list[Any]] = {}
    for s in servers:
        by_name.setdefault(s.name, []).append(s)
    for same in by_name.values():
        same.sort(key=lambda s: s.created_s)
        found += [described(b, f"alive beside {a.id} of the same name") for a, b in itertools.pairwise(same)
                  if b.created_s < (a.deleted_s if a.deleted_s is not None else float("inf"))]
    return found


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


def dead_letters(loop: Loop) -> int:
    conn = pika.BlockingConnection([pika.URLParameters(u) for u in loop.node.url.split(",")])
    try:
        ch = conn.channel()
        q = ch.queue_declare(loop.env["ARCA_BUS__DEAD_LETTER_QUEUE"], durable=True, passive=True)
        return int(q.method.message_count)
    finally:
        conn.close()




@contextlib.contextmanager
def open_loop(broker: RabbitNode | RabbitCluster, tmp_path_factory: pytest.TempPathFactory, name: str,
              env_extra: dict[str, str] | None = None,
              replicas: dict[str, tuple[str, dict[str, str]]] | None = None,
              store_kind: str = "oxigraph", cloud_start: datetime | None = None) -> Iterator[Loop]:
    """Start ``broker``, a store server (``store_kind``: oxigraph or fuseki), the testbed and the
    services (``replicas``: process label -> (service, its own extra environment); default one process
    per service, labelled by its name), wait until each is ready, and stop everything on exit. The
    testbed's clock starts at ``cloud_start`` (default its 2026-01-01) and runs 20 times faster than
    the wall clock: it never agrees with the services' clocks."""
    store = make_server(store_kind, tmp_path_factory.mktemp(f"{name}-{store_kind}"))
    cloud = Testbed(parse_timeline({"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}),
                    ModelParams(), start=cloud_start).start()
    cloud.start_ticker(speed=20.0)
    procs: dict[str, Proc] = {}
    telemetry: RabbitBus | None = None
    kb: SparqlKnowledgeBase | None = None
    plan = replicas or {s: (s, {}) for s in SERVICES}
    try:
        broker.start()
        store.start()
        seed_store(store.endpoints)
        token = uuid.uuid4().hex[:8]
        logs = tmp_path_factory.mktemp(f"{name}-logs")
        collector_port = free_port()
        env = service_env(broker.url, store.endpoints, cloud, token, collector_port)
        env["ARCA_BUS__RECONNECT_MAX_S"] = "4"  # reconnect within seconds of the broker's return
        env["ARCA_BUS__CONFIRM_TIMEOUT_S"] = "20"
        env.update(env_extra or {})
        settings = BusSettings(kind="rabbitmq", url=broker.url, exchange=f"arca-{token}",
                               dead_letter_exchange=f"arca-{token}.dlx",
                               dead_letter_queue=f"arca-{token}.dead-letter", queue_prefix=f"arca-{token}.",
                               reconnect_max_s=4, shards=int(env.get("ARCA_BUS__SHARDS", "0")),
                               dead_letter_quorum=env.get("ARCA_BUS__DEAD_LETTER_QUORUM") == "true")
        loop = Loop(broker, store, cloud, env, logs, f"http://127.0.0.1:{collector_port}", procs)
        loop.services = {label: service for label, (service, _) in plan.items()}
        loop.extra = {label: extra for label, (_, extra) in plan.items()}
        start_services(procs, plan, env, logs)
        loop.telemetry = telemetry = RabbitBus(settings, service="test-telemetry")
        telemetry.start()
        # the audit's reads may be long on a store the fault table filled: their own generous timeout
        loop.kb = kb = SparqlKnowledgeBase(
            KbSettings.model_validate(store.endpoints.kb_fields(timeout_s=60.0)))
        yield loop
    finally:
        if telemetry is not None:
            telemetry.stop()
        stop_services(procs)
        if kb is not None:
            kb.close()
        broker.stop()
        store.kill()
        cloud.stop_ticker()
        cloud.stop()
