"""Table tests of the enforcer's guards (ONAP guard policies) and the Senlin-style deletion order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arca.enforcer.guards import frequency_count, guard, in_blackout
from arca.enforcer.model import Bounds, Servant
from arca.enforcer.planning import plan

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def ago(s: float) -> datetime:
    return NOW - timedelta(seconds=s)


def sv(n: int, age_s: float) -> Servant:
    return Servant(f"id-{n}", f"arca-emergency-{n}", "active", True, NOW - timedelta(seconds=age_s))


# ONAP FrequencyLimiter: permit while count(operations in the last timeWindow) < limit
FREQUENCY = [
    # id, limit, window s, history (seconds ago, kind), steps wanted, permitted
    ("onap-limit-5-none-done-permit-all", 5, 3600, [], 3, 3),
    ("onap-limit-5-four-done-permit-one", 5, 3600, [(10, "scale-out")] * 4, 3, 1),
    ("onap-limit-5-five-done-deny", 5, 3600, [(10, "scale-out")] * 5, 1, 0),
    ("onap-old-operations-leave-the-window", 2, 600, [(601, "scale-out"), (900, "scale-out")], 2, 2),
    ("onap-operation-at-window-edge-is-out", 1, 600, [(600, "scale-out")], 1, 1),
    ("onap-limit-0-denies-everything", 0, 3600, [], 2, 0),
    ("other-kind-not-counted", 1, 3600, [(10, "scale-in"), (20, "heal")], 1, 1),
    ("no-limit", None, 3600, [(1, "scale-out")] * 50, 4, 4),
]


@pytest.mark.parametrize(("limit", "window", "history", "wanted", "permitted"),
                         [c[1:] for c in FREQUENCY], ids=[c[0] for c in FREQUENCY])
def test_frequency_limiter(limit: int | None, window: float, history: list[tuple[float, str]],
                           wanted: int, permitted: int) -> None:
    bounds = Bounds(1, 50, frequency_limit=limit, frequency_window_s=window)
    p = plan("emergency", 1 + wanted, bounds, [sv(1, 600)], NOW)
    assert len(p.steps) == wanted
    hist = [(ago(s), k) for s, k in history]
    guarded, refusals = guard(p, bounds, hist, NOW)
    assert len(guarded.steps) == permitted
    assert len(refusals) == wanted - permitted
    assert all(r.guard == "frequency" and f"limit {limit}" in r.reason for r in refusals)


def test_frequency_count_window_is_half_open() -> None:
    hist = [(ago(0), "scale-out"), (ago(59.9), "scale-out"), (ago(60), "scale-out")]
    assert frequency_count(hist, "scale-out", 60, NOW) == 2


BLACKOUT = [
    # id, windows, kind, time (h, m), refused
    ("inside-maintenance", ["scale-in 11:00-13:00"], "scale-in", (12, 0), True),
    ("end-is-exclusive", ["scale-in 11:00-12:00"], "scale-in", (12, 0), False),
    ("start-is-inclusive", ["scale-in 12:00-12:30"], "scale-in", (12, 0), True),
    ("other-action-unaffected", ["scale-in 11:00-13:00"], "scale-out", (12, 0), False),
    ("wraps-midnight-late", ["scale-in 22:00-06:00"], "scale-in", (23, 30), True),
    ("wraps-midnight-early", ["scale-in 22:00-06:00"], "scale-in", (5, 59), True),
    ("wraps-midnight-outside", ["scale-in 22:00-06:00"], "scale-in", (12, 0), False),
    ("star-refuses-every-action", ["* 11:59-12:01"], "scale-out", (12, 0), True),
]


@pytest.mark.parametrize(("windows", "kind", "hm", "refused"), [c[1:] for c in BLACKOUT],
                         ids=[c[0] for c in BLACKOUT])
def test_blackout_windows(windows: list[str], kind: str, hm: tuple[int, int], refused: bool) -> None:
    at = NOW.replace(hour=hm[0], minute=hm[1])
    assert (in_blackout(windows, kind, at) is not None) == refused


def test_blackout_refuses_scale_in_but_lets_scale_out_through() -> None:
    bounds = Bounds(1, 10, blackouts=("scale-in 11:00-13:00",))
    p_in = plan("emergency", 1, bounds, [sv(1, 600), sv(2, 60)], NOW)
    guarded, refusals = guard(p_in, bounds, [], NOW)
    assert not guarded.steps and [r.guard for r in refusals] == ["blackout"]
    assert "scale-in 11:00-13:00" in refusals[0].reason
    p_out = plan("emergency", 3, bounds, [sv(1, 600), sv(2, 60)], NOW)
    assert len(guard(p_out, bounds, [], NOW)[0].steps) == 1


DELETION = [
    # id, deletion, protected, desired, removed
    ("youngest-first-default", "youngest-first", set(), 2, ["arca-emergency-3"]),
    ("oldest-first", "oldest-first", set(), 2, ["arca-emergency-1"]),
    ("oldest-first-two", "oldest-first", set(), 1, ["arca-emergency-1", "arca-emergency-2"]),
    ("protected-skipped", "oldest-first", {"arca-emergency-1"}, 2, ["arca-emergency-2"]),
    ("protected-youngest-skipped", "youngest-first", {"arca-emergency-3"}, 2, ["arca-emergency-2"]),
]


@pytest.mark.parametrize(("deletion", "protected", "desired", "removed"), [c[1:] for c in DELETION],
                         ids=[c[0] for c in DELETION])
def test_deletion_policy_and_protected_servants(deletion: str, protected: set[str], desired: int,
                                                removed: list[str]) -> None:
    servants = [sv(1, 900), sv(2, 600), sv(3, 60)]  # 1 is the oldest, 3 the youngest
    bounds = Bounds(1, 10, protected=frozenset(protected), deletion=deletion)
    p = plan("emergency", desired, bounds, servants, NOW)
    assert sorted(s.name for s in p.steps) == sorted(removed)
    assert all(s.category == "scale-in" for s in p.steps)


def test_surplus_made_only_of_protected_servants_is_refused_with_a_reason() -> None:
    bounds = Bounds(1, 10, protected=frozenset({"arca-emergency-1", "arca-emergency-2"}))
    p = plan("emergency", 1, bounds, [sv(1, 900), sv(2, 600), sv(3, 60)], NOW)
    guarded, refusals = guard(p, bounds, [], NOW)
    assert [s.name for s in guarded.steps] == ["arca-emergency-3"]
    assert [r.guard for r in refusals] == ["protected"]
    assert "arca-emergency-1, arca-emergency-2 protected" in refusals[0].reason


def test_bounds_refuse_unknown_deletion_policy_and_bad_blackout() -> None:
    with pytest.raises(ValueError, match="deletion policy"):
        Bounds(1, 2, deletion="random")
    with pytest.raises(ValueError, match="blackoutWindow"):
        Bounds(1, 2, blackouts=("scale-in 25:00-26:00",))
