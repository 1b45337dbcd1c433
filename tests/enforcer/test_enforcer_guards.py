"""Table tests of the enforcer's guards (ONAP guard policies) and the Senlin-style deletion order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arca.enforcer.guards import LimitVersion, frequency_count, guard, in_blackout, limit_since
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


# --- the frequency guard counts only what happened under the limit (issue 19) -------------------

def lv(version: int, applied_s_ago: float, limit: int | None, window_s: float = 600.0) -> LimitVersion:
    return LimitVersion(version, ago(applied_s_ago), limit, window_s)


LIMIT_SINCE = [
    # id, versions (number, applied s ago, limit, window), version that set the current limit
    ("no-history", [], None),
    ("one-version-sets-it", [lv(1, 300, 2)], 1),
    ("last-version-sets-no-limit", [lv(1, 300, 2), lv(2, 100, None)], None),
    ("limit-added-by-the-warm-pool-version", [lv(1, 900, None), lv(2, 100, 8)], 2),
    ("threshold-change-keeps-the-older-setter", [lv(1, 900, 3), lv(2, 500, 3), lv(3, 100, 3)], 1),
    ("limit-changed-restarts-the-count", [lv(1, 900, 3), lv(2, 100, 5)], 2),
    ("window-changed-restarts-the-count", [lv(1, 900, 3, 600), lv(2, 100, 3, 3600)], 2),
    ("rollback-to-the-same-limit-after-another", [lv(1, 900, 3), lv(2, 500, 5), lv(3, 100, 3)], 3),
    ("removed-then-set-again", [lv(1, 900, 3), lv(2, 500, None), lv(3, 100, 3)], 3),
    ("versions-given-out-of-order", [lv(3, 100, 3), lv(1, 900, 2), lv(2, 500, 3)], 2),
]


@pytest.mark.parametrize(("versions", "setter"), [c[1:] for c in LIMIT_SINCE],
                         ids=[c[0] for c in LIMIT_SINCE])
def test_limit_since_is_the_first_version_of_the_current_limit(versions: list[LimitVersion],
                                                               setter: int | None) -> None:
    found = limit_since(versions)
    assert (found.version if found else None) == setter


COUNT_SINCE = [
    # id, history (s ago), since (s ago, None: no bound), window, counted
    ("no-since-counts-the-whole-window", [10, 200, 500], None, 600, 3),
    ("actions-before-the-version-not-counted", [10, 200, 500], 300, 600, 2),
    ("action-at-the-apply-instant-counts", [300], 300, 600, 1),
    ("since-older-than-the-window-changes-nothing", [10, 700], 900, 600, 1),
    ("everything-before-the-version", [400, 500, 550], 100, 600, 0),
]


@pytest.mark.parametrize(("history", "since", "window", "counted"), [c[1:] for c in COUNT_SINCE],
                         ids=[c[0] for c in COUNT_SINCE])
def test_frequency_count_since_the_limit_was_set(history: list[float], since: float | None, window: float,
                                                 counted: int) -> None:
    hist = [(ago(s), "scale-out") for s in history]
    bound = ago(since) if since is not None else None
    assert frequency_count(hist, "scale-out", window, NOW, bound) == counted


def test_warm_pool_applied_after_eight_creations_refills_at_once() -> None:
    """Issue 19's story: 8 servers created, then a policy version with a pool of 5 and a limit of 8
    per 10 minutes: before, the 8 creations used the whole allowance and every refill was refused."""
    creations = [(ago(300 + i), "scale-out") for i in range(8)]
    servants = [sv(n, 300) for n in range(1, 9)]
    kw = dict(frequency_limit=8, frequency_window_s=600.0, warm_state="stopped", warm_min=5, warm_max=5,
              warm_reuse=False)
    p = plan("emergency", 8, Bounds(1, 20, **kw), servants, NOW, pool_target=5)  # type: ignore[arg-type]
    assert [s.op for s in p.steps] == ["refill"] * 5
    unversioned = Bounds(1, 20, **kw)  # type: ignore[arg-type]
    assert len(guard(p, unversioned, creations, NOW)[1]) == 5  # the old count: all refused
    versioned = Bounds(1, 20, frequency_since=ago(60), frequency_version=2, **kw)  # type: ignore[arg-type]
    permitted, refusals = guard(p, versioned, creations, NOW)
    assert refusals == () and len(permitted.steps) == 5


def test_refusal_reason_names_the_version_that_set_the_limit() -> None:
    bounds = Bounds(1, 10, frequency_limit=1, frequency_window_s=600, frequency_since=ago(60),
                    frequency_version=3)
    p = plan("emergency", 3, bounds, [sv(1, 600)], NOW)
    _, refusals = guard(p, bounds, [(ago(30), "scale-out")], NOW)
    assert [r.reason for r in refusals] == [
        "scale-out refused: 1 already in the last 600s since policy version 3 (2026-01-01T11:59:00+00:00) "
        "(limit 1)"] * 2
