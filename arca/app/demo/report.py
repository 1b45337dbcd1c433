"""The demo's outputs: the comparison table (terminal) and the JSON document."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arca.app.demo.metrics import RunMetrics


def _fmt(value: float | None, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


@dataclass(frozen=True)
class Column:
    """One column of the table: its header, its key in the ``--json`` document, unit and meaning."""

    header: str
    key: str
    unit: str
    meaning: str
    width: int
    spec: str


COLUMNS: tuple[Column, ...] = (
    Column("discard %", "discard_ratio", "% of requests (JSON: fraction 0-1)",
           "requests dropped for lack of serving capacity / requests offered, whole timeline", 10, ".3f"),
    Column("servant-s", "servant_seconds", "servant x seconds",
           "every servant that exists and is not standing by (booting, in service, dead but not "
           "deleted) integrated over time: what a cloud bills in full", 11, ".0f"),
    Column("vs oracle", "cost_vs_oracle", "ratio",
           "servant-s / the clairvoyant oracle's servant-s (1.000 = the optimum's cost)", 10, ".3f"),
    Column("standby-s", "standby_seconds", "servant x seconds",
           "servants standing by in a warm pool (stopped) integrated over time; not in servant-s", 10, ".0f"),
    Column("w-cost vs", "weighted_cost_vs_oracle", "ratio",
           "billing-weighted cost (running 1, stopped 0.1 per servant-second: testbed/lifecycle.py) / "
           "the oracle's", 10, ".3f"),
    Column("peak", "peak_servants", "servants", "most servants existing at once", 6, "d"),
    Column("reaction s", "mean_reaction_s", "seconds",
           "mean time from an incident's onset to the first extra servant in service "
           "('-': capacity never grew within 60 s; per incident in JSON reaction_s)", 12, ".1f"),
    Column("wall s", "wall_s", "seconds (wall clock)",
           "real time the reference run took on this machine (training excluded)", 8, ".2f"),
)
"""The table's columns; ``legend()`` prints them under the table, ``document()`` puts them in the JSON
and ``docs/enforcer.md`` lists the same names."""

FIGURE_TERMS = ("MSA (figure): minimum servant amount, the floor the decider asks for (the oracles: "
                "servants the exact demand needs)",)


def _value(m: RunMetrics, col: Column) -> float | int | None:
    value = getattr(m, col.key)
    return value * 100 if col.key == "discard_ratio" else value


def table(metrics: Mapping[str, RunMetrics], timeline: str = "") -> str:
    """A fixed-width table, one line per strategy."""
    head = f"{'strategy':<16}" + "".join(f"{c.header:>{c.width}}" for c in COLUMNS)
    lines = [f"timeline: {timeline}"] if timeline else []
    lines += [head, "-" * len(head)]
    for name, m in metrics.items():
        lines.append(f"{name:<16}" + "".join(f"{_fmt(_value(m, c), c.spec):>{c.width}}" for c in COLUMNS))
    return "\n".join(lines)


def legend() -> str:
    """What each column means, with its unit and JSON key (printed under the table)."""
    width = max(len(c.header) for c in COLUMNS)
    lines = [f"{c.header:<{width}}  [{c.unit}; JSON {c.key}] {c.meaning}" for c in COLUMNS]
    return "\n".join(lines + list(FIGURE_TERMS))


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
            "standby_seconds": m.standby_seconds,
            "peak_standby": m.peak_standby,
            "weighted_cost": m.weighted_cost,
            "weighted_cost_vs_oracle": m.weighted_cost_vs_oracle,
            "requests_total": m.requests_total,
            "requests_discarded": m.requests_discarded,
            "peak_servants": m.peak_servants,
            "reaction_s": list(m.reaction_s),
            "mean_reaction_s": m.mean_reaction_s,
            "wall_s": m.wall_s,
            **m.extra,
        }
    columns = {c.key: {"header": c.header, "unit": c.unit, "meaning": c.meaning} for c in COLUMNS}
    return {"strategies": strategies, "columns": columns, **meta}


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


def check_writable(path: str, option: str, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output path that cannot be written, before the run (raises ``ValueError``).

    The check creates (and removes) a scratch file beside it: permissions alone do not tell, e.g.
    for root or a read-only mount."""
    import os
    import tempfile

    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise ValueError(f"{option} {path}: the file name must end with {' or '.join(suffixes)}")
    if p.is_dir():
        raise ValueError(f"{option} {path}: is a directory")
    parent = p.parent
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: directory {parent} does not exist")
    if p.exists():
        if not os.access(p, os.W_OK):
            raise ValueError(f"{option} {path}: not writable")
        return
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".arca-check-"):
            pass
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot write in {parent}: {exc.strerror}") from None
