"""A tiny closed-loop plant for the decider's tests: demand bursts, servants that boot, telemetry.

Independent of the testbed on purpose (the tests of the algorithm must not depend on its
calibration): an incident of severity ``s`` raises every one of 300 clients from 0.1 req/s to ``s``
req/s along a delayed burst (nothing for 10 s, peak at 17 s, gone by ``30 + 2.5 s`` s). A servant
serves ``CAPACITY`` req/s at 100 % CPU and becomes active ``boot_s`` after it is asked for.
Telemetry (CPU per servant, request and discard rate) is published every ``period_s`` seconds,
averaged over the period, through the real analyzer and decider services on the in-process bus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from arca.analyzer.service import AnalyzerService
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.service import DeciderService
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.messages import Decision, ExternalEvent, Message, Observation, TopologyChange
from arca.service import Deps

CAPACITY = 210.0
CLIENTS = 300
T0 = datetime(2026, 1, 1, tzinfo=UTC)
ONSET, PEAK = 10.0, 17.0
"""Extra demand starts ONSET s after an incident (a servant boots in 10 s) and peaks at PEAK s."""


def envelope(severity: int, elapsed: float) -> float:
    end = 30.0 + 2.5 * severity
    if severity <= 0 or elapsed <= ONSET or elapsed >= end:
        return 0.0
    if elapsed < PEAK:
        x = (elapsed - ONSET) / (PEAK - ONSET)
        return 1.0 - (1.0 - x) ** 3
    return 0.5 * (1.0 + math.cos(math.pi * (elapsed - PEAK) / (end - PEAK)))


def demand(incidents: list[tuple[float, int]], t: float) -> float:
    rate = 0.1
    for at, sev in incidents:
        if at <= t:
            rate += (sev - 0.1) * envelope(sev, t - at)
    return min(rate, 4.0) * CLIENTS


def need(rps: float, high: float = 0.7) -> int:
    return max(1, math.ceil(rps / (high * CAPACITY) - 1e-9))


@dataclass
class Result:
    requests: float = 0.0
    discarded: float = 0.0
    servant_seconds: float = 0.0
    oracle_seconds: float = 0.0
    decisions: list[Decision] = field(default_factory=list)

    @property
    def discard_ratio(self) -> float:
        return self.discarded / self.requests if self.requests else 0.0

    @property
    def cost_vs_oracle(self) -> float:
        return self.servant_seconds / self.oracle_seconds


class Plant:
    """Servants, demand and telemetry around the real analyzer + decider services."""

    def __init__(self, kb: KnowledgeBase | None = None, settings: ArcaSettings | None = None,
                 boot_s: float = 10.0, period_s: float = 10.0, start: datetime = T0) -> None:
        self.bus = InMemoryBus()
        self.kb = kb or EmbeddedKnowledgeBase()
        self.clock = SimClock(start)
        self.settings = settings or ArcaSettings()
        deps = Deps(self.bus, self.kb, self.clock, self.settings)
        self.analyzer = AnalyzerService(deps)
        self.decider = DeciderService(deps)
        self.analyzer.attach()
        self.decider.attach()
        self.decisions: list[Decision] = []
        self.bus.subscribe("test.decisions", ["decision.#"], self._on_decision)
        self.boot_s, self.period_s = boot_s, period_s
        self.start = start
        self.active: list[str] = []
        self.booting: list[tuple[float, str]] = []
        self.desired = 1
        self.serial = 0
        self.util: dict[str, list[float]] = {}
        self.offered: list[float] = []
        self.dropped: list[float] = []
        self.trace = False

    def _on_decision(self, message: Message) -> None:
        assert isinstance(message, Decision)
        self.decisions.append(message)
        self.desired = message.target_servants

    def at(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def publish(self, message: Message) -> None:
        self.bus.publish(message)

    def _new_server(self, t: float) -> None:
        self.serial += 1
        sid = f"srv-{self.serial}"
        self.booting.append((t + self.boot_s, sid))
        self.topology(self.at(t), sid, "building")

    def topology(self, at: datetime, sid: str, state: str) -> None:
        self.publish(TopologyChange(event_time=at, system="emergency", server_id=sid, state=state))  # type: ignore[arg-type]

    def boot(self, n: int) -> None:
        """Start with ``n`` active servants."""
        for _ in range(n):
            self.serial += 1
            sid = f"srv-{self.serial}"
            self.active.append(sid)
            self.topology(self.at(0), sid, "active")

    def run(self, incidents: list[tuple[float, int]], duration_s: float, t_from: float = 0.0,
            oracle_high: float = 0.7) -> Result:
        res = Result()
        announced = set()
        t = t_from
        while t < t_from + duration_s:
            now = self.at(t)
            self.clock.set(now)
            for at, sev in incidents:
                if at <= t and (at, sev) not in announced:
                    announced.add((at, sev))
                    self.publish(ExternalEvent(event_time=self.at(at), event_id=f"inc-{at:g}",
                                               source="seismo-1", onset=self.at(at), payload_kind="basic",
                                               severity=sev, domain="building-2"))
            # servants finishing their boot
            for ready, sid in [b for b in self.booting if b[0] <= t]:
                self.booting.remove((ready, sid))
                self.active.append(sid)
                self.topology(now, sid, "active")
            # reconcile with the last decision (booting first when scaling in)
            total = len(self.active) + len(self.booting)
            while total < self.desired:
                self._new_server(t)
                total += 1
            while total > self.desired and (self.booting or len(self.active) > 1):
                if self.booting:
                    self.booting.pop()
                else:
                    sid = self.active.pop()
                    self.topology(now, sid, "deleted")
                total -= 1
            # one second of traffic
            d = demand(incidents, t + 0.5)
            cap = len(self.active) * CAPACITY
            served = min(d, cap)
            res.requests += d
            res.discarded += d - served
            if self.trace:
                print(f"t={t:.0f} demand={d:.0f} need={need(d)} active={len(self.active)} "
                      f"booting={len(self.booting)} desired={self.desired} lost={d - served:.0f}")
            res.servant_seconds += len(self.active) + len(self.booting)
            res.oracle_seconds += max(need(demand(incidents, x + 0.5), oracle_high)
                                      for x in range(int(t), int(t + self.boot_s) + 1))
            for sid in self.active:
                self.util.setdefault(sid, []).append(served / cap if cap else 0.0)
            self.offered.append(d)
            self.dropped.append(d - served)
            t += 1.0
            if int(t) % int(self.period_s) == 0:
                self._telemetry(self.at(t))
            self.analyzer.tick(self.at(t))
            self.decider.tick(self.at(t))
        res.decisions = list(self.decisions)
        return res

    def _telemetry(self, now: datetime) -> None:
        n = int(self.period_s)
        for sid in self.active:
            values = self.util.get(sid, [])[-n:]
            if values:
                start = now - timedelta(seconds=self.period_s)  # Gnocchi stamps the window's start
                self.publish(Observation(event_time=start, system="emergency", metric="cpu_util",
                                         value=sum(values) / len(values), resource=sid))
        offered, dropped = self.offered[-n:], self.dropped[-n:]
        self.util = {}
        self.offered, self.dropped = [], []
        for metric, values in (("request_rate", offered), ("discard_rate", dropped)):
            self.publish(Observation(event_time=now, system="emergency", metric=metric,
                                     value=sum(values) / max(1, len(values)), resource="lb-2",
                                     domain="building-2"))
