"""Baseline strategies (threshold, proportional, static) on scripted situations."""

from __future__ import annotations

import pytest
from decider_helpers import at, policy, situation

from arca.decider.baselines import ProportionalStrategy, StaticStrategy, ThresholdStrategy
from arca.decider.strategies import make_strategy
from arca.messages import Situation


def loads(*points: tuple[float, float, int]) -> list[Situation]:
    """(time, average load, active servants) -> telemetry situations."""
    return [situation(t, load=load, active=n, demand=load * n) for t, load, n in points]


def targets(strategy: object, sits: list[Situation], **pol: object) -> list[int]:
    p = policy(**pol)
    st = strategy.initial_state(p)  # type: ignore[attr-defined]
    out = []
    for s in sits:
        o, st = strategy.decide(s, p, st, s.event_time)  # type: ignore[attr-defined]
        out.append(o.target)
    return out


@pytest.mark.parametrize(
    ("points", "params", "expected"),
    [
        ([(10, 0.9, 1), (20, 0.9, 2), (30, 0.9, 3)], {"cooloff_s": 0.0}, [2, 3, 4]),
        ([(10, 0.9, 1), (20, 0.9, 2), (30, 0.9, 2)], {"cooloff_s": 300.0}, [2, 2, 2]),
        ([(10, 0.9, 2), (20, 0.1, 3), (320, 0.1, 3)], {"cooloff_s": 300.0}, [3, 3, 2]),
        ([(10, 0.9, 1), (20, 0.9, 1), (30, 0.9, 1), (40, 0.9, 1)],
         {"cooloff_s": 0.0, "threshold_time_s": 10.0}, [1, 2, 2, 3]),
        ([(10, 0.5, 2), (20, 0.5, 2)], {"cooloff_s": 0.0}, [2, 2]),
        ([(10, 0.1, 1), (20, 0.1, 1)], {"cooloff_s": 0.0}, [1, 1]),
        ([(10, 0.9, 1), (20, 0.9, 2)], {"cooloff_s": 0.0, "allowed_actions": frozenset({"scale-in"})},
         [1, 2]),
    ],
    ids=["steps-up-each-round", "cooloff-blocks", "cooloff-shared-by-both-directions",
         "threshold-time", "in-band-holds", "never-below-min", "scale-out-not-allowed"],
)
def test_threshold(points: list[tuple[float, float, int]], params: dict[str, object],
                   expected: list[int]) -> None:
    assert targets(ThresholdStrategy(), loads(*points), threshold_up=0.7, threshold_down=0.3,
                   **params) == expected


@pytest.mark.parametrize(
    ("points", "params", "expected"),
    [
        ([(10, 1.0, 2)], {}, [3]),
        ([(15, 0.75, 4)], {}, [4]),
        ([(15, 1.0, 4), (30, 0.1, 6), (45, 0.1, 6)], {}, [6, 6, 6]),
        ([(15, 1.0, 4), (30, 0.1, 6), (330, 0.1, 6)], {}, [6, 6, 1]),
        ([(15, 1.0, 4), (20, 1.0, 6)], {}, [6, 6]),
        ([(15, 1.0, 4), (30, 0.1, 6)], {"stabilisation_s": 0.0}, [6, 1]),
    ],
    ids=["ceil-n-load-over-target", "within-tolerance", "scale-down-stabilised",
         "scale-down-after-window", "sync-period", "no-stabilisation"],
)
def test_proportional(points: list[tuple[float, float, int]], params: dict[str, object],
                      expected: list[int]) -> None:
    base = {"target_load": 0.7, "tolerance": 0.1, "sync_period_s": 15.0, "stabilisation_s": 300.0}
    base.update(params)
    assert targets(ProportionalStrategy(), loads(*points), **base) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"static_amount": 4}, 4), ({}, 15), ({"static_amount": 40, "max_servants": 15}, 15)],
    ids=["fixed-amount", "default-is-max", "clamped-to-max"],
)
def test_static(params: dict[str, object], expected: int) -> None:
    assert targets(StaticStrategy(), loads((10, 0.9, 1), (20, 0.1, 3)), **params) == [expected, expected]


@pytest.mark.parametrize("name", ["arca", "arca-reactive", "threshold", "proportional", "static"])
def test_every_strategy_has_the_same_interface(name: str) -> None:
    strategy = make_strategy(name)
    assert strategy.name == name
    p = policy()
    outcome, _state = strategy.decide(situation(10, demand=0.3), p, strategy.initial_state(p), at(10))
    assert outcome.reason and outcome.rule
    assert p.min_servants <= outcome.target <= p.max_servants


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(KeyError, match="oracle"):
        make_strategy("oracle")
