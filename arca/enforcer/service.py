"""The enforcer micro-service: decisions and alarms in, reconciliation and enforcement reports out.

Consumes ``decision.#`` (latest desired servants per system, level-triggered), ``alarm.#`` (dead
servants / VNFs), ``topology.#`` (a servant gone to ERROR or deleted behind our back is repaired at
once instead of at the next resync), ``policy.#`` (bounds re-read) and ``event.#`` (only to learn
incident onsets, for the incident-to-capacity metric). ``tick`` advances every action in flight
and resyncs the actual state periodically.

Every ``Enforcement`` it publishes is also stored in the knowledge base (``arca.enforcer.records``:
refusals repeated within ``refusal_record_interval_s`` thinned), through the service's knowledge base
-- in ``arca run`` on RabbitMQ + SPARQL the broker-buffered one (``arca.kb.durable``), so the write is
on the broker before the delivery that caused it is acked -- which ``arca status`` reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from arca.enforcer.drivers.base import ServantDriver
from arca.enforcer.drivers.osm import OsmClient
from arca.enforcer.faults import FaultManager
from arca.enforcer.model import Bounds
from arca.enforcer.osm_reconciler import OsmReconciler
from arca.enforcer.policy import load_bounds
from arca.enforcer.reconciler import Reconciler
from arca.enforcer.records import Kept, RefusalKey, to_store
from arca.kb import KnowledgeBaseError
from arca.kb.messages import store_message
from arca.messages import Alarm, Decision, Enforcement, ExternalEvent, Message, PolicyUpdated, TopologyChange
from arca.metrics import MESSAGES_REJECTED
from arca.service import Deps, Service

log = logging.getLogger(__name__)


def make_driver(deps: Deps) -> ServantDriver | None:
    s = deps.settings.enforcer
    if s.driver == "openstack":
        from arca.enforcer.drivers.openstack import OpenStackDriver

        return OpenStackDriver(s)
    return None


class EnforcerService(Service):
    """Reconciles every controlled system towards its latest decision."""

    name = "enforcer"
    patterns = ("decision.#", "alarm.#", "event.#", "policy.#", "topology.#")
    sharding = "shards"
    broadcast = ("policy.#", "event.#")

    def __init__(self, deps: Deps, *, driver: ServantDriver | None = None, osm: OsmClient | None = None,
                 bounds_for: Callable[[str], Bounds] | None = None) -> None:
        super().__init__(deps)
        s = self.settings.enforcer
        driver = driver if driver is not None else make_driver(deps)
        self._bounds: dict[str, Bounds] = {}
        self._kept: dict[RefusalKey, Kept] = {}
        """Refusals stored lately (``arca.enforcer.records``)."""
        self.reconciler = (Reconciler(driver, s, publish=self._publish, bounds_for=bounds_for or self.bounds)
                           if driver is not None else None)
        self.owned: set[str] = set()
        """Sharded: the systems this replica received a message of since it (re)connected; only
        those are reconciled on ticks (another replica owns the others)."""
        if self.reconciler is not None and not self.sharded:
            for system in s.systems:
                self.reconciler.watch(system)
        if osm is None and s.driver == "osm":
            osm = OsmClient(s)
        self.faults = FaultManager(osm, s, publish=self._publish) if osm is not None else None
        self.osm_scaler = (OsmReconciler(osm, s, publish=self._publish, bounds_for=bounds_for or self.bounds)
                           if osm is not None and s.driver == "osm" else None)

    def bounds(self, system: str) -> Bounds:
        """Policy bounds of ``system`` (read from the knowledge base once, again after a policy change)."""
        b = self._bounds.get(system)
        if b is None:
            s = self.settings.enforcer
            default = Bounds(s.min_servants, s.max_servants, frozenset(s.allowed_actions))
            try:
                b = self._bounds[system] = load_bounds(self.kb, system, default)
            except KnowledgeBaseError as exc:  # store away: the settings' bounds, not cached
                self.knowledge_unavailable(exc)
                return default
        return b

    def refresh_knowledge(self) -> None:
        """The bounds of every system watched or seen so far, read again."""
        s = self.settings.enforcer
        default = Bounds(s.min_servants, s.max_servants, frozenset(s.allowed_actions))
        systems = set(s.systems) | set(self._bounds)
        self._bounds = {system: load_bounds(self.kb, system, default) for system in sorted(systems)}

    def _publish(self, message: Message) -> None:
        self.bus.publish(message)  # counted by the bus (arca_messages_published_total)
        if isinstance(message, Enforcement):
            self._record(message)

    def _record(self, enforcement: Enforcement) -> None:
        """Store ``enforcement`` (unless it repeats a refusal stored lately) for ``arca status``."""
        record, self._kept = to_store(enforcement, self._kept,
                                      self.settings.enforcer.refusal_record_interval_s)
        if record is None:
            log.debug("enforcement %s repeats a refusal stored lately: not stored", enforcement.message_id)
            return
        try:
            store_message(self.kb, record)
        except KnowledgeBaseError as exc:  # a store without the broker's buffer, away: said, not fatal
            self.knowledge_unavailable(exc)
            log.error("enforcement %s not stored: %s", enforcement.message_id, exc)

    def own(self, system: str) -> None:
        """Sharded: a message of ``system`` came through its shard, so this replica owns it now."""
        if system in self.owned:
            return
        self.owned.add(system)
        if self.reconciler is not None and system in self.settings.enforcer.systems:
            self.reconciler.watch(system)
        log.info("system %s owned by this replica", system, extra={"system": system})

    def ownership_changed(self) -> None:
        """The bus reconnected: another replica may own our systems now. Forget them (actions in
        flight included: the owner observes the cloud and finishes or repairs them)."""
        self.owned.clear()
        if self.reconciler is not None:
            self.reconciler.systems.clear()

    def handle(self, message: Message) -> None:
        now = self.clock.now()  # deliveries are counted by the bus (arca_messages_received_total)
        if self.sharded and isinstance(message, Decision | Alarm | TopologyChange):
            self.own(message.system)
        if isinstance(message, Decision):
            if self.osm_scaler is not None:
                if self.osm_scaler.set_desired(message):
                    self.osm_scaler.reconcile(message.system, now)
                return
            if self.reconciler is None:
                log.info("decision %s for %s: no driver configured, nothing enforced",
                         message.message_id, message.system)
                return
            if self.reconciler.set_desired(message):
                self.reconciler.reconcile(message.system, now)
        elif isinstance(message, Alarm):
            if self.faults is not None:
                self.faults.on_alarm(message, now)
            elif self.reconciler is not None and message.status == "insufficient-data" and message.vdu_name:
                self._dead_servant_alarm(message, now)
        elif isinstance(message, TopologyChange):
            if self.reconciler is not None and message.state in ("error", "shutoff", "deleted"):
                st = self.reconciler.state(message.system)
                if st.decision is not None or st.watched:
                    # with a warm pool a SHUTOFF servant stands by (ours, or resumed like one), not dead
                    standby = message.state == "shutoff" and self.bounds(message.system).warm
                    if message.state != "deleted" and not standby:
                        self.reconciler.condemn(message.system, message.server_id)
                    st.dirty = True
                    self.reconciler.reconcile(message.system, now)
        elif isinstance(message, PolicyUpdated):
            self._bounds.pop(message.system, None)
            if self.reconciler is not None:
                self.reconciler.state(message.system).dirty = True
        elif isinstance(message, ExternalEvent) and self.reconciler is not None:
            self.reconciler.note_incident(message.event_id, message.onset)

    def _dead_servant_alarm(self, alarm: Alarm, now: datetime) -> None:
        """OpenStack mode: the alarm names a dead server, removed and replaced — only when it is a
        servant ARCA manages (owned by a watched/decided system) whose own NS record (``ns_id``)
        is the alarm's NS; anything else is counted (``alarm:unmanaged``, ``alarm:other-ns``) and
        ignored."""
        assert self.reconciler is not None
        st = self.reconciler.state(alarm.system)
        named = [s for s in st.servants if alarm.vdu_name in (s.id, s.name)]
        if not (st.decision is not None or st.watched) or not named:
            MESSAGES_REJECTED.labels(service=self.name, reason="alarm:unmanaged").inc()
            log.warning("alarm %s names %r, not a servant ARCA manages in %s: ignored",
                        alarm.alarm_id, alarm.vdu_name, alarm.system)
            return
        mine = [s for s in named if alarm.ns_id is not None and s.ns_id == alarm.ns_id]
        if not mine:
            MESSAGES_REJECTED.labels(service=self.name, reason="alarm:other-ns").inc()
            log.warning("alarm %s for NS %r names %r, a servant of NS %r in %s: ignored",
                        alarm.alarm_id, alarm.ns_id, alarm.vdu_name,
                        ", ".join(sorted({s.ns_id or "none" for s in named})), alarm.system)
            return
        for servant in mine:
            self.reconciler.condemn(alarm.system, servant.id)
        self.reconciler.reconcile(alarm.system, now)

    def tick(self, now: datetime) -> None:
        if self.reconciler is not None and self.sharded:
            self.reconciler.tick(now, self.owned)
        elif self.reconciler is not None:
            self.reconciler.tick(now)
        if self.faults is not None:
            self.faults.tick(now)
        if self.osm_scaler is not None:
            self.osm_scaler.tick(now)
