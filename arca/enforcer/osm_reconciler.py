"""Level-triggered reconciliation through OSM: desired servants -> scale steps of an NS scaling group.

With ``driver = "osm"`` the servants are the VDUs of one VDU of one VNF of one NS instance
(``osm_ns_id``, ``osm_member_vnf_index``; the VDU is the one ``osm_scaling_group`` scales). The
reconciler reads the VNF's VNFD once (``vnf_packages_content/{vnfd-id}``): its scaling aspects for that
VDU, each adding ``vdu-delta.number-of-instances`` per operation (``osm_scaling_aspects`` may restrict
them; an unreadable VNFD leaves ``osm_scaling_group`` alone, one VDU per operation). OSM applies one
aspect per operation and runs one operation of an NS at a time, so the reconciler keeps one
``OsmScale`` in flight per system, chosen by ``osm_plan.plan_scale`` (the largest delta that does
not overshoot) from the live count, the target and each aspect's ``nb-scale-op`` (the NS record);
when it has finished it re-reads the VNF record and plans again. Live VDUs (ACTIVE or BUILD) count;
dead ones are the fault manager's (heal) business. Bounds and allowed actions are re-checked before
every operation; every finished operation is reported as an ``Enforcement``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from arca.enforcer.actions import ActionState, OsmScale, OsmScaleParams, RetryPolicy
from arca.enforcer.drivers.base import DriverError, PermanentError
from arca.enforcer.drivers.osm import OsmClient
from arca.enforcer.guards import frequency_count, frequency_reason, in_blackout
from arca.enforcer.model import Bounds
from arca.enforcer.osm_plan import Aspect, ScaleOp, VduLimits, describe, plan_scale, vnfd_aspects
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
        self._vnfd_id: str | None = None
        self._aspects: tuple[tuple[Aspect, ...], VduLimits] | None = None

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
                self._vnfd_id = str(vnf.get("vnfd-id") or "") or None
                statuses = [str(v.get("status", "")).upper() for v in vnf.get("vdur") or []]
                live = sum(1 for x in statuses if x in ("ACTIVE", "BUILD"))
                return live, sum(1 for x in statuses if x == "ACTIVE")
        raise DriverError(f"NS {self.ns_id()} has no VNF with member-vnf-index {member}")

    def aspects(self) -> tuple[tuple[Aspect, ...], VduLimits]:
        """The scaling aspects of the scaled VDU (from the VNFD, read once) and its limits."""
        if self._aspects is None:
            s = self.settings
            try:
                if self._vnfd_id is None:
                    raise PermanentError("the VNF record names no vnfd-id")
                found, limits, _vdu = vnfd_aspects(self.client.vnfd(self._vnfd_id), s.osm_scaling_group)
                allowed = s.osm_scaling_aspects
                chosen = tuple(a for a in found if not allowed or a.name in allowed)
                if not chosen:
                    raise ValueError(f"none of the aspects {s.osm_scaling_aspects} is in the VNFD "
                                     f"(it has {[a.name for a in found]})")
                self._aspects = (chosen, limits)
            except (PermanentError, ValueError) as exc:  # the scaling group alone, one VDU per operation
                log.warning("OSM VNFD aspects unreadable (%s): scaling %s one VDU per operation",
                            exc, s.osm_scaling_group)
                self._aspects = ((Aspect(s.osm_scaling_group, 1),), VduLimits(1, 0, 10_000))
        return self._aspects

    def scaled(self) -> dict[str, int]:
        """``nb-scale-op`` of each scaling group of the scaled VNF (the NS record's ``_admin``)."""
        member = self.settings.osm_member_vnf_index
        groups = (self.client.ns_instance(self.ns_id()).get("_admin") or {}).get("scaling-group") or []
        return {str(g.get("name")): int(g.get("nb-scale-op") or 0) for g in groups
                if isinstance(g, dict) and str(g.get("vnf_index", member)) == member}

    def plan(self, live: int, target: int, max_servants: int | None) -> tuple[ScaleOp, ...]:
        """The operations from ``live`` to ``target`` (``osm_plan.plan_scale`` on the observed state)."""
        aspects, limits = self.aspects()
        if len(aspects) > 1 or aspects[0].delta > 1:
            done = self.scaled()
            aspects = tuple(Aspect(a.name, a.delta, done.get(a.name, 0)) for a in aspects)
        else:  # one VDU per operation: OSM's own bound is the policy's (no need to read the NS)
            aspects = tuple(Aspect(a.name, a.delta, max(0, live - limits.initial)) for a in aspects)
        return plan_scale(live, target, aspects, limits, max_servants)

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
        category = "scale-out" if st.live < target else "scale-in"
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
        try:
            ops = self.plan(st.live, target, bounds.max_servants)
        except DriverError as exc:
            st.failures += 1
            st.not_before = now + timedelta(seconds=self._retry().backoff(st.failures))
            log.warning("reading the OSM scaling groups of %s failed: %s", system, exc)
            return
        if not ops:  # no aspect OSM would accept moves towards the target
            key = (st.decision.message_id, "no-aspect")
            if key not in st.refused:
                st.refused.add(key)
                self._report(system, st, "osm_scale", "skipped", now, now, None,
                             f"no scaling aspect reaches {target} from {st.live} within OSM's bounds")
            return
        op = ops[0]
        st.history.append((now, category))
        s = self.settings
        action = OsmScale(OsmScaleParams(system=system, ns_id=self.ns_id(), scaling_group=op.aspect,
                                         member_vnf_index=s.osm_member_vnf_index, direction=op.direction,
                                         instances=op.delta, plan=describe(ops)),
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
            n = action.params.instances
            st.live += n if action.params.direction == "SCALE_OUT" else -n
            # COMPLETED: the aspect's VDUs are ACTIVE (out) or gone (in)
            st.active = min(st.live, st.active + (n if action.params.direction == "SCALE_OUT" else 0))
            if st.decision is not None and action.decision_id == st.decision.message_id:
                latency = (now - st.decision.event_time).total_seconds()
                DECISION_TO_ENFORCEMENT_SECONDS.observe(max(0.0, latency))
        else:  # a failed step: back off before the next one
            st.failures += 1
            st.not_before = now + timedelta(seconds=self._retry().backoff(st.failures))
        self._report(system, st, action.kind, action.state.value, action.started_at or now, now,
                     action.op_id, f"{action.params.direction} {action.params.scaling_group} "
                     f"({action.params.instances} VDU, plan {action.params.plan}): {action.detail}")

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
