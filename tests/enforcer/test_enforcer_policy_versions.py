"""The enforcer reads when the policy version that set the frequency limit was applied, from the
policy history ``arca policy apply`` records (``arca.policy_history``), in a real embedded store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arca.enforcer.model import Bounds
from arca.enforcer.policy import limit_versions, load_bounds
from arca.kb import EmbeddedKnowledgeBase
from arca.namespace import ARCA_NS
from arca.policy import policy_graph
from arca.policy_history import record_version

T0 = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)
DEFAULT = Bounds(1, 15)


def turtle(extra: str) -> str:
    return (f'@prefix arca: <{ARCA_NS}> .\n<{ARCA_NS}policy/emergency> a arca:Policy ; '
            f'arca:system "emergency" ; arca:minServants 1 ; arca:maxServants 10 {extra} .\n')


def apply(kb: EmbeddedKnowledgeBase, extra: str, minutes: int) -> None:
    """What ``arca policy apply`` stores: the policy's graph and a new version in its history."""
    ttl = turtle(extra)
    kb.replace_graph(ttl, policy_graph("emergency"))
    record_version(kb, "emergency", ttl, by="admin", at=T0 + timedelta(minutes=minutes))


def test_the_count_starts_at_the_version_that_set_the_limit_not_at_later_ones() -> None:
    kb = EmbeddedKnowledgeBase()
    apply(kb, "", 0)  # v1: no limit
    assert load_bounds(kb, "emergency", DEFAULT).frequency_since is None
    apply(kb, "; arca:guardFrequencyLimit 8 ; arca:guardFrequencyWindowSeconds 600", 5)  # v2 sets it
    apply(kb, "; arca:guardFrequencyLimit 8 ; arca:guardFrequencyWindowSeconds 600 ; "
              "arca:highThreshold 0.8", 9)  # v3: another term
    b = load_bounds(kb, "emergency", DEFAULT)
    assert (b.frequency_limit, b.frequency_version, b.frequency_since) == (8, 2, T0 + timedelta(minutes=5))
    assert [(v.version, v.limit) for v in limit_versions(kb, "emergency")] == [(1, None), (2, 8), (3, 8)]
    apply(kb, "; arca:guardFrequencyLimit 4 ; arca:guardFrequencyWindowSeconds 600", 12)  # v4: new limit
    b = load_bounds(kb, "emergency", DEFAULT)
    assert (b.frequency_version, b.frequency_since) == (4, T0 + timedelta(minutes=12))


def test_a_policy_stored_without_history_counts_the_whole_window() -> None:
    kb = EmbeddedKnowledgeBase()
    kb.replace_graph(turtle("; arca:guardFrequencyLimit 3"), policy_graph("emergency"))  # arca kb load
    b = load_bounds(kb, "emergency", DEFAULT)
    assert b.frequency_limit == 3 and b.frequency_since is None and b.frequency_version is None


def test_a_stored_policy_that_is_not_the_last_version_is_not_dated_by_it() -> None:
    kb = EmbeddedKnowledgeBase()
    apply(kb, "; arca:guardFrequencyLimit 3", 0)
    kb.replace_graph(turtle("; arca:guardFrequencyLimit 5"), policy_graph("emergency"))  # loaded by hand
    b = load_bounds(kb, "emergency", DEFAULT)
    assert b.frequency_limit == 5 and b.frequency_since is None
