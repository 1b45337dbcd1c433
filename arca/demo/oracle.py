"""The clairvoyant oracle: exact demand from the testbed model, provisioned one boot delay ahead.

It implements the decider's ``Strategy`` interface and is plugged where the decider's strategy
goes, so it runs through the same analyzer -> decider -> enforcer path as every other strategy.
At time ``t`` it asks for the most servants the actual (noisy) demand needs at the policy's high
threshold anywhere in ``[t, t + boot delay]``: a servant created now is in service exactly when
the demand it serves arrives, and none is kept once the demand it served is gone.

With ``known_at`` it is the *notified* oracle: it knows the exact demand of an incident only from
the moment the detector notifies it (quiet demand otherwise). No strategy driven by external
events can do better, so its discard is the floor that boot delay and notification delay impose.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from arca.messages import Situation


class OracleStrategy:
    """Knows the future demand (the testbed's model); the lower bound any real strategy aims at."""

    name = "oracle"

    def __init__(self, required_at: Callable[[float], int], start: datetime, lead_s: float,
                 step_s: float = 1.0, known_at: Callable[[float, float], bool] | None = None,
                 unknown: int = 1) -> None:
        self.required_at = required_at
        self.start = start
        self.lead_s = lead_s
        self.step_s = step_s
        self.known_at = known_at
        self.unknown = unknown

    def initial_state(self, policy: Any) -> None:
        return None

    def target(self, t_s: float) -> int:
        n = int(self.lead_s / self.step_s) + 1
        needs = []
        for k in range(n):
            t2 = t_s + k * self.step_s
            known = self.known_at is None or self.known_at(t_s, t2)
            needs.append(self.required_at(t2) if known else self.unknown)
        return max(needs)

    def decide(self, situation: Situation, policy: Any, state: Any, now: datetime) -> tuple[Any, Any]:
        from decider.strategy import Outcome

        t = (now - self.start).total_seconds()
        need = self.target(t)
        target = policy.clamp(need)
        return Outcome(target=target, msa=need, reason=f"clairvoyant: {need} servants needed within "
                       f"{self.lead_s:g}s", rule="oracle", clipped=target != need), state
