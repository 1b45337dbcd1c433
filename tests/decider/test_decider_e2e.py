"""End to end on the real RabbitMQ broker and the real Oxigraph server.

Events and load in (as the collector would publish them), situations from the analyzer, decisions
out of the decider, learned samples in the store; then the decider is restarted (new bus
connection, new store client) and predicts exactly what the old one did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from decider_helpers import at, wait_for

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.decider.policy import policy_graph
from arca.decider.samples import load_samples
from arca.decider.service import DeciderService
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Decision, ExternalEvent, Message, Observation, TopologyChange
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]


@pytest.fixture
def settings(rabbit_url: str, unique: str, oxigraph: object) -> ArcaSettings:
    bus = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                      dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                      queue_prefix=f"t-{unique}.", confirm_timeout_s=30.0)
    kb = KbSettings(kind="sparql", query_url=oxigraph.query_url,  # type: ignore[attr-defined]
                    update_url=oxigraph.update_url, store_url=oxigraph.store_url,  # type: ignore[attr-defined]
                    write_flush_interval_s=0.05)
    return ArcaSettings(bus=bus, kb=kb)


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], None]]]:
    todo: list[Callable[[], None]] = []
    yield todo
    for fn in reversed(todo):
        fn()


def test_events_and_load_in_decisions_out_samples_kept_and_restored(
        settings: ArcaSettings, cleanup: list[Callable[[], None]]) -> None:
    clock = SimClock(at(0))

    def deps(name: str) -> Deps:
        bus = RabbitBus(settings.bus, service=name)
        kb = SparqlKnowledgeBase(settings.kb)
        cleanup.extend([kb.close, bus.stop])
        return Deps(bus, kb, clock, settings)

    admin = SparqlKnowledgeBase(settings.kb)
    cleanup.append(admin.close)
    admin.replace_graph((ONTOLOGY_DIR / "policies" / "emergency.ttl").read_text(), policy_graph("emergency"))

    analyzer = AnalyzerService(deps("analyzer"))
    analyzer.attach()
    decider_deps = deps("decider")
    decider = DeciderService(decider_deps)
    decider.attach()
    collector = RabbitBus(settings.bus, service="collector")
    cleanup.append(collector.stop)
    decisions: list[Decision] = []

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            decisions.append(m)

    collector.subscribe(f"{settings.bus.queue_prefix}watch", ["decision.#"], keep)
    for bus in (analyzer.bus, decider.bus, collector):
        bus.start()

    def round_(t: float, cpu: float, offered: float, discarded: float) -> None:
        n = len(decisions)
        collector.publish(Observation(event_time=at(t), system="emergency", metric="request_rate",
                                      value=offered, resource="lb-2", domain="building-2"))
        collector.publish(Observation(event_time=at(t), system="emergency", metric="discard_rate",
                                      value=discarded, resource="lb-2", domain="building-2"))
        # Gnocchi stamps a CPU measure with the start of its window
        collector.publish(Observation(event_time=at(t - 10), system="emergency", metric="cpu_util", value=cpu,
                                      resource="srv-1"))
        collector.flush()
        # the analyzer sees the round once its observations are in, then its tick publishes
        wait_for(lambda: analyzer.views.get("emergency") is not None
                 and analyzer.views["emergency"].cpu.get("srv-1", (None,))[0] == at(t), what=f"round {t}")
        clock.set(at(t) + timedelta(seconds=0.5))
        analyzer.bus.call_soon_threadsafe(lambda: analyzer.tick(clock.now()))
        wait_for(lambda: len(decisions) > n, what=f"decision after round {t}")

    collector.publish(TopologyChange(event_time=at(0), system="emergency", server_id="srv-1", state="active"))
    round_(10, 30 / 210, 30.0, 0.0)
    assert decisions[-1].target_servants == 1 and decisions[-1].rule == "hold"

    quake = ExternalEvent(event_time=at(20), event_id="quake-1", source="seismo-1", onset=at(20),
                          payload_kind="seismometer", severity=3, magnitude=6.1, domain="building-2")
    n = len(decisions)
    collector.publish(quake)
    wait_for(lambda: any(d.correlation_id == quake.correlation_id for d in decisions[n:]),
             what="event decision")
    cold = next(d for d in decisions[n:] if d.correlation_id == quake.correlation_id)
    assert cold.target_servants == 1 and cold.predicted_msa is None  # cold: nothing learned yet

    round_(30, 1.0, 600.0, 390.0)  # the burst arrives: corrected and learned
    burst = decisions[-1]
    assert burst.rule == "learned-out" and burst.target_servants == 5 and burst.learned_samples == 1
    assert burst.incident_id == "quake-1"
    round_(40, 1.0, 900.0, 480.0)

    decider.kb.flush()
    stored = load_samples(admin, "emergency")
    assert len(stored) == len(decider.anticipator("emergency")) >= 2
    assert (3, 5.0, 5) in {(s.severity, s.elapsed_s, s.amount) for s in stored}
    grid = [0.0, 5.0, 10.0, 15.0, 20.0, 30.0]
    before = [decider.anticipator("emergency").predict_one(3, e) for e in grid]
    floor_before = decider.anticipator("emergency").floor(3, 2.0, 10.0)

    # restart the decider: new connection, new store client, same queue
    decider.bus.stop()
    decider.kb.close()
    restarted = DeciderService(deps("decider"))
    restarted.attach()
    restarted.bus.start()
    after = [restarted.anticipator("emergency").predict_one(3, e) for e in grid]
    assert after == pytest.approx(before, abs=1e-9)

    # and it acts on them: a new severity-3 incident is anticipated at once
    again = ExternalEvent(event_time=at(100), event_id="quake-2", source="seismo-1", onset=at(98),
                          payload_kind="basic", severity=3, domain="building-2")
    collector.publish(again)
    wait_for(lambda: any(d.correlation_id == again.correlation_id for d in decisions),
             what="restarted decision")
    d = next(d for d in decisions if d.correlation_id == again.correlation_id)
    assert d.predicted_msa == pytest.approx(floor_before)
    assert d.rule == "anticipated" and d.target_servants > 1 and d.learned_samples == len(stored)
