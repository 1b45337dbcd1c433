"""The reference scenario of draft 7.2-7.4: topology, client demand and servant capacity (pure functions).

Four domains: ``hq`` hosts the servants; ``building-2..4`` host 100 clients and one load balancer
each. Clients send one request every 10 s (0.1 req/s, 30 req/s in all). An incident of severity
1-4 makes every client of the organisation raise its rate towards ``PEAK_CLIENT_RATE[severity]``
(4 req/s at severity 4: 1200 req/s in all) along a delayed burst: nothing for the first 5-8 s,
a rise that peaks at 15 s, a plateau that lasts longer at higher severities (and dips and
fluctuates at severity 4), a decay that is over by 25-35 s.

Servant capacity is calibrated (``SERVANT_CAPACITY_RPS``) so that, at the policy's high threshold
0.7: severity 3 ten seconds after the incident needs exactly 6 servants, and no severity ever needs
10 or more (the draft's MSA < 10, hard maximum 15). ``servants_needed`` is the noise-free function
the tests and the demo's oracle use; a run's actual demand adds seeded noise (see ``model``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DOMAINS: tuple[str, ...] = ("hq", "building-2", "building-3", "building-4")
"""Every domain of the reference topology."""
BUILDINGS: tuple[str, ...] = ("building-2", "building-3", "building-4")
"""Domains that host clients and a load balancer."""
SERVANT_DOMAIN = "hq"
LINKS: tuple[tuple[str, str], ...] = (
    ("hq", "building-2"),
    ("hq", "building-3"),
    ("hq", "building-4"),
    ("building-2", "building-3"),
    ("building-3", "building-4"),
)
"""Virtual links of the reference topology (undirected)."""

CLIENTS_PER_BUILDING = 100
BASE_CLIENT_RATE = 0.1
"""Requests per second of one client when nothing happens (one request every 10 s)."""
MAX_CLIENT_RATE = 4.0
"""Highest rate of one client (4 req/s: 1200 req/s for the 300 clients)."""
PEAK_CLIENT_RATE: dict[int, float] = {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0}
"""Per-client rate at the peak of the burst, by severity."""
SERVANT_CAPACITY_RPS = 210.0
"""Requests per second one ACTIVE servant serves at 100 % CPU (calibrated, see module docstring)."""
DEFAULT_HIGH_THRESHOLD = 0.7
SEVERITIES: tuple[int, ...] = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class BurstShape:
    """Timing of the burst of one severity (seconds after the incident)."""

    onset_s: float
    """No extra demand before this."""
    peak_s: float
    """End of the rise (the peak)."""
    hold_s: float
    """Plateau after the peak."""
    end_s: float
    """Extra demand is gone."""
    fluctuation: float
    """Depth (0..1) of the dips during plateau and decay (highest severities)."""


BURSTS: dict[int, BurstShape] = {
    1: BurstShape(onset_s=8.0, peak_s=15.0, hold_s=0.0, end_s=25.0, fluctuation=0.0),
    2: BurstShape(onset_s=6.0, peak_s=15.0, hold_s=2.0, end_s=27.0, fluctuation=0.0),
    3: BurstShape(onset_s=5.0, peak_s=15.0, hold_s=4.0, end_s=30.0, fluctuation=0.0),
    4: BurstShape(onset_s=5.0, peak_s=15.0, hold_s=7.0, end_s=35.0, fluctuation=0.15),
}


def _check_severity(severity: int) -> None:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")


def envelope(severity: int, elapsed_s: float) -> float:
    """Share (0..1) of the severity's extra client rate reached ``elapsed_s`` after the incident."""
    _check_severity(severity)
    if severity == 0:
        return 0.0
    b = BURSTS[severity]
    t = elapsed_s
    if t <= b.onset_s or t >= b.end_s:
        return 0.0
    if t < b.peak_s:
        x = (t - b.onset_s) / (b.peak_s - b.onset_s)
        return 1.0 - (1.0 - x) ** 3  # ease-out: steep rise, flat at the peak
    top = b.peak_s + b.hold_s
    if t <= top:
        value = 1.0
    else:
        x = (t - top) / (b.end_s - top)
        value = 0.5 * (1.0 + math.cos(math.pi * x))  # smooth decay to 0
    if b.fluctuation:
        # dips only (never above the peak): fluctuates with a 4 s period after the peak
        value *= 1.0 - b.fluctuation * 0.5 * (1.0 - math.cos(2.0 * math.pi * (t - b.peak_s) / 4.0))
    return value


def client_rate(severity: int, elapsed_s: float) -> float:
    """Mean request rate (req/s) of one client ``elapsed_s`` after an incident of ``severity``."""
    _check_severity(severity)
    if severity == 0:
        return BASE_CLIENT_RATE
    extra = PEAK_CLIENT_RATE[severity] - BASE_CLIENT_RATE
    return BASE_CLIENT_RATE + extra * envelope(severity, elapsed_s)


def mean_demand(severity: int, elapsed_s: float) -> float:
    """Mean total demand (req/s, all 300 clients) after one incident of ``severity`` (no noise)."""
    return client_rate(severity, elapsed_s) * CLIENTS_PER_BUILDING * len(BUILDINGS)


def servants_for(
    demand_rps: float,
    high_threshold: float = DEFAULT_HIGH_THRESHOLD,
    capacity_rps: float = SERVANT_CAPACITY_RPS,
    minimum: int = 1,
) -> int:
    """Fewest servants keeping utilisation at or below ``high_threshold`` for ``demand_rps``."""
    if not 0.0 < high_threshold <= 1.0:
        raise ValueError(f"high_threshold must be in (0, 1], got {high_threshold!r}")
    if demand_rps < 0:
        raise ValueError(f"demand_rps must be >= 0, got {demand_rps!r}")
    # a tiny tolerance keeps exact multiples (e.g. 2 x 147.0) from rounding up by float noise
    needed = math.ceil(demand_rps / (high_threshold * capacity_rps) - 1e-9)
    return max(minimum, needed)


def servants_needed(
    severity: int,
    elapsed_s: float,
    high_threshold: float = DEFAULT_HIGH_THRESHOLD,
    capacity_rps: float = SERVANT_CAPACITY_RPS,
) -> int:
    """Servants the mean demand needs ``elapsed_s`` after an incident, at ``high_threshold``.

    Calibration points: ``servants_needed(3, 10, 0.7) == 6``; below 10 for every severity and time.
    """
    return servants_for(mean_demand(severity, elapsed_s), high_threshold, capacity_rps)


def msa_table(high_threshold: float = DEFAULT_HIGH_THRESHOLD, horizon_s: int = 40) -> dict[int, list[int]]:
    """Servants needed per severity for each whole second 0..horizon_s (the figure of draft 7.4)."""
    return {
        s: [servants_needed(s, float(t), high_threshold) for t in range(horizon_s + 1)] for s in SEVERITIES
    }
