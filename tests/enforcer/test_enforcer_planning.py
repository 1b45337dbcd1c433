"""Table tests of the pure planner: clipping, repairs, counting, ordering, one change in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arca.enforcer.model import Bounds, Servant
from arca.enforcer.planning import InFlight, plan

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sv(n: int, status: str = "active", in_pool: bool = True, age_s: float = 60.0,
       healthy: bool = True) -> Servant:
    return Servant(f"id-{n}", f"arca-emergency-{n}", status, in_pool,  # type: ignore[arg-type]
                   NOW - timedelta(seconds=age_s), healthy)


ALL = Bounds(1, 15)
CASES = [
    # id, desired, bounds, servants, in_flight, condemned, expected steps, waiting, target
    ("converged", 2, ALL, [sv(1), sv(2)], InFlight(), set(), [], "", 2),
    ("scale-out-two", 4, ALL, [sv(1), sv(2)], InFlight(), set(),
     ["create:arca-emergency-3", "create:arca-emergency-4"], "", 4),
    ("scale-out-fills-name-gaps", 3, ALL, [sv(1), sv(3)], InFlight(), set(),
     ["create:arca-emergency-2"], "", 3),
    ("booting-counts", 3, ALL, [sv(1), sv(2), sv(3, "building", False, 5)], InFlight(), set(), [], "", 3),
    ("duplicate-decision-no-second-create", 3, ALL, [sv(1), sv(2)],
     InFlight(creating=frozenset({"arca-emergency-3"})), set(), [], "", 3),
    ("top-up-while-creating", 5, ALL, [sv(1), sv(2)],
     InFlight(creating=frozenset({"arca-emergency-3"})), set(),
     ["create:arca-emergency-4", "create:arca-emergency-5"], "", 5),
    ("above-max-clipped", 40, Bounds(1, 3), [sv(1)], InFlight(), set(),
     ["create:arca-emergency-2", "create:arca-emergency-3"], "", 3),
    ("below-min-clipped", 0, Bounds(2, 10), [sv(1), sv(2), sv(3)], InFlight(), set(),
     ["remove:arca-emergency-3"], "", 2),
    ("scale-in-booting-first", 2, ALL, [sv(1), sv(2), sv(3), sv(4, "building", False, 3)], InFlight(), set(),
     ["remove:arca-emergency-4", "remove:arca-emergency-3"], "", 2),
    ("scale-in-out-of-pool-before-newest", 2, ALL,
     [sv(1, age_s=100), sv(2, in_pool=False, age_s=200), sv(3, age_s=10)],
     InFlight(joining=frozenset({"id-2"})), set(), ["remove:arca-emergency-2"], "", 2),
    ("scale-in-waits-for-creation", 1, ALL, [sv(1), sv(2)],
     InFlight(creating=frozenset({"arca-emergency-3"})), set(), [], "scale-out in flight", 1),
    # rule 4a (issue 23 item 5): a boot no longer needed is cancelled, its building server deleted
    ("released-boots-cancelled-youngest-first", 1, ALL,
     [sv(1), sv(2, "building", False, 4), sv(3, "building", False, 3), sv(4, "building", False, 2)],
     InFlight(creating=frozenset({"arca-emergency-2", "arca-emergency-3", "arca-emergency-4"})), set(),
     ["remove:arca-emergency-4", "remove:arca-emergency-3", "remove:arca-emergency-2"], "", 1),
    ("released-boots-only-the-surplus", 3, ALL,
     [sv(1), sv(2, "building", False, 4), sv(3, "building", False, 3), sv(4, "building", False, 2)],
     InFlight(creating=frozenset({"arca-emergency-2", "arca-emergency-3", "arca-emergency-4"})), set(),
     ["remove:arca-emergency-4"], "", 3),
    ("released-active-surplus-still-waits", 1, ALL, [sv(1), sv(2), sv(3, "building", False, 3)],
     InFlight(creating=frozenset({"arca-emergency-3"})), set(), ["remove:arca-emergency-3"],
     "scale-out in flight", 1),
    ("released-invisible-creation-waits", 1, ALL, [sv(1)],
     InFlight(creating=frozenset({"arca-emergency-2"})), set(), [], "scale-out in flight", 1),
    ("released-building-not-ours-waits", 1, ALL, [sv(1), sv(2, "building", False, 3)],
     InFlight(creating=frozenset({"arca-emergency-3"})), set(), [], "scale-out in flight", 1),
    ("released-protected-boot-kept", 1, Bounds(1, 15, protected=frozenset({"arca-emergency-2"})),
     [sv(1), sv(2, "building", False, 3)], InFlight(creating=frozenset({"arca-emergency-2"})), set(), [],
     "scale-out in flight", 1),
    ("scale-out-waits-for-scale-in", 5, ALL, [sv(1)],
     InFlight(removing=frozenset({"id-2"}), scaling_in=True), set(), [], "scale-in in flight", 5),
    ("error-server-removed-and-replaced", 2, ALL, [sv(1), sv(2, "error", False)], InFlight(), set(),
     ["remove:arca-emergency-2", "create:arca-emergency-3"], "", 2),
    ("stuck-in-build-past-deadline", 2, ALL, [sv(1), sv(2, "building", False, 500)], InFlight(), set(),
     ["remove:arca-emergency-2", "create:arca-emergency-3"], "", 2),
    ("condemned-after-failed-boot", 2, ALL, [sv(1), sv(2, "building", False, 30)], InFlight(), {"id-2"},
     ["remove:arca-emergency-2", "create:arca-emergency-3"], "", 2),
    ("dead-by-alarm", 1, ALL, [sv(1, healthy=False)], InFlight(), set(),
     ["remove:arca-emergency-1", "create:arca-emergency-2"], "", 1),
    ("active-out-of-pool-joined", 2, ALL, [sv(1), sv(2, in_pool=False)], InFlight(), set(),
     ["join:arca-emergency-2"], "", 2),
    ("server-deleted-behind-our-back", 3, ALL, [sv(1), sv(3)], InFlight(), set(),
     ["create:arca-emergency-2"], "", 3),
    ("removal-in-flight-not-counted", 2, ALL, [sv(1), sv(2), sv(3)],
     InFlight(removing=frozenset({"id-3"}), scaling_in=True), set(), [], "", 2),
]


@pytest.mark.parametrize(
    "desired,bounds,servants,in_flight,condemned,expected,waiting,target",
    [c[1:] for c in CASES], ids=[c[0] for c in CASES],
)
def test_plan(desired: int, bounds: Bounds, servants: list[Servant], in_flight: InFlight,
              condemned: set[str], expected: list[str], waiting: str, target: int) -> None:
    # in these cases the enforcer saw each servant building from its creation on (no clock skew)
    seen = {s.id: s.created_at for s in servants if s.created_at is not None}
    p = plan("emergency", desired, bounds, servants, NOW, in_flight=in_flight, boot_timeout_s=120,
             condemned=frozenset(condemned), building_since=seen)
    assert [f"{s.op}:{s.name}" for s in p.steps] == expected
    assert p.waiting == waiting
    assert p.target == target
    assert p.clipped == (target != desired)


HOUR = timedelta(hours=1)
SKEW = [
    # id, cloud clock minus the enforcer's, enforcer saw it building for (s), expected steps
    ("cloud-hour-ahead-just-booted", HOUR, 5, []),
    ("cloud-hour-behind-just-booted", -HOUR, 5, []),
    ("cloud-hour-ahead-stuck", HOUR, 500, ["remove:arca-emergency-2", "create:arca-emergency-3"]),
    ("cloud-hour-behind-stuck", -HOUR, 500, ["remove:arca-emergency-2", "create:arca-emergency-3"]),
    ("cloud-day-behind-just-booted", -24 * HOUR, 0, []),
]


@pytest.mark.parametrize("skew,seen_s,expected", [c[1:] for c in SKEW], ids=[c[0] for c in SKEW])
def test_boot_deadline_is_timed_by_the_enforcers_own_clock(skew: timedelta, seen_s: float,
                                                           expected: list[str]) -> None:
    """The cloud's ``created`` (its clock, ``skew`` off the enforcer's) never decides a boot timeout:
    only how long the enforcer itself has seen the servant building."""
    booting = Servant("id-2", "arca-emergency-2", "building", False, NOW + skew - timedelta(seconds=seen_s))
    seen = {"id-2": NOW - timedelta(seconds=seen_s)}
    p = plan("emergency", 2, ALL, [sv(1), booting], NOW, boot_timeout_s=120, building_since=seen)
    assert [f"{s.op}:{s.name}" for s in p.steps] == expected
    never_seen = plan("emergency", 2, ALL, [sv(1), booting], NOW, boot_timeout_s=120)
    assert never_seen.steps == ()  # not yet seen building by this enforcer: its timer has not started


REFUSALS = [
    ("scale-out-forbidden", 3, frozenset({"scale-in", "heal"}), [sv(1)], [], ["create", "create"]),
    ("scale-in-forbidden", 1, frozenset({"scale-out", "heal"}), [sv(1), sv(2)], [], ["remove"]),
    ("heal-forbidden-still-scales", 2, frozenset({"scale-out", "scale-in"}), [sv(1), sv(2, "error")],
     ["create"], ["remove"]),
]


@pytest.mark.parametrize("desired,allowed,servants,ops,refused", [c[1:] for c in REFUSALS],
                         ids=[c[0] for c in REFUSALS])
def test_plan_refuses_what_policy_forbids(desired: int, allowed: frozenset[str], servants: list[Servant],
                                          ops: list[str], refused: list[str]) -> None:
    p = plan("emergency", desired, Bounds(1, 15, allowed), servants, NOW)
    assert [s.op for s in p.steps] == ops
    assert [s.op for s in p.refused] == refused
    assert all(s.category in allowed for s in p.steps)


def test_bounds_are_validated() -> None:
    with pytest.raises(ValueError, match="min_servants"):
        Bounds(5, 2)
    with pytest.raises(ValueError, match="unknown allowed"):
        Bounds(1, 2, frozenset({"reboot"}))


def test_plan_never_exceeds_bounds_whatever_desired() -> None:
    for desired in range(0, 40):
        p = plan("emergency", desired, Bounds(2, 9), [sv(i) for i in range(1, 6)], NOW)
        after = 5 + sum(s.op == "create" for s in p.steps) - sum(s.op == "remove" for s in p.steps)
        assert 2 <= after <= 9
