"""Client demand of one run: the timeline's incidents plus seeded per-building noise (pure, per seed).

``Demand(timeline).at(t)`` gives the offered load (req/s) at each building's load balancer at
``t`` seconds into the run; it depends only on the timeline (incidents, seed) and ``t``, so an
oracle may look ahead. Noise is multiplicative per building and per whole second:
normal(1, ``noise_sd``) clipped to ``1 ± noise_clip``; overlapping incidents add their extra
client rates, capped at the 4 req/s a client can send.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np

from arca.testbed.scenario import (
    BASE_CLIENT_RATE,
    BUILDINGS,
    CLIENTS_PER_BUILDING,
    DEFAULT_HIGH_THRESHOLD,
    MAX_CLIENT_RATE,
    SERVANT_CAPACITY_RPS,
    client_rate,
    servants_for,
)
from arca.testbed.timeline import Timeline


class Demand:
    """Offered load per building at any time of a run."""

    def __init__(self, timeline: Timeline, noise_sd: float = 0.03, noise_clip: float = 0.06) -> None:
        self.timeline = timeline
        n = math.ceil(timeline.duration_s) + 2
        rng = np.random.default_rng(timeline.seed)
        raw = rng.normal(1.0, noise_sd, size=(len(BUILDINGS), n)) if noise_sd > 0 else np.ones((3, n))
        self._noise = np.clip(raw, 1.0 - noise_clip, 1.0 + noise_clip)

    def noise(self, building: str, t: float) -> float:
        k = math.floor(t)
        if k < 0 or k >= self._noise.shape[1]:
            return 1.0
        return float(self._noise[BUILDINGS.index(building), k])

    def client_rate(self, t: float, only: Collection[int] | None = None) -> float:
        """Mean rate of one client at ``t`` (every incident so far, capped at 4 req/s).

        ``only``: indices (in ``timeline.incidents``) of the incidents to count; ``None``: all of them.
        """
        rate = BASE_CLIENT_RATE
        for i, inc in enumerate(self.timeline.incidents):
            if inc.at_s > t:
                break
            if only is None or i in only:
                rate += client_rate(inc.severity, t - inc.at_s) - BASE_CLIENT_RATE
        return min(rate, MAX_CLIENT_RATE)

    def at(self, t: float, only: Collection[int] | None = None) -> dict[str, float]:
        """Offered requests per second at each building's load balancer at ``t`` (``only``: as above)."""
        base = self.client_rate(t, only) * CLIENTS_PER_BUILDING
        return {b: base * self.noise(b, t) for b in BUILDINGS}

    def total(self, t: float, only: Collection[int] | None = None) -> float:
        return sum(self.at(t, only).values())

    def required_servants(
        self,
        t: float,
        high_threshold: float = DEFAULT_HIGH_THRESHOLD,
        capacity_rps: float = SERVANT_CAPACITY_RPS,
        only: Collection[int] | None = None,
    ) -> int:
        """Servants the actual (noisy) demand at ``t`` needs at ``high_threshold`` (the oracle).

        ``only``: count only these incidents' extra demand (the quiet demand and its noise always).
        """
        return servants_for(self.total(t, only), high_threshold, capacity_rps)

    def active_incident(self, t: float) -> tuple[int, float] | None:
        """(severity, elapsed) of the latest incident at or before ``t``, if any."""
        latest = None
        for inc in self.timeline.incidents:
            if inc.at_s > t:
                break
            latest = (inc.severity, t - inc.at_s)
        return latest
