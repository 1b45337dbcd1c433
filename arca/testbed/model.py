"""The simulation core: servants, load balancers and clients driven by explicit time steps.

Nothing here sleeps or reads the wall clock: ``advance(seconds)`` moves the model (and an optional
``SimClock``) forward in steps of ``step_s``. The emulated HTTP APIs call into the same object
from their threads; every public method takes the model's lock.

Serving model (documented choice): every servant sits in the HQ domain and relays for the three
building load balancers; the capacity of the *eligible* servants (ACTIVE, and, if
``require_pool_membership``, a member of at least one Octavia pool) is shared by the load balancers
in proportion to their backlog (work-conserving). Each load balancer holds at most
``queue_limit`` waiting requests; arrivals beyond capacity plus queue room are discarded and
counted per domain. Servant CPU utilisation = served / (eligible servants x capacity).

Accounting per step (``records``): demand, capacity, served, discarded, queue per building;
servants existing / booting / active / eligible / standing by, and the billed weight. Servant-seconds
integrate the servants that *exist* and are not standing by (created and not deleted: booting,
active and dead-but-not-deleted alike), as a cloud bills them in full; servants in a standby status
(``lifecycle.STANDBY_STATUSES``: a warm pool) are counted apart (``standby``), and ``weighted`` sums
every servant's billing weight (``lifecycle.DEFAULT_BILLING_WEIGHTS``).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from arca.clock import SimClock
from arca.testbed import lifecycle
from arca.testbed.demand import Demand
from arca.testbed.scenario import BUILDINGS, DEFAULT_HIGH_THRESHOLD, SERVANT_CAPACITY_RPS
from arca.testbed.timeline import Incident, Timeline

BUILD, ACTIVE, ERROR, DELETED = "BUILD", "ACTIVE", "ERROR", "DELETED"
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ModelParams:
    """Knobs of the simulation (the CLI fills them from ``TestbedSettings``)."""

    step_s: float = 1.0
    boot_delay_s: float = 10.0
    osm_boot_delay_s: float = 42.0
    telemetry_granularity_s: float = 10.0
    detector_delay_s: float = 0.5
    capacity_rps: float = SERVANT_CAPACITY_RPS
    queue_limit: int = 50
    initial_servants: int = 1
    require_pool_membership: bool = False
    noise_sd: float = 0.03
    noise_clip: float = 0.06
    system: str = "emergency"
    high_threshold: float = DEFAULT_HIGH_THRESHOLD
    action_durations_s: tuple[tuple[str, float], ...] = ()
    """Overrides of ``lifecycle.DEFAULT_DURATIONS_S`` (simulated seconds per server action)."""
    billing_weights: tuple[tuple[str, float], ...] = ()
    """Overrides of ``lifecycle.DEFAULT_BILLING_WEIGHTS`` (share of a running servant's price per status)."""
    initial_owner: str = "nova"
    """Who owns the initial servants: ``nova`` (ARCA-managed servers) or ``osm`` (the NS's relay VDUs)."""
    osm_scaling_aspects: tuple[tuple[str, int], ...] = (("relay-scaling", 1),)
    """The OSM relay VNFD's scaling aspects (name, relays added per operation): Ukko's one-VDU aspect by
    default; an admin may onboard a VNFD with more (``arca/testbed/osm.py``)."""


@dataclass
class Servant:
    """A servant VM (a Nova server, possibly an OSM VNF's VDU)."""

    id: str
    name: str
    created_s: float
    boot_delay_s: float
    metadata: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    image_id: str = ""
    flavor_id: str = ""
    network_id: str = ""
    ip: str = ""
    status: str = BUILD
    task_state: str | None = None
    """Nova's task_state while a server action runs (``lifecycle``), else None."""
    never_active: bool = False
    active_s: float | None = None
    died_s: float | None = None
    deleted_s: float | None = None
    owner: str = "nova"
    """``nova`` (created through the compute API) or ``osm`` (a VNF instance's VDU)."""
    pools: set[str] = field(default_factory=set)
    util: list[tuple[float, float]] = field(default_factory=list)
    """(time, CPU utilisation 0..1) per step while the servant is ACTIVE."""


@dataclass(frozen=True)
class Record:
    """Accounting of one step ``[t, t + dt)``."""

    t: float
    dt: float
    demand: dict[str, float]
    """Offered req/s per building."""
    served: dict[str, float]
    """Requests served during the step, per building."""
    discarded: dict[str, float]
    """Requests discarded during the step, per building."""
    queue: dict[str, float]
    """Requests waiting at the end of the step, per building."""
    capacity_rps: float
    existing: int
    booting: int
    active: int
    eligible: int
    utilisation: float
    required: int
    """Servants the actual demand needs at the high threshold (the oracle's target)."""
    standby: int = 0
    """Servants standing by (``lifecycle.STANDBY_STATUSES``), not in ``existing``."""
    weighted: float = 0.0
    """Sum of the billing weights of every servant not deleted (1.0 per running one)."""

    @property
    def demand_total(self) -> float:
        return sum(self.demand.values())

    @property
    def offered(self) -> float:
        return self.demand_total * self.dt


@dataclass(frozen=True)
class TestbedEvent:
    """Something that happened in the model, for emitters (notifications, webhooks, detectors)."""

    kind: str
    """servant.created | servant.active | servant.deleted | servant.died | incident | failure."""
    t: float
    time: datetime
    servant: Servant | None = None
    incident: Incident | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[TestbedEvent], None]


class TestbedModel:
    """The emulated infrastructure of the reference scenario."""

    __test__ = False  # not a pytest class

    def __init__(
        self,
        timeline: Timeline,
        params: ModelParams | None = None,
        start: datetime | None = None,
        clock: SimClock | None = None,
    ) -> None:
        self.timeline = timeline
        self.params = params or ModelParams()
        if clock is not None and start is None:
            start = clock.now()
        self.start = start or DEFAULT_START
        self.clock = clock
        self.demand = Demand(timeline, self.params.noise_sd, self.params.noise_clip)
        self.t = 0.0
        self.lock = threading.RLock()
        self.servants: dict[str, Servant] = {}
        self.records: list[Record] = []
        self.queue = dict.fromkeys(BUILDINGS, 0.0)
        self.cumulative = {
            b: {"requests": 0.0, "served": 0.0, "discarded": 0.0, "rate_max": 0.0} for b in BUILDINGS
        }
        """Per building: requests offered, served, discarded so far; highest offered rate (req/s)."""
        self.listeners: list[Listener] = []
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._pending: list[TestbedEvent] = []
        self._ip = itertools.count(10)
        self._names = itertools.count(1)
        self._ids = random.Random(timeline.seed)
        self.step_hooks: list[Callable[[], None]] = []
        """Called under the lock after every step (the OSM layer progresses its operations here)."""
        self.action_delay: Callable[[str, Servant], float] | None = None
        """Optional hook: simulated seconds a server action takes (default: ``action_duration``)."""
        self.never_active_next = 0
        """Fault injection: the next N servants created stay in BUILD forever."""
        for inc in timeline.incidents:
            self.schedule(inc.at_s, functools.partial(self._incident, inc))
        for fail in timeline.failures:
            self.schedule(fail.at_s, functools.partial(self._fail, fail.servants))
        for _ in range(self.params.initial_servants):
            s = self.create_servant(
                f"arca-{self.params.system}-{next(self._names)}",
                boot_delay_s=0.0,
                metadata={"arca_system": self.params.system},
                tags=["arca-managed"],
            )
            self._activate(s.id)
        self._pending.clear()

    # -- time -----------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def time_of(self, t_s: float) -> datetime:
        return self.start + timedelta(seconds=t_s)

    def seconds_of(self, when: datetime) -> float:
        return (when - self.start).total_seconds()

    @property
    def finished(self) -> bool:
        return self.t >= self.timeline.duration_s - 1e-9

    def schedule(self, at_s: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` (under the lock) when the model reaches ``at_s``."""
        with self.lock:
            heapq.heappush(self._agenda, (at_s, next(self._seq), fn))

    def advance(self, seconds: float) -> None:
        """Move forward ``seconds`` (in steps of at most ``step_s``)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self.advance_to(self.t + seconds)

    def advance_to(self, t_s: float) -> None:
        while True:
            with self.lock:
                if self.t >= t_s - 1e-9:
                    break
                dt = min(self.params.step_s, t_s - self.t)
                self._step(dt)
                events, self._pending = self._pending, []
            if self.clock is not None:
                self.clock.set(max(self.clock.now(), self.now()))
            self._dispatch(events)

    def sync(self, when: datetime) -> None:
        """Advance to the wall/sim time ``when`` (for a clock advanced by someone else)."""
        self.advance_to(self.seconds_of(when))

    def run(self) -> None:
        """Play the whole timeline."""
        self.advance_to(self.timeline.duration_s)

    def _run_agenda(self, until: float) -> None:
        while self._agenda and self._agenda[0][0] <= until + 1e-9:
            _, _, fn = heapq.heappop(self._agenda)
            fn()

    def _step(self, dt: float) -> None:
        self._run_agenda(self.t)
        t = self.t
        demand = self.demand.at(t)
        eligible = self.eligible_servants()
        cap = len(eligible) * self.params.capacity_rps
        need = {b: self.queue[b] + demand[b] * dt for b in BUILDINGS}
        total_need = sum(need.values())
        budget = cap * dt
        served: dict[str, float] = {}
        discarded: dict[str, float] = {}
        for b in BUILDINGS:
            share = need[b] if total_need <= budget else budget * need[b] / total_need
            served[b] = share
            left = need[b] - share
            discarded[b] = max(0.0, left - self.params.queue_limit)
            self.queue[b] = left - discarded[b]
        total_served = sum(served.values())
        util = total_served / budget if budget > 0 else 0.0
        eligible_ids = {s.id for s in eligible}
        for s in self.servants.values():
            if s.status == ACTIVE:
                s.util.append((t, util if s.id in eligible_ids else 0.01))
        alive = [s for s in self.servants.values() if s.status != DELETED]
        existing = [s for s in alive if s.status not in lifecycle.STANDBY_STATUSES]
        weights = {**lifecycle.DEFAULT_BILLING_WEIGHTS, **dict(self.params.billing_weights)}
        for b in BUILDINGS:
            cum = self.cumulative[b]
            cum["requests"] += demand[b] * dt
            cum["served"] += served[b]
            cum["discarded"] += discarded[b]
            cum["rate_max"] = max(cum["rate_max"], demand[b])
        self.records.append(
            Record(
                t=t,
                dt=dt,
                demand=demand,
                served=served,
                discarded=discarded,
                queue=dict(self.queue),
                capacity_rps=cap,
                existing=len(existing),
                booting=sum(1 for s in existing if s.status == BUILD),
                active=sum(1 for s in existing if s.status == ACTIVE),
                eligible=len(eligible),
                utilisation=util,
                required=self.demand.required_servants(
                    t, self.params.high_threshold, self.params.capacity_rps
                ),
                standby=len(alive) - len(existing),
                weighted=sum(weights.get(s.status, 1.0) for s in alive),
            )
        )
        self.t = t + dt
        self._run_agenda(self.t - 1e-9)
        for hook in self.step_hooks:
            hook()

    # -- listeners --------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def emit(
        self, kind: str, servant: Servant | None = None, incident: Incident | None = None, **data: Any
    ) -> None:
        self._pending.append(TestbedEvent(kind, self.t, self.now(), servant, incident, data))

    def _dispatch(self, events: list[TestbedEvent]) -> None:
        for ev in events:
            for listener in list(self.listeners):
                listener(ev)

    def flush_events(self) -> None:
        """Deliver events produced by API calls (outside ``advance``)."""
        with self.lock:
            events, self._pending = self._pending, []
        self._dispatch(events)

    # -- servants ---------------------------------------------------------------------------------
    def create_servant(
        self,
        name: str,
        *,
        boot_delay_s: float | None = None,
        metadata: dict[str, str] | None = None,
        tags: list[str] | None = None,
        image_id: str = "",
        flavor_id: str = "",
        network_id: str = "",
        never_active: bool = False,
        owner: str = "nova",
    ) -> Servant:
        """Create a servant in BUILD; it becomes ACTIVE after its boot delay (unless faulty)."""
        with self.lock:
            meta = dict(metadata or {})
            if meta.get("testbed_never_active", "").lower() in ("1", "true", "yes"):
                never_active = True
            if self.never_active_next > 0:
                self.never_active_next -= 1
                never_active = True
            delay = self.params.boot_delay_s if boot_delay_s is None else boot_delay_s
            n = next(self._ip)
            s = Servant(
                id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
                name=name,
                created_s=self.t,
                boot_delay_s=delay,
                metadata=meta,
                tags=list(tags or []),
                image_id=image_id,
                flavor_id=flavor_id,
                network_id=network_id,
                ip=f"10.1.{n // 250}.{n % 250 + 2}",
                never_active=never_active,
                owner=owner,
            )
            self.servants[s.id] = s
            self.emit("servant.created", s)
            if not never_active:
                self.schedule(self.t + delay, lambda: self._activate(s.id))
            return s

    def _activate(self, sid: str) -> None:
        s = self.servants.get(sid)
        if s is None or s.status != BUILD:
            return
        s.status = ACTIVE
        s.active_s = self.t
        self.emit("servant.active", s)

    def delete_servant(self, sid: str) -> Servant:
        with self.lock:
            s = self.servants[sid]
            if s.status != DELETED:
                s.status = DELETED
                s.deleted_s = self.t
                s.pools.clear()
                self.emit("servant.deleted", s)
            return s

    def action_duration(self, action: str, s: Servant) -> float:
        """Simulated seconds ``action`` takes on ``s``: the hook, else the overrides, else the defaults."""
        if self.action_delay is not None:
            return self.action_delay(action, s)
        if action == "unshelve":
            return self.params.boot_delay_s
        return dict(self.params.action_durations_s).get(action, lifecycle.DEFAULT_DURATIONS_S[action])

    def server_action(self, sid: str, action: str) -> Servant:
        """Start a Nova server action (``lifecycle.TRANSITIONS``); ``lifecycle.Conflict`` if not allowed."""
        with self.lock:
            s = self.servants[sid]
            t = lifecycle.check(action, sid, s.status, s.task_state)
            s.task_state = t.task_state
            if t.transient_status:
                s.status = t.transient_status
            self.emit("servant.action", s, action=action, phase="start")
            self.schedule(self.t + self.action_duration(action, s), functools.partial(self._finish, sid, t))
            return s

    def _finish(self, sid: str, t: lifecycle.Transition) -> None:
        s = self.servants.get(sid)
        if s is None or s.status == DELETED or s.task_state != t.task_state:
            return  # deleted (or killed and reset) meanwhile
        s.task_state = None
        s.status = t.to
        self.emit("servant.action", s, action=t.action, phase="end", status=t.to)
        if t.then:
            self.server_action(sid, t.then)

    def kill_servant(self, sid: str) -> Servant:
        """The servant's VM dies (status ERROR); it stays until deleted."""
        with self.lock:
            s = self.servants[sid]
            if s.status in (BUILD, ACTIVE):
                s.status = ERROR
                s.task_state = None
                s.died_s = self.t
                self.emit("servant.died", s)
            return s

    def _fail(self, n: int) -> None:
        victims = sorted(
            (s for s in self.servants.values() if s.status == ACTIVE), key=lambda s: (s.active_s or 0.0, s.id)
        )[:n]
        self.emit("failure", data={"servants": n, "killed": [v.id for v in victims]})
        for v in victims:
            self.kill_servant(v.id)

    def _incident(self, inc: Incident) -> None:
        self.emit("incident", incident=inc)

    def live_servants(self) -> list[Servant]:
        with self.lock:
            return [s for s in self.servants.values() if s.status != DELETED]

    def eligible_servants(self) -> list[Servant]:
        with self.lock:
            return [
                s
                for s in self.servants.values()
                if s.status == ACTIVE and (s.pools or not self.params.require_pool_membership)
            ]

    # -- telemetry ------------------------------------------------------------------------------
    def cpu_measures(
        self, sid: str, start_s: float | None = None, granularity_s: float | None = None
    ) -> list[tuple[float, float]]:
        """Mean CPU utilisation (0..1) per complete telemetry window of a servant: (window start, mean)."""
        g = granularity_s or self.params.telemetry_granularity_s
        with self.lock:
            s = self.servants[sid]
            windows: dict[int, list[float]] = {}
            for t, u in s.util:
                windows.setdefault(int(t // g), []).append(u)
            out = []
            for k in sorted(windows):
                w0 = k * g
                if w0 + g > self.t + 1e-9:
                    continue  # window not complete yet
                if start_s is not None and w0 < start_s - 1e-9:
                    continue
                vals = windows[k]
                out.append((w0, sum(vals) / len(vals)))
            return out

    def required_servants(self, t_s: float | None = None) -> int:
        """Servants the actual demand at ``t_s`` (default: now) needs at the high threshold (the oracle's)."""
        t = self.t if t_s is None else t_s
        return self.demand.required_servants(t, self.params.high_threshold, self.params.capacity_rps)

    def last_record(self) -> Record | None:
        with self.lock:
            return self.records[-1] if self.records else None

    def lb_counters(self, building: str) -> dict[str, float]:
        """Cumulative counters of one building's load balancer (HAProxy stats)."""
        with self.lock:
            cum = self.cumulative[building]
            last = self.records[-1] if self.records else None
            return {
                "requests": cum["requests"],
                "served": cum["served"],
                "discarded": cum["discarded"],
                "rate_max": cum["rate_max"],
                "queue": last.queue[building] if last else 0.0,
                "rate": last.demand[building] if last else 0.0,
                "eligible": float(len(self.eligible_servants())),
            }
