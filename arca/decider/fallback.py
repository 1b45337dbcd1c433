"""Telemetry fallback (KEDA ``fallback``), a pure post-filter of every strategy's target.

KEDA counts consecutive failed reads of a scaler's metric; after ``failureThreshold`` of them it
scales to ``fallback.replicas`` until a read succeeds again. ARCA's analogue: a *telemetry round* is
a situation bringing a new load window (``load_time``); rounds are expected every
``arca:telemetryPeriodSeconds``; a round that knows neither the load nor the demand (no servant had
a fresh CPU figure and no rate could tell) is a failed read, not a round. Rounds missed =
``floor((now - last round) / period) - 1`` (the next
round is only missed once a whole period passed after it was due). From
``arca:fallbackAfterRounds`` missed rounds on, the decider publishes ``arca:fallbackServants`` (or,
when the policy gives none, the last amount decided on good telemetry -- KEDA's
``currentReplicas`` behaviour), and the first new round ends the fallback. An anticipated floor
above the fallback amount still wins: an announced incident is information, not telemetry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from arca.messages import Situation
from arca.policy import Policy


@dataclass(frozen=True)
class FallbackState:
    """What the fallback remembers about one system."""

    last_round: datetime | None = None
    """Time of the last telemetry round seen."""
    last_good: int | None = None
    """Target decided on the last good telemetry."""
    active: bool = False


def round_time(situation: Situation) -> datetime | None:
    """The time of the situation's load window (None for an event-only situation, and for a round
    that knows neither the load nor the demand: a failed read, as KEDA counts one)."""
    if situation.average_load is None and situation.demand_servants is None:
        return None
    if situation.load_time is not None:
        return situation.load_time
    return None if situation.trigger == "event" else situation.event_time


def missed_rounds(last_round: datetime, now: datetime, period_s: float) -> int:
    """Rounds due since ``last_round`` that did not arrive (0 while the next one is not overdue)."""
    return max(0, math.floor((now - last_round).total_seconds() / period_s) - 1)


def fallback(target: int, rule: str, situation: Situation, policy: Policy, state: FallbackState,
             now: datetime) -> tuple[int, FallbackState, str]:
    """The target to publish, the next state, and the reason when the fallback holds it."""
    if policy.fallback_after_rounds is None:
        return target, FallbackState(), ""
    t = round_time(situation)
    if t is not None and (state.last_round is None or t > state.last_round):
        return target, FallbackState(t, target, False), ""  # fresh telemetry: normal operation
    if state.last_round is None:
        return target, state, ""  # no telemetry ever seen: nothing to fall back from
    missed = missed_rounds(state.last_round, now, policy.telemetry_period_s)
    if missed < policy.fallback_after_rounds:
        return target, state, ""
    amount = policy.fallback_servants if policy.fallback_servants is not None else state.last_good
    amount = policy.clamp(amount if amount is not None else target)
    held = max(amount, target) if rule.startswith("anticipated") else amount
    which = "declared" if policy.fallback_servants is not None else "last good"
    note = (f"fallback: {missed} telemetry rounds missed (limit {policy.fallback_after_rounds}, every "
            f"{policy.telemetry_period_s:g}s): holding the {which} amount {amount}")
    return held, FallbackState(state.last_round, state.last_good, True), note
