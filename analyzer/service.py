"""The analyzer micro-service: observations, events, topology and enforcement in; situations out.

Wiring only (the logic is ``analyzer.situation``). A situation is published at once for every
external event (for each system the event concerns, with the event's correlation id), and for
every new telemetry round on the next tick (with the correlation id of its last observation).
Situations and events are kept in the knowledge base with buffered writes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from analyzer.situation import AnalyzerConfig, SystemView
from arca import metrics
from arca.bus import Reject
from arca.kb.messages import store_message
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
from arca.policy import Policy, PolicyError, load_policies
from arca.service import Deps, Service

log = logging.getLogger(__name__)


class AnalyzerService(Service):
    """Correlates what the collector sees into one situation per controlled system."""

    name = "analyzer"
    patterns = ("observation.#", "event.#", "topology.#", "enforcement.#", "alarm.#", "policy.#")

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        s = self.settings.analyzer
        self.config = AnalyzerConfig(window_s=s.window_s, cpu_timestamp_at=s.cpu_timestamp_at,
                                     incident_ttl_s=s.incident_ttl_s,
                                     jump_factor=s.jump_factor, jump_min=s.jump_min,
                                     jump_rounds=s.jump_rounds)
        self.views: dict[str, SystemView] = {}
        self.policies: dict[str, Policy] = {}
        self.pending_events: list[ExternalEvent] = []
        self.reload_policies()

    def reload_policies(self) -> None:
        try:
            self.policies = load_policies(self.kb)
        except PolicyError as exc:
            log.error("policies not reloaded: %s", exc)
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
            self.reload_policies()
        else:
            raise Reject(f"the analyzer does not take {type(message).__name__} messages")

    def on_event(self, event: ExternalEvent) -> None:
        store_message(self.kb, event)
        systems = self.systems_for(event)
        if not systems:
            self.pending_events.append(event)
            self.pending_events = self.pending_events[-100:]
        for system in systems:
            view = self.view(system)
            view.announce(event)
            self.publish(view.situation(event.event_time, "event", event.correlation_id))

    def tick(self, now: datetime) -> None:
        for view in self.views.values():
            if view.newest_load is None or (view.published_load is not None
                                            and view.newest_load <= view.published_load):
                continue
            view.published_load = view.newest_load
            view.close_round()
            self.publish(view.situation(max(now, view.newest_load), "telemetry", view.last_correlation))

    def publish(self, situation: Situation) -> None:
        self.bus.publish(situation)
        store_message(self.kb, situation)
        system = situation.system
        metrics.SERVANTS_ACTIVE.labels(system).set(situation.servants_active)
        metrics.SERVANTS_BOOTING.labels(system).set(situation.servants_booting)
        metrics.AVERAGE_LOAD.labels(system).set(situation.average_load)
        metrics.DISCARD_RATIO.labels(system).set(situation.discard_ratio)
        metrics.INCIDENT_SEVERITY.labels(system).set(situation.incident_severity)
