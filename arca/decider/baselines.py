"""Baseline strategies behind the same interface as ``arca``: threshold, proportional and static.

* ``threshold`` — Ukko / OSM policy-module step scaling: +1 servant when the average load stays
  above ``threshold_up`` for ``threshold_time_s``, -1 when it stays below ``threshold_down``; one
  cool-off shared by both directions.
* ``proportional`` — Kubernetes HPA: every ``sync_period_s``, ``ceil(ready x load / target)`` unless
  the ratio is within ``tolerance`` of 1, with servants missing a CPU figure or booting filled in as
  HPA does (``arca.decider.hpa``: 0 % when scaling out, 100 % when scaling in); scale-down takes the
  highest recommendation of the last ``stabilisation_s`` seconds.
* ``static`` — a fixed amount (``static_amount``, default the policy maximum).

None of them uses external events: they see what a reactive scaler sees (CPU load of ready servants).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from arca.decider.hpa import hpa_replicas
from arca.decider.policy import Policy
from arca.decider.strategy import Outcome, bound, load_round, seconds
from arca.messages import Situation


def _outcome(target: int, rule: str, reason: str, policy: Policy, situation: Situation) -> Outcome:
    bounded, note = bound(target, policy, situation)
    return Outcome(target=bounded, msa=policy.min_servants, rule=rule,
                   reason=f"{reason}; {note}" if note else reason, incident_id=situation.incident_id)


def _start(current: int | None, policy: Policy, situation: Situation) -> int:
    if current is not None:
        return current
    actual = situation.servants_active + situation.servants_booting
    return policy.clamp(actual if actual > 0 else policy.default_servants)


@dataclass(frozen=True)
class ThresholdState:
    target: int | None = None
    last_action: datetime | None = None
    above_since: datetime | None = None
    below_since: datetime | None = None
    last_load_time: datetime | None = None


class ThresholdStrategy:
    """Ukko / OSM step scaling."""

    name = "threshold"

    def initial_state(self, policy: Policy) -> ThresholdState:
        return ThresholdState()

    def decide(self, situation: Situation, policy: Policy, state: ThresholdState,
               now: datetime) -> tuple[Outcome, ThresholdState]:
        target = _start(state.target, policy, situation)
        round_time = load_round(situation, state.last_load_time)
        if round_time is None:
            return (_outcome(target, "hold", f"no new telemetry; keeping {target}", policy, situation),
                    replace(state, target=target))
        load = situation.average_load
        if load is None:  # no servant has a fresh CPU figure: unknown, not idle
            return (_outcome(target, "hold", f"no CPU figure in this round; keeping {target}", policy,
                             situation), replace(state, target=target, last_load_time=round_time))
        above = state.above_since if load > policy.threshold_up else None
        below = state.below_since if load < policy.threshold_down else None
        if load > policy.threshold_up and above is None:
            above = round_time
        if load < policy.threshold_down and below is None:
            below = round_time
        cooling = state.last_action is not None and seconds(now, state.last_action) < policy.cooloff_s
        rule, reason, last_action = "hold", f"load {load:.2f} within thresholds", state.last_action
        breach = above or below
        if breach is not None:
            direction = 1 if above is not None else -1
            word = "above" if direction > 0 else "below"
            limit = policy.threshold_up if direction > 0 else policy.threshold_down
            held = seconds(round_time, breach)
            if held < policy.threshold_time_s:
                reason = f"load {load:.2f} {word} {limit:g} for {held:.0f}s < {policy.threshold_time_s:g}s"
            elif cooling:
                assert state.last_action is not None
                left = policy.cooloff_s - seconds(now, state.last_action)
                rule, reason = "cooloff", f"load {load:.2f} {word} {limit:g} but cool-off {left:.0f}s left"
            else:
                new = policy.clamp(target + direction)
                if new != target:
                    rule = "threshold-out" if direction > 0 else "threshold-in"
                    reason = f"load {load:.2f} {word} {limit:g}: {target} -> {new}"
                    target, last_action, above, below = new, now, None, None
                else:
                    reason = f"load {load:.2f} {word} {limit:g} but already at the bound {target}"
        return (_outcome(target, rule, reason, policy, situation),
                ThresholdState(target, last_action, above, below, round_time))


@dataclass(frozen=True)
class ProportionalState:
    target: int | None = None
    last_sync: datetime | None = None
    recommendations: tuple[tuple[datetime, int], ...] = ()
    last_load_time: datetime | None = None


class ProportionalStrategy:
    """Kubernetes HPA (v2 defaults: immediate scale-up, stabilised scale-down)."""

    name = "proportional"

    def initial_state(self, policy: Policy) -> ProportionalState:
        return ProportionalState()

    def decide(self, situation: Situation, policy: Policy, state: ProportionalState,
               now: datetime) -> tuple[Outcome, ProportionalState]:
        target = _start(state.target, policy, situation)
        round_time = load_round(situation, state.last_load_time)
        due = state.last_sync is None or seconds(now, state.last_sync) >= policy.sync_period_s
        if round_time is None or not due:
            why = "no new telemetry" if round_time is None else "waiting for the sync period"
            return (_outcome(target, "hold", f"{why}; keeping {target}", policy, situation),
                    replace(state, target=target))
        if situation.average_load is None:  # HPA: "did not receive metrics for any ready pods"
            return (_outcome(target, "hold", f"no CPU figure from any servant; keeping {target}", policy,
                             situation), replace(state, target=target, last_load_time=round_time))
        if situation.servants_reporting is not None:  # who reported is known: HPA's calculation
            calc = hpa_replicas(target, ready=situation.servants_active,
                                reporting=situation.servants_reporting,
                                unready=situation.servants_booting, average_load=situation.average_load,
                                target_load=policy.target_load, tolerance=policy.tolerance)
            if calc.desired is None:
                return (_outcome(target, "hold", f"{calc.why}; keeping {target}", policy, situation),
                        replace(state, target=target, last_load_time=round_time))
            desired, why = policy.clamp(max(1, calc.desired)), calc.why
        else:
            ready = situation.servants_active
            usage = ready * situation.average_load  # unready servants count as 0 % (HPA)
            ratio = usage / (policy.target_load * target) if target > 0 else math.inf
            if abs(ratio - 1.0) <= policy.tolerance:
                desired, why = target, f"ratio {ratio:.2f} within tolerance {policy.tolerance:g}"
            else:
                desired = policy.clamp(max(1, math.ceil(usage / policy.target_load - 1e-9)))
                why = f"ceil({ready} x {situation.average_load:.2f} / {policy.target_load:g}) = {desired}"
        recent = tuple((t, d) for t, d in state.recommendations if seconds(now, t) < policy.stabilisation_s)
        window = (*recent, (now, desired))
        new = max(d for _, d in window) if desired < target else desired
        rule = "proportional-out" if new > target else "proportional-in" if new < target else "hold"
        if desired < target and new > desired:
            why += f"; scale-down stabilised at {new} (highest of the last {policy.stabilisation_s:g}s)"
        return (_outcome(new, rule, why, policy, situation),
                ProportionalState(new, now, window, round_time))


@dataclass(frozen=True)
class StaticState:
    pass


class StaticStrategy:
    """A fixed number of servants."""

    name = "static"

    def initial_state(self, policy: Policy) -> StaticState:
        return StaticState()

    def decide(self, situation: Situation, policy: Policy, state: StaticState,
               now: datetime) -> tuple[Outcome, StaticState]:
        amount = policy.static_amount if policy.static_amount is not None else policy.max_servants
        return _outcome(amount, "static", f"static provisioning at {amount}", policy, situation), state
