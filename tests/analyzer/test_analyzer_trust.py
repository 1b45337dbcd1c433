"""Detector trust: per-source rate limits (refused, counted, dead-lettered with the reason) and the
learned credibility (down-weighting a source whose incidents are not followed by load; reversible)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.kb import EmbeddedKnowledgeBase
from arca.kb.terms import arca_iri
from arca.messages import ExternalEvent, Observation, PolicyUpdated, Situation, TopologyChange
from arca.policy import policy_graph
from arca.service import Deps
from arca.trust import (
    Credibility,
    SourceTrust,
    effective_severity,
    judge,
    load_credibility,
    over_limit,
    store_credibility,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


LIMIT = [
    # id, limit, window, accepted (seconds before now), refused?
    ("under-the-limit", 3, 60, [1, 2], False),
    ("at-the-limit-refused", 3, 60, [1, 2, 3], True),
    ("old-events-leave-the-window", 3, 60, [1, 60, 61], False),
    ("limit-0-refuses-all", 0, 60, [], True),
    ("no-limit", None, 60, [0] * 1000, False),
]


@pytest.mark.parametrize(("limit", "window", "ago", "refused"), [c[1:] for c in LIMIT],
                         ids=[c[0] for c in LIMIT])
def test_rate_limit(limit: int | None, window: float, ago: list[float], refused: bool) -> None:
    trust = SourceTrust("s", event_limit=limit, window_s=window)
    assert (over_limit([at(100 - a) for a in ago], trust, at(100)) is not None) == refused


CREDIBILITY = [
    # id, verdicts (True: confirmed by load), expected credibility, severity 4 anticipates with
    ("new-source-fully-credible", [], 1.0, 4),
    ("one-false-alarm-halves", [False], 0.5, 2),
    ("three-false-alarms", [False, False, False], 0.125, 1),
    ("four-false-alarms-no-anticipation", [False] * 4, 0.0625, 0),
    ("confirmed-incident-recovers", [False, False, True], 0.5, 2),
    ("capped-at-one", [True, True], 1.0, 4),
]


@pytest.mark.parametrize(("verdicts", "value", "severity"), [c[1:] for c in CREDIBILITY],
                         ids=[c[0] for c in CREDIBILITY])
def test_learned_credibility(verdicts: list[bool], value: float, severity: int) -> None:
    trust = SourceTrust("s", penalty=0.5, reward=0.25)
    cred = Credibility("s")
    for v in verdicts:
        cred = judge(cred, v, trust, T0)
    assert cred.value == pytest.approx(value)
    assert effective_severity(4, cred.value) == severity
    assert (cred.confirmed, cred.unconfirmed) == (verdicts.count(True), verdicts.count(False))


def _count(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class World:
    def __init__(self, trust: str) -> None:
        self.bus, self.kb, self.clock = InMemoryBus(), EmbeddedKnowledgeBase(), SimClock(T0)
        self.kb.replace_graph(HEAD + '<urn:p> a arca:Policy ; arca:system "emergency" .',
                              policy_graph("emergency"))
        self.kb.load_turtle(HEAD + trust, arca_iri("graph/trust", "seismo-1"))
        self.service = AnalyzerService(Deps(self.bus, self.kb, self.clock, ArcaSettings()))
        self.service.attach()
        self.out: list[Situation] = []
        self.bus.subscribe("test.out", ["situation.#"], lambda m: self.out.append(m))  # type: ignore[arg-type]

    def event(self, t: float, ident: str, severity: int = 4) -> None:
        self.bus.publish(ExternalEvent(event_time=at(t), event_id=ident, source="seismo-1", onset=at(t),
                                       payload_kind="basic", severity=severity, domain="building-2"))

    def round_(self, t: float, cpu: float) -> None:
        self.bus.publish(Observation(event_time=at(t - 10), system="emergency", metric="cpu_util", value=cpu,
                                     resource="a"))
        self.tick(t)

    def tick(self, t: float) -> None:
        self.clock.set(at(t))
        self.service.tick(at(t))


def test_a_flood_is_refused_beyond_the_limit_every_refusal_dead_lettered_with_its_reason() -> None:
    w = World('<urn:t> a arca:SourceTrust ; arca:forSource "seismo-1" ; arca:eventLimit 3 ; '
              "arca:eventWindowSeconds 60 .")
    before = _count("arca_events_refused_total", {"source": "seismo-1", "reason": "rate-limit"})
    for i in range(200):
        w.event(i * 0.01, f"flood-{i}")
    assert len([s for s in w.out if s.trigger == "event"]) == 3
    dead = w.bus.dead_letters()
    assert len(dead) == 197 and all("refused by its rate limit" in d.reason and "(limit 3)" in d.reason
                                    for d in dead)
    after = _count("arca_events_refused_total", {"source": "seismo-1", "reason": "rate-limit"})
    assert after - before == 197
    w.event(61, "later")  # the window moved on
    assert len([s for s in w.out if s.trigger == "event"]) == 4
    w.tick(62)  # the refused count is stored on the analyzer's tick, shown by arca status
    assert load_credibility(w.kb)["seismo-1"].refused == 197


def test_unconfirmed_incidents_down_weight_the_source_and_an_admin_reverses_it() -> None:
    w = World('<urn:t> a arca:SourceTrust ; arca:forSource "seismo-1" ; arca:confirmationSeconds 30 ; '
              "arca:credibilityPenalty 0.5 .")
    w.bus.publish(TopologyChange(event_time=at(0), system="emergency", server_id="a", state="active"))
    for k in range(4):  # four false alarms: no load follows
        t0 = k * 100
        w.event(t0, f"false-{k}")
        w.round_(t0 + 10, 0.2)
        w.tick(t0 + 40)
    cred = load_credibility(w.kb)["seismo-1"]
    assert (cred.value, cred.unconfirmed, cred.by) == (0.0625, 4, "learned")
    probe = ExternalEvent(event_time=at(500), event_id="probe", source="seismo-1", onset=at(500),
                          payload_kind="basic", severity=4)
    assert w.service.screen(probe).severity == 0  # anticipates nothing any more
    # a true incident is confirmed by load and raises it
    w.event(600, "true-1")
    w.round_(610, 1.0)
    w.tick(640)
    assert load_credibility(w.kb)["seismo-1"].value == pytest.approx(0.3125)
    # the admin resets it (arca trust reset): the running analyzer follows
    store_credibility(w.kb, Credibility("seismo-1", 1.0, 1, 4, at(700), "alice"))
    w.bus.publish(PolicyUpdated(event_time=at(700), system="source:seismo-1", policy="urn:x"))
    assert w.service.screen(probe).severity == 4


def test_without_trust_nodes_nothing_is_limited_or_learned() -> None:
    w = World("")
    for i in range(50):
        w.event(i * 0.01, f"e-{i}")
    assert len([s for s in w.out if s.trigger == "event"]) == 50 and not w.bus.dead_letters()
    w.tick(1000)
    assert load_credibility(w.kb) == {}


LEFT_TO = [
    # id, events of the flooding source already accepted (seconds), waiting behind the genuine event
    # ("~": a cancellation, "!": handled already, "?": naming no system), whether the genuine event's
    # situation is left to them
    ("later-events-the-limit-takes", [], ["f1", "f2"], True),
    ("later-events-the-limit-refuses", [1, 2, 3], ["f1", "f2"], False),
    ("one-slot-left", [1, 2], ["f1", "f2"], True),
    ("nothing-waiting", [], [], False),
    ("a-cancellation-the-limit-never-refuses", [1, 2, 3], ["~f1"], True),
    ("handled-already", [], ["!f1"], False),
    ("an-event-naming-no-system", [], ["?f1"], True),
]


@pytest.mark.parametrize(("accepted", "waiting", "left"), [c[1:] for c in LEFT_TO],
                         ids=[c[0] for c in LEFT_TO])
def test_a_situation_is_not_left_to_waiting_events_the_rate_limit_refuses(
        accepted: list[float], waiting: list[str], left: bool) -> None:
    """A flood waiting behind a genuine event does not hold the genuine event's situation back for
    the whole backlog: it is left only to later events their source's limit would take."""
    from arca.bus.order import Slot, handling

    w = World('<urn:t> a arca:SourceTrust ; arca:forSource "seismo-1" ; arca:eventLimit 3 ; '
              "arca:eventWindowSeconds 60 .")
    w.service.accepted["seismo-1"] = [at(t) for t in accepted]
    genuine = ExternalEvent(event_time=at(10), event_id="genuine", source="seismo-hq", onset=at(10),
                            payload_kind="basic", severity=2, domain="building-2", system="emergency")
    later = [Slot(ExternalEvent(event_time=at(11), event_id=e.strip("~!?"), source="seismo-1", onset=at(11),
                                payload_kind="basic", severity=4, domain="building-2",
                                system=None if e.startswith("?") else "emergency",
                                cancelled=e.startswith("~")), done=e.startswith("!"))
             for e in waiting]
    with handling([Slot(genuine), *later], 0):
        w.service.handle(genuine)
    assert [s.correlation_id for s in w.out] == ([] if left else [genuine.correlation_id])
    assert ("emergency" in w.service.unpublished) == left


def test_a_situation_left_to_an_event_that_never_comes_is_published_on_the_next_tick() -> None:
    """A system is left to a later event waiting in the window; when that event is handled the
    system is looked at again (and forgotten from ``left_to``); when it never is (a duplicate
    dropped, a connection lost), the next tick publishes the situation."""
    from arca.bus.order import Slot, handling

    def ev(ident: str, t: float) -> ExternalEvent:
        return ExternalEvent(event_time=at(t), event_id=ident, source="seismo-hq", onset=at(t),
                             payload_kind="basic", severity=2, domain="building-2", system="emergency")

    w = World("")
    first, second, lost = ev("first", 10), ev("second", 11), ev("lost", 12)
    with handling([Slot(first), Slot(second)], 0):
        w.service.handle(first)
    assert w.out == [] and w.service.left_to == {second.message_id: {"emergency"}}
    w.service.handle(second)
    assert [s.correlation_id for s in w.out] == [second.correlation_id]
    assert w.service.left_to == {} and w.service.unpublished == {}
    with handling([Slot(first), Slot(lost)], 0):
        w.service.handle(first)
    assert len(w.out) == 1
    w.tick(13)
    assert [s.correlation_id for s in w.out[1:]] == [first.correlation_id]


def test_each_batch_of_a_burst_publishes_what_no_waiting_event_will() -> None:
    """While another system's events wait, a system with none of its own is looked at again at the
    batch's end (on the in-memory bus at once), batch after batch."""
    from arca.bus.order import Slot, handling

    def ev(ident: str, t: float, system: str) -> ExternalEvent:
        return ExternalEvent(event_time=at(t), event_id=ident, source="seismo-hq", onset=at(t),
                             payload_kind="basic", severity=2, domain="building-2", system=system)

    w = World("")
    for k in range(3):
        mine, theirs = ev(f"e{k}", 10 + k, "emergency"), ev(f"x{k}", 10 + k, "other")
        with handling([Slot(mine), Slot(theirs)], 0):
            w.service.handle(mine)
        assert [s.correlation_id for s in w.out if s.system == "emergency"][k:] == [mine.correlation_id]
    assert w.service.at_batch_end == set()
