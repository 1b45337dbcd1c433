"""Warm pool sizing and the pool-aware lead time of the anticipated floor (pure functions).

A warm pool (``Policy.warm_pool_state``) keeps servants standing by that serve again after the
*resume* delay (``Policy.resume_lead_time_s``, seconds) instead of the *boot* delay
(``Policy.lead_time_s``). The anticipated floor of an incident is therefore taken over two horizons:

* the servants needed within the resume delay must be running now (``short``);
* the servants needed within the boot delay that the pool cannot supply (``long - pool``) must be
  started now too, since new servants take the whole boot delay.

``floor = max(short, long - pool)``: the resume delay for the servants the pool covers, the boot
delay for the rest. Without a warm pool it is the plain floor over the boot delay.

``auto`` sizing (``Policy.warm_pool_auto``): the most servants any severity needs within one boot
lead time of its notification beyond the default amount (those no new servant can serve in time),
from the learned model, clamped into the policy's [warmPoolMinSize, warmPoolMaxSize].
"""

from __future__ import annotations

from arca.decider.anticipator import Anticipator, to_amount
from arca.decider.policy import Policy

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4)


def auto_pool_size(model: Anticipator, policy: Policy) -> int | None:
    """Servants any severity needs within one lead time of its notification beyond the default."""
    needs = []
    for severity in SEVERITIES:
        need = model.floor(severity, 0.0, policy.lead_time_s)
        if need is not None:
            needs.append(to_amount(need) - policy.default_servants)
    return max(0, *needs) if needs else None


def pool_size(policy: Policy, model: Anticipator | None = None) -> int | None:
    """The pool the decision asks for: None without a warm pool; else the min, or the auto size."""
    if not policy.warm:
        return None
    size = policy.warm_pool_min
    if policy.warm_pool_auto and model is not None and model.trained:
        auto = auto_pool_size(model, policy)
        if auto is not None:
            size = auto
    return policy.clamp_pool(size)


def warm_floor(short: float, long: float, pool: int) -> float:
    """The floor now: needs within the resume delay, and needs within the boot delay beyond the pool."""
    return max(short, long - pool)
