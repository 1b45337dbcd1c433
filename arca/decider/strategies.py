"""The registry of decision strategies, by the name a policy selects (``arca:strategy``)."""

from __future__ import annotations

from arca.decider.baselines import ProportionalStrategy, StaticStrategy, ThresholdStrategy
from arca.decider.loop import ArcaStrategy
from arca.decider.strategy import Strategy


def make_strategy(name: str) -> Strategy:
    """A fresh strategy object for ``name`` (KeyError naming the known ones otherwise)."""
    factories: dict[str, Strategy] = {
        "arca": ArcaStrategy(anticipation=True),
        "arca-reactive": ArcaStrategy(anticipation=False),
        "threshold": ThresholdStrategy(),
        "proportional": ProportionalStrategy(),
        "static": StaticStrategy(),
    }
    if name not in factories:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(factories)}")
    return factories[name]
