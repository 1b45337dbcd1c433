"""Ukko-style fault management through OSM: a dead-VNF alarm leads to a heal or a replacement.

An ``Alarm`` whose status is ``insufficient-data`` (the VM stopped reporting: dead) names an NS
instance and a member VNF index. The fault manager heals that VNF instance (``heal`` mode) or
replaces its capacity by a scale-out of the scaling group (``replace`` mode, what Ukko's
controller does), one operation per VNF at a time, with exponential backoff between attempts on
the same VNF (an alarm that keeps firing after a failed operation waits longer each time).
Operations advance on ``tick`` (non-blocking polling of ``ns_lcm_op_occs``).

Only what ARCA manages is acted on: an alarm naming an NS instance other than the configured
``enforcer.osm_ns_id`` is ignored and counted (``arca_messages_rejected_total{service="enforcer",
reason="alarm:unmanaged"}``), as is every alarm when no NS is configured.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from arca.enforcer.actions import (
    Action,
    ActionState,
    OsmHeal,
    OsmHealParams,
    OsmScale,
    OsmScaleParams,
    RetryPolicy,
)
from arca.enforcer.drivers.base import DriverError
from arca.enforcer.drivers.osm import OsmClient
from arca.enforcer.settings import EnforcerSettings
from arca.messages import Alarm, Enforcement, Message
from arca.metrics import ENFORCEMENT_ACTIONS, MESSAGES_REJECTED

log = logging.getLogger(__name__)


@dataclass
class _Fault:
    alarm: Alarm
    attempts: int = 0
    not_before: datetime | None = None
    action: Action | None = None


class FaultManager:
    """Turns dead-VNF alarms into OSM heal/scale operations and reports them."""

    def __init__(self, client: OsmClient, settings: EnforcerSettings, *,
                 publish: Callable[[Message], None], producer: str = "enforcer") -> None:
        self.client = client
        self.settings = settings
        self.publish = publish
        self.producer = producer
        self.faults: dict[tuple[str, str], _Fault] = {}
        self.finished: list[Action] = []
        self._ids = itertools.count(1)

    def on_alarm(self, alarm: Alarm, now: datetime) -> None:
        managed = self.settings.osm_ns_id
        ns_id = alarm.ns_id or managed
        if not managed or ns_id != managed:
            MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:unmanaged").inc()
            log.warning("alarm %s names NS %r, which ARCA does not manage (%r): ignored",
                        alarm.alarm_id, ns_id, managed)
            return
        key = (ns_id, alarm.vnf_member_index or self.settings.osm_member_vnf_index)
        if alarm.status != "insufficient-data":
            fault = self.faults.get(key)
            if alarm.status == "ok" and fault is not None and fault.action is None:
                del self.faults[key]  # recovered by itself
            return
        fault = self.faults.setdefault(key, _Fault(alarm))
        fault.alarm = alarm
        self.step(key, now)

    def tick(self, now: datetime) -> None:
        for key in sorted(self.faults):
            self.step(key, now)

    def _retry(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(max_attempts=s.retry_max_attempts, initial_s=s.retry_initial_s,
                           max_backoff_s=s.retry_max_s, deadline_s=s.osm_op_timeout_s)

    def step(self, key: tuple[str, str], now: datetime) -> None:
        fault = self.faults.get(key)
        if fault is None:
            return
        if fault.action is None:
            if fault.not_before is not None and now < fault.not_before:
                return
            try:
                fault.action = self._make(key, fault)
            except DriverError as exc:
                self._backoff(fault, now, str(exc))
                return
        action = fault.action
        action.step(now)
        if not action.done:
            return
        self.finished.append(action)
        ENFORCEMENT_ACTIONS.labels("osm", action.kind, action.state.value).inc()
        self._report(fault, action, now)
        if action.state is ActionState.SUCCEEDED:
            del self.faults[key]
        else:
            fault.action = None
            self._backoff(fault, now, action.detail)

    def _backoff(self, fault: _Fault, now: datetime, why: str) -> None:
        fault.attempts += 1
        delay = self._retry().backoff(fault.attempts) * 4
        fault.not_before = now + timedelta(seconds=delay)
        log.warning("fault on %s: attempt %d failed (%s), next in %gs", fault.alarm.vnf_member_index,
                    fault.attempts, why, delay)

    def _make(self, key: tuple[str, str], fault: _Fault) -> Action:
        ns_id, member = key
        system = fault.alarm.system
        action_id = f"fault-{next(self._ids)}"
        if self.settings.osm_fault_mode == "replace":
            return OsmScale(OsmScaleParams(system=system, ns_id=ns_id,
                                           scaling_group=self.settings.osm_scaling_group,
                                           member_vnf_index=member, direction="SCALE_OUT"),
                            self.client, action_id=action_id, retry=self._retry())
        vnf_id = self._vnf_instance(ns_id, member)
        return OsmHeal(OsmHealParams(system=system, ns_id=ns_id, vnf_instance_id=vnf_id,
                                     vdu_id=None),  # OSM heals every dead VDU of the VNF
                       self.client, action_id=action_id, retry=self._retry())

    def _vnf_instance(self, ns_id: str, member: str) -> str:
        for vnf in self.client.vnf_instances(ns_id):
            if str(vnf.get("member-vnf-index-ref")) == member:
                return str(vnf.get("_id") or vnf.get("id"))
        raise DriverError(f"NS {ns_id} has no VNF with member-vnf-index {member}")

    def _report(self, fault: _Fault, action: Action, now: datetime) -> None:
        outcome = action.state.value
        self.publish(Enforcement(
            event_time=now, producer=self.producer, system=fault.alarm.system, action=action.kind,
            driver="osm", outcome=outcome,  # type: ignore[arg-type]
            desired_servants=0, active_servants=0, started_at=action.started_at or now, finished_at=now,
            target=action.target, detail=f"alarm {fault.alarm.alarm_id}: {action.detail}"[:500],
            correlation_id=fault.alarm.correlation_id,
        ))
