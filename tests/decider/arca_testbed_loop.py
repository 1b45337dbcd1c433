"""The analyzer and decider services in closed loop with the testbed's model (in process, no HTTP).

What the collector and enforcer would do is done here minimally and directly on the model, so the
decider's quality is measured on the reference scenario's real demand, capacity, queues, telemetry
(Gnocchi windows stamped at their start, load-balancer rates per poll) and boot delays:

* every ``telemetry_granularity_s``: one ``cpu_util`` per servant per complete window, and each
  building's request and discard rates since the previous poll;
* servant lifecycle -> ``TopologyChange``; incidents -> ``ExternalEvent`` after the detector delay;
* after every step, the servants are reconciled with the last decision (dead ones deleted,
  booting ones removed first when scaling in) — the enforcer's job, instantaneous here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.service import DeciderService
from arca.decider.strategy import Strategy
from arca.kb import KnowledgeBase
from arca.messages import Decision, ExternalEvent, Message, Observation, TopologyChange
from arca.service import Deps
from arca.testbed.accounting import Summary, summarize
from arca.testbed.model import ACTIVE, BUILD, ERROR, ModelParams, TestbedEvent, TestbedModel
from arca.testbed.scenario import BUILDINGS
from arca.testbed.timeline import Timeline

SYSTEM = "emergency"
STATES = {"servant.created": "building", "servant.active": "active", "servant.deleted": "deleted",
          "servant.died": "error"}


@dataclass
class LoopResult:
    summary: Summary
    decider: DeciderService
    decisions: list[Decision]


def play(timeline: Timeline, kb: KnowledgeBase, params: ModelParams | None = None,
         strategies: dict[str, Strategy] | None = None) -> LoopResult:
    params = params or ModelParams()
    clock = SimClock()
    model = TestbedModel(timeline, params, clock=clock)
    bus = InMemoryBus()
    deps = Deps(bus, kb, clock, ArcaSettings())
    analyzer = AnalyzerService(deps)
    analyzer.attach()
    decider = DeciderService(deps, strategies=strategies)
    decider.attach()
    decisions: list[Decision] = []

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            decisions.append(m)

    bus.subscribe("loop.decisions", ["decision.#"], keep)

    def detector(inc_at: float, severity: int, domain: str, when: datetime) -> None:
        bus.publish(ExternalEvent(event_time=when, event_id=f"incident-{inc_at:g}", source="seismo-1",
                                  onset=model.time_of(inc_at), payload_kind="basic", severity=severity,
                                  domain=domain))

    def on_event(ev: TestbedEvent) -> None:
        if ev.kind in STATES and ev.servant is not None:
            bus.publish(TopologyChange(event_time=ev.time, system=SYSTEM, server_id=ev.servant.id,
                                       state=STATES[ev.kind]))  # type: ignore[arg-type]
        elif ev.kind == "incident" and ev.incident is not None:
            inc, due = ev.incident, model.t + params.detector_delay_s
            model.schedule(due, lambda inc=inc, due=due: detector(inc.at_s, inc.severity, inc.domain,
                                                                  model.time_of(due)))

    model.subscribe(on_event)
    for s in model.live_servants():
        bus.publish(TopologyChange(event_time=model.now(), system=SYSTEM, server_id=s.id, state="active"))
    published: dict[str, float] = {}
    previous = {b: model.lb_counters(b) for b in BUILDINGS}
    g = params.telemetry_granularity_s
    while not model.finished:
        model.advance(params.step_s)
        now = model.now()
        if abs(model.t / g - round(model.t / g)) < 1e-9:
            for s in model.live_servants():
                for w0, value in model.cpu_measures(s.id):
                    if w0 > published.get(s.id, -1.0):
                        bus.publish(Observation(event_time=model.time_of(w0), system=SYSTEM,
                                                metric="cpu_util", value=value, resource=s.id))
                        published[s.id] = w0
            for b in BUILDINGS:
                cur, prev = model.lb_counters(b), previous[b]
                for metric, key in (("request_rate", "requests"), ("discard_rate", "discarded")):
                    bus.publish(Observation(event_time=now, system=SYSTEM, metric=metric, resource=f"lb-{b}",
                                            domain=b, value=(cur[key] - prev[key]) / g))
                previous[b] = cur
        analyzer.tick(now)
        decider.tick(now)
        _reconcile(model, decisions[-1].target_servants if decisions else params.initial_servants)
    return LoopResult(summarize(model), decider, decisions)


def _reconcile(model: TestbedModel, desired: int) -> None:
    for s in model.live_servants():
        if s.status == ERROR:
            model.delete_servant(s.id)
    live = [s for s in model.live_servants() if s.status in (BUILD, ACTIVE)]
    for i in range(desired - len(live)):
        model.create_servant(f"arca-{SYSTEM}-{model.t:g}-{i}", metadata={"arca_system": SYSTEM},
                             tags=["arca-managed"])
    surplus = len(live) - desired
    if surplus > 0:
        for s in sorted(live, key=lambda s: (s.status == ACTIVE, -s.created_s))[:surplus]:
            model.delete_servant(s.id)
    model.flush_events()
