"""The strategy interface every decision strategy implements, and the helpers they share.

A strategy is pure: ``decide(situation, policy, state, now)`` returns the decision's fields and the
strategy's next state, nothing else happens (no bus, store or clock inside). ``now`` is the event
time the decision is made at: a situation's own time, or a later tick time when the service
re-evaluates the last situation (anticipation moves with time even when telemetry is silent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from arca.decider.anticipator import LearnedSample
from arca.decider.policy import Policy
from arca.decider.sources import SourceRecord
from arca.messages import Situation


@dataclass(frozen=True)
class Outcome:
    """The fields of one ``Decision`` (plus what the service must persist)."""

    target: int
    msa: int
    reason: str
    rule: str
    predicted_msa: float | None = None
    clipped: bool = False
    learned_samples: int = 0
    incident_id: str | None = None
    learned: tuple[LearnedSample, ...] = ()
    """Samples to add to the knowledge base."""
    forgotten: tuple[LearnedSample, ...] = ()
    """Samples to remove from the knowledge base (decimated)."""
    standby: int | None = None
    """Servants the warm pool should keep standing by (None: the policy's minimum, if it has a pool)."""
    discard_objective: float | None = None
    """The policy's discard objective (ratio), when it states one."""
    discard_measured: float | None = None
    """Share of the offered demand discarded so far, as the strategy measured it (None: unknown)."""
    sources: tuple[SourceRecord, ...] = ()
    """Source records this decision changed (``arca.decider.sources``): to store and report."""


class Strategy(Protocol):
    """What the decider (and the demo, e.g. its oracle) plugs in."""

    name: str

    def initial_state(self, policy: Policy) -> Any:
        """State before the first decision."""

    def decide(self, situation: Situation, policy: Policy, state: Any, now: datetime) -> tuple[Outcome, Any]:
        """The decision for ``situation`` at ``now`` and the next state."""


def seconds(a: datetime, b: datetime) -> float:
    """``a - b`` in seconds."""
    return (a - b).total_seconds()


def demand_servants(situation: Situation) -> float | None:
    """Offered load in servant-equivalents at 100 % CPU (None when nothing is measured).

    The analyzer computes it (offered rate / estimated capacity, or the reporting servants' CPU
    divided by the share of requests served); for a situation without it: active servants x average
    load / (1 - discard ratio). An unknown average load is unknown demand (None), never 0: every
    strategy then keeps the amount it decided on the last known figures.
    """
    given = getattr(situation, "demand_servants", None)
    if given is not None:
        return float(given)
    if situation.average_load is None:
        return None
    if situation.servants_active == 0:
        return None if situation.discard_ratio == 0 else 1.0
    served = max(0.05, 1.0 - situation.discard_ratio)
    return situation.servants_active * situation.average_load / served


def needed_for(demand: float, policy: Policy) -> int:
    """GetResourceAmountForState: fewest servants keeping the load at or under the high threshold."""
    return policy.clamp(max(1, math.ceil(demand / policy.high_threshold - 1e-9)))


def is_acceptable(demand: float | None, amount: int, policy: Policy) -> bool:
    """IsAcceptable(state, amount): the load ``amount`` servants would carry is inside the policy.

    Acceptable when ``amount`` is exactly what the state needs, or when the load per servant lies
    within [low, high] (hysteresis: a state is not corrected for being a little under-loaded).
    """
    if demand is None:
        return True
    if amount == needed_for(demand, policy):
        return True
    if amount <= 0 or not policy.compliant(amount):
        return False
    load = demand / amount
    return policy.low_threshold <= load <= policy.high_threshold


def load_round(situation: Situation, last_load_time: datetime | None) -> datetime | None:
    """The time of the situation's load window if it brings new telemetry, else None."""
    t = getattr(situation, "load_time", None)
    if t is None:
        if situation.trigger == "event":
            return None
        t = situation.event_time
    if last_load_time is not None and t <= last_load_time:
        return None
    return t


def bound(target: int, policy: Policy, situation: Situation) -> tuple[int, str]:
    """Apply allowed actions, then the policy's [min, max] (which always wins); says what changed."""
    notes = []
    actual = situation.servants_active + situation.servants_booting
    if "scale-out" not in policy.allowed_actions and target > actual:
        target = actual
        notes.append("scale-out not allowed")
    if "scale-in" not in policy.allowed_actions and target < actual:
        target = actual
        notes.append("scale-in not allowed")
    bounded = policy.clamp(target)
    if bounded != target:
        notes.append(f"clamped {target}->{bounded} to [{policy.min_servants}, {policy.max_servants}]")
    return bounded, "; ".join(notes)
