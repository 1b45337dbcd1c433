"""Guards (ONAP control-loop guard policies), checked right before the enforcer acts; pure functions.

A plan (``arca.enforcer.planning.plan``) says what would bring a system to its target; the guards say
which of those steps may run *now*. Each refused step keeps the guard's reason, which the
reconciler reports as a ``skipped`` ``Enforcement`` (detail ``refused by guard <name>: ...``), counts in
``arca_guard_refusals_total{system,guard}`` and ``arca status`` shows. The guards:

* **frequency** -- ONAP ``FrequencyLimiter``: an action of kind *k* (``scale-out``, ``scale-in``; one
  action per servant, as one ONAP VF-module operation) is permitted while the number of *k* actions
  started in the last ``window`` seconds is below ``limit`` (``count < limit``: limit 0 refuses all);
  actions refused by a guard are not counted, failed ones are (they were attempted). Repairs
  (``heal``) are never rate-limited: a broken servant is always replaced. Only actions started
  under the limit count: since the policy version that set it (``limit_since``: the first of the
  latest run of versions with this limit and window, its ``arca:appliedAt`` in the policy history,
  ``arca.policy_history``) -- a limit applied after eight servers were created does not count them
  (issue 19: a warm pool applied then stayed empty for ten minutes, 26 refills refused).
* **blackout** -- a daily UTC window ``"<action|*> HH:MM-HH:MM"`` (ONAP guard ``timeRange``) refusing
  the action while ``start <= time < end`` (a window may wrap midnight).
* **protected** -- servants named in the policy are never removed by a scale-in (planning skips them;
  when the only surplus left is protected, the scale-in is refused here with that reason).

Min/max and allowed actions are checked by the planner itself (``planning.plan``), and the deletion
order (Senlin ``youngest-first``/``oldest-first``) is the planner's surplus order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from arca.enforcer.model import Bounds
from arca.enforcer.planning import Plan, Step
from arca.policy import parse_blackout

RATE_LIMITED = ("scale-out", "scale-in")


@dataclass(frozen=True)
class Refusal:
    """A step a guard refused, and why."""

    step: Step
    guard: str
    """``frequency``, ``blackout``, ``protected`` or ``policy`` (action not allowed)."""
    reason: str


def in_blackout(blackouts: Sequence[str], category: str, now: datetime) -> str | None:
    """The blackout window refusing ``category`` at ``now`` (UTC), or None."""
    minute = now.hour * 60 + now.minute
    for text in blackouts:
        action, start, end = parse_blackout(text)
        if action not in (category, "*"):
            continue
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        if inside:
            return text
    return None


@dataclass(frozen=True)
class LimitVersion:
    """The frequency guard of one applied policy version (from the policy history)."""

    version: int
    applied_at: datetime
    limit: int | None
    """``arca:guardFrequencyLimit`` (None: no limit; also for a version whose Turtle is unreadable)."""
    window_s: float


def limit_since(versions: Sequence[LimitVersion]) -> LimitVersion | None:
    """The version that set the current frequency limit: the first of the latest run of versions
    (in version order) with the same limit and window as the last one. None without versions or
    when the last one sets no limit."""
    ordered = sorted(versions, key=lambda v: v.version)
    if not ordered or ordered[-1].limit is None:
        return None
    first = ordered[-1]
    for v in reversed(ordered[:-1]):
        if (v.limit, v.window_s) != (first.limit, first.window_s):
            break
        first = v
    return first


def frequency_count(history: Sequence[tuple[datetime, str]], category: str, window_s: float,
                    now: datetime, since: datetime | None = None) -> int:
    """Actions of ``category`` started in ``(now - window, now]`` and not before ``since`` (the
    policy version that set the limit; None: no bound)."""
    start = now - timedelta(seconds=window_s)
    return sum(1 for t, c in history if c == category and start < t <= now
               and (since is None or t >= since))


def frequency_reason(category: str, count: int, bounds: Bounds) -> str:
    """Why a ``category`` step is refused by the frequency guard (what ``arca status`` shows)."""
    under = (f" since policy version {bounds.frequency_version} "
             f"({bounds.frequency_since.isoformat(timespec='seconds')})"
             if bounds.frequency_since is not None else "")
    return (f"{category} refused: {count} already in the last {bounds.frequency_window_s:g}s{under} "
            f"(limit {bounds.frequency_limit})")


def guard(plan: Plan, bounds: Bounds, history: Sequence[tuple[datetime, str]],
          now: datetime) -> tuple[Plan, tuple[Refusal, ...]]:
    """Split ``plan.steps`` into those the guards permit now and those they refuse (with reasons).

    ``history`` is the (start time, category) of the system's actions started before; steps
    permitted earlier in the same plan count too, so one plan never exceeds the limit.
    """
    permitted: list[Step] = []
    refused: list[Refusal] = []
    started = list(history)
    for step in plan.steps:
        window = in_blackout(bounds.blackouts, step.category, now)
        if window is not None:
            refused.append(Refusal(step, "blackout", f"{step.category} refused during blackout {window!r}"))
            continue
        if bounds.frequency_limit is not None and step.category in RATE_LIMITED:
            count = frequency_count(started, step.category, bounds.frequency_window_s, now,
                                    bounds.frequency_since)
            if count >= bounds.frequency_limit:
                refused.append(Refusal(step, "frequency", frequency_reason(step.category, count, bounds)))
                continue
        permitted.append(step)
        started.append((now, step.category))
    for step in plan.refused:
        if step.reason.startswith("protected:"):
            refused.append(Refusal(step, "protected", step.reason))
        else:
            refused.append(Refusal(step, "policy", f"{step.category} not allowed ({step.reason})"))
    return replace(plan, steps=tuple(permitted), refused=tuple(r.step for r in refused)), tuple(refused)
