"""The discard objective's trade-off (issue 23): ``arca-warm`` over a sweep of ``arca:discardObjective``.

    python -m arca.app.demo.tradeoff [--objective RATIO ...] [--figure PNG] [--json | -o FILE] [TIMELINE]
    python -m arca.app.demo.tradeoff --from-json FILE --figure PNG     (redraw a saved sweep)

Trains ``arca`` once on the training timeline, then plays the timeline (default: the reference one)
with ``arca-warm`` once per objective, stated as a target (``arca:discardObjectiveBound false``; the
demo's ``arca-warm`` states its 0.1 % as a bound), each from a copy of the trained knowledge base, and
with the references in the same run: the clairvoyant ``oracle``, ``oracle-notified`` (the floor of any
strategy driven by detector events) and the reactive peers (``arca-reactive``, ``threshold-repo``,
``proportional``). Prints, per run, the discard asked for and achieved and the weighted cost vs the
oracle; the figure plots discard against weighted cost, the sweep as one line, each point labelled
with the objective it asked for, the references as single points (log discard axis: 0 % is drawn
at the axis' floor and labelled so).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arca.app.demo.metrics import RunMetrics, with_cost
from arca.app.demo.report import write_json

PEERS = ("oracle", "oracle-notified", "arca-reactive", "threshold-repo", "proportional")
"""The references every sweep is measured beside (the same run)."""
OBJECTIVES = (0.001, 0.005, 0.01, 0.02)
"""Default sweep: 0.1 % to 2 % of the requests offered."""
FLOOR_PCT = 1e-3
"""Where a 0 % discard is drawn on the log axis (percent)."""


def label(objective: float) -> str:
    """The run name of ``arca-warm`` with ``objective`` (e.g. ``arca-warm@0.5%``)."""
    return f"arca-warm@{objective * 100:g}%"


@dataclass(frozen=True)
class Point:
    """One run of the sweep or one reference, as the figure draws it."""

    name: str
    discard_pct: float
    weighted_vs_oracle: float | None
    objective_pct: float | None = None


def points(metrics: Mapping[str, RunMetrics], objectives: Mapping[str, float]) -> list[Point]:
    """The figure's points from the runs' metrics (``with_cost`` applied) and each sweep run's objective."""
    out = []
    for name, m in metrics.items():
        objective = objectives.get(name)
        out.append(Point(name, m.discard_ratio * 100, m.weighted_cost_vs_oracle,
                         None if objective is None else objective * 100))
    return out


def sweep(timeline: str, objectives: Sequence[float], peers: Sequence[str] = PEERS,
          training: str = "training", log: Any = sys.stderr) -> dict[str, RunMetrics]:
    """Every run of the sweep and the references on ``timeline`` (with ``with_cost``)."""
    from arca.app.demo.harness import LEARNING, run
    from arca.app.demo.suite import _copy
    from arca.kb import EmbeddedKnowledgeBase
    from arca.testbed.timeline import load_timeline

    trained = EmbeddedKnowledgeBase()
    run("arca", load_timeline(training), kb=trained)
    tl = load_timeline(timeline)
    metrics: dict[str, RunMetrics] = {}
    for name in peers:
        kb = _copy(trained) if name in LEARNING else EmbeddedKnowledgeBase()
        metrics[name] = run(name, tl, kb=kb).metrics
        print(f"{timeline} {name}: discard {metrics[name].discard_ratio * 100:.3f} %", file=log)
    for objective in objectives:
        # a target the sweep can be measured against (+-20 %), not the demo's arca-warm bound
        result = run("arca-warm", tl, kb=_copy(trained),
                     policy_overrides={"discardObjective": objective, "discardObjectiveBound": False})
        metrics[label(objective)] = result.metrics
        print(f"{timeline} {label(objective)}: discard {result.metrics.discard_ratio * 100:.3f} %", file=log)
    return with_cost(metrics)


def table(pts: Sequence[Point]) -> str:
    """Markdown: per run, the objective asked, the discard achieved, their ratio, the weighted cost."""
    lines = ["| run | objective % | discard % | achieved / asked | weighted cost vs oracle |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for p in pts:
        asked = "-" if p.objective_pct is None else f"{p.objective_pct:g}"
        ratio = "-" if not p.objective_pct else f"{p.discard_pct / p.objective_pct:.2f}"
        cost = "-" if p.weighted_vs_oracle is None else f"{p.weighted_vs_oracle:.3f}"
        lines.append(f"| {p.name} | {asked} | {p.discard_pct:.3f} | {ratio} | {cost} |")
    return "\n".join(lines)


def figure(pts: Sequence[Point], title: str = "") -> Any:
    """Discard (log, %) against weighted cost vs the oracle: the sweep as a line, the references as points."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 5.5), layout="constrained")
    ax = fig.add_subplot()
    drawn = [(p, float(p.weighted_vs_oracle), max(p.discard_pct, FLOOR_PCT)) for p in pts
             if p.weighted_vs_oracle is not None]
    swept = sorted(((p, x, y, float(p.objective_pct)) for p, x, y in drawn if p.objective_pct is not None),
                   key=lambda d: d[3])
    refs = [(p, x, y) for p, x, y in drawn if p.objective_pct is None]
    if swept:
        ax.plot([x for _, x, _, _ in swept], [y for _, _, y, _ in swept], "o-", color="tab:red",
                label="arca-warm, swept over arca:discardObjective")
        for p, x, y, asked in swept:  # a label goes left of a point with an equal discard to its right
            left = any(abs(y2 - y) <= 0.05 * y and x2 > x for _, x2, y2, _ in swept)
            ax.annotate(f"asked {asked:g} %, got {p.discard_pct:.3g} %", (x, y), textcoords="offset points",
                        xytext=(-10, 2) if left else (10, 2), ha="right" if left else "left",
                        fontsize=8, color="tab:red")
            ax.axhline(asked, color="tab:red", lw=0.5, ls=":", alpha=0.6)
    styles = (("*", "tab:blue"), ("D", "tab:orange"), ("s", "tab:green"), ("^", "tab:purple"),
              ("v", "tab:brown"), ("P", "tab:gray"), ("X", "tab:olive"))
    for k, (p, x, y) in enumerate(refs):
        marker, color = styles[k % len(styles)]
        ax.plot([x], [y], marker, color=color, ms=11 if p.name == "oracle" else 7, ls="none",
                label=f"{p.name} ({p.discard_pct:.3g} %, {x:.2f}x)")
    ax.set_yscale("log")
    ax.set_ylim(bottom=FLOOR_PCT * 0.7)
    ax.set_xlabel("weighted cost / the oracle's (running 1, stopped 0.1 per servant-second)")
    ax.set_ylabel(f"requests discarded, % (log; 0 % drawn at {FLOOR_PCT:g} %)")
    ax.axvline(1.0, color="grey", lw=0.6)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title or "Discard objective: discard against weighted cost (dotted: each objective asked)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.set_size_inches(11.0, 5.5)
    return fig


def main(argv: Sequence[str] | None = None) -> int:
    from arca.app.cli.main import add_output_options, output_options

    p = argparse.ArgumentParser(prog="python -m arca.app.demo.tradeoff", description=__doc__.split("\n")[0])
    p.add_argument("timeline", nargs="?", default="reference", help="Timeline name or file (reference).")
    p.add_argument("--objective", action="append", type=float,
                   help=f"arca:discardObjective of one arca-warm run, a ratio (default: {OBJECTIVES}).")
    p.add_argument("--peer", action="append", help=f"Reference strategies (default: {', '.join(PEERS)}).")
    p.add_argument("--figure", metavar="PNG", help="Write the trade-off figure to PNG.")
    p.add_argument("--from-json", metavar="FILE", help="Draw from a document this command wrote (no run).")
    add_output_options(p, "{run: metrics}")
    args = p.parse_args(argv)
    print_json, json_file = output_options(args, "demo tradeoff")
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        objectives = [v["discard_objective"] for v in saved.values()
                      if v.get("discard_objective") is not None]
        metrics = {name: RunMetrics(**{k: v[k] for k in RunMetrics.__dataclass_fields__ if k in v})
                   for name, v in saved.items()}
    else:
        objectives = args.objective or list(OBJECTIVES)
        metrics = sweep(args.timeline, objectives, args.peer or PEERS)
    pts = points(metrics, {label(o): o for o in objectives})
    print(table(pts), file=sys.stderr if print_json else sys.stdout)
    if args.figure:
        figure(pts, f"{args.timeline}: discard against weighted cost").savefig(args.figure, dpi=110)
    doc = {name: {**m.as_json(), "discard_objective": next((o for o in objectives if label(o) == name), None)}
           for name, m in metrics.items()}
    if print_json:
        print(json.dumps(doc, indent=2))
    if json_file:
        write_json(json_file, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
