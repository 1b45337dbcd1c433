"""Re-exports of the one policy model (``arca.policy``) under the decider's historical names."""

from __future__ import annotations

from arca.policy import (
    ACTIONS,
    POLICY_GRAPH_PREFIX,
    STRATEGIES,
    Policy,
    PolicyError,
    StrategyName,
    load_policies,
    load_policy,
    policy_from_graph,
    policy_from_pairs,
    policy_graph,
    policy_node,
)

__all__ = [
    "ACTIONS", "POLICY_GRAPH_PREFIX", "STRATEGIES", "Policy", "PolicyError", "StrategyName",
    "load_policies", "load_policy", "policy_from_graph", "policy_from_pairs", "policy_graph", "policy_node",
]
