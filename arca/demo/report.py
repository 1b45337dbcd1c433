"""The demo's outputs: the comparison table (terminal) and the JSON document."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from arca.demo.metrics import RunMetrics


def _fmt(value: float | None, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def table(metrics: Mapping[str, RunMetrics], timeline: str = "") -> str:
    """A fixed-width table, one line per strategy."""
    head = (f"{'strategy':<16}{'discard %':>10}{'servant-s':>11}{'vs oracle':>10}{'peak':>6}"
            f"{'reaction s':>12}{'wall s':>8}")
    lines = [f"timeline: {timeline}" if timeline else "", head, "-" * len(head)]
    for name, m in metrics.items():
        lines.append(
            f"{name:<16}{m.discard_ratio * 100:>10.3f}{m.servant_seconds:>11.0f}"
            f"{_fmt(m.cost_vs_oracle, '.3f'):>10}{m.peak_servants:>6}"
            f"{_fmt(m.mean_reaction_s, '.1f'):>12}{m.wall_s:>8.2f}"
        )
    lines.append("reaction s: mean time from an incident to the first extra servant in service "
                 "('-': capacity never grew)")
    return "\n".join(line for line in lines if line != "" or False)


def document(metrics: Mapping[str, RunMetrics], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--json`` document: ``{"strategies": {name: {...}}, ...meta}``.

    Per strategy, besides the metrics: ``discard_pct``; and when ``oracle-notified`` ran,
    ``discard_vs_notified`` (discard / that of ``oracle-notified``; ``None`` when it discards nothing)
    and ``discard_pts_over_notified`` (percentage points above it).
    """
    strategies = {}
    floor = metrics.get("oracle-notified")
    for name, m in metrics.items():
        vs_floor: dict[str, Any] = {}
        if floor is not None:
            vs_floor = {
                "discard_vs_notified": (round(m.discard_ratio / floor.discard_ratio, 4)
                                        if floor.discard_ratio else None),
                "discard_pts_over_notified": round((m.discard_ratio - floor.discard_ratio) * 100, 4),
            }
        strategies[name] = {
            "discard_pct": round(m.discard_ratio * 100, 4),
            **vs_floor,
            "discard_ratio": m.discard_ratio,
            "servant_seconds": m.servant_seconds,
            "cost_vs_oracle": m.cost_vs_oracle,
            "requests_total": m.requests_total,
            "requests_discarded": m.requests_discarded,
            "peak_servants": m.peak_servants,
            "reaction_s": list(m.reaction_s),
            "mean_reaction_s": m.mean_reaction_s,
            "wall_s": m.wall_s,
            **m.extra,
        }
    return {"strategies": strategies, **meta}


def timeline_facts(timeline: Any) -> dict[str, Any]:
    """What a timeline holds, for the JSON document: counts, overlaps and imperfect detectors."""
    incidents = list(timeline.incidents)
    overlapping = sum(1 for a, b in itertools.pairwise(incidents) if b.at_s - a.at_s < 35)
    return {
        "duration_s": timeline.duration_s,
        "incidents": len(incidents),
        "overlapping_pairs": overlapping,
        "failures": sum(f.servants for f in timeline.failures),
        "false_alarms": len(timeline.false_alarms),
        "missed": sum(1 for i in incidents if i.detector.missed),
        "severity_errors": sum(1 for i in incidents if i.detector.severity_error),
        "late": sum(1 for i in incidents if i.detector.delay_s > 0),
    }


def write_json(path: str, doc: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
