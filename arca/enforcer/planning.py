"""Pure planning: from desired servants, policy bounds and the observed servants, the next change.

Level-triggered: the plan depends only on the state (never on which message arrived), so a
duplicated or redelivered decision plans nothing new. The rules, in order:

1. the desired amount is clipped into the policy's ``[min, max]`` (a decision outside the bounds is
   never enforced as is);
2. repairs (``heal``): broken servants (error/shutoff, reported dead, condemned after a failed boot,
   or still building past the boot deadline) are removed and do not count; ACTIVE servants missing
   from the pool are added back. The boot deadline is timed by the enforcer's own clock from when it
   first saw the servant building (``building_since``), never by the cloud's ``created`` time against
   the enforcer's clock: two machines' clocks are never compared (a cloud an hour ahead or behind
   would otherwise condemn every server still booting, and recreate them forever);
3. count = live servants (active or booting) + creations in flight whose server is not visible yet;
   below the target -> create the difference (``scale-out``); above -> remove the surplus
   (``scale-in``), booting ones first, then those out of the pool, then by the policy's deletion
   order (Senlin: ``youngest-first``, the default, or ``oldest-first``); servants the policy
   protects are never removed by a scale-in (a surplus made only of them is refused, reason
   ``protected: ...``);
4. one change in flight per system: while servants are being created no surplus is removed, and
   while surplus is being removed nothing is created (the next tick re-plans once it is done);
   4a. except a boot no longer needed: while a scale-out is in flight, a surplus is removed from the
   servants still building whose creation is in flight (youngest first; ``cancelled_boots``): the
   reconciler cancels their creation and deletes the building server (Nova allows deleting a server
   in BUILD; it stops costing then) instead of letting it boot for nothing (a false alarm released
   at its first telemetry round while its servants boot: ~3 s more per released servant before);
   ACTIVE surplus and creations whose server is not visible yet still wait;
5. a step whose category the policy does not allow is refused (reported), never executed.

Warm pool (``Bounds.warm``; EC2 Auto Scaling warm pools): servants in a standby status (SHUTOFF,
SUSPENDED, PAUSED, SHELVED) are the pool, not broken, and do not count towards the target.

6. scale-out resumes ready pool servants first (``resume``), then claims pool refills still booting
   (``claim``: they join the load balancers instead of standing by), and creates only the rest;
7. scale-in puts surplus servants in standby (``standby``) while the pool (ready + entering standby
   + refills) is below its target and reuse on scale-in is on, and deletes only the rest;
8. the pool is kept at its target (the decision's ``standby_servants`` within [``warm_min``,
   ``warm_max``], as EC2 keeps a warm pool at its size): refilled (``refill``: create, then stand
   by) below it -- with reuse on scale-in, servants running above ``min_servants`` count as coming
   back (EC2 sizes the pool as prepared minus desired capacity), so a resume is not answered by a
   boot, except for servants that fail, which never come back: the pool is refilled for them even
   during a burst, so that the next failure is replaced by a resume (``pool_refills``) --,
   ready standby servants deleted above it; a resume that never reaches ACTIVE
   condemns its servant, which is then removed and replaced like any broken one.

Categories: ``resume``, ``claim`` and ``refill`` are ``scale-out`` (they add a servant), ``standby``
is ``scale-in``; the guards treat them as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from arca.enforcer.model import STANDBY_STATUSES, Bounds, Servant, servant_name

BROKEN_STATUSES = frozenset({"error", "shutoff", "unknown"})
"""Broken without a warm pool (every standby status is too); with one, only error and unknown."""


@dataclass(frozen=True)
class InFlight:
    """Actions of one system not finished yet, as the planner needs to see them."""

    creating: frozenset[str] = frozenset()
    """Names of servants being created."""
    removing: frozenset[str] = frozenset()
    """Ids of servants being removed (surplus or repair)."""
    joining: frozenset[str] = frozenset()
    """Ids of servants being added back to the pool."""
    scaling_in: bool = False
    """True when a surplus removal (not a repair) or a standby is in flight."""
    resuming: frozenset[str] = frozenset()
    """Ids of pool servants being resumed."""
    standing_by: frozenset[str] = frozenset()
    """Ids of servants being put in standby."""
    refilling: frozenset[str] = frozenset()
    """Names of servants being created for the pool (not claimed)."""
    claimed: frozenset[str] = frozenset()
    """Names of pool refills claimed for service (they join the pools once ACTIVE)."""


@dataclass(frozen=True)
class Step:
    """One action to start."""

    op: Literal["create", "remove", "join", "resume", "standby", "refill", "claim"]
    category: Literal["scale-out", "scale-in", "heal"]
    name: str
    server_id: str | None
    reason: str


@dataclass(frozen=True)
class Plan:
    """What to do now for one system."""

    desired: int
    target: int
    clipped: bool
    live: int
    """Servants counted towards the target (active + booting + creations in flight)."""
    active: int
    booting: int
    steps: tuple[Step, ...] = ()
    refused: tuple[Step, ...] = ()
    waiting: str = ""
    broken: tuple[str, ...] = field(default=())
    pool: int = 0
    """Servants in the warm pool: standing by, entering standby, or being created for it."""
    pool_target: int = 0

    @property
    def converged(self) -> bool:
        return (not self.steps and not self.refused and not self.waiting and self.live == self.target
                and self.pool >= self.pool_target)


def is_broken(s: Servant, now: datetime, boot_timeout_s: float, condemned: frozenset[str],
              warm: bool = False, building_since: Mapping[str, datetime] | None = None) -> bool:
    """Broken: reported dead, condemned, in an error status (or standing by without a pool), or
    building for longer than ``boot_timeout_s`` since ``building_since[s.id]`` (the enforcer's first
    observation of it building, on the enforcer's clock; a servant not in it is not timed here)."""
    if not s.healthy or s.id in condemned:
        return True
    if s.status in STANDBY_STATUSES:
        return not warm
    if s.status in BROKEN_STATUSES:
        return True
    since = (building_since or {}).get(s.id) if s.status == "building" else None
    return since is not None and now - since > timedelta(seconds=boot_timeout_s)


def _new_names(system: str, used: set[int], count: int) -> list[str]:
    names: list[str] = []
    i = 1
    while len(names) < count:
        if i not in used:
            names.append(servant_name(system, i))
            used.add(i)
        i += 1
    return names


def _surplus_order(s: Servant, deletion: str = "youngest-first") -> tuple[int, float, int]:
    """Sort key: booting first, then out of the pool, then the youngest (or the oldest)."""
    rank = 0 if s.status == "building" else (1 if not s.in_pool else 2)
    created = s.created_at.timestamp() if s.created_at else 0.0
    if deletion == "oldest-first":
        return (rank, created, s.index)
    return (rank, -created, -s.index)


def cancelled_boots(live: Sequence[Servant], in_flight: InFlight, bounds: Bounds,
                    surplus: int) -> list[Servant]:
    """Servants whose boot a scale-in cancels while a scale-out is still in flight (rule 4a): those
    still building whose creation is in flight (not pool refills, not protected), the youngest
    first, at most ``surplus`` of them. Servants already ACTIVE, and creations whose server is not
    visible yet, wait for the scale-out to finish, as before."""
    booting = [s for s in live if s.status == "building" and s.name in in_flight.creating
               and s.name not in bounds.protected]
    return sorted(booting, key=lambda s: _surplus_order(s, "youngest-first"))[:max(0, surplus)]


def pool_refills(pool: int, pool_target: int, count: int, target: int, bounds: Bounds,
                 failed: int = 0) -> int:
    """Servants to create for the warm pool now (rule 8).

    With reuse on scale-in, servants running above ``min_servants`` come back to the pool once the
    burst is over (EC2: the warm pool is the prepared capacity minus the desired one), so a resume is
    not answered by a boot. But a servant that fails (``failed``: the servants found broken now, whose
    removal this plan starts) never comes back: the pool is refilled for it at once, even while every
    pooled servant serves a burst, so that the next failure is replaced by a resume (seconds) instead
    of a boot. Servants already being created for the pool count (``pool``), and a broken servant is
    seen once (its removal is then in flight), so a failure is answered once.
    """
    returning = max(0, max(count, target) - bounds.min_servants) if bounds.warm_reuse else 0
    spares = min(pool_target, failed)
    return max(0, pool_target - pool - returning, spares - pool)


def plan(
    system: str,
    desired: int,
    bounds: Bounds,
    servants: Sequence[Servant],
    now: datetime,
    *,
    in_flight: InFlight = InFlight(),
    boot_timeout_s: float = 120.0,
    condemned: frozenset[str] = frozenset(),
    pool_target: int = 0,
    building_since: Mapping[str, datetime] | None = None,
) -> Plan:
    """The next change for ``system`` (pure; see the module docstring for the rules)."""
    target, clipped = bounds.clip(desired)
    warm = bounds.warm
    pool_target = max(0, min(pool_target, bounds.warm_max)) if warm else 0
    candidates = [s for s in servants if s.status != "deleted" and s.id not in in_flight.removing]
    broken = [s for s in candidates if is_broken(s, now, boot_timeout_s, condemned, warm, building_since)]
    ok = [s for s in candidates if s not in broken]
    standby = [s for s in ok if s.standing_by and s.id not in in_flight.standing_by]
    resuming = [s for s in standby if s.id in in_flight.resuming]
    ready = [s for s in standby if s.id not in in_flight.resuming]
    entering = [s for s in ok if s.id in in_flight.standing_by]
    refills = in_flight.refilling - in_flight.claimed
    live = [s for s in ok if not s.standing_by and s.id not in in_flight.standing_by
            and s.name not in refills]
    visible = {s.name for s in servants}
    pending_creates = sorted(n for n in in_flight.creating | in_flight.claimed if n not in visible)
    count = len(live) + len(pending_creates) + len(resuming)
    active = sum(1 for s in live if s.status == "active")
    booting = len(live) - active + len(pending_creates) + len(resuming)
    pool = len(ready) + len(entering) + len(refills)

    steps: list[Step] = []
    for s in sorted(broken, key=lambda s: s.name):
        steps.append(Step("remove", "heal", s.name, s.id, f"{s.name} is broken ({s.status})"))
    for s in sorted(live, key=lambda s: s.name):
        if (s.status == "active" and not s.in_pool and s.id not in in_flight.joining
                and s.name not in in_flight.creating and s.name not in in_flight.claimed):
            steps.append(Step("join", "heal", s.name, s.id, f"{s.name} is ACTIVE but not in the pool"))

    used = {s.index for s in servants} | {int(n.rsplit("-", 1)[-1])
                                         for n in in_flight.creating | in_flight.refilling
                                         if n.rsplit("-", 1)[-1].isdigit()}
    waiting = ""
    protected_refusals: list[Step] = []
    growing = bool(in_flight.creating or in_flight.resuming or in_flight.claimed)
    if count < target:
        if in_flight.scaling_in:
            waiting = "scale-in in flight"
        else:
            deficit = target - count
            why = f"{count} servants < target {target}"
            for s in sorted(ready, key=lambda s: s.name)[:deficit]:
                steps.append(Step("resume", "scale-out", s.name, s.id, f"{why}: resume {s.name} (pool)"))
                pool -= 1
            deficit -= min(deficit, len(ready))
            for name in sorted(refills)[:deficit]:
                steps.append(Step("claim", "scale-out", name, None, f"{why}: claim pool refill {name}"))
                pool -= 1
            deficit -= min(deficit, len(refills))
            for name in _new_names(system, used, deficit):
                steps.append(Step("create", "scale-out", name, None, why))
    elif count > target:
        if growing:
            # a boot no longer needed is cancelled: its server, still building, is deleted now (Nova
            # allows it; it stops costing then) instead of once its boot is over (rule 4a)
            booting_surplus = cancelled_boots(live, in_flight, bounds, count - target)
            for s in booting_surplus:
                steps.append(Step("remove", "scale-in", s.name, s.id,
                                  f"{count} servants > target {target}: cancel the boot of {s.name}"))
            if len(booting_surplus) < count - target:
                waiting = "scale-out in flight"
        else:
            removable = [s for s in live if s.name not in bounds.protected]
            surplus = sorted(removable, key=lambda s: _surplus_order(s, bounds.deletion))[: count - target]
            room = max(0, pool_target - pool) if warm and bounds.warm_reuse else 0
            for s in surplus:
                why = f"{count} servants > target {target}"
                if room > 0 and s.status == "active":
                    steps.append(Step("standby", "scale-in", s.name, s.id, f"{why}: back to the pool"))
                    room -= 1
                    pool += 1
                else:
                    steps.append(Step("remove", "scale-in", s.name, s.id, why))
            if len(surplus) < count - target:
                kept = sorted(s.name for s in live if s.name in bounds.protected)
                protected_refusals.append(Step(
                    "remove", "scale-in", ",".join(kept), None,
                    f"protected: {count - target - len(surplus)} more to remove but {', '.join(kept)} "
                    f"protected from scale-in"))
    missing = pool_refills(pool, pool_target, count, target, bounds, len(broken))  # 0 without a pool
    if missing > 0:
        for name in _new_names(system, used, missing):
            steps.append(Step("refill", "scale-out", name, None, f"warm pool {pool} < {pool_target}"))
    elif warm and pool > pool_target:
        extra = sorted(ready, key=lambda s: _surplus_order(s, bounds.deletion))[: pool - pool_target]
        for s in extra:
            steps.append(Step("remove", "scale-in", s.name, s.id, f"pool {pool} > target {pool_target}"))

    allowed = tuple(s for s in steps if s.category in bounds.allowed)
    refused = tuple(s for s in steps if s.category not in bounds.allowed) + tuple(protected_refusals)
    return Plan(
        desired=desired, target=target, clipped=clipped, live=count, active=active, booting=booting,
        steps=allowed, refused=refused, waiting=waiting, broken=tuple(s.id for s in broken),
        pool=pool, pool_target=pool_target,
    )
