"""Per-system situation, pure: messages update a ``SystemView``; ``situation`` summarises it.

Everything is computed from event time (the time carried by each message), never wall time:

* servants active/booting — from ``TopologyChange`` (per server) and ``Enforcement`` (counts),
  whichever told us last;
* load — the latest ``cpu_util`` of each servant inside the telemetry window ending at the newest
  measurement; the average, the sum (servant-equivalents of work being done) and how many servants
  reported one (``servants_reporting``: active servants without a figure are *missing*);
* discard ratio — sum of ``discard_rate`` over sum of ``request_rate`` of the load balancers;
* demand in servant-equivalents — what the offered load would cost at 100 % CPU: the load
  balancers' offered request rate divided by a servant's capacity, itself estimated (EWMA) from the
  rounds where the set of servants did not change (served requests / CPU sum); before any such
  estimate, CPU sum / share of requests served. A servant that came up in the middle of a window
  reports a partial CPU average, so the request rate is the better measure of demand;
* incidents — announced by external events (severity, onset, elapsed), or detected from load alone
  (a sustained jump of demand over its quiet baseline, flagged ``detected_from_load``). The
  situation carries *every* incident still active (``Situation.incidents``), each expiring on its
  own ``incident_ttl_s`` after its onset; ``incident_*`` repeat the latest one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from arca.messages import ActiveIncident, Enforcement, ExternalEvent, Observation, Situation, TopologyChange


@dataclass(frozen=True)
class AnalyzerConfig:
    window_s: float = 10.0
    """Telemetry window the load is averaged over (one Gnocchi granularity)."""
    cpu_timestamp_at: Literal["start", "end"] = "start"
    """Which end of its window a ``cpu_util`` measure is stamped with (Gnocchi: the start)."""
    incident_ttl_s: float = 120.0
    """An announced incident is forgotten this long after its onset."""
    jump_factor: float = 3.0
    """Demand above ``jump_factor`` x its quiet baseline (and ``jump_min`` above it) is a jump."""
    jump_min: float = 0.5
    jump_rounds: int = 2
    """Consecutive telemetry rounds a jump must last to be detected as an incident."""
    baseline_alpha: float = 0.2
    """Weight of a new quiet round in the demand baseline (EWMA)."""
    capacity_alpha: float = 0.3
    """Weight of a new steady round in the per-servant capacity estimate (EWMA)."""


@dataclass
class Incident:
    incident_id: str
    severity: int
    onset: datetime
    source: str
    domain: str | None = None
    detected_from_load: bool = False


@dataclass
class SystemView:
    """What the analyzer knows about one controlled system."""

    system: str
    config: AnalyzerConfig = field(default_factory=AnalyzerConfig)
    servers: dict[str, str] = field(default_factory=dict)
    servers_time: datetime | None = None
    counts: tuple[int, int] | None = None
    counts_time: datetime | None = None
    cpu: dict[str, tuple[datetime, float]] = field(default_factory=dict)
    lb: dict[tuple[str, str], tuple[datetime, float]] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    newest_load: datetime | None = None
    published_load: datetime | None = None
    last_correlation: str | None = None
    baseline: float | None = None
    jump_since: datetime | None = None
    jump_rounds: int = 0
    changed_time: datetime | None = None
    """Last time the set of active servants changed."""
    capacity: float | None = None
    """Estimated requests per second one servant serves at 100 % CPU."""

    # -- updates -----------------------------------------------------------------------------------
    def observe(self, obs: Observation) -> bool:
        """Take one observation; True when it brings new load telemetry.

        Times are the *end* of the interval a value covers: a ``cpu_util`` measure stamped with the
        start of its window (Gnocchi's convention, ``cpu_timestamp_at="start"``) is shifted by one
        window; load-balancer rates are stamped at the poll that closes their interval.
        """
        t = obs.event_time
        if obs.metric == "cpu_util":
            if self.config.cpu_timestamp_at == "start":
                t = t + timedelta(seconds=self.config.window_s)
            key = obs.resource or "_"
            prev = self.cpu.get(key)
            if prev is None or prev[0] <= t:
                self.cpu[key] = (t, max(0.0, min(1.0, float(obs.value))))
        elif obs.metric in ("request_rate", "discard_rate", "served_rate", "queue_length"):
            lkey = (obs.metric, obs.resource or obs.domain or "_")
            lprev = self.lb.get(lkey)
            if lprev is None or lprev[0] <= t:
                self.lb[lkey] = (t, max(0.0, float(obs.value)))
        else:
            return False
        fresh = obs.metric in ("cpu_util", "request_rate") and (
            self.newest_load is None or t > self.newest_load)
        if fresh:
            self.newest_load = t
        self.last_correlation = obs.correlation_id
        return fresh

    def topology(self, change: TopologyChange) -> None:
        was_active = self.servers.get(change.server_id) == "active"
        if change.state in ("deleted", "error", "shutoff"):
            self.servers.pop(change.server_id, None)
            self.cpu.pop(change.server_id, None)
        else:
            self.servers[change.server_id] = change.state
        if was_active != (change.state == "active"):
            self.changed_time = change.event_time
        self.servers_time = change.event_time

    def enforcement(self, enf: Enforcement) -> None:
        t = enf.finished_at or enf.event_time
        if self.counts_time is None or t >= self.counts_time:
            if self.counts is None or self.counts[0] != enf.active_servants:
                self.changed_time = t
            self.counts = (enf.active_servants, enf.booting_servants)
            self.counts_time = t

    def announce(self, event: ExternalEvent) -> Incident | None:
        """Record (or cancel) an announced incident; returns it (None when cancelled)."""
        if event.cancelled:
            self.incidents.pop(event.event_id, None)
            return None
        inc = Incident(event.event_id, int(event.severity or 0), event.onset, event.source, event.domain)
        self.incidents[event.event_id] = inc
        for key in [k for k, v in self.incidents.items() if v.detected_from_load]:
            del self.incidents[key]  # a detector spoke: the load-detected guess is superseded
        return inc

    # -- reading -----------------------------------------------------------------------------------
    def servants(self) -> tuple[int, int]:
        """(active, booting), from whichever source spoke last."""
        counts_newer = self.servers_time is None or (
            self.counts_time is not None and self.counts_time >= self.servers_time)
        if self.counts is not None and counts_newer:
            return self.counts
        if self.servers_time is not None:
            active = sum(1 for s in self.servers.values() if s == "active")
            return active, sum(1 for s in self.servers.values() if s == "building")
        return len(self._window_cpu()), 0

    def _window_cpu(self) -> list[float]:
        if self.newest_load is None:
            return []
        start = self.newest_load - timedelta(seconds=self.config.window_s)
        active = {k for k, v in self.servers.items() if v == "active"} if self.servers_time else None
        return [v for k, (t, v) in self.cpu.items() if t > start and (active is None or k in active or
                                                                      k not in self.servers)]

    def _lb_sum(self, metric: str) -> float:
        if self.newest_load is None:
            return 0.0
        start = self.newest_load - timedelta(seconds=self.config.window_s)
        return sum(v for (m, _), (t, v) in self.lb.items() if m == metric and t > start)

    def load(self) -> tuple[float, float, float]:
        """(average load, discard ratio, demand in servant-equivalents) over the window."""
        cpu = self._window_cpu()
        average = sum(cpu) / len(cpu) if cpu else 0.0
        offered, discarded = self._lb_sum("request_rate"), self._lb_sum("discard_rate")
        ratio = min(1.0, discarded / offered) if offered > 0 else 0.0
        if self.capacity is not None and offered > 0:
            return average, ratio, offered / self.capacity
        served = max(0.05, 1.0 - ratio)
        demand = sum(cpu) / served if cpu else (1.0 if ratio > 0 else 0.0)
        return average, ratio, demand

    def close_round(self) -> None:
        """A telemetry round is complete: learn the servant capacity, look for load jumps."""
        if self.newest_load is None:
            return
        start = self.newest_load - timedelta(seconds=self.config.window_s)
        steady = self.changed_time is None or self.changed_time <= start
        # CPU and load-balancer figures must cover the same window (both close at newest_load)
        aligned = all(abs((t - self.newest_load).total_seconds()) <= 1.0
                      for t, _ in self.cpu.values() if t > start)
        steady = steady and aligned
        cpu = sum(self._window_cpu())
        offered, discarded = self._lb_sum("request_rate"), self._lb_sum("discard_rate")
        served = self._lb_sum("served_rate") or max(0.0, offered - discarded)
        if steady and cpu >= 0.05 and served > 0:
            sample = served / cpu
            a = self.config.capacity_alpha
            self.capacity = sample if self.capacity is None else self.capacity + a * (sample - self.capacity)
        self.detect_from_load(self.load()[2], self.newest_load)

    def active_incidents(self, now: datetime) -> list[Incident]:
        """Every incident still alive at ``now``, oldest onset first; each expires on its own
        (``incident_ttl_s`` after its onset)."""
        ttl = timedelta(seconds=self.config.incident_ttl_s)
        for key in [k for k, v in self.incidents.items() if now - v.onset > ttl]:
            del self.incidents[key]
        alive = [v for v in self.incidents.values() if v.onset <= now]
        return sorted(alive, key=lambda v: (v.onset, v.severity, v.incident_id))

    def active_incident(self, now: datetime) -> Incident | None:
        """The latest incident still alive (the most severe on ties): what ``incident_*`` repeat."""
        alive = self.active_incidents(now)
        if not alive:
            return None
        return max(alive, key=lambda v: (v.onset, v.severity))

    def detect_from_load(self, demand: float, at: datetime) -> None:
        """Track the quiet baseline and turn a sustained jump into a load-detected incident."""
        announced = any(not v.detected_from_load for v in self.incidents.values())
        base = self.baseline
        jump = base is not None and demand > max(base * self.config.jump_factor, base + self.config.jump_min)
        if jump:
            self.jump_rounds += 1
            self.jump_since = self.jump_since or at
            if (self.jump_rounds >= self.config.jump_rounds and not announced
                    and not any(v.detected_from_load for v in self.incidents.values())):
                ident = f"load-{self.system}-{self.jump_since.isoformat()}"
                self.incidents[ident] = Incident(ident, 0, self.jump_since, "load", None, True)
            return
        self.jump_rounds, self.jump_since = 0, None
        for key in [k for k, v in self.incidents.items() if v.detected_from_load]:
            del self.incidents[key]
        if not announced:
            self.baseline = demand if base is None else base + self.config.baseline_alpha * (demand - base)

    def situation(self, now: datetime, trigger: str, correlation_id: str | None = None) -> Situation:
        """The situation at ``now`` (event time)."""
        active, booting = self.servants()
        average, ratio, demand = self.load()
        alive = self.active_incidents(now)
        inc = max(alive, key=lambda v: (v.onset, v.severity)) if alive else None
        kwargs = {"correlation_id": correlation_id} if correlation_id else {}
        return Situation(
            event_time=now, producer="analyzer", system=self.system, servants_active=active,
            servants_booting=booting, average_load=average, discard_ratio=ratio,
            incident_severity=inc.severity if inc else 0,
            incident_id=inc.incident_id if inc else None,
            incident_source=inc.source if inc else None,
            incident_onset=inc.onset if inc else None,
            incident_elapsed_s=(now - inc.onset).total_seconds() if inc else None,
            detected_from_load=bool(inc and inc.detected_from_load),
            trigger=trigger,
            demand_servants=demand if self.newest_load is not None else None,
            load_time=self.newest_load,
            load_window_s=self.config.window_s if self.newest_load is not None else None,
            servants_reporting=len(self._window_cpu()) if self.newest_load is not None else None,
            incidents=tuple(ActiveIncident(incident_id=v.incident_id, severity=v.severity, onset=v.onset,
                                           source=v.source, domain=v.domain,
                                           detected_from_load=v.detected_from_load) for v in alive),
            **kwargs,
        )
