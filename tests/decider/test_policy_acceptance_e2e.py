"""Issue 12's acceptance, end to end on the real RabbitMQ broker, the real Oxigraph server and the
testbed's emulated OpenStack: a flood of severity-4 events from one source stays within the policy's
bounds, triggers at most the guard's number of actions, and every refused event is counted and
dead-lettered with its reason; telemetry cut for N rounds drives the fallback, its return ends it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from decider_helpers import at, wait_for
from prometheus_client import REGISTRY

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.decider.anticipator import LearnedSample
from arca.decider.samples import store_sample
from arca.decider.service import DeciderService
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb.sparql import SparqlKnowledgeBase
from arca.kb.terms import arca_iri
from arca.messages import Decision, Enforcement, ExternalEvent, Message, Observation, TopologyChange
from arca.policy import policy_graph
from arca.service import Deps
from arca.status import collect

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"
POLICY = HEAD + """<urn:p:emergency> a arca:Policy ; arca:system "emergency" ;
    arca:minServants 1 ; arca:maxServants 6 ; arca:defaultServants 1 ; arca:expirationSeconds 45 ;
    arca:listensToDomain "building-2" ;
    arca:guardFrequencyLimit 3 ; arca:guardFrequencyWindowSeconds 600 ;
    arca:fallbackAfterRounds 3 ; arca:fallbackServants 2 ; arca:telemetryPeriodSeconds 10 .
"""
TRUST = HEAD + """<urn:t:flood> a arca:SourceTrust ; arca:forSource "seismo-flood" ;
    arca:eventLimit 5 ; arca:eventWindowSeconds 60 .
"""
FLOOD = 2000
LIMIT = 5


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], None]]]:
    todo: list[Callable[[], None]] = []
    yield todo
    for fn in reversed(todo):
        fn()


def _count(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_flood_guard_and_fallback_end_to_end(rabbit_url: str, unique: str, oxigraph: Any, testbed: Any,
                                             conn: Any, cleanup: list[Callable[[], None]]) -> None:
    bus_s = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                        dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                        queue_prefix=f"t-{unique}.", confirm_timeout_s=30.0)
    kb_s = KbSettings(kind="sparql", query_url=oxigraph.query_url, update_url=oxigraph.update_url,
                      store_url=oxigraph.store_url, write_flush_interval_s=0.05)
    settings = ArcaSettings(bus=bus_s, kb=kb_s,
                            enforcer=EnforcerSettings(boot_timeout_s=600.0, resync_interval_s=1.0))
    admin = SparqlKnowledgeBase(kb_s)
    cleanup.append(admin.close)
    admin.replace_graph(POLICY, policy_graph("emergency"))
    admin.replace_graph(TRUST, arca_iri("graph/trust", "seismo-flood"))
    for e in range(0, 46, 3):  # prior knowledge: a severity-4 incident needs 10 servants
        sample = LearnedSample(4, float(e), 10, sample_id=f"prior-{e}", source="prior")
        store_sample(admin, "emergency", sample, sync=True)
    admin.flush()
    clock = SimClock(at(0))

    def deps(name: str) -> Deps:
        bus = RabbitBus(bus_s, service=name)
        kb = SparqlKnowledgeBase(kb_s)
        cleanup.extend([kb.close, bus.stop])
        return Deps(bus, kb, clock, settings)

    analyzer = AnalyzerService(deps("analyzer"))
    decider = DeciderService(deps("decider"))
    enforcer = EnforcerService(deps("enforcer"), driver=OpenStackDriver(settings.enforcer, conn))
    collector = RabbitBus(bus_s, service="collector")
    cleanup.append(collector.stop)
    decisions: list[Decision] = []
    enforcements: list[Enforcement] = []

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            decisions.append(m)
        elif isinstance(m, Enforcement):
            enforcements.append(m)

    collector.subscribe(f"{bus_s.queue_prefix}watch", ["decision.#", "enforcement.#"], keep)
    for service in (analyzer, decider, enforcer):
        service.attach()
        service.bus.start()
    collector.start()

    def round_(t: float) -> None:
        n = len(decisions)
        collector.publish(Observation(event_time=at(t - 10), system="emergency", metric="cpu_util", value=0.3,
                                      resource="srv-1"))
        collector.flush()
        wait_for(lambda: analyzer.views.get("emergency") is not None
                 and analyzer.views["emergency"].cpu.get("srv-1", (None,))[0] == at(t), what=f"round {t}")
        clock.set(at(t) + timedelta(seconds=0.5))
        analyzer.bus.call_soon_threadsafe(lambda: analyzer.tick(clock.now()))
        wait_for(lambda: len(decisions) > n, what=f"decision after round {t}")

    collector.publish(TopologyChange(event_time=at(0), system="emergency", server_id="srv-1", state="active"))
    round_(10)
    assert decisions[-1].target_servants == 1

    # -- the flood: 2000 severity-4 events from one source within 2 s ---------------------------------
    before = len(testbed.model.live_servants())  # the testbed's own first servant
    refused_before = _count("arca_events_refused_total", {"source": "seismo-flood", "reason": "rate-limit"})
    guard_before = _count("arca_guard_refusals_total", {"system": "emergency", "guard": "frequency"})
    clock.set(at(20))
    for i in range(FLOOD):
        collector.publish(ExternalEvent(event_time=at(20 + i / 1000), event_id=f"flood-{i}",
                                        source="seismo-flood", onset=at(20), payload_kind="basic", severity=4,
                                        domain="building-2"))
    collector.flush()
    wait_for(lambda: _count("arca_events_refused_total", {"source": "seismo-flood", "reason": "rate-limit"})
             - refused_before >= FLOOD - LIMIT, timeout=120, what="every excess event refused")
    dead = collector.dead_letters()
    assert len(dead) == FLOOD - LIMIT
    assert all("refused by its rate limit" in d.reason and d.routing_key.startswith("event.") for d in dead)
    wait_for(lambda: any(d.target_servants == 6 for d in decisions), what="the anticipated floor")
    wait_for(lambda: len(testbed.model.live_servants()) == before + 3, what="the guard's 3 creations")
    wait_for(lambda: any(e.detail.startswith("refused by guard frequency") for e in enforcements),
             what="a frequency refusal reported")
    clock.set(at(25))
    enforcer.bus.call_soon_threadsafe(lambda: enforcer.tick(at(25)))
    collector.flush()
    assert all(d.target_servants <= 6 for d in decisions)  # within the policy's bounds
    assert len(testbed.model.live_servants()) == before + 3  # at most the guard's number of actions
    refusals = [e for e in enforcements if e.detail.startswith("refused by guard frequency")]
    assert all(e.outcome == "skipped" for e in refusals)
    assert _count("arca_guard_refusals_total", {"system": "emergency", "guard": "frequency"}) - guard_before \
        == len(refusals)

    # -- telemetry cut for 3 rounds (and the anticipation over): fallback; telemetry back: it ends ------
    n = len(decisions)
    clock.set(at(80))
    decider.bus.call_soon_threadsafe(lambda: decider.tick(at(80)))
    wait_for(lambda: any(d.rule == "fallback" for d in decisions[n:]), what="the fallback decision")
    fb = next(d for d in decisions[n:] if d.rule == "fallback")
    assert fb.target_servants == 2 and "telemetry rounds missed" in fb.reason
    assert _count("arca_fallback_active", {"system": "emergency"}) == 1
    round_(90)
    assert decisions[-1].rule != "fallback"
    analyzer.kb.flush()
    (src,) = collect(admin, ["emergency"])["sources"]  # arca status
    assert (src["source"], src["events_refused"]) == ("seismo-flood", FLOOD - LIMIT)
    assert _count("arca_fallback_active", {"system": "emergency"}) == 0
