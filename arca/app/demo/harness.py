"""One demo run: a strategy on a timeline, the whole loop wired as in production, in simulated time.

Embedded default: ``InMemoryBus(manual=True)`` + ``EmbeddedKnowledgeBase`` + ``SimClock`` — no broker
nor store. The testbed serves its emulated OpenStack APIs on loopback HTTP; the collector polls
Gnocchi (``cpu_util``) through openstacksdk and, when the testbed serves them, the HAProxy stats;
the analyzer, decider and enforcer services are the production classes; the enforcer drives the
testbed through the real OpenStack driver (openstacksdk over HTTP). The testbed's emulated
seismometers send their YANG notifications (RESTCONF JSON) after the detector delay straight into
the collector's ingestor, which validates them and maps magnitudes to severities with the scales
of ``ontology/policies/severity-scales.ttl``.

The testbed's Nova versioned notifications go to the collector's Nova adapter too (topology
changes: the analyzer counts servants from them, the enforcer repairs a dead one at once).

Through OSM (``ModelParams(initial_owner="osm")``, ``arca demo --driver osm``): the servants are the
relay VDUs of the testbed's Ukko-style NS, the enforcer scales its ``relay-scaling`` group through the
emulated OSM NBI (``OsmClient``: one LCM operation per NS at a time, a VDU boots in
``osm_boot_delay_s``, 42 s as Ukko measured) and heals dead VDUs from OSM MON/POL's alarm webhooks,
which reach the collector's OSM adapter; the policy's ``maxServants`` is the scaling group's bound.

Time advances in 1 s steps (plus a stop at each detector notification); at every stop the bus is
drained and each service ticks when its interval is due, so a 10-minute timeline runs in seconds.
The same seed gives the same run: the model, the services and the bus are deterministic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from arca.app.demo.metrics import RunMetrics, incident_discards, measure
from arca.app.demo.oracle import OracleStrategy, clairvoyant_need, failure_spares, notified_need
from arca.app.demo.plot import Series
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.settings import DeciderSettings
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.drivers.osm import OsmClient
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.messages import Decision, Message
from arca.service import Deps, Service

log = logging.getLogger(__name__)

SYSTEM = "emergency"
START = datetime(2026, 1, 1, tzinfo=UTC)

BASE_POLICY: dict[str, Any] = {
    "lowThreshold": 0.5, "highThreshold": 0.7, "minServants": 1, "maxServants": 15,
    "defaultServants": 1, "leadTimeSeconds": 10.0, "expirationSeconds": 45.0,
}
WARM_POLICY: dict[str, Any] = {
    "warmPoolState": "stopped", "warmPoolMinSize": 1, "warmPoolMaxSize": 10, "warmPoolReuseOnScaleIn": True,
}
"""The warm pool of the demo's warm strategies: stopped servants (EC2's default state; bills storage
only, ``testbed/lifecycle.py``), the pool sized by the strategy (for ``arca-warm`` the smallest meeting
its ``discardObjective`` of 0.1 %, stated as a bound, ``arca.decider.warm``; the oracle's exact need
for ``oracle-warm``) within [1, 10]."""
ORACLES = ("oracle", "oracle-notified", "oracle-warm")
STRATEGIES: dict[str, dict[str, Any]] = {
    "arca": {"strategy": "arca", "anticipation": True},
    "arca-reactive": {"strategy": "arca-reactive", "anticipation": False},
    "threshold-paper": {"strategy": "threshold", "thresholdUp": 0.7, "thresholdDown": 0.3,
                        "coolOffSeconds": 300.0},
    "threshold-repo": {"strategy": "threshold", "thresholdUp": 0.5, "thresholdDown": 0.0,
                       "coolOffSeconds": 120.0},
    "proportional": {"strategy": "proportional", "targetLoad": 0.7, "tolerance": 0.1,
                     "syncPeriodSeconds": 15.0, "stabilisationSeconds": 300.0},
    "static": {"strategy": "static", "staticAmount": 15},
    # the oracles are plugged where the decider's strategy goes: they replace the 'static' strategy
    "oracle": {"strategy": "static", "staticAmount": 1},
    "oracle-notified": {"strategy": "static", "staticAmount": 1},
    # warm pool (EC2 Auto Scaling warm pools): servants standing by stopped (os-stop), resumed first
    # the admin's objective (issue 23): at most 0.1 % of the requests discarded (a bound: the
    # strongest severity next), at the least cost
    "arca-warm": {"strategy": "arca", "anticipation": True, **WARM_POLICY, "warmPoolAuto": True,
                  "discardObjective": 0.001, "discardObjectiveBound": True},
    "oracle-warm": {"strategy": "static", "staticAmount": 1, **WARM_POLICY},
}
"""Demo strategy name -> policy properties (``arca:<name>``) on top of ``BASE_POLICY``."""
OSM_OBJECTIVE: dict[str, Any] = {"discardObjective": 0.2}
"""The admin's objective of the demo's ``arca`` through OSM (``arca demo --driver osm``): at most a fifth
of the requests discarded, a target (less than Ukko's own controller, ``threshold-repo``, drops on the
reference timeline: 23 %). A scale operation there takes 42 s and the bursts are over 25-35 s after
their incident, so what serves a burst is capacity held between incidents, and the objective says how
much (``arca.decider.hold``). Through OpenStack ``arca`` states no objective."""
LEARNING = frozenset({"arca", "arca-warm"})
"""Strategies that learn: they run the training timeline before the reference one."""


def policy_turtle(name: str, system: str = SYSTEM, overrides: Mapping[str, Any] | None = None) -> str:
    """The admin policy of a demo strategy, in Turtle (the decider's vocabulary)."""
    from arca.namespace import ARCA_NS

    props = {**BASE_POLICY, **STRATEGIES[name], **(overrides or {})}
    lines = [f"@prefix arca: <{ARCA_NS}> .", "", f"<{ARCA_NS}policy/{system}> a arca:Policy ;",
             f'    arca:system "{system}" ;']
    for key, value in props.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(value, float):
            text = f'"{value!r}"^^<http://www.w3.org/2001/XMLSchema#double>'
        else:
            text = f'"{value}"'
        lines.append(f"    arca:{key} {text} ;")
    lines.append('    arca:allowedAction "scale-out", "scale-in", "heal" .')
    return "\n".join(lines) + "\n"


def apply_policy(kb: KnowledgeBase, name: str, system: str = SYSTEM,
                 overrides: Mapping[str, Any] | None = None) -> None:
    from arca.decider.policy import policy_graph

    kb.replace_graph(policy_turtle(name, system, overrides).encode(), str(policy_graph(system)))
    kb.flush()


@dataclass
class RunResult:
    """What one run produced."""

    name: str
    metrics: RunMetrics
    series: Series
    decisions: list[Decision] = field(default_factory=list)
    enforcement_outcomes: dict[str, int] = field(default_factory=dict)
    surface: list[list[float]] | None = None


class _Recorder:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.outcomes: dict[str, int] = {}

    def __call__(self, message: Message) -> None:
        if isinstance(message, Decision):
            self.decisions.append(message)
        elif message.kind == "enforcement":
            key = f"{getattr(message, 'action', '?')}:{getattr(message, 'outcome', '?')}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1


def run(name: str, timeline: Any, *, kb: KnowledgeBase | None = None, params: Any = None,
        surface_elapsed: list[float] | None = None,
        policy_overrides: Mapping[str, Any] | None = None,
        on_step: Callable[[float, float], None] | None = None,
        prior_file: str | None = None) -> RunResult:
    """Play ``timeline`` with demo strategy ``name``; ``kb`` carries what was learned before.

    ``policy_overrides``: policy properties on top of the strategy's (e.g. ``{"minServants": 3}``);
    ``on_step(t, duration)`` is called after each simulated stop (progress display); ``prior_file``:
    the decider's prior (``ARCA_DECIDER__PRIOR_FILE``: seeded when the store has no sample yet).
    """
    from arca.analyzer.service import AnalyzerService
    from arca.collector.gnocchi import GnocchiPoller, openstack_fetchers
    from arca.collector.service import CollectorService
    from arca.collector.settings import CollectorSettings
    from arca.decider.service import DeciderService
    from arca.testbed.model import ModelParams
    from arca.testbed.platform import Testbed

    wall0 = time.perf_counter()
    params = params or ModelParams(require_pool_membership=True)
    osm = params.initial_owner == "osm"  # the NS's relay VDUs, scaled through the OSM NBI
    kb = kb if kb is not None else EmbeddedKnowledgeBase()
    clock = SimClock(START)
    detector_sink, nova_sink, alarm_sink = _IngestSink(), _NovaSink(), _AlarmSink(clock)
    tb = Testbed(timeline, params, clock=clock, detector_sink=detector_sink,
                 notification_sink=nova_sink, alarm_sink=alarm_sink if osm else None).start()
    try:
        # the admin sets the provisioning lead time to the infrastructure's boot delay; through OSM
        # the NSD's scaling group bounds the servants (its relay VDUs plus max-instance-count steps)
        boot = params.osm_boot_delay_s if osm else params.boot_delay_s
        bounds = {"maxServants": params.initial_servants + tb.osm.max_scale} if osm else {}
        objective = OSM_OBJECTIVE if osm and name == "arca" else {}
        apply_policy(kb, name, overrides={"leadTimeSeconds": float(boot), **bounds, **objective,
                                          **(policy_overrides or {})})
        conn = tb.connect()
        conn.session.session.trust_env = False  # loopback only: skip the per-request proxy lookup
        auth = tb.auth()
        via_osm: dict[str, Any] = {"driver": "osm", "osm_url": tb.served["osm"].url,
                                   "osm_ns_id": tb.osm.ns.id} if osm else {}
        # through OSM the collector accepts the alarms of the testbed's NS instance (and no other)
        managed = CollectorSettings(osm_ns_systems={tb.osm.ns.id: SYSTEM}) if osm else CollectorSettings()
        settings = ArcaSettings(collector=managed, decider=DeciderSettings(prior_file=prior_file),
                                enforcer=EnforcerSettings(
            auth_url=auth["auth_url"], username=auth["username"], password=auth["password"],
            project_name=auth["project_name"], systems=[SYSTEM], boot_timeout_s=60.0,
            resume_timeout_s=30.0, resync_interval_s=10.0, retry_initial_s=0.5, retry_max_s=4.0, **via_osm,
        ))
        bus = InMemoryBus(manual=True)
        deps = Deps(bus=bus, kb=kb, clock=clock, settings=settings)
        granularity = params.telemetry_granularity_s
        gnocchi = GnocchiPoller(*openstack_fetchers(conn), interval_s=granularity)
        _load_scales(kb)
        collector = CollectorService(deps, gnocchi=gnocchi, haproxy=_haproxy_pollers(tb, granularity))
        detector_sink.collector = nova_sink.collector = alarm_sink.collector = collector
        analyzer = AnalyzerService(deps)
        custom = {}
        if name in ORACLES:
            custom["static"] = oracle_strategy(name, tb.model, tb.detectors.delay_s)
        decider = DeciderService(deps, strategies=custom)
        if osm:
            nbi = requests.Session()
            nbi.trust_env = False
            enforcer = EnforcerService(deps, osm=OsmClient(settings.enforcer, nbi))
        else:
            enforcer = EnforcerService(deps, driver=OpenStackDriver(settings.enforcer, conn))
        services: list[Service] = [collector, analyzer, decider, enforcer]
        for svc in services:
            svc.attach()
        recorder = _Recorder()
        bus.subscribe("demo.recorder", ["decision.#", "enforcement.#"], recorder)
        _play(tb, clock, bus, services, tb.detectors, on_step)
        onsets = [i.at_s for i in timeline.incidents]
        metrics = measure(tb.model.records, onsets)
        metrics.extra["discard_by_incident"] = incident_discards(tb.model.records, onsets)
        pools = [d.standby_servants for d in recorder.decisions if d.standby_servants is not None]
        if pools:  # the warm pool the decisions asked for (auto: from the learned model)
            metrics.extra["pool_size"] = max(pools)
        surface = None
        if surface_elapsed is not None:
            surface = _surface(decider, surface_elapsed)
        series = _series(tb.model.records, recorder.decisions)
        collector.close()
    finally:
        tb.stop()
    wall = time.perf_counter() - wall0
    metrics = RunMetrics(**{**metrics.__dict__, "wall_s": round(wall, 3)})
    return RunResult(name, metrics, series, recorder.decisions, recorder.outcomes, surface)


PEAK_INTERVAL_S: float | None = 1.0
"""Seconds between the collector's reads of the load balancers' counters inside a telemetry window (the
window's peak demand, ``HaproxyPoller.peak_interval_s``; None: only the window's mean, before issue 23)."""


def _haproxy_pollers(tb: Any, interval_s: float) -> list[Any]:
    """HAProxy stats pollers when the testbed serves them (one per building load balancer), over one
    keep-alive session (loopback: no proxy lookup per request). The reads between two published
    polls (the window's peak, every simulated second) take the same CSV from the emulated balancer
    in-process: over HTTP they made the demo half as slow again (41.6 -> 62.0 s, ``make demo``)."""
    import requests

    from arca.collector.haproxy import HaproxyPoller
    from arca.testbed.api.haproxy import stats_csv

    session = requests.Session()
    session.trust_env = False
    pollers = []
    for key, url in sorted(tb.urls().items()):
        if not key.startswith("haproxy:"):
            continue
        domain = key.split(":", 1)[1]
        lb = f"lb-{domain}"
        def fetch(url: str = url) -> str:
            resp = session.get(url, timeout=5)
            resp.raise_for_status()
            return resp.text

        def peek(building: str = domain) -> str:
            return stats_csv(tb.cloud, building)

        pollers.append(HaproxyPoller(fetch, system=SYSTEM, lb_name=lb, domain=domain, interval_s=interval_s,
                                     peak_interval_s=PEAK_INTERVAL_S, peek=peek))
    return pollers


def oracle_strategy(name: str, model: Any, detector_delay_s: float) -> OracleStrategy:
    """``oracle`` (clairvoyant, failure-aware) or ``oracle-notified`` for a testbed model's timeline."""
    high, capacity = float(BASE_POLICY["highThreshold"]), model.params.capacity_rps
    boot = model.params.boot_delay_s
    if name == "oracle":
        return OracleStrategy(clairvoyant_need(model.demand, high, capacity), START, boot,
                              spares=failure_spares(model.timeline.failures, boot))
    if name == "oracle-notified":
        notes = model.timeline.notifications(detector_delay_s)
        return OracleStrategy(notified_need(model.demand, notes, high, capacity), START, boot)
    if name == "oracle-warm":  # clairvoyant, with a pool as large as the most extra servants ever needed
        need = clairvoyant_need(model.demand, high, capacity)
        quiet = int(BASE_POLICY["defaultServants"])
        peak = max(model.demand.required_servants(float(t), high, capacity)
                   for t in range(int(model.timeline.duration_s) + 1))
        low, high_pool = int(WARM_POLICY["warmPoolMinSize"]), int(WARM_POLICY["warmPoolMaxSize"])
        pool = max(low, min(high_pool, peak - quiet))
        from arca.testbed.lifecycle import DEFAULT_DURATIONS_S

        start = dict(model.params.action_durations_s).get("os-start", DEFAULT_DURATIONS_S["os-start"])
        resume = start + 1.0  # + the enforcer's tick and the pool join
        return OracleStrategy(need, START, boot, spares=failure_spares(model.timeline.failures, boot),
                              pool=pool, resume_s=resume)
    raise ValueError(f"no oracle named {name!r}")


def _load_scales(kb: KnowledgeBase) -> None:
    from arca.namespace import ONTOLOGY_DIR

    path = ONTOLOGY_DIR / "policies" / "severity-scales.ttl"
    if not kb.ask("ASK { ?s a arca:SeverityScale }"):
        kb.load_turtle(path.read_bytes(), None)
        kb.flush()


class _IngestSink:
    """Testbed sink delivering detector notifications to the collector's ingestor (as its HTTP API)."""

    def __init__(self) -> None:
        self.collector: Any = None
        self.refused = 0

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        from arca.collector.errors import IngestError

        try:
            outcome = self.collector.ingestor.detector_event(body)
        except IngestError as exc:
            self.refused += 1
            log.warning("detector notification refused: %s", exc)
            return
        if outcome.status != "accepted":
            log.warning("detector notification %s", outcome.status)


class _AlarmSink:
    """Testbed sink delivering OSM MON/POL alarm webhooks to the collector (as its /osm/alarm)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.collector: Any = None

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        from arca.collector.errors import IngestError

        try:
            self.collector.ingestor.osm_alarm(body, self.clock.now())
        except IngestError as exc:
            log.warning("OSM alarm refused: %s", exc)


class _NovaSink:
    """Testbed sink delivering Nova versioned notifications to the collector (as its AMQP consumer)."""

    def __init__(self) -> None:
        self.collector: Any = None

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        from arca.collector.errors import IngestError

        try:
            self.collector.ingestor.nova_notification(body)
        except IngestError as exc:
            log.warning("nova notification refused: %s", exc)


def _play(tb: Any, clock: SimClock, bus: InMemoryBus, services: list[Service], detectors: Any,
          on_step: Callable[[float, float], None] | None = None) -> None:
    model = tb.model
    duration = float(model.timeline.duration_s)
    notify = {n.at_s for n in model.timeline.notifications(detectors.delay_s)}
    stops = sorted({float(t) for t in range(0, int(duration) + 1)} | notify)
    next_tick = {svc.name: 0.0 for svc in services}
    for t in stops:
        if t > duration:
            break
        model.advance_to(t)
        model.flush_events()  # notifications of changes made through the APIs since the last stop
        clock.set(max(clock.now(), model.time_of(t)))
        bus.drain()
        now = clock.now()
        for svc in services:
            if t + 1e-9 >= next_tick[svc.name]:
                next_tick[svc.name] = t + svc.tick_interval_s
                svc.run_tick(now)  # as arca run: the tick, then the retention rules
                bus.drain()
        if on_step is not None:
            on_step(t, duration)


def _series(records: list[Any], decisions: list[Decision]) -> Series:
    s = Series()
    di = 0
    msa = 0.0
    target = 0.0
    ordered = sorted(decisions, key=lambda d: d.event_time)
    for r in records:
        at = START + timedelta(seconds=r.t)
        while di < len(ordered) and ordered[di].event_time <= at:
            msa = float(ordered[di].msa)
            target = float(ordered[di].target_servants)
            di += 1
        s.t.append(r.t)
        s.demand.append(sum(r.demand.values()))
        s.capacity.append(r.capacity_rps)
        s.servants.append(r.existing)
        s.standby.append(getattr(r, "standby", 0))
        s.in_service.append(r.eligible)
        s.msa.append(msa)
        s.target.append(target)
        s.discarded.append(sum(r.discarded.values()) / r.dt if r.dt else 0.0)
    return s


def _surface(decider: Any, elapsed: list[float]) -> list[list[float]] | None:
    model = decider.anticipator(SYSTEM)
    rows = []
    for severity in (1, 2, 3, 4):
        pred = model.predict(severity, elapsed)
        if pred is None:
            return None
        rows.append([round(float(v), 3) for v in pred])
    return rows
