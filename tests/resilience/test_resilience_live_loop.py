"""Resilience of the live loop: faults injected into the four ``arca run`` services, counted.

The suite starts its own RabbitMQ node (own ``RABBITMQ_NODENAME``, ports, mnesia and log dirs in a
temporary directory, so it can be stopped and have its connections closed without touching the
shared broker), its own store server -- the whole table runs once on Oxigraph and once on Apache Jena
Fuseki with the shipped config.ttl (killed for the store outage) --, the testbed's emulated
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
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.clusterkit import RabbitNode
from tests.livekit import (
    SERVICES,
    wait_http,
)
from tests.loopkit import (
    SYSTEM,
    Loop,
    Poster,
    audit,
    created_twice,
    dead_letters,
    open_loop,
    recovery,
    rows,
    servers_ever_created,
)
from tests.storekit import STORE_PARAMS

pytestmark = [pytest.mark.rabbitmq]

RESULTS: list[dict[str, Any]] = []


# ------------------------------------------------------------------------------ the live loop

CLOUD_SKEW_S = os.environ.get("ARCA_TEST_CLOUD_SKEW_S")
"""The testbed's clock start minus the wall clock's, in seconds (e.g. 3600, -3600); unset: the
testbed's own 2026-01-01. Either way its clock runs 20 times faster than the services'."""


@pytest.fixture(scope="module", params=STORE_PARAMS)
def loop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    """The live loop on its own broker node, with each store in turn (the whole fault table per store)."""
    # the analyzer logs each observation it handles (DEBUG): counted for duplicates
    plan = {s: (s, {"ARCA_OPS__LOG_LEVEL": "DEBUG"} if s == "analyzer" else {}) for s in SERVICES}
    start = (datetime.now(UTC) + timedelta(seconds=float(CLOUD_SKEW_S))) if CLOUD_SKEW_S else None
    RESULTS.clear()
    try:
        with open_loop(RabbitNode(), tmp_path_factory, "resilience", replicas=plan,
                       store_kind=request.param, cloud_start=start) as loop:
            yield loop
    finally:
        if RESULTS:
            print(f"\n\nresilience ({request.param}, cloud clock skew {CLOUD_SKEW_S or 'testbed default'}): "
                  "fault | recovery s | events | observations | lost | duplicate effects | "
                  "re-handled after kill | servers created | created twice")
            for r in RESULTS:
                print(f"resilience: {r['fault']:<30} | {r['recovery_s']:>10.1f} | {r['events']:>6} | "
                      f"{r['observations']:>12} | {r['lost']:>4} | {r['duplicates']:>17} | "
                      f"{r['rehandled']:>5} | {r['servers']:>5} | {r['twice']:>5}")


@pytest.fixture(autouse=True)
def node_up(loop: Loop) -> None:
    """Each test starts on a reachable broker, whatever the test before it left behind."""
    if isinstance(loop.node, RabbitNode):
        loop.node.ensure_up()


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


def samples_mismatch(loop: Loop) -> float:
    """The decider's in-memory sample count minus the store's (0: nothing learned twice)."""
    stored = rows(loop, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { GRAPH ?g { ?s a arca:LearnedSample ; "
                         f"arca:system \"{SYSTEM}\" }} }}")
    n_store = int(stored[0]["n"]) if stored else 0
    text = requests.get(f"http://127.0.0.1:{loop.procs['decider'].metrics_port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith(f'arca_learned_samples{{system="{SYSTEM}"}}'):
            return float(line.rsplit(" ", 1)[1]) - n_store
    return 0.0


def rehandled(lines: list[dict[str, Any]], split: int) -> int:
    """Messages handled (any outcome) both before and after line ``split`` of a service's log."""
    def ids(part: list[dict[str, Any]]) -> set[str]:
        return {str(d["message_id"]) for d in part
                if str(d.get("msg", "")).startswith("handled ") and d.get("message_id")}
    return len(ids(lines[:split]) & ids(lines[split:]))


def record(loop: Loop, fault: str, recovered_s: float, rehandled: int = 0) -> None:
    lost, dups = audit(loop)
    unroutable = dead_letters(loop)
    twice = created_twice(loop)
    RESULTS.append({"fault": fault, "recovery_s": recovered_s, "events": len(loop.accepted),
                    "lost": lost, "duplicates": dups, "rehandled": rehandled,
                    "observations": loop.observations, "servers": servers_ever_created(loop),
                    "twice": len(twice)})
    print(f"{fault}: recovered in {recovered_s:.1f}s; {len(loop.accepted)} events, {lost} lost, "
          f"{dups} duplicate effects")
    assert lost == 0, f"{fault}: {lost} accepted events lack their event, situation or decision"
    assert dups == 0, f"{fault}: {dups} events with a duplicate effect in the store"
    assert observations_handled_twice(loop) == 0, f"{fault}: an observation was handled twice"
    assert not twice, f"{fault}: {len(twice)} of {servers_ever_created(loop)} servers created twice: {twice}"
    assert samples_mismatch(loop) == 0, f"{fault}: the decider's samples differ from the store's"
    assert unroutable == 0, f"{fault}: {unroutable} messages dead-lettered"


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
