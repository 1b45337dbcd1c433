"""Issue 25 item 5 end to end on the real RabbitMQ broker and the real Oxigraph server: with only the
shipped defaults (``ontology/policies/source-trust.ttl`` applied, no ``SourceTrust`` of the flooding
source's own), a genuine event from another source is decided within 1 s while one source floods 2,000
severity-4 events. Issue 25 measured 11.3 s with no decision of its own before (no source limit was
shipped): without the shipped file this test fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.decider.service import DeciderService
from arca.kb.sparql import SparqlKnowledgeBase
from arca.kb.terms import arca_iri
from arca.messages import Decision, ExternalEvent, Message, Observation, TopologyChange
from arca.namespace import ONTOLOGY_DIR
from arca.policy import policy_graph
from arca.service import Deps
from arca.trust import ANY_SOURCE

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"
POLICY = HEAD + """<urn:p:emergency> a arca:Policy ; arca:system "emergency" ;
    arca:minServants 1 ; arca:maxServants 6 ; arca:defaultServants 1 ; arca:expirationSeconds 45 ;
    arca:listensToDomain "building-2" .
"""
FLOOD = 2000
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds of wall time."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
SHIPPED = ONTOLOGY_DIR / "policies" / "source-trust.ttl"


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], None]]]:
    todo: list[Callable[[], None]] = []
    yield todo
    for fn in reversed(todo):
        fn()


def test_a_genuine_event_is_decided_within_a_second_during_a_flood(
        rabbit_url: str, unique: str, oxigraph: Any, cleanup: list[Callable[[], None]]) -> None:
    bus_s = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                        dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                        queue_prefix=f"t-{unique}.", confirm_timeout_s=30.0)
    kb_s = KbSettings(kind="sparql", query_url=oxigraph.query_url, update_url=oxigraph.update_url,
                      store_url=oxigraph.store_url, write_flush_interval_s=0.05)
    settings = ArcaSettings(bus=bus_s, kb=kb_s)
    admin = SparqlKnowledgeBase(kb_s)
    cleanup.append(admin.close)
    admin.replace_graph(POLICY, policy_graph("emergency"))
    admin.replace_graph(SHIPPED.read_bytes(), arca_iri("graph/trust", ANY_SOURCE))  # as arca policy apply
    clock = SimClock(at(0))

    def deps(name: str) -> Deps:
        bus = RabbitBus(bus_s, service=name)
        kb = SparqlKnowledgeBase(kb_s)
        cleanup.extend([kb.close, bus.stop])
        return Deps(bus, kb, clock, settings)

    analyzer = AnalyzerService(deps("analyzer"))
    decider = DeciderService(deps("decider"))
    collector = RabbitBus(bus_s, service="collector")
    cleanup.append(collector.stop)
    decided: dict[str, float] = {}

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            decided.setdefault(m.correlation_id, time.monotonic())

    collector.subscribe(f"{bus_s.queue_prefix}watch", ["decision.#"], keep)
    for service in (analyzer, decider):
        service.attach()
        service.bus.start()
    collector.start()
    collector.publish(TopologyChange(event_time=at(0), system="emergency", server_id="srv-1", state="active"))
    collector.publish(Observation(event_time=at(0), system="emergency", metric="cpu_util", value=0.3,
                                  resource="srv-1"))
    collector.flush()
    wait_for(lambda: analyzer.views.get("emergency") is not None, what="the analyzer's view")

    clock.set(at(20))
    for i in range(FLOOD):  # severity 4 from one source, within 2 s of event time
        collector.publish(ExternalEvent(event_time=at(20 + i / 1000), event_id=f"flood-{i}",
                                        source="seismo-flood", onset=at(20), payload_kind="basic", severity=4,
                                        domain="building-2"))
    genuine = ExternalEvent(event_time=at(22.5), event_id="genuine", source="seismo-hq", onset=at(22.5),
                            payload_kind="basic", severity=2, domain="building-2")
    collector.flush()  # the flood is on the broker: the genuine event comes behind it
    sent = time.monotonic()
    collector.publish(genuine)
    collector.flush()
    wait_for(lambda: genuine.correlation_id in decided, timeout=30, what="the genuine event's own decision")
    wait_s = decided[genuine.correlation_id] - sent
    print(f"genuine event decided {wait_s:.3f} s after it was published, behind {FLOOD} flood events")
    assert wait_s < 1.0
    dead = [d for d in collector.dead_letters() if "refused by its rate limit" in d.reason]
    assert len(dead) == FLOOD - 10  # the shipped limit: 10 per 60 s
    assert "(limit 10)" in dead[0].reason and "seismo-flood" in dead[0].reason
