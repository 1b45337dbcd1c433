"""Policy bounds and guards as the enforcer re-checks them, from the one policy model.

The policy is read with ``arca.policy.load_policy`` (the same model the analyzer and decider use);
this module only maps it onto the enforcer's ``Bounds``. Without a stored policy the enforcer's
settings apply; a policy the model refuses is logged and the defaults are enforced.

The frequency guard counts only actions started since the policy version that set its limit: the
versions of the policy history (``arca.policy_history``, written by ``arca policy apply|rollback``)
are read back with their limit (``limit_versions``) and ``guards.limit_since`` picks the one; a
policy stored without a history (``arca kb load``, the demo) has no such time and every action in
the window counts. The version's ``appliedAt`` is the applying command's wall clock, compared with
the enforcer's clock as ``PolicyUpdated.event_time`` is: both are the hosts' UTC time.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC

import rdflib

from arca.enforcer.guards import LimitVersion, limit_since
from arca.enforcer.model import Bounds
from arca.kb import KnowledgeBase
from arca.policy import Policy, PolicyError, load_policy, policy_from_graph
from arca.policy_history import load_history

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


def limit_versions(kb: KnowledgeBase, system: str) -> list[LimitVersion]:
    """Every recorded version of ``system``'s policy with its frequency guard (oldest first); a
    version whose Turtle no longer makes a valid policy counts as one without a limit."""
    out = []
    for v in load_history(kb, system):
        limit, window = None, Policy(system=system).frequency_window_s
        try:
            found = [p for p in policy_from_graph(rdflib.Graph().parse(data=v.turtle, format="turtle"))
                     if p.system == system]
        except (PolicyError, ValueError, SyntaxError) as exc:
            log.warning("policy %s version %d unreadable (%s): counted as setting no limit",
                        system, v.version, exc)
            found = []
        if found:
            limit, window = found[0].frequency_limit, found[0].frequency_window_s
        at = v.applied_at if v.applied_at.tzinfo is not None else v.applied_at.replace(tzinfo=UTC)
        out.append(LimitVersion(v.version, at, limit, window))
    return out


def load_bounds(kb: KnowledgeBase, system: str, default: Bounds) -> Bounds:
    """The bounds of ``system``'s policy (``default`` when there is no valid policy), with the time
    from which its frequency guard counts."""
    try:
        policy = load_policy(kb, system)
    except PolicyError as exc:
        log.error("policy of %s is invalid (%s): enforcing the defaults", system, exc)
        return default
    if policy is None:
        return default
    bounds = bounds_of(policy)
    if bounds.frequency_limit is None:
        return bounds
    setter = limit_since(limit_versions(kb, system))
    if setter is None or (setter.limit, setter.window_s) != (bounds.frequency_limit,
                                                            bounds.frequency_window_s):
        return bounds  # the stored policy is not the last recorded version (loaded by other means)
    return replace(bounds, frequency_since=setter.applied_at, frequency_version=setter.version)
