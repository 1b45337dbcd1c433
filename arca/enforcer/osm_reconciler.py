"""Level-triggered reconciliation through OSM: desired servants -> scale steps of an NS scaling group.

With ``driver = "osm"`` the servants are the VDUs of one scaling group of one NS instance
(``osm_ns_id``, ``osm_scaling_group``, ``osm_member_vnf_index``). OSM scales by one step per
operation and runs one operation of an NS at a time, so the reconciler keeps one ``OsmScale`` in
flight per system; when it has finished it re-reads the VNF record and plans the next step. Live
VDUs (ACTIVE or BUILD) count; dead ones are the fault manager's (heal) business. Bounds and allowed
actions are re-checked before every step; every finished step is reported as an ``Enforcement``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from arca.enforcer.actions import ActionState, OsmScale, OsmScaleParams, RetryPolicy
from arca.enforcer.drivers.base import DriverError
from arca.enforcer.drivers.osm import OsmClient
from arca.enforcer.guards import frequency_count, frequency_reason, in_blackout
from arca.enforcer.model import Bounds
from arca.enforcer.settings import EnforcerSettings
from arca.messages import Decision, Enforcement, Message
from arca.metrics import (
    DECISION_TO_ENFORCEMENT_SECONDS,
    ENFORCEMENT_ACTIONS,
    GUARD_REFUSALS,
    SERVANTS_ACTIVE,
    SERVANTS_BOOTING,
)

log = logging.getLogger(__name__)


@dataclass
class _System:
    decision: Decision | None = None
    action: OsmScale | None = None
    live: int = 0
    active: int = 0
    not_before: datetime | None = None
    failures: int = 0
    refused: set[tuple[str, str]] = field(default_factory=set)
    history: list[tuple[datetime, str]] = field(default_factory=list)
    """(start, category) of the scale operations started, for the frequency guard."""


class OsmReconciler:
    """Drives an NS scaling group towards the latest decision of each system."""

    def __init__(self, client: OsmClient, settings: EnforcerSettings, *,
                 publish: Callable[[Message], None], bounds_for: Callable[[str], Bounds] | None = None,
                 producer: str = "enforcer") -> None:
        self.client = client
        self.settings = settings
        self.publish = publish
        s = settings
        default = Bounds(s.min_servants, s.max_servants, frozenset(s.allowed_actions))
        self.bounds_for = bounds_for or (lambda _system: default)
        self.producer = producer
        self.systems: dict[str, _System] = {}
        self.finished: list[OsmScale] = []
        self._ids = itertools.count(1)
        self._ns_id: str | None = settings.osm_ns_id

    def _retry(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(max_attempts=s.retry_max_attempts, initial_s=s.retry_initial_s,
                           max_backoff_s=s.retry_max_s, deadline_s=s.osm_op_timeout_s)

    def set_desired(self, decision: Decision) -> bool:
        st = self.systems.setdefault(decision.system, _System())
        cur = st.decision
        if cur is not None and (decision.message_id == cur.message_id
                                or decision.event_time < cur.event_time):
            return False
        st.decision = decision
        return True

    def ns_id(self) -> str:
        if self._ns_id is None:
            instances = self.client.ns_instances()
            if len(instances) != 1:
                raise DriverError(f"osm_ns_id is unset and OSM has {len(instances)} NS instances")
            self._ns_id = str(instances[0].get("_id") or instances[0].get("id"))
        return self._ns_id

    def count(self) -> tuple[int, int]:
        """(live, active) VDUs of the scaled VNF."""
        member = self.settings.osm_member_vnf_index
        for vnf in self.client.vnf_instances(self.ns_id()):
            if str(vnf.get("member-vnf-index-ref")) == member:
                statuses = [str(v.get("status", "")).upper() for v in vnf.get("vdur") or []]
                live = sum(1 for x in statuses if x in ("ACTIVE", "BUILD"))
                return live, sum(1 for x in statuses if x == "ACTIVE")
        raise DriverError(f"NS {self.ns_id()} has no VNF with member-vnf-index {member}")

    def tick(self, now: datetime) -> None:
        for system in sorted(self.systems):
            self.reconcile(system, now)

    def reconcile(self, system: str, now: datetime) -> None:
        st = self.systems.setdefault(system, _System())
        if st.decision is None:
            return
        if st.action is not None:
            st.action.step(now)
            if not st.action.done:
                return
            self._finish(system, st, st.action, now)
            st.action = None
        if st.not_before is not None and now < st.not_before:
            return
        try:
            st.live, st.active = self.count()
        except DriverError as exc:
            st.failures += 1
            st.not_before = now + timedelta(seconds=self._retry().backoff(st.failures))
            log.warning("reading the OSM state of %s failed: %s", system, exc)
            return
        st.failures = 0
        SERVANTS_ACTIVE.labels(system).set(st.active)
        SERVANTS_BOOTING.labels(system).set(st.live - st.active)
        bounds = self.bounds_for(system)
        target, _clipped = bounds.clip(st.decision.target_servants)
        if st.live == target:
            return
        direction, category = ("SCALE_OUT", "scale-out") if st.live < target else ("SCALE_IN", "scale-in")
        if category not in bounds.allowed:
            key = (st.decision.message_id, category)
            if key not in st.refused:
                st.refused.add(key)
                ENFORCEMENT_ACTIONS.labels("osm", "osm_scale", "refused").inc()
                self._report(system, st, "osm_scale", "skipped", now, now, None,
                             f"refused by policy: {category} not allowed")
            return
        why = self._guarded(st, bounds, category, now)
        if why:
            key = (st.decision.message_id, why[0])
            if key not in st.refused:
                st.refused.add(key)
                ENFORCEMENT_ACTIONS.labels("osm", "osm_scale", "refused").inc()
                GUARD_REFUSALS.labels(system, why[0]).inc()
                self._report(system, st, "osm_scale", "skipped", now, now, None,
                             f"refused by guard {why[0]}: {why[1]}")
            return
        st.history.append((now, category))
        s = self.settings
        action = OsmScale(OsmScaleParams(system=system, ns_id=self.ns_id(), scaling_group=s.osm_scaling_group,
                                         member_vnf_index=s.osm_member_vnf_index, direction=direction),
                          self.client, action_id=f"osm-{next(self._ids)}", retry=self._retry(),
                          decision_id=st.decision.message_id)
        st.action = action
        action.step(now)
        if action.done:
            self._finish(system, st, action, now)
            st.action = None

    @staticmethod
    def _guarded(st: _System, bounds: Bounds, category: str, now: datetime) -> tuple[str, str] | None:
        """(guard, reason) when a guard refuses one ``category`` scale operation now (one per VDU)."""
        window = in_blackout(bounds.blackouts, category, now)
        if window is not None:
            return "blackout", f"{category} refused during blackout {window!r}"
        if bounds.frequency_limit is not None:
            count = frequency_count(st.history, category, bounds.frequency_window_s, now,
                                    bounds.frequency_since)
            if count >= bounds.frequency_limit:
                return "frequency", frequency_reason(category, count, bounds)
        return None

    def _finish(self, system: str, st: _System, action: OsmScale, now: datetime) -> None:
        self.finished.append(action)
        ENFORCEMENT_ACTIONS.labels("osm", action.kind, action.state.value).inc()
        if action.state is ActionState.SUCCEEDED:
            st.live += 1 if action.params.direction == "SCALE_OUT" else -1
            if st.decision is not None and action.decision_id == st.decision.message_id:
                latency = (now - st.decision.event_time).total_seconds()
                DECISION_TO_ENFORCEMENT_SECONDS.observe(max(0.0, latency))
        else:  # a failed step: back off before the next one
            st.failures += 1
            st.not_before = now + timedelta(seconds=self._retry().backoff(st.failures))
        self._report(system, st, action.kind, action.state.value, action.started_at or now, now,
                     action.op_id, f"{action.params.direction}: {action.detail}")

    def _report(self, system: str, st: _System, kind: str, outcome: str, started: datetime, now: datetime,
                target: str | None, detail: str) -> None:
        d = st.decision
        self.publish(Enforcement(
            event_time=now, producer=self.producer, system=system, action=kind, driver="osm",
            outcome=outcome,  # type: ignore[arg-type]
            desired_servants=self.bounds_for(system).clip(d.target_servants)[0] if d else 0,
            active_servants=max(0, st.active), booting_servants=max(0, st.live - st.active),
            started_at=started, finished_at=now, decision_id=d.message_id if d else None, target=target,
            detail=detail[:500], **(d.follow() if d else {}),
        ))
