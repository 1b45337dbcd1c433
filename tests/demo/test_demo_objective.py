"""Issue 23 (item 4): the discard objective end to end, through the demo's whole loop (testbed, collector,
analyzer, decider, enforcer), and the trade-off figure of ``arca.app.demo.tradeoff``.

A loose objective keeps a smaller warm pool (less standby cost) than a tight one on the same timeline,
every decision reports the objective and the discard measured so far, and the measured ratio is the
run's own discard as the testbed counted it (within 25 %: what telemetry windows can tell).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arca.app.demo.harness import run
from arca.app.demo.metrics import RunMetrics, with_cost
from arca.app.demo.suite import _copy
from arca.app.demo.tradeoff import Point, figure, label, points, table
from arca.kb import EmbeddedKnowledgeBase
from arca.testbed.timeline import parse_timeline

TRAIN = parse_timeline({"duration_s": 260, "seed": 11, "incidents": [
    {"at_s": 10, "severity": 4, "domain": "building-2"},
    {"at_s": 80, "severity": 2, "domain": "building-3"},
    {"at_s": 150, "severity": 3, "domain": "building-4"},
    {"at_s": 210, "severity": 1, "domain": "building-2"}]})
PLAY = parse_timeline({"duration_s": 160, "seed": 12, "incidents": [
    {"at_s": 40, "severity": 3, "domain": "building-3"},
    {"at_s": 100, "severity": 4, "domain": "building-4"}]})


@pytest.mark.slow
def test_a_loose_objective_keeps_a_smaller_pool_and_every_decision_reports_how_it_stands() -> None:
    trained = EmbeddedKnowledgeBase()
    run("arca", TRAIN, kb=trained)
    tight = run("arca-warm", PLAY, kb=_copy(trained), policy_overrides={"discardObjective": 0.0})
    loose = run("arca-warm", PLAY, kb=_copy(trained), policy_overrides={"discardObjective": 0.2})
    asked = {r.name + str(k): max(d.standby_servants or 0 for d in r.decisions)
             for k, r in enumerate((tight, loose))}
    assert asked["arca-warm0"] > asked["arca-warm1"], asked
    assert tight.metrics.standby_seconds > loose.metrics.standby_seconds
    assert loose.metrics.discard_ratio >= tight.metrics.discard_ratio
    for result, objective in ((tight, 0.0), (loose, 0.2)):
        assert all(d.discard_objective == objective for d in result.decisions)
        measured = [d.discard_measured for d in result.decisions if d.discard_measured is not None]
        assert measured, "no decision measured the discard"
        assert any("discard objective" in d.reason for d in result.decisions)
        # what the decider measured is the run's discard, as telemetry rounds tell it (measured: 6.4 %
        # for 5.3 % on the loose run, the windows weigh the burst's peak rounds a little more)
        assert measured[-1] == pytest.approx(result.metrics.discard_ratio, rel=0.25, abs=0.001)


def _m(discard: float, weighted: float) -> RunMetrics:
    return RunMetrics(requests_total=1000.0, requests_discarded=discard * 1000, discard_ratio=discard,
                      servant_seconds=weighted, peak_servants=5, weighted_cost=weighted)


def test_tradeoff_points_table_and_figure(tmp_path: Path) -> None:
    metrics = with_cost({"oracle": _m(0.0, 100.0), "oracle-notified": _m(0.03, 95.0),
                         label(0.001): _m(0.0012, 130.0), label(0.01): _m(0.009, 110.0)})
    pts = points(metrics, {label(0.001): 0.001, label(0.01): 0.01})
    assert Point("arca-warm@0.1%", 0.12, 1.3, 0.1) in pts
    assert Point("oracle", 0.0, 1.0, None) in pts
    text = table(pts)
    assert "| arca-warm@0.1% | 0.1 | 0.120 | 1.20 | 1.300 |" in text
    path = tmp_path / "tradeoff.png"
    figure(pts, "test").savefig(path)
    assert path.stat().st_size > 10_000
