"""A round whose load is unknown is never decided on as 0: every strategy keeps its amount.

The analyzer leaves ``average_load`` (and ``demand_servants`` when no rate can tell) absent when no
servant has a fresh CPU figure (issue 19: the decider decided on an invented load of 0). Each
strategy then holds what it decided on the last known figures; events still act (the anticipated
floor), and for the telemetry fallback such a round is a failed read (KEDA), not a round.
"""

from __future__ import annotations

from typing import Any

import pytest
from decider_helpers import at, policy, situation

from arca.decider.baselines import ProportionalStrategy, ThresholdStrategy
from arca.decider.fallback import FallbackState, fallback
from arca.decider.loop import ArcaStrategy
from arca.decider.strategy import demand_servants
from arca.messages import Situation


def unknown(t: float, **kw: Any) -> Situation:
    """A telemetry round at ``t`` that knows neither the load nor the demand."""
    return situation(t, **kw).model_copy(update={"average_load": None, "demand_servants": None,
                                                 "servants_reporting": 0})


STRATEGIES = {
    "arca": lambda: ArcaStrategy(anticipation=True),
    "arca-reactive": lambda: ArcaStrategy(anticipation=False),
    "threshold": ThresholdStrategy,
    "proportional": ProportionalStrategy,
}


@pytest.mark.parametrize("name", sorted(STRATEGIES), ids=sorted(STRATEGIES))
def test_an_unknown_round_keeps_the_amount_decided_on_known_figures(name: str) -> None:
    strategy: Any = STRATEGIES[name]()
    p = policy(min_servants=1, max_servants=10)
    state = strategy.initial_state(p)
    busy = situation(0, demand=2.6, active=3, load=0.87)  # 3 servants, busy: not 0
    first, state = strategy.decide(busy, p, state, at(0))
    for t in (10, 20, 30, 40, 50, 60, 70):  # the old analyzer said load 0, demand 0 here
        out, state = strategy.decide(unknown(t, active=3), p, state, at(t))
        assert out.target == first.target, (t, out.reason)
        assert out.target >= 3, out.reason


def test_unknown_is_not_idle_for_the_demand() -> None:
    assert demand_servants(unknown(10, active=3)) is None
    assert demand_servants(situation(10, demand=None, active=3, load=0.0)) == 0.0  # a measured 0 stays 0


# id, [(t, round known?, strategy target, expected, fallback active)]
FALLBACK = [
    ("unknown-rounds-are-failed-reads", [(0, True, 2, 2, False), (10, False, 2, 2, False),
                                         (20, False, 2, 2, False), (40, False, 1, 6, True)]),
    ("a-known-round-ends-it", [(0, True, 2, 2, False), (40, False, 1, 6, True), (50, True, 3, 3, False)]),
]


@pytest.mark.parametrize("steps", [c[1] for c in FALLBACK], ids=[c[0] for c in FALLBACK])
def test_unknown_rounds_count_as_missed_for_the_fallback(
        steps: list[tuple[float, bool, int, int, bool]]) -> None:
    p = policy(fallback_after_rounds=3, fallback_servants=6, telemetry_period_s=10.0)
    state = FallbackState()
    for t, known, target, expected, active in steps:
        s = situation(t) if known else unknown(t)
        got, state, _ = fallback(target, "hold", s, p, state, at(t))
        assert (got, state.active) == (expected, active), f"at {t}s"
