"""The demo's oracles are the bounds they claim to be: ``oracle`` knows failures, ``oracle-notified``
knows each notified incident on its own (an overlapping one never hides another), and on an
overlapping timeline no strategy of the demo beats ``oracle-notified``'s discard at equal or lower cost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from arca.app.demo.cli import DEFAULT_ORDER
from arca.app.demo.metrics import with_cost
from arca.app.demo.oracle import OracleStrategy, clairvoyant_need, failure_spares, notified_need
from arca.app.demo.runner import run_all
from arca.testbed.demand import Demand
from arca.testbed.scenario import servants_needed
from arca.testbed.timeline import parse_timeline

HIGH, CAPACITY = 0.7, 210.0
# a severity 4 in building-2, then 10 s later a severity 1 elsewhere (the example),
# a missed severity 3 and a false alarm of severity 4
OVERLAP = parse_timeline({
    "duration_s": 200, "seed": 3, "incidents": [
        {"at_s": 10, "severity": 4, "domain": "building-2"},
        {"at_s": 20, "severity": 1, "domain": "building-3"},
        {"at_s": 100, "severity": 3, "domain": "building-4", "detector": {"missed": True}}],
    "false_alarms": [{"at_s": 150, "severity": 4, "domain": "building-2"}],
    "failures": [{"at_s": 60, "servants": 1}, {"at_s": 66, "servants": 2}]})
DEMAND = Demand(OVERLAP)
NOTIFIED = notified_need(DEMAND, OVERLAP.notifications(0.5), HIGH, CAPACITY)
CLAIRVOYANT = clairvoyant_need(DEMAND, HIGH, CAPACITY)


def _only(t2: float, *incidents: int) -> int:
    return DEMAND.required_servants(t2, HIGH, CAPACITY, only=frozenset(incidents))


@pytest.mark.parametrize(
    ("t", "t2", "expected"),
    [
        (10.0, 25.0, 1),  # nothing notified yet: the quiet demand
        (10.5, 25.0, _only(25.0, 0)),  # the severity 4 is notified
        (19.0, 28.0, _only(28.0, 0)),  # the severity 1 has started, not notified: the 4 still counts
        (20.5, 28.0, _only(28.0, 0, 1)),  # both notified: their sum
        (120.0, 115.0, 1),  # a missed incident is never known
        (155.0, 165.0, 1),  # a false alarm brings no demand
    ],
    ids=["before-any", "first-notified", "second-not-yet", "both", "missed", "false-alarm"],
)
def test_notified_oracle_knows_each_notified_incident(t: float, t2: float, expected: int) -> None:
    assert NOTIFIED(t, t2) == expected


def test_an_unnotified_incident_never_hides_a_notified_one() -> None:
    # the old oracle-notified collapsed to 1 servant the moment the second incident started
    assert servants_needed(4, 18.0) >= 8
    assert NOTIFIED(19.0, 28.0) >= servants_needed(4, 18.0) - 1
    assert NOTIFIED(20.5, 28.0) == CLAIRVOYANT(20.5, 28.0)
    assert _only(28.0, 0, 1) >= _only(28.0, 0)  # the milder one adds demand


@pytest.mark.parametrize(
    ("t", "spares"),
    [(45.0, 0), (50.0, 1), (56.0, 3), (60.0, 3), (61.0, 2), (66.0, 2), (66.5, 0)],
    ids=["before", "one-ahead", "both-ahead", "at-first", "after-first", "at-second", "after-all"],
)
def test_oracle_starts_a_spare_one_boot_delay_before_each_failure(t: float, spares: int) -> None:
    assert failure_spares(OVERLAP.failures, 10.0)(t) == spares


def test_oracle_target_is_the_most_needed_over_the_lead_time_plus_spares() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    oracle = OracleStrategy(CLAIRVOYANT, start, 10.0, spares=failure_spares(OVERLAP.failures, 10.0))
    assert oracle.target(50.0) == max(CLAIRVOYANT(50.0, 50.0 + k) for k in range(11)) + 1
    notified = OracleStrategy(NOTIFIED, start, 10.0)
    assert notified.target(19.0) == max(_only(19.0 + k, 0) for k in range(11))
    assert oracle.target(19.0) >= notified.target(19.0)


def test_on_an_overlapping_timeline_no_strategy_beats_the_notified_oracle_at_its_cost() -> None:
    tl = parse_timeline({"duration_s": 90, "seed": 5, "incidents": [
        {"at_s": 10, "severity": 4, "domain": "building-2"},
        {"at_s": 20, "severity": 1, "domain": "building-3"},
        {"at_s": 50, "severity": 1, "domain": "building-4"},
        {"at_s": 56, "severity": 3, "domain": "building-4"}]})
    # warm pools (arca-warm, oracle-warm) resume standby servants in seconds: they are meant to beat it
    cold = [n for n in DEFAULT_ORDER if not n.endswith("-warm")]
    metrics = with_cost({n: r.metrics for n, r in run_all(cold, tl, None).items()})
    floor, oracle = metrics["oracle-notified"], metrics["oracle"]
    assert floor.discard_ratio > 0.0  # the notification comes after the burst starts to rise
    for name, m in metrics.items():
        beats = m.discard_ratio < floor.discard_ratio and m.servant_seconds <= floor.servant_seconds
        assert not beats, (name, m.discard_ratio, m.servant_seconds, floor.discard_ratio,
                           floor.servant_seconds)
        assert oracle.discard_ratio <= m.discard_ratio, name
    assert oracle.discard_ratio < floor.discard_ratio
    assert floor.discard_ratio < metrics["arca-reactive"].discard_ratio


def test_json_document_compares_every_strategy_with_the_notified_floor() -> None:
    from arca.app.demo.metrics import RunMetrics
    from arca.app.demo.report import document, timeline_facts

    def m(discard: float, servant_s: float) -> RunMetrics:
        return RunMetrics(requests_total=1000.0, requests_discarded=discard * 1000, discard_ratio=discard,
                          servant_seconds=servant_s, peak_servants=9)

    doc = document(with_cost({"oracle": m(0.0, 100.0), "oracle-notified": m(0.08, 95.0),
                              "arca": m(0.1, 110.0)}), {"timeline_facts": timeline_facts(OVERLAP)})
    arca = doc["strategies"]["arca"]
    assert (arca["discard_pct"], arca["discard_vs_notified"], arca["cost_vs_oracle"]) == (10.0, 1.25, 1.1)
    assert arca["discard_pts_over_notified"] == pytest.approx(2.0)
    assert doc["strategies"]["oracle"]["discard_vs_notified"] == 0.0
    assert doc["timeline_facts"] == {"duration_s": 200, "incidents": 3, "overlapping_pairs": 1, "failures": 3,
                                     "false_alarms": 1, "missed": 1, "severity_errors": 0, "late": 0}


def test_the_suite_plays_every_shipped_overlap_and_detector_timeline() -> None:
    from arca.app.demo.suite import shipped

    names = shipped()
    assert names[0] == "reference"
    assert sum(n.startswith("overlap-") for n in names) >= 4
    assert {"detectors-false-alarms", "detectors-missed", "detectors-severity-errors",
            "detectors-late"} <= set(names)


@pytest.mark.parametrize("name", ["overlap-milder-after", "overlap-stronger-after", "overlap-same-domain",
                                  "overlap-chain"])
def test_on_shipped_overlaps_the_notified_oracle_covers_every_notified_incident(name: str) -> None:
    from arca.testbed.timeline import load_timeline

    tl = load_timeline(name)
    demand = Demand(tl)
    notes = tl.notifications(0.5)
    need, full = notified_need(demand, notes, HIGH, CAPACITY), clairvoyant_need(demand, HIGH, CAPACITY)
    assert any(b.at_s - a.at_s < 35 for a, b in zip(tl.incidents, tl.incidents[1:], strict=False))
    for t in range(int(tl.duration_s)):
        known = [n.incident for n in notes if n.at_s <= t and n.incident is not None]
        each = max((demand.required_servants(t, HIGH, CAPACITY, only={i}) for i in known), default=1)
        assert each <= need(t, t) <= full(t, t), t
        if all(i in known for i, inc in enumerate(tl.incidents) if inc.at_s <= t):
            assert need(t, t) == full(t, t), t


@pytest.mark.parametrize(
    ("onsets", "expected"),
    [([10.0], [1000 / 4500]), ([10.0, 20.0], [0.5, 500 / 4500]), ([10.0, 40.0], [1000 / 3000, 0.0]),
     ([], [])],
    ids=["one", "cut-by-the-next", "quiet-second", "none"],
)
def test_incident_discards_count_each_incidents_window(onsets: list[float], expected: list[float]) -> None:
    from types import SimpleNamespace

    from arca.app.demo.metrics import incident_discards

    # 100 req/s throughout; half discarded in [10, 30), nothing after
    records = [SimpleNamespace(t=float(t), dt=1.0, demand={"b": 100.0},
                               discarded={"b": 50.0 if 10 <= t < 30 else 0.0}) for t in range(100)]
    assert incident_discards(records, onsets, window_s=45.0) == pytest.approx(expected, abs=1e-3)
