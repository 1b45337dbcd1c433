"""The warm pool in the one policy model: SHACL-checked terms, the enforcer's bounds, the decider's
pool size (minimum or ``auto`` from the learned model) and the pool-aware lead time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from arca.decider.anticipator import Anticipator, LearnedSample
from arca.decider.validation import PolicyInvalid, validate_policy
from arca.decider.warm import auto_pool_size, pool_size, warm_floor
from arca.enforcer.model import Bounds
from arca.enforcer.policy import load_bounds
from arca.kb import EmbeddedKnowledgeBase
from arca.policy import Policy, load_policy, policy_graph

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"
WARM = HEAD + """<urn:p:emergency> a arca:Policy ; arca:system "emergency" ;
    arca:minServants 1 ; arca:maxServants 12 ; arca:defaultServants 1 ;
    arca:warmPoolState "suspended" ; arca:warmPoolMinSize 2 ; arca:warmPoolMaxSize 6 ;
    arca:warmPoolAuto true ; arca:warmPoolReuseOnScaleIn false ; arca:warmPoolLeadTimeSeconds 3 .
"""


def test_warm_terms_reach_policy_and_bounds() -> None:
    validate_policy(WARM, "warm.ttl")
    kb = EmbeddedKnowledgeBase()
    kb.replace_graph(WARM, policy_graph("emergency"))
    kb.flush()
    p = load_policy(kb, "emergency")
    assert p is not None and p.warm
    assert (p.warm_pool_state, p.warm_pool_min, p.pool_max, p.warm_pool_auto, p.warm_pool_reuse,
            p.resume_lead_time_s) == ("suspended", 2, 6, True, False, 3.0)
    b = load_bounds(kb, "emergency", Bounds(0, 1))
    assert (b.warm_state, b.warm_min, b.warm_max, b.warm_reuse) == ("suspended", 2, 6, False)


BAD = {
    "state-unknown": ('arca:warmPoolState "frozen"', "arca:warmPoolState"),
    "min-negative": ("arca:warmPoolMinSize -1", "arca:warmPoolMinSize"),
    "min-above-max": ("arca:warmPoolMinSize 4 ; arca:warmPoolMaxSize 3", "arca:warmPoolMinSize"),
    "max-above-servants": ("arca:maxServants 5 ; arca:warmPoolMaxSize 6", "arca:warmPoolMaxSize"),
    "auto-not-boolean": ('arca:warmPoolAuto "yes"', "arca:warmPoolAuto"),
    "lead-negative": ("arca:warmPoolLeadTimeSeconds -1", "arca:warmPoolLeadTimeSeconds"),
}


@pytest.mark.parametrize("case", sorted(BAD), ids=sorted(BAD))
def test_bad_warm_terms_refused_naming_the_property(case: str) -> None:
    triple, prop = BAD[case]
    text = HEAD + f'<urn:p:x> a arca:Policy ; arca:system "x" ; {triple} .\n'
    with pytest.raises(PolicyInvalid) as err:
        validate_policy(text, "p.ttl")
    assert "<urn:p:x>" in str(err.value) and prop in str(err.value)


@pytest.mark.parametrize(("state", "lead", "expected"), [
    ("stopped", None, 5.0), ("suspended", None, 4.0), ("paused", None, 0.5), ("shelved", None, 10.0),
    ("stopped", 7.5, 7.5)], ids=["stopped", "suspended", "paused", "shelved-boots", "explicit"])
def test_resume_lead_time_defaults(state: str, lead: float | None, expected: float) -> None:
    p = Policy(system="s", warm_pool_state=state, warm_pool_lead_time_s=lead, lead_time_s=10.0)  # type: ignore[arg-type]
    assert p.resume_lead_time_s == expected


@pytest.mark.parametrize(("short", "long", "pool", "expected"), [
    (2.0, 6.0, 5, 2.0),   # the pool covers the boot horizon beyond the 1 running: resume lead only
    (2.0, 5.0, 5, 2.0),   # ... with a servant to spare
    (0.5, 3.0, 2, 1.0),   # ... and what the boot horizon needs beyond the pool still counts
    # the pool cannot cover it: the boot horizon at once (the enforcer resumes the pool first, so
    # asking for long - pool = 3 would resume 2 and boot nothing; issue 23)
    (2.0, 6.0, 3, 6.0),
    (4.0, 4.0, 0, 4.0),   # no pool: the boot horizon
], ids=["pool-covers", "pool-covers-with-room", "pool-covers-boot-horizon-beyond-it",
                                "pool-short-boots-now", "no-pool"])
def test_warm_floor(short: float, long: float, pool: int, expected: float) -> None:
    assert warm_floor(short, long, pool, base=1.0) == expected


def _trained() -> Anticipator:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    model = Anticipator()
    for e, n in ((0.0, 1), (5.0, 1), (8.0, 4), (10.0, 6), (15.0, 8), (25.0, 3), (40.0, 1)):
        model, _ = model.with_sample(LearnedSample(3, e, n, learned_at=t0, sample_id=f"s{e}"))
    return model


def test_pool_size_min_auto_and_bounds() -> None:
    model = _trained()
    base = {"system": "s", "lead_time_s": 10.0, "default_servants": 1, "max_servants": 15}
    assert pool_size(Policy(**base)) is None  # no warm pool
    fixed = Policy(**base, warm_pool_state="stopped", warm_pool_min=2, warm_pool_max=9)
    assert pool_size(fixed, model) == 2
    auto = Policy(**base, warm_pool_state="stopped", warm_pool_min=1, warm_pool_max=9, warm_pool_auto=True)
    size = auto_pool_size(model, auto)
    assert size is not None and 4 <= size <= 6  # ~6 needed 10 s after onset, beyond the 1 running
    assert pool_size(auto, model) == size
    assert pool_size(auto, Anticipator()) == 1  # cold model: the minimum
    capped = Policy(**base, warm_pool_state="stopped", warm_pool_min=1, warm_pool_max=3, warm_pool_auto=True)
    assert pool_size(capped, model) == 3
