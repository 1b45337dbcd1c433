"""The analyzer micro-service: observations, events, topology and enforcement in; situations out.

Wiring only (the logic is ``arca.analyzer.situation``). A situation is published at once for every
external event (for each system the event concerns, with the event's correlation id), and for
every new telemetry round on the next tick (with the correlation id of its last observation).
A burst of events is coalesced: while another event for the same system waits in the backlog
(``arca.bus.order.first_waiting``) and its source's rate limit would take it, the system's situation
is left to that later event, which publishes one situation with every incident announced so far
(level-triggered; every event is still stored), at most ``coalesce_max_events`` times in a row: a
flood for one system from a source with no rate limit still gives it a situation that often.
While other events wait, a system with none of its own waiting is looked at again once the
deliveries received so far are handled (a burst's batch).
A tick publishes what no waiting event will, and leaves the telemetry round of a system whose
event waits to a later tick.
Situations and events are kept in the knowledge base with buffered writes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from arca import metrics
from arca.analyzer.situation import AnalyzerConfig, SystemView
from arca.analyzer.stored import IncidentNodes, incident_nodes
from arca.bus import Reject
from arca.bus.order import DeliveryOrder, first_waiting
from arca.kb import KnowledgeBaseError
from arca.kb.messages import load_messages, store_message
from arca.messages import (
    Alarm,
    Enforcement,
    ExternalEvent,
    Message,
    Observation,
    PolicyUpdated,
    Situation,
    TopologyChange,
)
from arca.messages.ids import derived_id
from arca.policy import Policy, PolicyError, load_policies
from arca.service import TICK_CHUNK, Deps, Service
from arca.trust import (
    Credibility,
    SourceTrust,
    confirmation_end,
    effective_severity,
    judge,
    load_credibility,
    load_trusts,
    over_limit,
    store_credibility,
    take_slot,
    trust_for,
)

log = logging.getLogger(__name__)



def urgency(message: Message) -> int:
    """Policy changes first, then detector events, then routine telemetry and enforcement reports
    (nothing is folded: every observation updates the view and every event is recorded)."""
    if isinstance(message, PolicyUpdated):
        return -1
    return 0 if isinstance(message, ExternalEvent) else 1


class AnalyzerService(Service):
    """Correlates what the collector sees into one situation per controlled system."""

    name = "analyzer"
    patterns = ("observation.#", "event.#", "topology.#", "enforcement.#", "alarm.#", "policy.#")
    delivery_order = DeliveryOrder(urgency=urgency)
    sharding = "single"
    broadcast = ("policy.#",)

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        s = self.settings.analyzer
        self.config = AnalyzerConfig(window_s=s.window_s, cpu_timestamp_at=s.cpu_timestamp_at,
                                     cpu_max_age_s=s.cpu_max_age_s,
                                     incident_ttl_s=s.incident_ttl_s,
                                     jump_factor=s.jump_factor, jump_min=s.jump_min,
                                     jump_rounds=s.jump_rounds)
        self.views: dict[str, SystemView] = {}
        self.policies: dict[str, Policy] = {}
        self.pending_events: list[ExternalEvent] = []
        # detector trust (arca.trust): accepted event times per source, incidents awaiting a verdict
        self.trusts: dict[str, SourceTrust] = {}
        self.credibility: dict[str, Credibility] = {}
        self.accepted: dict[str, list[datetime]] = {}
        self.unjudged: dict[str, tuple[str, datetime, list[str], bool]] = {}
        self.refused_unsaved: set[str] = set()
        """Sources whose refused-event count changed since it was last stored (stored on ticks)."""
        self.unpublished: dict[str, ExternalEvent] = {}
        """System -> its latest announced event whose situation is not published yet (coalescing)."""
        self.left_to: dict[str, set[str]] = {}
        """Message id of a waiting event -> the systems whose situation was left to it: looked at
        again when that event is handled (or refused), every one on ticks."""
        self.deferred: dict[str, int] = {}
        """System -> times its situation was left to a later event since its last event situation
        (bounded by ``coalesce_max_events``)."""
        self.at_batch_end: set[str] = set()
        """Systems to look at again once the deliveries received so far are handled (a burst)."""
        self.rebuilt = False
        """Incidents announced before this process (or this connection) rebuilt from the store."""
        self.stored = IncidentNodes(timedelta(seconds=self.settings.kb.retention.situation.max_age_s))
        """The incident nodes the next situation of a system may only link (``arca.analyzer.stored``)."""
        self._rebuild_at = 0.0
        self.load_knowledge()

    def rebuild_incidents(self) -> int:
        """Re-announce the incidents still alive from the events in the knowledge base: a restarted
        analyzer, or a standby taking over, reports the incidents announced before it (each event is
        stored before its situation is published). First waits for every write a predecessor queued.
        Returns the incidents re-announced (0 when the store is away: logged, retried later)."""
        barrier = getattr(self.kb, "barrier", None)
        if callable(barrier) and self.kb_ready and getattr(self.kb, "ready", True):
            try:
                barrier(5.0)
            except KnowledgeBaseError as exc:
                log.warning("rebuilding incidents before every queued write landed: %s", exc)
        try:
            events = load_messages(self.kb, ExternalEvent, limit=500)
        except KnowledgeBaseError as exc:
            self.knowledge_unavailable(exc)
            self._rebuild_at = time.monotonic() + 10.0  # not on every message while the store is away
            return 0
        self.rebuilt = True
        now = self.clock.now()
        ttl = timedelta(seconds=self.config.incident_ttl_s)
        count = 0
        for event in sorted(events, key=lambda e: e.event_time):  # a cancellation after its event
            if now - event.onset > ttl or event.event_time > now:  # expired, or another timeline's
                continue
            for system in self.systems_for(event):
                self.view(system).announce(event)
                count += 1
        if count:
            log.info("%d incidents rebuilt from the knowledge base", count)
        return count

    def ownership_changed(self) -> None:
        """The bus reconnected: another replica may have been active meanwhile; rebuild the
        incidents (announced to it) on the next message, and describe them in full again in the
        store (``arca.analyzer.stored``)."""
        self.rebuilt = False
        self.stored.forget()

    def refresh_knowledge(self) -> None:
        try:
            self.policies = load_policies(self.kb)
        except PolicyError as exc:
            log.error("policies not reloaded: %s", exc)
        self.trusts = load_trusts(self.kb)
        self.credibility = load_credibility(self.kb)
        for source, cred in self.credibility.items():
            metrics.SOURCE_CREDIBILITY.labels(source).set(cred.value)
        for system in self.policies:
            self.view(system)

    def view(self, system: str) -> SystemView:
        view = self.views.get(system)
        if view is None:
            view = self.views[system] = SystemView(system, self.config)
            for event in self.pending_events:  # events that came before any system was known
                if self._concerns(event, system):
                    view.announce(event)
        return view

    def _concerns(self, event: ExternalEvent, system: str) -> bool:
        if event.system:
            return event.system == system
        policy = self.policies.get(system)
        return policy is None or policy.listens_to(event.source, event.domain)

    def systems_for(self, event: ExternalEvent) -> list[str]:
        """The systems an event concerns: its own, those whose policy listens to it, or all."""
        if event.system:
            return [event.system]
        return sorted(s for s in self.views if self._concerns(event, s))

    # -- messages ----------------------------------------------------------------------------------
    def handle(self, message: Message) -> None:
        if not self.rebuilt and not isinstance(message, PolicyUpdated) \
                and time.monotonic() >= self._rebuild_at:
            self.rebuild_incidents()  # the first message this process is active for
        if isinstance(message, Observation):
            self.view(message.system).observe(message)
        elif isinstance(message, ExternalEvent):
            self.on_event(message)
        elif isinstance(message, TopologyChange):
            self.view(message.system).topology(message)
        elif isinstance(message, Enforcement):
            self.view(message.system).enforcement(message)
        elif isinstance(message, Alarm):
            store_message(self.kb, message)
        elif isinstance(message, PolicyUpdated):
            self.load_knowledge()
        else:
            raise Reject(f"the analyzer does not take {type(message).__name__} messages")

    def screen(self, event: ExternalEvent) -> ExternalEvent:
        """Detector trust: refuse the excess of a source (``Reject``: dead-lettered with the reason,
        counted) and weigh the severity by the source's learned credibility."""
        trust = trust_for(self.trusts, event.source)
        if trust is None:
            return event
        if not event.cancelled:
            count = take_slot(self.accepted.setdefault(event.source, []), trust, event.event_time)
            if count is not None:
                metrics.EVENTS_REFUSED.labels(event.source, "rate-limit").inc()
                self.refused_unsaved.add(event.source)
                known = self.credibility.get(event.source) or Credibility(event.source)
                self.credibility[event.source] = replace(known, refused=known.refused + 1)
                raise Reject(f"event {event.event_id} from source {event.source!r} refused by its rate "
                             f"limit: {count} events accepted in the last {trust.window_s:g}s "
                             f"(limit {trust.event_limit})")
        cred = self.credibility.get(event.source)
        if trust.learn and cred is not None and event.severity and cred.value < 1.0:
            weighed = effective_severity(event.severity, cred.value)
            log.info("event %s from %s: severity %d weighed by credibility %.3f -> %d", event.event_id,
                     event.source, event.severity, cred.value, weighed)
            event = event.model_copy(update={"severity": weighed})
        return event

    def on_event(self, announced: ExternalEvent) -> None:
        systems: list[str] = []
        try:
            systems = self.announce(announced)
        finally:  # a refused event still lets the systems left to it publish theirs
            self.publish_events([*systems, *sorted(self.left_to.pop(announced.message_id, ()))])

    def announce(self, announced: ExternalEvent) -> list[str]:
        """Screen, store and announce an event; the systems it concerns."""
        event = self.screen(announced)
        store_message(self.kb, event)
        systems = self.systems_for(event)
        trust = trust_for(self.trusts, event.source)
        # judged on the announced severity: a source down to 0 can still earn its credibility back
        if trust is not None and trust.learn and announced.severity and not event.cancelled \
                and event.event_id not in self.unjudged:
            self.unjudged[event.event_id] = (event.source, event.onset, list(systems), False)
        if not systems:
            self.pending_events.append(event)
            self.pending_events = self.pending_events[-100:]
        for system in systems:
            self.view(system).announce(event)
            if system in self.unpublished:
                metrics.EVENT_SITUATIONS_COALESCED.labels(system).inc()
            self.unpublished[system] = event
        return systems

    def publish_events(self, systems: list[str] | None = None, *, batch_end: bool = False) -> None:
        """Publish the situation of ``systems`` (None: every system) with an announced event, except
        those a later event already waiting in the backlog will publish anyway (on a newer state):
        such a system is left to the first of them (``left_to``) and looked at again when it is
        handled. Per event only its own systems and those left to it are looked at, each as far
        as its next event in the window (it was every system with an announced event, against a
        list of the whole window: 11 % of the analyzer's busy samples in a burst of 2,000).

        While other events wait (a burst), a system with none of its own waiting is looked at again
        once the deliveries received so far are handled (``at_batch_end``, once: ``batch_end``): its
        next event may be just behind them. At a burst's start the window holds a few events, and
        each of the first hundred systems got a situation of its own before its next event came."""
        if not self.unpublished:
            return
        if systems is None:  # a tick: whatever a refused, duplicate or lost event left behind
            self.left_to.clear()
            systems = list(self.unpublished)
        for system in dict.fromkeys(systems):
            event = self.unpublished.get(system)
            if event is None:
                continue
            left = self.deferred.get(system, 0)
            capped = left + 1 >= self.settings.analyzer.coalesce_max_events  # published now, whatever waits
            later = None if capped else first_waiting(partial(self._event_for, system))
            if later is not None:
                self.deferred[system] = left + 1
                self.left_to.setdefault(later.message_id, set()).add(system)
                continue
            if not (batch_end or capped) and first_waiting(self._taken) is not None:
                post = not self.at_batch_end
                self.at_batch_end.add(system)
                if post:  # (after the add: a bus that runs the call at once finds the system)
                    self.call_soon(self._end_batch)
                continue
            del self.unpublished[system]
            self.deferred.pop(system, None)
            situation = self.view(system).situation(event.event_time, "event", event.correlation_id)
            # handled again after a crash: the same situation id, dropped downstream as a duplicate
            self.publish(situation.model_copy(update={"message_id": derived_id(event.message_id, system)}))

    def _end_batch(self) -> None:
        """The deliveries received before the batch's first deferral are handled: publish what
        nothing waiting will (``publish_events``)."""
        systems = sorted(self.at_batch_end)
        self.at_batch_end.clear()
        self.publish_events(systems, batch_end=True)

    def _taken(self, message: Message) -> bool:
        """Whether ``message`` is an event its source's rate limit would take as things stand."""
        return isinstance(message, ExternalEvent) and self._within_limit(message)

    def _event_for(self, system: str, message: Message) -> bool:
        """Whether ``message`` is an event that concerns ``system`` and that its source's rate limit
        would take as things stand: a situation left to events the limit refuses would wait for a
        whole flood behind it (accepted times only grow until they are handled)."""
        return isinstance(message, ExternalEvent) and self._concerns(message, system) \
            and self._within_limit(message)

    def _within_limit(self, event: ExternalEvent) -> bool:
        trust = trust_for(self.trusts, event.source)
        return trust is None or event.cancelled or over_limit(
            self.accepted.get(event.source, ()), trust, event.event_time) is None

    def _confirm(self, situation: Situation) -> None:
        """Mark the incidents this telemetry round confirms (demand beyond the default amount's)."""
        policy = self.policies.get(situation.system)
        if policy is None or situation.trigger != "telemetry":
            return
        demand = situation.demand_servants
        if demand is None or demand <= policy.default_servants * policy.high_threshold:
            return
        t = situation.load_time or situation.event_time
        for event_id, (source, onset, systems, done) in list(self.unjudged.items()):
            trust = trust_for(self.trusts, source)
            if (not done and trust is not None and situation.system in systems
                    and onset <= t <= confirmation_end(onset, trust)):
                self.unjudged[event_id] = (source, onset, systems, True)

    def judge_incidents(self, now: datetime) -> None:
        """Credibility verdict for every incident whose confirmation window is over."""
        for event_id, (source, onset, _systems, confirmed) in list(self.unjudged.items()):
            trust = trust_for(self.trusts, source)
            if trust is None:
                del self.unjudged[event_id]
                continue
            if now <= confirmation_end(onset, trust):
                continue
            del self.unjudged[event_id]
            cred = judge(self.credibility.get(source) or Credibility(source), confirmed, trust, now)
            self.credibility[source] = cred
            store_credibility(self.kb, cred)
            metrics.SOURCE_CREDIBILITY.labels(source).set(cred.value)
            log.info("incident %s from %s %s by load: credibility %.3f", event_id, source,
                     "confirmed" if confirmed else "not confirmed", cred.value)

    def tick(self, now: datetime) -> None:
        self.publish_events()  # nothing waits on a tick: whatever a failed delivery left behind
        self.judge_incidents(now)
        for source in sorted(self.refused_unsaved):  # one write per source and tick, not per event
            store_credibility(self.kb, self.credibility[source])
        self.refused_unsaved.clear()
        self.publish_rounds(now, list(self.views))

    def publish_rounds(self, now: datetime, systems: list[str]) -> None:
        """The telemetry situation of every system in ``systems`` with a new round, ``TICK_CHUNK``
        at a time: the rest is left to a call the delivery thread runs once it has handled what
        arrived meanwhile, so an event does not wait behind a hundred routine situations (the
        in-memory bus runs the call at once: the same order as one loop)."""
        published = 0
        for i, system in enumerate(systems):
            view = self.views.get(system)
            if view is None or view.newest_load is None or (
                    view.published_load is not None and view.newest_load <= view.published_load):
                continue  # nothing new, or a later tick already published it
            if system in self.unpublished:  # left to an event waiting in the backlog: its situation
                continue  # carries this round's load; the round is published on a later tick
            if published == TICK_CHUNK:
                self.call_soon(partial(self.publish_rounds, now, systems[i:]))
                return
            published += 1
            view.published_load = view.newest_load
            view.close_round()
            situation = view.situation(max(now, view.newest_load), "telemetry", view.last_correlation)
            # one id per system and telemetry round, whichever process closes the round
            self.publish(situation.model_copy(update={
                "message_id": derived_id(view.system, "telemetry", view.newest_load.isoformat())}))

    def publish(self, situation: Situation) -> None:
        self._confirm(situation)
        self.bus.publish(situation)
        nodes = incident_nodes(situation)
        store_message(self.kb, situation,
                      stored=self.stored.linkable(situation.system, nodes, self.clock.now()))
        self.stored.submitted(situation.system, nodes, situation.event_time)
        system = situation.system
        metrics.SERVANTS_ACTIVE.labels(system).set(situation.servants_active)
        metrics.SERVANTS_BOOTING.labels(system).set(situation.servants_booting)
        metrics.AVERAGE_LOAD.labels(system).set(metrics.known(situation.average_load))
        metrics.DISCARD_RATIO.labels(system).set(situation.discard_ratio)
        metrics.INCIDENT_SEVERITY.labels(system).set(situation.incident_severity)
