"""The one policy model (``arca.policy``): read alike by analyzer, decider and enforcer."""

from __future__ import annotations

import pytest

from arca.decider import policy as decider_policy
from arca.decider.validation import PolicyInvalid, validate_policy
from arca.enforcer.model import Bounds
from arca.enforcer.policy import load_bounds
from arca.kb import EmbeddedKnowledgeBase
from arca.policy import load_policy, policy_graph

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"
GUARDED = HEAD + """<urn:p:emergency> a arca:Policy ; arca:system "emergency" ;
    arca:minServants 2 ; arca:maxServants 9 ; arca:defaultServants 2 ;
    arca:allowedAction arca:ScaleOut, "scale-in" ;
    arca:guardFrequencyLimit 3 ; arca:guardFrequencyWindowSeconds 600 ;
    arca:blackoutWindow "scale-in 22:00-06:00" ; arca:protectedServant "arca-emergency-1" ;
    arca:deletionPolicy "oldest-first" .
"""


def test_enforcer_reads_bounds_and_guards_through_the_shared_model() -> None:
    kb = EmbeddedKnowledgeBase()
    kb.replace_graph(GUARDED, policy_graph("emergency"))
    kb.flush()
    policy = load_policy(kb, "emergency")
    assert policy is not None and policy.allowed_actions == {"scale-out", "scale-in"}
    b = load_bounds(kb, "emergency", Bounds(0, 1))
    assert (b.min_servants, b.max_servants, b.allowed) == (2, 9, frozenset({"scale-out", "scale-in"}))
    assert (b.frequency_limit, b.frequency_window_s, b.blackouts, b.protected, b.deletion) == (
        3, 600.0, ("scale-in 22:00-06:00",), frozenset({"arca-emergency-1"}), "oldest-first")
    assert load_bounds(kb, "other", Bounds(0, 1)) == Bounds(0, 1)  # no policy: the settings


def test_decider_names_are_the_spine_model() -> None:
    import arca.policy

    assert decider_policy.Policy is arca.policy.Policy
    assert decider_policy.load_policies is arca.policy.load_policies


BAD_GUARDS = {
    "blackout-syntax": ('arca:blackoutWindow "scale-in 25:00-06:00"', "arca:blackoutWindow"),
    "deletion-unknown": ('arca:deletionPolicy "random"', "arca:deletionPolicy"),
    "frequency-negative": ("arca:guardFrequencyLimit -1", "arca:guardFrequencyLimit"),
    "window-zero": ("arca:guardFrequencyWindowSeconds 0", "arca:guardFrequencyWindowSeconds"),
}


@pytest.mark.parametrize("case", sorted(BAD_GUARDS), ids=sorted(BAD_GUARDS))
def test_bad_guard_terms_are_refused_naming_node_and_property(case: str) -> None:
    triple, prop = BAD_GUARDS[case]
    text = HEAD + f'<urn:p:x> a arca:Policy ; arca:system "x" ; {triple} .\n'
    with pytest.raises(PolicyInvalid) as err:
        validate_policy(text, "p.ttl")
    assert "<urn:p:x>" in str(err.value) and prop in str(err.value)
