"""Level-triggered reconciliation: latest desired servants vs actual state, one change at a time.

The reconciler keeps, per controlled system, the latest decision (older or duplicated decisions
change nothing), the actions in flight, the servants last observed, when it first saw each server
building (boots are timed on this enforcer's clock, never against the cloud's ``created`` time) and
the servers condemned after a failed boot. ``reconcile(system, now)`` is called on every decision
and every tick: it steps the actions in flight (never waiting), re-reads the actual state when
something finished, the desired amount changed or the resync period elapsed, and starts the steps
``planning.plan`` returns. Each finished action is reported as an ``Enforcement`` message through ``publish``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from arca.enforcer.actions import (
    Action,
    ActionState,
    CreateParams,
    CreateServant,
    JoinPool,
    RefillParams,
    RefillPool,
    RemoveServant,
    ResumeServant,
    RetryPolicy,
    ServantParams,
    StandbyParams,
    StandbyServant,
)
from arca.enforcer.drivers.base import DriverError, ServantDriver, TransientError, one_pass
from arca.enforcer.guards import Refusal, guard
from arca.enforcer.model import Bounds, Servant
from arca.enforcer.planning import InFlight, Plan, Step, is_broken, plan
from arca.enforcer.settings import EnforcerSettings
from arca.messages import Decision, Enforcement, Message
from arca.metrics import (
    DECISION_TO_ENFORCEMENT_SECONDS,
    ENFORCEMENT_ACTIONS,
    GUARD_REFUSALS,
    INCIDENT_TO_CAPACITY_SECONDS,
    SERVANTS_ACTIVE,
    SERVANTS_BOOTING,
    SERVANTS_STANDBY,
)

log = logging.getLogger(__name__)


@dataclass
class SystemState:
    """Everything the reconciler remembers about one system."""

    system: str
    decision: Decision | None = None
    actions: list[Action] = field(default_factory=list)
    servants: list[Servant] = field(default_factory=list)
    observed_at: datetime | None = None
    next_resync: datetime | None = None
    dirty: bool = True
    condemned: set[str] = field(default_factory=set)
    observe_failures: int = 0
    last_plan: Plan | None = None
    reported_refusals: set[tuple[str, str]] = field(default_factory=set)
    incident: tuple[str, datetime, int] | None = None
    """(incident id, onset, servants in service at the decision) until capacity is added."""
    seen_incidents: set[str] = field(default_factory=set)
    watched: bool = False
    history: list[tuple[datetime, str]] = field(default_factory=list)
    """(start time, category) of the actions started, for the frequency guard."""
    building_since: dict[str, datetime] = field(default_factory=dict)
    """Server id -> when this enforcer first observed it building (its own clock): boots are timed
    from here, never from the cloud's ``created`` time (the two clocks may disagree by hours)."""

    @property
    def in_flight(self) -> InFlight:
        creating = frozenset(a.params.name for a in self.actions if isinstance(a, CreateServant))
        removing = frozenset(a.params.server_id for a in self.actions if isinstance(a, RemoveServant))
        joining = frozenset(a.params.server_id for a in self.actions if isinstance(a, JoinPool))
        scaling_in = any((isinstance(a, RemoveServant) and a.category == "scale-in")
                         or isinstance(a, StandbyServant) for a in self.actions)
        resuming = frozenset(a.params.server_id for a in self.actions if isinstance(a, ResumeServant))
        standing_by = frozenset(a.params.server_id for a in self.actions if isinstance(a, StandbyServant))
        refills = [a for a in self.actions if isinstance(a, RefillPool)]
        return InFlight(creating, removing, joining, scaling_in, resuming=resuming, standing_by=standing_by,
                        refilling=frozenset(a.params.name for a in refills),
                        claimed=frozenset(a.params.name for a in refills if a.claimed))

    @property
    def in_service(self) -> int:
        return sum(1 for s in self.servants if s.status == "active" and s.in_pool and s.healthy
                   and s.id not in self.condemned)


class Reconciler:
    """Drives one ``ServantDriver`` towards the latest decision of every system."""

    def __init__(
        self,
        driver: ServantDriver,
        settings: EnforcerSettings,
        *,
        publish: Callable[[Message], None],
        bounds_for: Callable[[str], Bounds] | None = None,
        producer: str = "enforcer",
    ) -> None:
        self.driver = driver
        self.settings = settings
        self.publish = publish
        self.bounds_for = bounds_for or (lambda _system: self.default_bounds)
        self.producer = producer
        self.systems: dict[str, SystemState] = {}
        self.incident_onsets: dict[str, datetime] = {}
        self.finished: list[Action] = []
        self._ids = itertools.count(1)

    @property
    def default_bounds(self) -> Bounds:
        s = self.settings
        return Bounds(s.min_servants, s.max_servants, frozenset(s.allowed_actions))

    def _retry(self, deadline_s: float) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(max_attempts=s.retry_max_attempts, initial_s=s.retry_initial_s,
                           max_backoff_s=s.retry_max_s, deadline_s=deadline_s)

    def state(self, system: str) -> SystemState:
        st = self.systems.get(system)
        if st is None:
            st = self.systems[system] = SystemState(system)
        return st

    # --- inputs ----------------------------------------------------------------------------------
    def set_desired(self, decision: Decision) -> bool:
        """Record the latest decision; False when it is older than (or the same as) the current one."""
        st = self.state(decision.system)
        cur = st.decision
        if cur is not None and (decision.message_id == cur.message_id
                                or decision.event_time < cur.event_time):
            return False
        if (cur is None or cur.target_servants != decision.target_servants
                or cur.standby_servants != decision.standby_servants):
            st.dirty = True
        st.decision = decision
        if decision.incident_id and decision.incident_id not in st.seen_incidents:
            st.seen_incidents.add(decision.incident_id)
            onset = self.incident_onsets.get(decision.incident_id, decision.event_time)
            st.incident = (decision.incident_id, onset, st.in_service)
        return True

    def note_incident(self, incident_id: str, onset: datetime) -> None:
        self.incident_onsets[incident_id] = onset

    def condemn(self, system: str, server_id: str) -> None:
        """Mark a servant dead (alarm, failed boot): the next plan removes and replaces it."""
        st = self.state(system)
        st.condemned.add(server_id)
        st.dirty = True

    # --- the loop ---------------------------------------------------------------------------------
    def tick(self, now: datetime, systems: Iterable[str] | None = None) -> None:
        """Reconcile ``systems`` (default every system known) in one driver pass: a listing every
        system needs (Nova's servers, the pools' members) is read once per tick, not once per system,
        until a change forgets it (measured with 200 systems: a tick of one listing per system took
        seconds and held the delivery thread, ``scripts/bench_capacity.py``)."""
        with one_pass(self.driver):
            for system in sorted(self.systems if systems is None else systems):
                self.reconcile(system, now)

    def watch(self, system: str) -> None:
        """Reconcile ``system`` before its first decision: repairs only, the count is kept."""
        self.state(system).watched = True

    def reconcile(self, system: str, now: datetime) -> Plan | None:
        """One pass over ``system``; the driver's reads are shared within it (``one_pass``)."""
        with one_pass(self.driver):
            return self._reconcile(system, now)

    def _reconcile(self, system: str, now: datetime) -> Plan | None:
        st = self.state(system)
        if st.decision is None and not st.watched:
            return None
        for action in st.actions:
            action.step(now, st.servants)
        done = [a for a in st.actions if a.done]
        st.actions = [a for a in st.actions if not a.done]
        due = st.next_resync is None or now >= st.next_resync
        if not (done or st.dirty or due):
            return st.last_plan
        if not self._observe(st, now):
            for action in done:
                self._finish(st, action, now)
            return st.last_plan
        for action in done:
            self._finish(st, action, now)
        bounds = self.bounds_for(system)
        desired = st.decision.target_servants if st.decision else self._live_count(st, now)
        asked = st.decision.standby_servants if st.decision else None
        p = plan(system, desired, bounds, st.servants, now,
                 in_flight=st.in_flight, boot_timeout_s=self.settings.boot_timeout_s,
                 condemned=frozenset(st.condemned), pool_target=bounds.pool_target(asked),
                 building_since=st.building_since)
        horizon = now - timedelta(seconds=bounds.frequency_window_s)
        st.history = [h for h in st.history if h[0] > horizon]
        p, refusals = guard(p, bounds, st.history, now)
        st.last_plan = p
        st.dirty = False
        st.next_resync = now + timedelta(seconds=self.settings.resync_interval_s)
        if p.clipped:
            log.warning("decision %s for %s: %d servants outside [%d, %d], clipped to %d",
                        st.decision.message_id if st.decision else "-", system, p.desired,
                        bounds.min_servants, bounds.max_servants, p.target)
        for refusal in refusals:
            self._report_refusal(st, refusal, now)
        for step in p.steps:
            st.history.append((now, step.category))
            if step.op == "claim":
                self._claim(st, step, now)
                continue
            if step.op == "remove" and step.category == "scale-in":
                self._cancel_boot(st, step, now)
            action = self._make(st, step, bounds)
            st.actions.append(action)
            action.step(now, st.servants)
            if action.done:
                st.actions.remove(action)
                self._finish(st, action, now)
        return p

    # --- helpers ------------------------------------------------------------------------------
    def _claim(self, st: SystemState, step: Step, now: datetime) -> None:
        """A scale-out takes a pool refill still booting: it joins the pools instead of standing by."""
        for action in st.actions:
            if isinstance(action, RefillPool) and action.params.name == step.name and action.claim():
                log.info("%s: pool refill %s claimed for service (%s)", st.system, step.name, step.reason)
                st.dirty = True
                return

    def _cancel_boot(self, st: SystemState, step: Step, now: datetime) -> None:
        """A scale-in of a servant still booting (planning rule 4a) cancels its creation first: the
        create ends ``skipped`` (reported) instead of failing when its server disappears."""
        for action in [a for a in st.actions if isinstance(a, CreateServant) and a.params.name == step.name]:
            if action.target is None:  # its create request did not answer (retry pending): the report
                action.target = step.server_id  # names the server the listing shows, as the remove does
            action.cancel(now, f"{step.reason} (scale-in before its boot finished)")
            st.actions.remove(action)
            self._finish(st, action, now)

    def _live_count(self, st: SystemState, now: datetime) -> int:
        timeout = self.settings.boot_timeout_s
        condemned = frozenset(st.condemned)
        return sum(1 for s in st.servants if s.status in ("active", "building")
                   and not is_broken(s, now, timeout, condemned, building_since=st.building_since))

    def _observe(self, st: SystemState, now: datetime) -> bool:
        try:
            st.servants = self.driver.list_servants(st.system)
        except (TransientError, DriverError) as exc:
            st.observe_failures += 1
            delay = self._retry(0).backoff(st.observe_failures)
            st.next_resync = now + timedelta(seconds=delay)
            log.warning("reading the state of %s failed (%s), retry in %gs", st.system, exc, delay)
            return False
        st.observe_failures = 0
        st.observed_at = now
        building = {s.id for s in st.servants if s.status == "building"}
        st.building_since = {sid: st.building_since.get(sid, now) for sid in building}
        present = {s.id for s in st.servants}
        st.condemned &= present
        active = sum(1 for s in st.servants if s.status == "active" and s.id not in st.condemned)
        booting = sum(1 for s in st.servants if s.status == "building" and s.id not in st.condemned)
        standby = sum(1 for s in st.servants if s.standing_by and s.id not in st.condemned)
        SERVANTS_ACTIVE.labels(st.system).set(active)
        SERVANTS_BOOTING.labels(st.system).set(booting)
        SERVANTS_STANDBY.labels(st.system).set(standby)
        if st.incident is not None and st.in_service > st.incident[2]:
            INCIDENT_TO_CAPACITY_SECONDS.observe(max(0.0, (now - st.incident[1]).total_seconds()))
            st.incident = None
        return True

    def _make(self, st: SystemState, step: Step, bounds: Bounds | None = None) -> Action:
        decision_id = st.decision.message_id if st.decision else None
        action_id = f"{st.system}-{next(self._ids)}"
        s = self.settings
        state = bounds.warm_state if bounds is not None else "none"
        if step.op == "create":
            return CreateServant(CreateParams(system=st.system, name=step.name), self.driver,
                                 action_id=action_id, retry=self._retry(s.boot_timeout_s),
                                 decision_id=decision_id)
        if step.op == "refill":
            return RefillPool(RefillParams(system=st.system, name=step.name, state=state), self.driver,
                              action_id=action_id, retry=self._retry(s.boot_timeout_s),
                              decision_id=decision_id)
        assert step.server_id is not None
        params = ServantParams(system=st.system, server_id=step.server_id, name=step.name)
        if step.op == "resume":
            return ResumeServant(params, self.driver, action_id=action_id,
                                 retry=self._retry(s.resume_timeout_s), decision_id=decision_id)
        if step.op == "standby":
            return StandbyServant(StandbyParams(system=st.system, server_id=step.server_id, name=step.name,
                                                state=state), self.driver, drain_s=s.drain_s,
                                  action_id=action_id, retry=self._retry(s.remove_timeout_s),
                                  decision_id=decision_id)
        if step.op == "join":
            return JoinPool(params, self.driver, action_id=action_id,
                            retry=self._retry(s.remove_timeout_s), decision_id=decision_id)
        return RemoveServant(params, self.driver, drain_s=s.drain_s, category=step.category,
                             action_id=action_id, retry=self._retry(s.remove_timeout_s),
                             decision_id=decision_id)

    def _finish(self, st: SystemState, action: Action, now: datetime) -> None:
        if (action.state is ActionState.FAILED and action.target
                and isinstance(action, CreateServant | ResumeServant | RefillPool | StandbyServant)):
            st.condemned.add(action.target)  # never ACTIVE (or standing by) in time: remove and replace
            st.dirty = True
        if action.state is ActionState.SUCCEEDED:  # what the action verified is the state now
            if isinstance(action, CreateServant):
                st.servants = [s for s in st.servants if s.id != action.target]
                st.servants.append(Servant(action.target or "", action.params.name, "active", in_pool=True))
            elif isinstance(action, JoinPool):
                st.servants = [replace(s, in_pool=True) if s.id == action.params.server_id else s
                               for s in st.servants]
            elif isinstance(action, RemoveServant):
                st.servants = [s for s in st.servants if s.id != action.params.server_id]
            elif isinstance(action, ResumeServant):
                st.servants = [replace(s, status="active", in_pool=True, task_state=None)
                               if s.id == action.params.server_id else s for s in st.servants]
            elif isinstance(action, StandbyServant | RefillPool):
                st.dirty = True  # re-read: the standby status (or the claimed servant) is what counts
        self.finished.append(action)
        outcome = action.state.value
        ENFORCEMENT_ACTIONS.labels(action.driver_name, action.kind, outcome).inc()
        decision = st.decision
        if decision is not None and action.decision_id == decision.message_id:
            DECISION_TO_ENFORCEMENT_SECONDS.observe(
                max(0.0, (now - decision.event_time).total_seconds()))
        self._publish(st, action.kind, outcome, now, started=action.started_at or now,
                      target=action.target, detail=action.detail, decision_id=action.decision_id,
                      driver=action.driver_name)

    def _report_refusal(self, st: SystemState, refusal: Refusal, now: datetime) -> None:
        """Report a refused step once per decision (skipped Enforcement, counters)."""
        step = refusal.step
        key = (st.decision.message_id if st.decision else "", f"{refusal.guard}:{step.op}:{step.name}")
        if key in st.reported_refusals:
            return
        st.reported_refusals.add(key)
        kind = {"create": CreateServant.kind, "remove": RemoveServant.kind, "join": JoinPool.kind,
                "resume": ResumeServant.kind, "standby": StandbyServant.kind, "refill": RefillPool.kind,
                "claim": RefillPool.kind}[step.op]
        ENFORCEMENT_ACTIONS.labels(self.driver.name, kind, "refused").inc()
        GUARD_REFUSALS.labels(st.system, refusal.guard).inc()
        what = "policy" if refusal.guard == "policy" else f"guard {refusal.guard}"
        self._publish(st, kind, "skipped", now, started=now, target=step.server_id or step.name,
                      detail=f"refused by {what}: {refusal.reason}",
                      decision_id=st.decision.message_id if st.decision else None,
                      driver=self.driver.name)

    def _publish(self, st: SystemState, action: str, outcome: str, now: datetime, *, started: datetime,
                 target: str | None, detail: str, decision_id: str | None, driver: str) -> None:
        decision = st.decision
        p = st.last_plan
        desired = p.target if p else (decision.target_servants if decision else 0)
        active = st.in_service
        booting = sum(1 for s in st.servants if s.status == "building" and s.id not in st.condemned)
        booting += sum(1 for a in st.actions if isinstance(a, CreateServant)
                       and all(s.name != a.params.name for s in st.servants))
        envelope = decision.follow() if decision else {}
        msg = Enforcement(
            event_time=now, producer=self.producer, system=st.system, action=action, driver=driver,
            outcome=outcome,  # type: ignore[arg-type]
            desired_servants=desired, active_servants=active, booting_servants=booting,
            standby_servants=sum(1 for s in st.servants if s.standing_by and s.id not in st.condemned),
            started_at=started, finished_at=now, decision_id=decision_id, target=target,
            detail=detail[:500], **envelope,
        )
        self.publish(msg)
