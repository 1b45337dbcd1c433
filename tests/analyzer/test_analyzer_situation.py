"""The analyzer: per-system view (pure) and the service on the in-process bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arca.analyzer.service import AnalyzerService
from arca.analyzer.situation import AnalyzerConfig, SystemView
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.policy import policy_graph
from arca.kb import EmbeddedKnowledgeBase
from arca.kb.messages import load_messages
from arca.messages import (
    Enforcement,
    ExternalEvent,
    Message,
    Observation,
    Situation,
    TopologyChange,
)
from arca.service import Deps

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def obs(t: float, metric: str, value: float, resource: str, system: str = "emergency") -> Observation:
    """A measure of the window ending at ``t``: cpu_util is stamped with the window's start (Gnocchi)."""
    stamp = t - 10 if metric == "cpu_util" else t
    return Observation(event_time=at(stamp), system=system, metric=metric, value=value, resource=resource,
                       domain="building-2" if metric != "cpu_util" else None)


def topo(t: float, server: str, state: str, system: str = "emergency") -> TopologyChange:
    return TopologyChange(event_time=at(t), system=system, server_id=server, state=state)  # type: ignore[arg-type]


def event(t: float, severity: int = 3, ident: str = "quake-1", source: str = "seismo-1",
          domain: str | None = "building-2", cancelled: bool = False,
          system: str | None = None) -> ExternalEvent:
    return ExternalEvent(event_time=at(t), event_id=ident, source=source, onset=at(t), payload_kind="basic",
                         severity=severity, domain=domain, cancelled=cancelled, system=system)


def view_with(*messages: Message, config: AnalyzerConfig | None = None) -> SystemView:
    v = SystemView("emergency", config or AnalyzerConfig())
    for m in messages:
        if isinstance(m, Observation):
            v.observe(m)
        elif isinstance(m, TopologyChange):
            v.topology(m)
        elif isinstance(m, Enforcement):
            v.enforcement(m)
        elif isinstance(m, ExternalEvent):
            v.announce(m)
    return v


CASES = {
    "two-servants-half-loaded": (
        [topo(0, "a", "active"), topo(0, "b", "active"), obs(10, "cpu_util", 0.4, "a"),
         obs(10, "cpu_util", 0.6, "b")],
        (2, 0, 0.5, 0.0, 1.0)),
    "booting-not-counted-active": (
        [topo(0, "a", "active"), topo(5, "b", "building"), obs(10, "cpu_util", 0.8, "a")],
        (1, 1, 0.8, 0.0, 0.8)),
    "old-sample-outside-window": (
        [topo(0, "a", "active"), topo(0, "b", "active"), obs(10, "cpu_util", 0.9, "b"),
         obs(30, "cpu_util", 0.3, "a")],
        (2, 0, 0.3, 0.0, 0.3)),
    "saturated-with-discards": (
        [topo(0, "a", "active"), obs(10, "cpu_util", 1.0, "a"), obs(10, "request_rate", 400.0, "lb-2"),
         obs(10, "discard_rate", 300.0, "lb-2")],
        (1, 0, 1.0, 0.75, 4.0)),
    "deleted-server-forgotten": (
        [topo(0, "a", "active"), topo(0, "b", "active"), obs(10, "cpu_util", 0.5, "a"),
         obs(10, "cpu_util", 0.5, "b"), topo(12, "b", "deleted")],
        (1, 0, 0.5, 0.0, 0.5)),
    "enforcement-counts-when-newer": (
        [topo(0, "a", "active"), obs(10, "cpu_util", 0.5, "a"),
         Enforcement(event_time=at(15), system="emergency", action="scale_out", driver="openstack",
                     outcome="succeeded", desired_servants=3, active_servants=2, booting_servants=1,
                     started_at=at(12), finished_at=at(15))],
        (2, 1, 0.5, 0.0, 0.5)),
}


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_view(case: str) -> None:
    messages, (active, booting, load, discard, demand) = CASES[case]
    sit = view_with(*messages).situation(at(20), "telemetry")
    assert (sit.servants_active, sit.servants_booting) == (active, booting)
    assert sit.average_load == pytest.approx(load)
    assert sit.discard_ratio == pytest.approx(discard)
    assert sit.demand_servants == pytest.approx(demand)


def test_demand_comes_from_the_request_rate_once_capacity_is_known() -> None:
    """A servant that joined mid-window reports a partial CPU average: the offered rate does not."""
    # a window is learned from once the windows before and after it show the same servants
    v = view_with(topo(0, "a", "active"), *(m for t in (10, 20, 30) for m in (
        obs(t, "cpu_util", 0.5, "a"), obs(t, "request_rate", 100.0, "lb"))))
    v.close_round()
    assert v.capacity == pytest.approx(200.0)
    for m in (topo(35, "b", "active"), obs(40, "cpu_util", 1.0, "a"), obs(40, "cpu_util", 0.2, "b"),
              obs(40, "request_rate", 300.0, "lb")):
        v.observe(m) if isinstance(m, Observation) else v.topology(m)
    v.close_round()  # servants changed during the window: capacity not re-estimated
    assert v.capacity == pytest.approx(200.0)
    assert v.situation(at(40), "telemetry").demand_servants == pytest.approx(1.5)


def test_cpu_stamped_at_the_window_end_when_configured() -> None:
    at_end = Observation(event_time=at(10), system="emergency", metric="cpu_util", value=0.5, resource="a")
    v = view_with(topo(0, "a", "active"), at_end, config=AnalyzerConfig(cpu_timestamp_at="end"))
    assert v.newest_load == at(10)
    assert view_with(topo(0, "a", "active"), obs(10, "cpu_util", 0.5, "a")).newest_load == at(10)


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([event(0, 3)], 10, ("quake-1", 3, 10.0)),
        ([event(0, 3), event(5, 1, "quake-2")], 10, ("quake-2", 1, 5.0)),
        ([event(0, 3), event(5, 3, "quake-1", cancelled=True)], 10, (None, 0, None)),
        ([event(0, 3)], 200, (None, 0, None)),
        ([event(0, 2), event(3, 4, "quake-1")], 10, ("quake-1", 4, 7.0)),
    ],
    ids=["announced", "latest-incident-wins", "cancelled", "forgotten-after-ttl", "severity-update"],
)
def test_incidents(events: list[ExternalEvent], now: float,
                   expected: tuple[str | None, int, float | None]) -> None:
    sit = view_with(*events).situation(at(now), "event")
    assert (sit.incident_id, sit.incident_severity, sit.incident_elapsed_s) == expected


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([event(0, 4), event(10, 1, "quake-2")], 15, [("quake-1", 4, 0.0), ("quake-2", 1, 10.0)]),
        ([event(0, 1), event(10, 4, "quake-2")], 15, [("quake-1", 1, 0.0), ("quake-2", 4, 10.0)]),
        ([event(0, 4), event(100, 1, "quake-2")], 130, [("quake-2", 1, 100.0)]),
        ([event(0, 4), event(100, 1, "quake-2")], 221, []),
        ([event(0, 4), event(10, 1, "quake-2"), event(12, 1, "quake-1", cancelled=True)], 15,
         [("quake-2", 1, 10.0)]),
        ([event(0, 4), event(30, 1, "quake-2")], 20, [("quake-1", 4, 0.0)]),
    ],
    ids=["milder-after-stronger", "stronger-after-milder", "each-expires-on-its-own", "all-expired",
         "one-cancelled", "future-onset-not-yet"],
)
def test_every_active_incident_is_in_the_situation(events: list[ExternalEvent], now: float,
                                                   expected: list[tuple[str, int, float]]) -> None:
    sit = view_with(*events).situation(at(now), "event")
    got = [(i.incident_id, i.severity, (i.onset - T0).total_seconds()) for i in sit.incidents]
    assert got == expected
    assert all(i.source == "seismo-1" for i in sit.incidents)


def test_incident_detected_from_load_when_no_detector_spoke() -> None:
    v = view_with(topo(0, "a", "active"), topo(0, "b", "active"), topo(0, "c", "active"),
                  topo(0, "d", "active"))
    for t, load in ((10, 0.1), (20, 0.1), (30, 0.1), (40, 0.6), (50, 0.7), (60, 0.8)):
        for s in "abcd":
            v.observe(obs(t, "cpu_util", load, s))
        v.close_round()
        sit = v.situation(at(t), "telemetry")
        # detected at the second round of the jump (jump_rounds = 2), not before, not later
        assert sit.detected_from_load is (t >= 50), t
    assert sit.detected_from_load and sit.incident_id is not None
    assert sit.incident_onset == at(40)
    assert sit.incident_severity == 0
    # a detector speaking supersedes the guess
    v.announce(event(61, 2))
    sit = v.situation(at(62), "event")
    assert not sit.detected_from_load and sit.incident_id == "quake-1"
    assert [i.incident_id for i in sit.incidents] == ["quake-1"]


def test_active_incidents_come_oldest_first_whatever_the_announcement_order() -> None:
    v = view_with(event(10, 1, "quake-2"), event(0, 4, "quake-1"), event(5, 2, "quake-3"))
    assert [i.incident_id for i in v.active_incidents(at(12))] == ["quake-1", "quake-3", "quake-2"]


# -- the service -------------------------------------------------------------------------------------
class World:
    def __init__(self, policies: str = "") -> None:
        self.bus = InMemoryBus()
        self.kb = EmbeddedKnowledgeBase()
        if policies:
            for system, body in policies_of(policies):
                self.kb.replace_graph(body, policy_graph(system))
        self.clock = SimClock(T0)
        self.service = AnalyzerService(Deps(self.bus, self.kb, self.clock, ArcaSettings()))
        self.service.attach()
        self.out: list[Situation] = []
        self.bus.subscribe("test.out", ["situation.#"], lambda m: self.out.append(m))  # type: ignore[arg-type]

    def tick(self, t: float) -> None:
        self.clock.set(at(t))
        self.service.tick(at(t))


def policies_of(spec: str) -> list[tuple[str, str]]:
    out = []
    for item in spec.split(";"):
        system, _, domain = item.partition("=")
        body = HEAD + f'<urn:p:{system}> a arca:Policy ; arca:system "{system}" '
        if domain:
            body += f'; arca:listensToDomain "{domain}" '
        out.append((system, body + "."))
    return out


def test_an_event_gives_a_situation_at_once_with_its_correlation_id() -> None:
    w = World("emergency")
    e = event(3)
    w.bus.publish(e)
    (sit,) = w.out
    assert sit.trigger == "event" and sit.correlation_id == e.correlation_id
    assert sit.incident_id == "quake-1" and sit.incident_severity == 3 and sit.event_time == at(3)
    stored = load_messages(w.kb, Situation, "emergency")
    assert stored and stored[0].message_id == sit.message_id
    assert load_messages(w.kb, ExternalEvent)[0].event_id == "quake-1"


@pytest.mark.parametrize(
    ("policies", "domain", "expected"),
    [("emergency;video", "building-2", ["emergency", "video"]),
     ("emergency=building-2;video=building-4", "building-2", ["emergency"]),
     ("emergency=building-2;video=building-4", "hq", [])],
    ids=["no-filter-all-systems", "listening-system-only", "nobody-listens"],
)
def test_events_map_to_the_systems_whose_policy_listens(policies: str, domain: str,
                                                        expected: list[str]) -> None:
    w = World(policies)
    w.bus.publish(event(1, domain=domain))
    assert sorted(s.system for s in w.out) == expected


def test_telemetry_rounds_give_one_situation_per_round_on_tick() -> None:
    w = World("emergency")
    w.bus.publish(topo(0, "a", "active"))
    last = obs(10, "cpu_util", 0.4, "a")
    w.bus.publish(obs(10, "request_rate", 60.0, "lb"))
    w.bus.publish(last)
    assert w.out == []
    w.tick(10.5)
    w.tick(11)
    (sit,) = w.out
    assert sit.trigger == "telemetry" and sit.correlation_id == last.correlation_id
    assert sit.load_time == at(10) and sit.average_load == pytest.approx(0.4)
    w.bus.publish(obs(20, "cpu_util", 0.5, "a"))
    w.tick(21)
    assert [s.average_load for s in w.out] == pytest.approx([0.4, 0.5])


def test_a_message_the_analyzer_does_not_take_is_dead_lettered() -> None:
    w = World("emergency")
    w.service.handle(event(1))  # direct call works
    from arca.bus import Reject

    with pytest.raises(Reject):
        w.service.handle(Situation(event_time=at(1), system="emergency", servants_active=1, average_load=0.1))


def test_capacity_is_not_learned_from_misaligned_windows() -> None:
    """Load-balancer rates of a newer window than the CPU figures (e.g. the CPU poll is late)."""
    v = view_with(topo(0, "a", "active"), obs(10, "cpu_util", 0.5, "a"), obs(20, "request_rate", 300.0, "lb"))
    v.close_round()
    assert v.capacity is None


REPORTING = {
    "all-report": ([topo(0, "a", "active"), topo(0, "b", "active"), obs(10, "cpu_util", 0.4, "a"),
                    obs(10, "cpu_util", 0.6, "b")], 2),
    "one-active-without-cpu": ([topo(0, "a", "active"), topo(0, "b", "active"),
                                obs(10, "cpu_util", 0.4, "a")], 1),
    "stale-figure-is-missing": ([topo(0, "a", "active"), topo(0, "b", "active"),
                                 obs(10, "cpu_util", 0.9, "b"), obs(30, "cpu_util", 0.3, "a")], 1),
    "booting-not-reporting": ([topo(0, "a", "active"), topo(5, "b", "building"),
                               obs(10, "cpu_util", 0.8, "a")], 1),
    "no-telemetry-yet": ([topo(0, "a", "active")], None),
}


@pytest.mark.parametrize("case", sorted(REPORTING), ids=sorted(REPORTING))
def test_servants_reporting_counts_the_cpu_figures_in_the_window(case: str) -> None:
    """The HPA strategy needs who reported (``arca.decider.hpa``): the others are missing."""
    messages, expected = REPORTING[case]
    assert view_with(*messages).situation(at(35), "telemetry").servants_reporting == expected


def _peak_view(*extra: Observation) -> SystemView:
    """Capacity 200 req/s learned; at 40 s two load balancers offered 100 req/s each over the window."""
    v = view_with(topo(0, "a", "active"), *(m for t in (10, 20, 30) for m in (
        obs(t, "cpu_util", 0.5, "a"), obs(t, "request_rate", 100.0, "lb"))))
    v.close_round()
    for m in (obs(40, "cpu_util", 1.0, "a"), obs(40, "request_rate", 100.0, "lb"),
              obs(40, "request_rate", 100.0, "lb2"), *extra):
        v.observe(m)
    return v


PEAKS = [
    # id, peak observations (time, req/s, lb), expected (peak servant-equivalents, at s) or None
    ("both-balancers-peak-summed-mean-time", [(33.5, 150.0, "lb"), (35.5, 250.0, "lb2")], (2.0, 34.5)),
    ("one-balancer-without-a-peak-unknown", [(33.5, 150.0, "lb")], None),
    ("a-peak-of-an-older-window-unknown", [(29.5, 150.0, "lb"), (35.5, 250.0, "lb2")], None),
    ("no-peak-at-all-unknown", [], None),
    ("never-below-the-mean", [(33.5, 90.0, "lb"), (35.5, 90.0, "lb2")], (1.0, 34.5)),
]


@pytest.mark.parametrize(("peaks", "expected"), [c[1:] for c in PEAKS], ids=[c[0] for c in PEAKS])
def test_the_windows_peak_demand(peaks: list[tuple[float, float, str]],
                                 expected: tuple[float, float] | None) -> None:
    v = _peak_view(*(obs(t, "request_rate_peak", value, lb) for t, value, lb in peaks))
    sit = v.situation(at(40), "telemetry")
    assert sit.demand_servants == pytest.approx(1.0)
    if expected is None:
        assert (sit.demand_peak_servants, sit.demand_peak_time) == (None, None)
    else:
        assert sit.demand_peak_servants == pytest.approx(expected[0])
        assert sit.demand_peak_time == at(expected[1])
    assert v.newest_load == at(40)  # a peak observation never opens a telemetry round
