"""HPA's replica calculation with missing and unready servants, against Kubernetes' own test cases.

Each ``hpa-*`` row is a case of kubernetes ``pkg/controller/podautoscaler/replica_calculator_test.go``
(named after its ``TestReplicaCalc...`` function) in ARCA's terms: every pod requests 1000m = one
servant's capacity, so a level of ``450`` is a load of 0.45 and ``targetUtilization: 50`` a target
load of 0.5; pods without a level are *missing*, pods with ``ConditionFalse`` readiness *unready*.
"""

from __future__ import annotations

import pytest
from decider_helpers import at, policy, situation

from arca.decider.baselines import ProportionalStrategy
from arca.decider.hpa import hpa_replicas
from arca.messages import Situation

# id, current, ready, per-ready-servant loads (None: missing), unready, target, expected (None: no figure)
CASES: list[tuple[str, int, list[float | None], int, float, int | None]] = [
    ("hpa-MissingMetrics-scale-in-takes-missing-at-100%", 4, [0.4, 0.095, None, None], 0, 1.0, 3),
    ("hpa-MissingMetricsNoChangeEq", 2, [1.0, None], 0, 1.0, 2),
    ("hpa-MissingMetricsNoChangeGt-scale-out-takes-missing-at-0%", 2, [1.9, None], 0, 1.0, 2),
    ("hpa-MissingMetricsNoChangeLt", 2, [0.6, None], 0, 1.0, 2),
    ("hpa-MissingMetricsUnreadyChange-direction-flips", 3, [0.45, None], 1, 0.5, 3),
    ("hpa-MissingMetricsUnreadyScaleUp", 3, [2.0, None], 1, 0.5, 4),
    ("hpa-MissingMetricsUnreadyScaleDown-unready-ignored", 4, [0.1, 0.1, None], 1, 0.5, 3),
    ("hpa-ScaleUpUnreadyLessScale", 3, [0.5, 0.7], 1, 0.3, 4),
    ("hpa-ScaleUpUnreadyNoScale", 3, [0.4], 2, 0.3, 3),
    ("hpa-ScaleDown", 5, [0.1, 0.3, 0.5, 0.25, 0.25], 0, 0.5, 3),
    ("hpa-Tolerance", 3, [1.02, 1.02, 1.02], 0, 1.0, 3),
    ("hpa-ScaleUp", 3, [0.3, 0.5, 0.7], 0, 0.3, 5),
    ("desired-against-the-new-ratio-keeps-current", 2, [0.5, None, None], 0, 1.0, 2),
    ("no-ready-servant-reported", 3, [None, None], 0, 0.5, None),
    ("exactly-on-target-with-missing-keeps-current", 2, [0.5, None], 0, 0.5, 2),
    ("unready-ignored-when-scaling-in-within-tolerance", 4, [0.475, 0.475, 0.475], 1, 0.5, 4),
    ("scale-in-fill-flips-to-out-keeps-current", 2, [0.4, None], 0, 0.5, 2),
    ("missing-at-0%-brings-the-ratio-on-target-keeps-current", 2, [1.5, None, None], 0, 0.5, 2),
]


@pytest.mark.parametrize(("current", "loads", "unready", "target", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_hpa_replicas(current: int, loads: list[float | None], unready: int, target: float,
                      expected: int | None) -> None:
    known = [v for v in loads if v is not None]
    average = sum(known) / len(known) if known else 0.0
    got = hpa_replicas(current, ready=len(loads), reporting=len(known), unready=unready,
                       average_load=average, target_load=target, tolerance=0.1)
    assert got.desired == expected, got.why


@pytest.mark.parametrize(("loads", "word"), [([0.2, None], "100 %"), ([1.8, None, None], "0 %")],
                         ids=["scale-in-says-100", "scale-out-says-0"])
def test_the_reason_says_how_missing_servants_were_counted(loads: list[float | None], word: str) -> None:
    known = [v for v in loads if v is not None]
    got = hpa_replicas(2, ready=len(loads), reporting=len(known), unready=0,
                       average_load=sum(known) / len(known), target_load=0.5, tolerance=0.1)
    assert f"without CPU taken at {word}" in got.why


def test_more_reporting_than_ready_counts_only_the_ready() -> None:
    """A figure from a servant the topology no longer lists active is not a ready servant's."""
    assert hpa_replicas(2, ready=2, reporting=3, unready=0, average_load=0.9, target_load=0.5,
                        tolerance=0.1).desired == 4


def _sit(t: float, *, load: float, active: int, reporting: int | None, booting: int = 0) -> Situation:
    base = situation(t, load=load, active=active, booting=booting, demand=load * active)
    return base.model_copy(update={"servants_reporting": reporting})


# id, [(load, active, reporting, booting)], expected targets, one round every 15 s
STRATEGY = [
    ("every-servant-reporting-as-before", [(0.9, 3, 3, 0)], [4]),
    ("missing-at-0%-damps-a-scale-out", [(0.9, 3, 1, 0)], [3]),
    ("missing-at-100%-damps-a-scale-in", [(0.1, 4, 2, 0)], [4]),
    ("unknown-reporting-keeps-the-former-formula", [(0.1, 4, None, 0)], [1]),
    ("nobody-reporting-holds", [(0.0, 3, 0, 0)], [3]),
    ("booting-taken-at-0%-on-scale-out", [(1.4, 2, 2, 2)], [4]),
]


@pytest.mark.parametrize(("rounds", "expected"), [c[1:] for c in STRATEGY], ids=[c[0] for c in STRATEGY])
def test_the_proportional_strategy_uses_it(rounds: list[tuple[float, int, int | None, int]],
                                           expected: list[int]) -> None:
    p = policy(target_load=0.7, tolerance=0.1, stabilisation_s=0.0)
    strategy = ProportionalStrategy()
    state = strategy.initial_state(p)
    got = []
    for k, (load, active, reporting, booting) in enumerate(rounds):
        s = _sit(15.0 * (k + 1), load=load, active=active, reporting=reporting, booting=booting)
        outcome, state = strategy.decide(s, p, state, at(15.0 * (k + 1)))
        got.append(outcome.target)
    assert got == expected
