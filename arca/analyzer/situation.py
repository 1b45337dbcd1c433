"""Per-system situation, pure: messages update a ``SystemView``; ``situation`` summarises it.

Everything is computed from event time (the time carried by each message), never wall time:

* servants active/booting — from ``TopologyChange`` (per server) and ``Enforcement`` (counts),
  whichever told us last;
* load — the ``cpu_util`` of the servants that reported the newest Gnocchi window (the CPU figures
  are judged against their *own* newest window, not against the load balancers' poll time: Gnocchi's
  newest point is up to a granularity plus a poll interval older than the LB statistics polled in
  the same round); the average over those servants and how many they are (``servants_reporting``:
  active servants without a figure are *missing*, never taken as idle). When the newest CPU window
  ended more than ``cpu_max_age_s`` before the round, no servant has a fresh figure: the load is
  **unknown** (``average_load`` None), not 0;
* discard ratio — sum of ``discard_rate`` over sum of ``request_rate`` of the load balancers;
* demand in servant-equivalents — what the offered load would cost at 100 % CPU: the load
  balancers' offered request rate divided by a servant's capacity, itself estimated (EWMA) from
  Gnocchi windows where every active servant reported and the set of servants did not change:
  requests served *over that same window* (the LB intervals overlapping it, weighted by the overlap)
  / CPU sum. Before any such estimate, CPU sum of the reporting servants / share of requests served
  (a lower bound when servants are missing); with neither, unknown (None). A servant that came up in
  the middle of a window reports a partial CPU average, so the request rate is the better measure;
* the window's peak demand (issue 23) — with ``request_rate_peak`` from every load balancer polled in
  the round (the collector's ``peak_interval_s``), the demand scaled by the sum of their peaks over the
  sum of their rates, at the mean of the peaks' times (``demand_peak_servants``, ``demand_peak_time``;
  the sum of the balancers' peaks bounds the peak of their sum: their noise is independent);
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

HISTORY = 8
LB_METRICS = ("request_rate", "discard_rate", "served_rate", "queue_length", "request_rate_peak")
"""The load balancers' metrics the view keeps (``request_rate_peak``: the window's peak, issue 23)."""
"""CPU windows per servant and polls per load balancer kept for the capacity estimate."""


@dataclass(frozen=True)
class AnalyzerConfig:
    window_s: float = 10.0
    """Telemetry window the load is averaged over (one Gnocchi granularity)."""
    cpu_timestamp_at: Literal["start", "end"] = "start"
    """Which end of its window a ``cpu_util`` measure is stamped with (Gnocchi: the start)."""
    cpu_max_age_s: float = 25.0
    """The newest CPU window must have ended at most this long before the round (the LB poll) for the
    CPU figures to count: one window for Gnocchi to close it, one poll interval for the collector to
    read it, and a margin for Ceilometer/Gnocchi processing. Older: the CPU load is unknown."""
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
    """Servant -> (end of its newest CPU window, CPU 0..1)."""
    cpu_history: dict[str, dict[datetime, float]] = field(default_factory=dict)
    """Servant -> the CPU of its last few windows, by window end (for the capacity estimate)."""
    lb: dict[tuple[str, str], tuple[datetime, float]] = field(default_factory=dict)
    lb_history: dict[tuple[str, str], list[tuple[datetime, float]]] = field(default_factory=dict)
    """(metric, load balancer) -> its last few (poll time, rate over the interval since the previous poll)."""
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
    capacity_window: datetime | None = None
    """End of the CPU window the capacity was last estimated from (each window is learned once)."""

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
            value = max(0.0, min(1.0, float(obs.value)))
            prev = self.cpu.get(key)
            if prev is None or prev[0] <= t:
                self.cpu[key] = (t, value)
            hist = self.cpu_history.setdefault(key, {})
            hist[t] = value
            for old in sorted(hist)[:-HISTORY]:
                del hist[old]
        elif obs.metric in LB_METRICS:
            lkey = (obs.metric, obs.resource or obs.domain or "_")
            value = max(0.0, float(obs.value))
            lprev = self.lb.get(lkey)
            if lprev is None or lprev[0] <= t:
                self.lb[lkey] = (t, value)
            rates = self.lb_history.setdefault(lkey, [])
            if all(when != t for when, _ in rates):
                rates.append((t, value))
                rates.sort()
                del rates[:-HISTORY]
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
            self.cpu_history.pop(change.server_id, None)
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

    def _active_ids(self) -> set[str] | None:
        """The servers the topology says are active (None: no topology news, every figure counts)."""
        return {k for k, v in self.servers.items() if v == "active"} if self.servers_time else None

    def _counted(self, key: str, active: set[str] | None) -> bool:
        return active is None or key in active or key not in self.servers

    def newest_cpu(self) -> datetime | None:
        """End of the newest CPU window any counted servant reported."""
        active = self._active_ids()
        ends = [t for k, (t, _) in self.cpu.items() if self._counted(k, active)]
        return max(ends) if ends else None

    def _window_cpu(self) -> list[float]:
        """The CPU of every counted servant that reported the newest CPU window (its figure is no
        older than that window), or nothing when that window is older than ``cpu_max_age_s``."""
        newest = self.newest_cpu()
        if newest is None or self.newest_load is None:
            return []
        if newest <= self.newest_load - timedelta(seconds=self.config.cpu_max_age_s):
            return []  # no servant has a fresh figure: unknown, not idle
        start = newest - timedelta(seconds=self.config.window_s)
        active = self._active_ids()
        return [v for k, (t, v) in self.cpu.items() if t > start and self._counted(k, active)]

    def _lb_sum(self, metric: str) -> float | None:
        """Sum of ``metric`` over the load balancers polled in the round's window (None: none was)."""
        if self.newest_load is None:
            return None
        start = self.newest_load - timedelta(seconds=self.config.window_s)
        fresh = [v for (m, _), (t, v) in self.lb.items() if m == metric and t > start]
        return sum(fresh) if fresh else None

    def _lb_over(self, metric: str, start: datetime, end: datetime) -> float | None:
        """Sum over the load balancers of ``metric``'s mean rate over ``[start, end]``: each poll's rate
        covers the interval since that LB's previous poll (the first one: one window), weighted by its
        overlap with ``[start, end]``. None when some LB's polls cover less than 80 % of it."""
        span = (end - start).total_seconds()
        keys = [k for k in self.lb_history if k[0] == metric]
        if span <= 0 or not keys:
            return None
        total = 0.0
        for key in keys:
            covered = weighted = 0.0
            before: datetime | None = None
            for t, rate in self.lb_history[key]:
                a = before if before is not None else t - timedelta(seconds=self.config.window_s)
                before = t
                overlap = (min(t, end) - max(a, start)).total_seconds()
                if overlap > 0:
                    covered += overlap
                    weighted += rate * overlap
            if covered < 0.8 * span:
                return None
            total += weighted / covered
        return total

    def load(self) -> tuple[float | None, float, float | None]:
        """(average load, discard ratio, demand in servant-equivalents) of the round; the average and
        the demand are None when unknown (no fresh CPU figure, no rate or capacity to tell)."""
        cpu = self._window_cpu()
        average = sum(cpu) / len(cpu) if cpu else None
        offered, discarded = self._lb_sum("request_rate"), self._lb_sum("discard_rate") or 0.0
        ratio = min(1.0, discarded / offered) if offered else 0.0
        if self.capacity is not None and offered is not None:
            return average, ratio, offered / self.capacity
        served = max(0.05, 1.0 - ratio)
        if cpu:
            return average, ratio, sum(cpu) / served
        # discarding with no CPU figure (no servant, or none reporting): at least one servant's worth
        return average, ratio, (1.0 if ratio > 0 else None)

    def peak(self, demand: float | None) -> tuple[float, datetime] | None:
        """The round's peak demand (servant-equivalents, scaled like ``demand``) and when it was, or None
        (no demand, or some load balancer polled in the round sent no peak within its window)."""
        if demand is None or self.newest_load is None:
            return None
        start = self.newest_load - timedelta(seconds=self.config.window_s)
        rates = {lb: v for (m, lb), (t, v) in self.lb.items() if m == "request_rate" and t > start}
        peaks = {lb: (t, v) for (m, lb), (t, v) in self.lb.items()
                 if m == "request_rate_peak" and start < t <= self.newest_load}
        offered = sum(rates.values())
        if not rates or set(peaks) != set(rates) or offered <= 0:
            return None
        top = sum(v for _, v in peaks.values())
        at = min(t for t, _ in peaks.values()) + sum(
            (t - min(t for t, _ in peaks.values()) for t, _ in peaks.values()), timedelta()) / len(peaks)
        return max(demand, demand * top / offered), at

    def close_round(self) -> None:
        """A telemetry round is complete: learn the servant capacity, look for load jumps."""
        if self.newest_load is None:
            return
        self.learn_capacity()
        demand = self.load()[2]
        if demand is not None:
            self.detect_from_load(demand, self.newest_load)

    def _reporters(self, end: datetime, active: set[str] | None) -> frozenset[str]:
        return frozenset(k for k, hist in self.cpu_history.items()
                         if end in hist and self._counted(k, active))

    def learn_capacity(self) -> None:
        """One capacity sample from the newest CPU window where every active servant reported, the set
        of servants did not change, and the LB polls cover the same window (EWMA).

        Without topology news the set is judged from the figures themselves: the same servants must
        have reported the window before and the window after (a servant booted during the window
        reports a partial average, undiluted: it would over-count the CPU), and no servant may have
        stopped reporting less than ``cpu_max_age_s`` before the window (a deleted server is no longer
        listed, so its last windows are never read: it served for an unknown while after its last
        figure)."""
        active_count = self.servants()[0]
        active = self._active_ids()
        ends = sorted({t for hist in self.cpu_history.values() for t in hist}, reverse=True)
        if not ends:
            return
        window = timedelta(seconds=self.config.window_s)
        lasts = {k: max(hist) for k, hist in self.cpu_history.items() if hist}
        for k in [k for k, last in lasts.items() if last < ends[0] - HISTORY * window]:
            del self.cpu_history[k]  # long gone
        stopped = [last for last in lasts.values() if last < ends[0]]
        quiet_from = max(stopped) + timedelta(seconds=self.config.cpu_max_age_s) if stopped else None
        for end in ends[:HISTORY]:
            if self.capacity_window is not None and end <= self.capacity_window:
                return  # learned from this window (or a newer one) already
            start = end - window
            if self.changed_time is not None and self.changed_time > start:
                continue  # servants came or went during the window
            if quiet_from is not None and start < quiet_from:
                continue  # a servant stopped reporting: it may have served during this window
            here = self._reporters(end, active)
            if not here or len(here) != active_count or not (
                    here == self._reporters(start, active) == self._reporters(end + window, active)):
                continue  # some servant did not report this window, or came or went around it
            figures = {k: self.cpu_history[k][end] for k in here}
            cpu = sum(figures.values())
            served = self._lb_over("served_rate", start, end)
            if served is None:
                offered = self._lb_over("request_rate", start, end)
                if offered is None:
                    continue
                served = max(0.0, offered - (self._lb_over("discard_rate", start, end) or 0.0))
            if cpu >= 0.05 and served > 0:
                sample = served / cpu
                a, known = self.config.capacity_alpha, self.capacity
                self.capacity = sample if known is None else known + a * (sample - known)
                self.capacity_window = end
            return

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
        known = self.newest_load is not None
        peak = self.peak(demand) if known else None
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
            demand_servants=demand if known else None,
            load_time=self.newest_load,
            load_window_s=self.config.window_s if known else None,
            demand_peak_servants=peak[0] if peak else None,
            demand_peak_time=peak[1] if peak else None,
            servants_reporting=len(self._window_cpu()) if known else None,
            incidents=tuple(ActiveIncident(incident_id=v.incident_id, severity=v.severity, onset=v.onset,
                                           source=v.source, domain=v.domain,
                                           detected_from_load=v.detected_from_load) for v in alive),
            **kwargs,
        )
