"""Policy bounds and guards as the enforcer re-checks them, from the one policy model.

The policy is read with ``arca.policy.load_policy`` (the same model the analyzer and decider use);
this module only maps it onto the enforcer's ``Bounds``. Without a stored policy the enforcer's
settings apply; a policy the model refuses is logged and the defaults are enforced.
"""

from __future__ import annotations

import logging

from arca.enforcer.model import Bounds
from arca.kb import KnowledgeBase
from arca.policy import Policy, PolicyError, load_policy

log = logging.getLogger(__name__)


def bounds_of(policy: Policy) -> Bounds:
    """The enforcer's view of a policy: [min, max], allowed actions and guards."""
    return Bounds(
        policy.min_servants, policy.max_servants, frozenset(policy.allowed_actions),
        frequency_limit=policy.frequency_limit, frequency_window_s=policy.frequency_window_s,
        blackouts=tuple(sorted(policy.blackouts)), protected=frozenset(policy.protected_servants),
        deletion=policy.deletion_policy,
        warm_state=policy.warm_pool_state, warm_min=policy.warm_pool_min if policy.warm else 0,
        warm_max=policy.pool_max if policy.warm else 0, warm_reuse=policy.warm_pool_reuse,
    )


def load_bounds(kb: KnowledgeBase, system: str, default: Bounds) -> Bounds:
    """The bounds of ``system``'s policy (``default`` when there is no valid policy)."""
    try:
        policy = load_policy(kb, system)
    except PolicyError as exc:
        log.error("policy of %s is invalid (%s): enforcing the defaults", system, exc)
        return default
    return default if policy is None else bounds_of(policy)
