"""What the demo measures of one run, from the testbed's per-step accounting (pure functions).

Discard ratio = requests discarded / requests offered; servant-seconds integrate every servant
that exists and is not standing by (booting, in service or dead-but-not-deleted: what a cloud bills
in full); standby-seconds integrate the warm pool's servants; the weighted cost integrates every
servant's billing weight (``arca.testbed.lifecycle.DEFAULT_BILLING_WEIGHTS``: 1 running, 0.1 stopped...);
the reaction time
of an incident is from its onset to the first step where more servants are in service than at
the onset (None when capacity never grows within ``window_s``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol


class StepRecord(Protocol):
    """One step of the testbed's accounting (``arca.testbed.model.Record``)."""

    t: float
    dt: float
    demand: Mapping[str, float]
    discarded: Mapping[str, float]
    capacity_rps: float
    existing: int
    eligible: int


@dataclass(frozen=True)
class RunMetrics:
    """The numbers of one strategy on one timeline."""

    requests_total: float
    requests_discarded: float
    discard_ratio: float
    servant_seconds: float
    peak_servants: int
    reaction_s: tuple[float | None, ...] = ()
    cost_vs_oracle: float | None = None
    wall_s: float = 0.0
    standby_seconds: float = 0.0
    weighted_cost: float = 0.0
    weighted_cost_vs_oracle: float | None = None
    peak_standby: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_reaction_s(self) -> float | None:
        known = [r for r in self.reaction_s if r is not None]
        return sum(known) / len(known) if known else None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["reaction_s"] = list(self.reaction_s)
        out["mean_reaction_s"] = self.mean_reaction_s
        return out


def measure(records: Sequence[Any], incident_times: Sequence[float] = (),
            window_s: float = 60.0) -> RunMetrics:
    """Metrics of one run from its step records."""
    total = sum(sum(r.demand.values()) * r.dt for r in records)
    dropped = sum(sum(r.discarded.values()) for r in records)
    servant_s = sum(r.existing * r.dt for r in records)
    peak = max((r.existing for r in records), default=0)
    standby_s = sum(getattr(r, "standby", 0) * r.dt for r in records)
    weighted = sum(getattr(r, "weighted", r.existing) * r.dt for r in records)
    return RunMetrics(
        requests_total=round(total, 3), requests_discarded=round(dropped, 3),
        discard_ratio=round(dropped / total, 6) if total else 0.0,
        servant_seconds=round(servant_s, 3), peak_servants=peak,
        reaction_s=tuple(reaction_time(records, t, window_s) for t in incident_times),
        standby_seconds=round(standby_s, 3), weighted_cost=round(weighted, 3),
        peak_standby=max((getattr(r, "standby", 0) for r in records), default=0),
    )


def incident_discards(records: Sequence[Any], incident_times: Sequence[float],
                      window_s: float = 45.0) -> list[float]:
    """Discard ratio of each incident: over ``[onset, min(onset + window_s, next onset))``."""
    times = sorted(incident_times)
    out = []
    for i, start in enumerate(times):
        end = min(start + window_s, times[i + 1] if i + 1 < len(times) else start + window_s)
        inside = [r for r in records if start - 1e-9 <= r.t and r.t + r.dt <= end + 1e-9]  # [t, t + dt)
        total = sum(sum(r.demand.values()) * r.dt for r in inside)
        dropped = sum(sum(r.discarded.values()) for r in inside)
        out.append(round(dropped / total, 6) if total else 0.0)
    return out


def reaction_time(records: Sequence[StepRecord], onset_s: float, window_s: float = 60.0) -> float | None:
    """Seconds from ``onset_s`` to the first step with more servants in service than at the onset."""
    before = [r for r in records if r.t <= onset_s]
    if not before:
        return None
    base = before[-1].eligible
    for r in records:
        if onset_s < r.t <= onset_s + window_s and r.eligible > base:
            return round(r.t - onset_s, 3)
    return None


def with_cost(metrics: Mapping[str, RunMetrics], reference: str = "oracle") -> dict[str, RunMetrics]:
    """The same metrics with ``cost_vs_oracle`` (running + booting servant-seconds over the oracle's)
    and ``weighted_cost_vs_oracle`` (billing-weighted cost over the oracle's) filled in (when it ran)."""
    ref = metrics.get(reference)
    out = {}
    for name, m in metrics.items():
        cost = round(m.servant_seconds / ref.servant_seconds, 4) if ref and ref.servant_seconds else None
        weighted = round(m.weighted_cost / ref.weighted_cost, 4) if ref and ref.weighted_cost else None
        out[name] = RunMetrics(**{**asdict(m), "cost_vs_oracle": cost, "weighted_cost_vs_oracle": weighted,
                                  "reaction_s": m.reaction_s})
    return out
