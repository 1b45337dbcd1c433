"""An analyzer that starts (a restart, or a standby taking over) re-announces the incidents still
alive from the events in the knowledge base, so its situations go on reporting them."""

from __future__ import annotations

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.kb import EmbeddedKnowledgeBase
from arca.kb.messages import store_message
from arca.messages import ExternalEvent, Observation, Situation
from arca.policy import policy_graph
from arca.service import Deps
from tests.analyzer.test_analyzer_trust import HEAD, World, at


def incidents_after_restart(kb: EmbeddedKnowledgeBase, t: float) -> list[str]:
    """The incident ids of a new analyzer's first telemetry situation at ``t`` s, on ``kb``."""
    bus, clock = InMemoryBus(), SimClock(at(t))
    service = AnalyzerService(Deps(bus, kb, clock, ArcaSettings()))
    service.attach()
    out: list[Situation] = []
    bus.subscribe("test.out", ["situation.#"], lambda m: out.append(m))  # type: ignore[arg-type]
    bus.publish(Observation(event_time=at(t - 10), system="emergency", metric="cpu_util", value=0.2,
                            resource="a"))
    service.tick(at(t))
    (situation,) = out
    return [i.incident_id for i in situation.incidents]


def test_a_restarted_analyzer_reports_the_incidents_announced_before_it() -> None:
    first = World("")
    first.event(0, "quake-1")
    first.event(5, "quake-2")
    first.bus.publish(ExternalEvent(event_time=at(6), event_id="quake-2", source="seismo-1", onset=at(5),
                                    payload_kind="basic", severity=4, domain="building-2", cancelled=True))
    first.round_(20, 0.2)
    (before,) = [s for s in first.out if s.trigger == "telemetry"]
    assert [i.incident_id for i in before.incidents] == ["quake-1"]
    first.kb.flush()
    assert incidents_after_restart(first.kb, 30) == ["quake-1"]  # the cancelled one stays cancelled


def test_expired_and_future_incidents_are_not_rebuilt() -> None:
    first = World("")
    first.event(0, "quake-1")
    first.kb.flush()
    assert incidents_after_restart(first.kb, first.service.config.incident_ttl_s + 30) == []
    replay = EmbeddedKnowledgeBase()  # a store holding another (later) timeline's event
    replay.replace_graph(HEAD + '<urn:p> a arca:Policy ; arca:system "emergency" .',
                         policy_graph("emergency"))
    store_message(replay, ExternalEvent(event_time=at(500), event_id="later", source="seismo-1",
                                        onset=at(500), payload_kind="basic", severity=4))
    replay.flush()
    assert incidents_after_restart(replay, 30) == []
