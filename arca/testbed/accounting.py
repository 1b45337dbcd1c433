"""Figures of a finished (or running) model: discard ratio, servant-seconds, peaks, reaction times.

Definitions (the demo's table uses them):
- ``requests_total`` offered requests; ``requests_discarded`` refused beyond capacity + queue room;
  ``discard_ratio`` = discarded / total (requests still queued at the end count as neither).
- ``servant_seconds`` = integral of the servants that exist (booting, active, or dead but not yet
  deleted), i.e. what a cloud bills; ``active_servant_seconds`` counts ACTIVE ones only.
- ``standby_seconds`` = integral of the servants standing by (a warm pool: SHUTOFF, SUSPENDED,
  PAUSED, SHELVED...), not in ``servant_seconds``; ``weighted_cost`` = integral of every servant's
  billing weight (``lifecycle.DEFAULT_BILLING_WEIGHTS``: 1 per running servant), in servant-seconds.
- ``peak_servants`` = most servants existing at once (standby excluded).
- ``time_to_first_extra_s`` per incident: from the incident to the first moment more servants are in
  service (eligible) than at the incident; ``None`` if that never happens before the next incident.
- ``oracle_servant_seconds`` = integral of the servants the actual demand needs (``Record.required``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from arca.testbed.model import Record, TestbedModel


@dataclass(frozen=True)
class Summary:
    requests_total: float
    requests_served: float
    requests_discarded: float
    discard_ratio: float
    servant_seconds: float
    active_servant_seconds: float
    standby_seconds: float
    weighted_cost: float
    oracle_servant_seconds: float
    peak_servants: int
    peak_required: int
    discarded_by_domain: dict[str, float]
    time_to_first_extra_s: list[float | None]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def summarize(model: TestbedModel) -> Summary:
    with model.lock:
        records: list[Record] = list(model.records)
    total = sum(r.offered for r in records)
    served = sum(sum(r.served.values()) for r in records)
    discarded_by: dict[str, float] = {}
    for r in records:
        for b, v in r.discarded.items():
            discarded_by[b] = discarded_by.get(b, 0.0) + v
    discarded = sum(discarded_by.values())
    reactions: list[float | None] = []
    incidents = model.timeline.incidents
    for i, inc in enumerate(incidents):
        horizon = incidents[i + 1].at_s if i + 1 < len(incidents) else float("inf")
        base = next((r.eligible for r in records if r.t >= inc.at_s - 1e-9), None)
        found: float | None = None
        if base is not None:
            for r in records:
                if r.t < inc.at_s - 1e-9:
                    continue
                if r.t >= horizon:
                    break
                if r.eligible > base:
                    found = r.t - inc.at_s
                    break
        reactions.append(found)
    return Summary(
        requests_total=total,
        requests_served=served,
        requests_discarded=discarded,
        discard_ratio=discarded / total if total else 0.0,
        servant_seconds=sum(r.existing * r.dt for r in records),
        active_servant_seconds=sum(r.active * r.dt for r in records),
        standby_seconds=sum(r.standby * r.dt for r in records),
        weighted_cost=sum(r.weighted * r.dt for r in records),
        oracle_servant_seconds=sum(r.required * r.dt for r in records),
        peak_servants=max((r.existing for r in records), default=0),
        peak_required=max((r.required for r in records), default=0),
        discarded_by_domain=discarded_by,
        time_to_first_extra_s=reactions,
    )
