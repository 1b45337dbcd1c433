"""Table tests of the warm pool in the pure planner: resume before create, standby before delete,
refill, claims, pool bounds, idempotence under duplicates (in-flight actions plan nothing new), and
a failed servant's place refilled even during a burst (the next failure is resumed, not booted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from arca.enforcer.model import Bounds, Servant
from arca.enforcer.planning import InFlight, plan, pool_refills

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sv(n: int, status: str = "active", in_pool: bool = True, age_s: float = 60.0,
       task: str | None = None) -> Servant:
    return Servant(f"id-{n}", f"arca-emergency-{n}", status, in_pool,  # type: ignore[arg-type]
                   NOW - timedelta(seconds=age_s), task_state=task)


WARM = Bounds(1, 15, warm_state="stopped", warm_min=1, warm_max=3)
NO_REUSE = Bounds(1, 15, warm_state="stopped", warm_min=0, warm_max=3, warm_reuse=False)
COLD = Bounds(1, 15)
TWO_FAILED = [sv(1), sv(2), sv(3), sv(4, "error"), sv(5, "error")]
REFILLING = frozenset({"arca-emergency-6"})
OFF = "shutoff"
CASES = [
    # id, desired, bounds, servants, in_flight, pool target, expected steps, waiting
    ("converged-with-pool", 2, WARM, [sv(1), sv(2), sv(3, OFF)], InFlight(), 1, [], ""),
    ("resume-before-create", 4, WARM, [sv(1), sv(2, OFF), sv(3, OFF)], InFlight(), 0,
     ["resume:arca-emergency-2", "resume:arca-emergency-3", "create:arca-emergency-4"], ""),
    ("resume-not-refilled-with-reuse", 2, WARM, [sv(1), sv(2, OFF)], InFlight(), 1,
     ["resume:arca-emergency-2"], ""),
    ("burst-empties-the-pool-no-failure-no-refill", 4, WARM, [sv(1), sv(2, OFF), sv(3, OFF), sv(4, OFF)],
     InFlight(), 3, ["resume:arca-emergency-2", "resume:arca-emergency-3", "resume:arca-emergency-4"], ""),
    ("failure-in-burst-resumes-from-the-pool-and-refills", 4, WARM,
     [sv(1), sv(2), sv(3), sv(4, "error"), sv(5, OFF)], InFlight(), 3,
     ["remove:arca-emergency-4", "resume:arca-emergency-5", "refill:arca-emergency-6"], ""),
    ("failure-with-the-pool-exhausted-creates-and-refills", 4, WARM,
     [sv(1), sv(2), sv(3), sv(4, "error")], InFlight(), 3,
     ["remove:arca-emergency-4", "create:arca-emergency-5", "refill:arca-emergency-6"], ""),
    ("two-failures-two-refills", 5, WARM, TWO_FAILED, InFlight(), 3,
     ["remove:arca-emergency-4", "remove:arca-emergency-5", "create:arca-emergency-6",
      "create:arca-emergency-7", "refill:arca-emergency-8", "refill:arca-emergency-9"], ""),
    ("failure-answered-once-refill-in-flight", 4, WARM,
     [sv(1), sv(2), sv(3), sv(6, "building", False, 3)],
     InFlight(creating=frozenset({"arca-emergency-5"}), refilling=REFILLING), 3, [], ""),
    ("failure-removal-in-flight-not-refilled-again", 4, WARM,
     [sv(1), sv(2), sv(3), sv(4, "error"), sv(6, "building", False, 3)],
     InFlight(removing=frozenset({"id-4"}), creating=frozenset({"arca-emergency-5"}),
              refilling=REFILLING), 3, [], ""),
    ("failures-refilled-within-the-pool-target", 5, WARM, TWO_FAILED, InFlight(), 1,
     ["remove:arca-emergency-4", "remove:arca-emergency-5", "create:arca-emergency-6",
      "create:arca-emergency-7", "refill:arca-emergency-8"], ""),
    ("failure-without-a-pool-target-no-refill", 4, WARM, [sv(1), sv(2), sv(3), sv(4, "error")], InFlight(), 0,
     ["remove:arca-emergency-4", "create:arca-emergency-5"], ""),
    ("resume-then-refill-without-reuse", 2, NO_REUSE, [sv(1), sv(2, OFF)], InFlight(), 1,
     ["resume:arca-emergency-2", "refill:arca-emergency-3"], ""),
    ("refill-beyond-what-comes-back", 3, WARM, [sv(1), sv(2, OFF)], InFlight(), 3,
     ["resume:arca-emergency-2", "create:arca-emergency-3", "refill:arca-emergency-4"], ""),
    ("duplicate-decision-no-second-resume", 2, WARM, [sv(1), sv(2, OFF, task="powering-on")],
     InFlight(resuming=frozenset({"id-2"})), 0, [], ""),
    ("restart-while-resuming-resumes-again", 2, WARM, [sv(1), sv(2, OFF, task="powering-on")],
     InFlight(), 0, ["resume:arca-emergency-2"], ""),
    ("claim-refill-before-create", 3, WARM, [sv(1), sv(2, "building", False, 3)],
     InFlight(refilling=frozenset({"arca-emergency-2"})), 0,
     ["claim:arca-emergency-2", "create:arca-emergency-3"], ""),
    ("claimed-refill-counts", 2, WARM, [sv(1), sv(2, "building", False, 3)],
     InFlight(refilling=frozenset({"arca-emergency-2"}), claimed=frozenset({"arca-emergency-2"})), 0,
     [], ""),
    ("refill-in-flight-counts-for-pool", 1, WARM, [sv(1), sv(2, "building", False, 3)],
     InFlight(refilling=frozenset({"arca-emergency-2"})), 1, [], ""),
    ("scale-in-to-pool-first", 1, WARM, [sv(1, age_s=100), sv(2, age_s=50), sv(3, age_s=10)], InFlight(), 2,
     ["standby:arca-emergency-3", "standby:arca-emergency-2"], ""),
    ("scale-in-pool-full-deletes", 1, WARM, [sv(1, age_s=100), sv(2, age_s=50), sv(3, OFF)], InFlight(), 1,
     ["remove:arca-emergency-2"], ""),
    ("scale-in-partly-to-pool", 1, WARM, [sv(1, age_s=100), sv(2, age_s=50), sv(3, age_s=10), sv(4, OFF)],
     InFlight(), 2, ["standby:arca-emergency-3", "remove:arca-emergency-2"], ""),
    ("no-reuse-deletes", 1, NO_REUSE, [sv(1, age_s=100), sv(2, age_s=50)], InFlight(), 2,
     ["remove:arca-emergency-2", "refill:arca-emergency-3", "refill:arca-emergency-4"], ""),
    ("standby-in-flight-not-counted", 1, WARM, [sv(1), sv(2, task="powering-off")],
     InFlight(standing_by=frozenset({"id-2"}), scaling_in=True), 1, [], ""),
    ("scale-out-waits-for-standby", 3, WARM, [sv(1), sv(2, task="powering-off")],
     InFlight(standing_by=frozenset({"id-2"}), scaling_in=True), 1, [], "scale-in in flight"),
    ("scale-in-waits-for-resume", 1, WARM, [sv(1), sv(2), sv(3, OFF, task="powering-on")],
     InFlight(resuming=frozenset({"id-3"})), 0, [], "scale-out in flight"),
    ("pool-above-target-trimmed", 1, WARM, [sv(1), sv(2, OFF), sv(3, OFF)], InFlight(), 1,
     ["remove:arca-emergency-3"], ""),
    ("pool-above-max-trimmed", 1, WARM, [sv(1), sv(2, OFF), sv(3, OFF), sv(4, OFF), sv(5, OFF)],
     InFlight(), 9, ["remove:arca-emergency-5"], ""),
    ("pool-target-clipped-to-max", 1, WARM, [sv(1)], InFlight(), 9,
     ["refill:arca-emergency-2", "refill:arca-emergency-3", "refill:arca-emergency-4"], ""),
    ("cold-shutoff-is-broken", 1, COLD, [sv(1), sv(2, OFF)], InFlight(), 0, ["remove:arca-emergency-2"], ""),
    ("condemned-standby-replaced", 2, WARM, [sv(1), sv(2, OFF)], InFlight(), 0,
     ["remove:arca-emergency-2", "create:arca-emergency-3"], ""),
]


@pytest.mark.parametrize(("desired", "bounds", "servants", "in_flight", "pool_target", "expected", "waiting"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_warm_plan(desired: int, bounds: Bounds, servants: list[Servant], in_flight: InFlight,
                   pool_target: int, expected: list[str], waiting: str) -> None:
    condemned = frozenset({"id-2"}) if servants is CASES[-1][3] else frozenset()
    p = plan("emergency", desired, bounds, servants, NOW, in_flight=in_flight, pool_target=pool_target,
             condemned=condemned)
    assert [f"{s.op}:{s.name}" for s in p.steps] == expected
    assert p.waiting == waiting


def test_categories_and_pool_count() -> None:
    p = plan("emergency", 3, NO_REUSE, [sv(1), sv(2, OFF)], NOW, pool_target=1)
    assert [(s.op, s.category) for s in p.steps] == [
        ("resume", "scale-out"), ("create", "scale-out"), ("refill", "scale-out")]
    assert (p.live, p.pool, p.pool_target) == (1, 0, 1)
    assert not p.converged
    q = plan("emergency", 1, WARM, [sv(1), sv(2, OFF)], NOW, pool_target=1)
    assert q.converged and (q.pool, q.live) == (1, 1)


def test_refused_when_scale_out_not_allowed() -> None:
    bounds = Bounds(1, 15, frozenset({"scale-in", "heal"}), warm_state="stopped", warm_min=0, warm_max=3)
    p = plan("emergency", 2, bounds, [sv(1), sv(2, OFF)], NOW)
    assert not p.steps and [s.op for s in p.refused] == ["resume"]


def test_bounds_refuse_bad_pool() -> None:
    with pytest.raises(ValueError, match="warm pool state"):
        Bounds(warm_state="frozen", warm_max=1)
    with pytest.raises(ValueError, match="warm_min"):
        Bounds(warm_state="stopped", warm_min=3, warm_max=2)
    assert Bounds(warm_state="stopped", warm_min=1, warm_max=4).pool_target(None) == 1
    assert Bounds(warm_state="stopped", warm_min=1, warm_max=4).pool_target(9) == 4
    assert Bounds().pool_target(5) == 0


REFILLS = [
    # id, pool, pool target, count, target, bounds, failed now, servants to create for the pool
    ("quiet-pool-full", 3, 3, 1, 1, WARM, 0, 0),
    ("quiet-pool-short", 1, 3, 1, 1, WARM, 0, 2),
    ("burst-returning-covers", 1, 3, 3, 3, WARM, 0, 0),
    ("burst-empty-pool-no-failure", 0, 3, 4, 4, WARM, 0, 0),
    ("burst-empty-pool-one-failure", 0, 3, 4, 4, WARM, 1, 1),
    ("burst-empty-pool-two-failures", 0, 3, 4, 4, WARM, 2, 2),
    ("failure-with-a-spare-left", 1, 3, 4, 4, WARM, 1, 0),
    ("two-failures-one-spare-left", 1, 3, 4, 4, WARM, 2, 1),
    ("failures-within-the-decision-pool", 0, 1, 3, 3, WARM, 3, 1),
    ("failure-no-pool-asked", 0, 0, 4, 4, WARM, 1, 0),
    ("failure-in-quiet-time-refilled-once", 2, 3, 1, 1, WARM, 1, 1),
    ("no-reuse-refills-everything", 0, 3, 4, 4, NO_REUSE, 0, 3),
    ("scale-in-pending-counts-the-running", 0, 3, 5, 2, WARM, 0, 0),
    ("scale-out-pending-counts-the-target", 0, 3, 2, 3, WARM, 0, 1),
    ("pool-above-target-nothing", 4, 3, 1, 1, WARM, 2, 0),
]


@pytest.mark.parametrize(("pool", "pool_target", "count", "target", "bounds", "failed", "expected"),
                         [c[1:] for c in REFILLS], ids=[c[0] for c in REFILLS])
def test_pool_refills(pool: int, pool_target: int, count: int, target: int, bounds: Bounds, failed: int,
                      expected: int) -> None:
    assert pool_refills(pool, pool_target, count, target, bounds, failed) == expected
