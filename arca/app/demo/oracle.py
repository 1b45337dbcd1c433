"""The oracles: exact demand from the testbed model, provisioned one boot delay ahead.

They implement the decider's ``Strategy`` interface and are plugged where the decider's strategy
goes, so they run through the same analyzer -> decider -> enforcer path as every other strategy.
At time ``t`` an oracle asks for the most servants the actual (noisy) demand needs at the policy's
high threshold anywhere in ``[t, t + boot delay]``: a servant created now is in service exactly
when the demand it serves arrives, and none is kept once the demand it served is gone.

- ``oracle`` (``clairvoyant_need`` + ``failure_spares``): knows the whole demand and the timeline's
  servant failures; a servant that will die within a boot delay gets its replacement started now.
  Nothing can discard less.
- ``oracle-warm``: ``oracle`` with a warm pool of ``pool`` servants resumed in ``resume_s``: it asks
  for the most servants needed within ``resume_s`` and, of those needed within the boot delay, the
  ones the pool cannot supply (``arca.decider.warm.warm_floor``), and for the pool itself.
- ``oracle-notified`` (``notified_need``): knows, at ``t``, the quiet demand plus the exact extra
  demand of every incident whose detector event was sent by ``t`` — each incident on its own, so an
  incident notified later never hides one notified earlier — and nothing of incidents not yet (or
  never) notified, nor of failures. No strategy driven by detector events alone can do better: its
  discard is the floor that boot delay and notification delay impose. A strategy that also reacts
  to load can beat it only where a detector stays silent (a missed incident).

Both are computed from the timeline itself (``Timeline.notifications``), not from the analyzer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from arca.messages import Situation

NeedFn = Callable[[float, float], int]
"""``need(t, t2)``: servants the demand at ``t2`` needs, as known at ``t``."""


def clairvoyant_need(demand: Any, high_threshold: float, capacity_rps: float) -> NeedFn:
    """Knows everything: the actual demand at ``t2`` whatever ``t``."""

    def need(t: float, t2: float) -> int:
        return int(demand.required_servants(t2, high_threshold, capacity_rps))

    return need


def notified_need(demand: Any, notifications: Sequence[Any], high_threshold: float,
                  capacity_rps: float) -> NeedFn:
    """Quiet demand plus the extra demand of each incident notified by ``t`` (``Notification`` list)."""
    sent = sorted((n.at_s, n.incident) for n in notifications if n.incident is not None)

    def need(t: float, t2: float) -> int:
        known = frozenset(i for at_s, i in sent if at_s <= t + 1e-9)
        return int(demand.required_servants(t2, high_threshold, capacity_rps, only=known))

    return need


def failure_spares(failures: Sequence[Any], lead_s: float) -> Callable[[float], int]:
    """A spare for each servant the timeline kills within ``[t, t + lead_s]`` (``Failure`` list)."""

    def spares(t: float) -> int:
        return sum(int(f.servants) for f in failures if t - 1e-9 <= f.at_s <= t + lead_s)

    return spares


class OracleStrategy:
    """Provisions what ``need`` says one lead time ahead; the bound a real strategy is measured against."""

    name = "oracle"

    def __init__(self, need: NeedFn, start: datetime, lead_s: float, step_s: float = 1.0,
                 spares: Callable[[float], int] | None = None, pool: int = 0,
                 resume_s: float | None = None) -> None:
        self.need = need
        self.start = start
        self.lead_s = lead_s
        self.step_s = step_s
        self.spares = spares
        self.pool = pool
        self.resume_s = resume_s

    def initial_state(self, policy: Any) -> None:
        return None

    def _most(self, t_s: float, lead_s: float) -> int:
        n = int(lead_s / self.step_s) + 1
        return max(self.need(t_s, t_s + k * self.step_s) for k in range(n))

    def target(self, t_s: float) -> int:
        most = self._most(t_s, self.lead_s)
        if self.pool and self.resume_s is not None:
            most = max(self._most(t_s, self.resume_s), most - self.pool)
        return most + (self.spares(t_s) if self.spares is not None else 0)

    def decide(self, situation: Situation, policy: Any, state: Any, now: datetime) -> tuple[Any, Any]:
        from arca.decider.strategy import Outcome

        t = (now - self.start).total_seconds()
        need = self.target(t)
        target = policy.clamp(need)
        return Outcome(target=target, msa=need, reason=f"clairvoyant: {need} servants needed within "
                       f"{self.lead_s:g}s", rule="oracle", clipped=target != need,
                       standby=self.pool if self.pool else None), state
