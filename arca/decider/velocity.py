"""Scale velocity limits (Kubernetes HPA ``behavior``), a pure post-filter of every strategy's target.

The decider applies ``limit`` to the target a strategy proposes before publishing it, with the
system's policy (``arca:velocityLimits``, ``arca:scaleUpRule``...) and the state this module keeps.
It copies the HPA controller (``pkg/controller/podautoscaler/horizontal.go``):

1. **stabilisation** -- the proposal is recorded; the stabilised target is the current amount moved
   up to the *lowest* proposal of the scale-up window and down to the *highest* proposal of the
   scale-down window (a window of 0 s holds only the proposal itself);
2. **rate rules** -- for each rule, the amount at the start of its period is the current amount minus
   the servants added (plus those removed) by changes within the period; a ``servants`` rule allows
   ``start + n`` (scale-up) / ``start - n`` (scale-down), a ``percent`` rule
   ``ceil(start * (1 + p/100))`` / ``floor(start * (1 - p/100))``; ``select max`` takes the rule
   allowing the biggest change, ``min`` the smallest, ``disabled`` forbids that direction;
3. the result stays within the policy's [min, max] and never moves against the direction.

Defaults where the policy says nothing are HPA's: scale-up ``4 servants per 15s`` and
``100 percent per 15s``, select max, window 0 s; scale-down ``100 percent per 15s``, select max,
window 300 s. Anticipated targets (rules ``anticipated*``) are exempt unless
``arca:velocityLimitsAnticipation`` is true: they are still recorded, so later reactive changes
count them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from arca.policy import Policy, parse_scaling_rule

HPA_UP = ("4 servants per 15s", "100 percent per 15s")
HPA_DOWN = ("100 percent per 15s",)


@dataclass(frozen=True)
class Direction:
    """HPA ``HPAScalingRules`` of one direction."""

    rules: tuple[tuple[str, int, int], ...]
    """(kind ``servants``/``percent``, value, period s)."""
    select: str = "max"
    window_s: float = 0.0


@dataclass(frozen=True)
class VelocityState:
    """What the limiter remembers about one system."""

    current: int | None = None
    """The last target published (HPA's current replicas)."""
    changes: tuple[tuple[datetime, int], ...] = ()
    """(time, signed change) of the targets published."""
    proposals: tuple[tuple[datetime, int], ...] = ()
    """(time, target proposed by the strategy), for the stabilisation windows."""


def directions(policy: Policy) -> tuple[Direction, Direction]:
    """The policy's scale-up and scale-down rules, HPA's defaults where it gives none."""
    up = tuple(parse_scaling_rule(r) for r in sorted(policy.scale_up_rules or HPA_UP))
    down = tuple(parse_scaling_rule(r) for r in sorted(policy.scale_down_rules or HPA_DOWN))
    return (Direction(up, policy.scale_up_select, policy.scale_up_stabilisation_s),
            Direction(down, policy.scale_down_select, policy.scale_down_stabilisation_s))


def _changed(changes: tuple[tuple[datetime, int], ...], period_s: int, now: datetime) -> tuple[int, int]:
    since = now - timedelta(seconds=period_s)
    added = sum(d for t, d in changes if t > since and d > 0)
    removed = -sum(d for t, d in changes if t > since and d < 0)
    return added, removed


def up_limit(current: int, changes: tuple[tuple[datetime, int], ...], up: Direction, now: datetime) -> int:
    """HPA ``calculateScaleUpLimitWithScalingRules``."""
    if up.select == "disabled":
        return current
    proposals = []
    for kind, value, period in up.rules:
        added, removed = _changed(changes, period, now)
        start = current - added + removed
        proposals.append(start + value if kind == "servants" else math.ceil(start * (1 + value / 100)))
    return min(proposals) if up.select == "min" else max(proposals)


Changes = tuple[tuple[datetime, int], ...]


def down_limit(current: int, changes: Changes, down: Direction, now: datetime) -> int:
    """HPA ``calculateScaleDownLimitWithBehaviors``."""
    if down.select == "disabled":
        return current
    proposals = []
    for kind, value, period in down.rules:
        added, removed = _changed(changes, period, now)
        start = current - added + removed
        proposals.append(start - value if kind == "servants" else math.floor(start * (1 - value / 100)))
    return max(proposals) if down.select == "min" else min(proposals)


def limit(proposed: int, state: VelocityState, up: Direction, down: Direction, now: datetime, *,
          min_servants: int, max_servants: int, exempt: bool = False) -> tuple[int, VelocityState, str]:
    """The target to publish, the next state and a note saying what was limited (empty: nothing)."""
    keep = timedelta(seconds=max(up.window_s, down.window_s))
    proposals = (*(p for p in state.proposals if p[0] > now - keep), (now, proposed))
    current = state.current
    note = ""
    if current is None or exempt:
        target = proposed
    else:
        up_rec = min([proposed] + [r for t, r in proposals if t > now - timedelta(seconds=up.window_s)])
        down_rec = max([proposed] + [r for t, r in proposals if t > now - timedelta(seconds=down.window_s)])
        stable = min(max(current, up_rec), down_rec)
        target = stable
        if stable > current:
            allowed = max(up_limit(current, state.changes, up, now), current)
            target = min(stable, allowed, max_servants)
        elif stable < current:
            allowed = min(down_limit(current, state.changes, down, now), current)
            target = max(stable, allowed, min_servants)
        if target != proposed:
            why = []
            if stable != proposed:
                window = up.window_s if proposed > current else down.window_s
                why.append(f"stabilised to {stable} over {window:g}s")
            if target != stable:
                d = up if stable > current else down
                rules = "disabled" if d.select == "disabled" else f"select {d.select} of " + ", ".join(
                    f"{v} {k} per {p}s" for k, v, p in d.rules)
                why.append(f"{'scale-up' if stable > current else 'scale-down'} rate {rules}")
            note = f"velocity: {proposed} -> {target} ({'; '.join(why)})"
    periods = [p for _k, _v, p in up.rules + down.rules] or [0]
    horizon = now - timedelta(seconds=max(periods))
    changes = tuple(c for c in state.changes if c[0] > horizon)
    if current is not None and target != current:
        changes += ((now, target - current),)
    return target, VelocityState(target, changes, proposals), note
