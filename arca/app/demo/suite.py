"""Several timelines, several strategies: the tables of issue 10 (overlaps, imperfect detectors).

    python -m arca.app.demo.suite [--json | -o FILE] [--strategy NAME ...] [--no-training [--no-prior]]
                                  [--driver openstack|osm] [--osm-aspect N ...] [--boot-delay S]
                                  [TIMELINE ...]

Trains ``arca`` once on the training timeline (``--no-training``: the learning strategies start from
the shipped prior instead, ``--no-prior``: from nothing), then plays every timeline (default: the reference
one and every shipped ``overlap-*`` and ``detectors-*`` timeline) with each strategy, starting each
learning run from a copy of the trained knowledge base (so no timeline teaches the next one). Prints
one markdown table per timeline: discard %, servant-seconds, cost vs ``oracle``, discard vs
``oracle-notified``; for imperfect-detector timelines also servant-seconds vs the same strategy on
the reference timeline (the same incidents, perfect detectors) and the discard over the windows of
the incidents no detector reported (45 s from the onset, cut at the next incident).
``--driver osm`` (with ``--osm-aspect``, ``--boot-delay``, as ``arca demo``) plays them all through the
emulated OSM NBI, training included (issue 23 item 7).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

import pyoxigraph as ox

from arca.app.cli.main import add_output_options, output_options
from arca.app.demo.harness import LEARNING, RunResult, run
from arca.app.demo.metrics import RunMetrics, with_cost
from arca.app.demo.report import document, timeline_facts, write_json
from arca.app.demo.runner import DRIVERS
from arca.kb import EmbeddedKnowledgeBase

NAMES = ("oracle", "oracle-notified", "arca", "arca-reactive")


def shipped(prefixes: Sequence[str] = ("overlap-", "detectors-")) -> list[str]:
    from arca.testbed.timeline import TIMELINE_DIR

    names = sorted(p.stem for p in TIMELINE_DIR.glob("*.json"))
    return ["reference"] + [n for n in names if n.startswith(tuple(prefixes))]


def _copy(kb: EmbeddedKnowledgeBase) -> EmbeddedKnowledgeBase:
    out = EmbeddedKnowledgeBase()
    out.store.load(kb.store.dump(format=ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS)
    return out


def missed_discard(result: RunResult, timeline: Any, window_s: float = 45.0) -> float | None:
    """Discard ratio over the windows of the incidents no detector reported (``None``: none missed)."""
    onsets = [i.at_s for i in timeline.incidents]
    windows = []
    for k, inc in enumerate(timeline.incidents):
        if inc.detector.missed:
            end = min(inc.at_s + window_s, onsets[k + 1] if k + 1 < len(onsets) else inc.at_s + window_s)
            windows.append((inc.at_s, end))
    if not windows:
        return None
    s = result.series
    inside = [i for i, t in enumerate(s.t) if any(a <= t < b for a, b in windows)]
    total = sum(s.demand[i] for i in inside)
    return round(sum(s.discarded[i] for i in inside) / total, 6) if total else 0.0


def run_suite(timelines: Sequence[str], names: Sequence[str] = NAMES, training: str | None = "training",
              log: Any = sys.stderr, prior_file: str | None = None,
              params: Any = None) -> dict[str, dict[str, RunMetrics]]:
    """Every timeline with every strategy; ``training`` None: the learning strategies start from
    ``prior_file`` (seeded into each run's empty store) or, without it, from nothing. ``params``: the
    testbed's (``runner.model_params``: the driver, its boot delay, OSM's aspects), training included."""
    from arca.testbed.timeline import load_timeline

    trained = EmbeddedKnowledgeBase()
    if training is not None and any(n in LEARNING for n in names):
        run("arca", load_timeline(training), kb=trained, params=params)
    cold_prior = prior_file if training is None else None
    out: dict[str, dict[str, RunMetrics]] = {}
    for tl_name in timelines:
        tl = load_timeline(tl_name)
        metrics = {}
        for name in names:
            kb = _copy(trained) if name in LEARNING else EmbeddedKnowledgeBase()
            result = run(name, tl, kb=kb, prior_file=cold_prior if name in LEARNING else None, params=params)
            missed = missed_discard(result, tl)
            if missed is not None:
                result.metrics.extra["missed_incidents_discard_ratio"] = missed
            metrics[name] = result.metrics
            print(f"{tl_name} {name}: discard {metrics[name].discard_ratio * 100:.3f} %, "
                  f"servant-s {metrics[name].servant_seconds:.0f}"
                  + (f", missed incidents {missed * 100:.3f} %" if missed is not None else ""), file=log)
        out[tl_name] = with_cost(metrics)
    return out


def markdown(results: dict[str, dict[str, RunMetrics]]) -> str:
    ref = results.get("reference")
    lines = []
    for tl_name, metrics in results.items():
        floor = metrics.get("oracle-notified")
        lines += ["", f"**{tl_name}**", "",
                  "| strategy | discard % | servant-s | vs oracle | discard / notified "
                  "| servant-s / reference | missed incidents' discard % |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for name, m in metrics.items():
            vs_floor = (f"{m.discard_ratio / floor.discard_ratio:.2f}" if floor and floor.discard_ratio
                        else "-")
            vs_ref = (f"{m.servant_seconds / ref[name].servant_seconds:.3f}"
                      if ref and name in ref and tl_name.startswith("detectors-") else "-")
            cost = "-" if m.cost_vs_oracle is None else f"{m.cost_vs_oracle:.3f}"
            missed = m.extra.get("missed_incidents_discard_ratio")
            missed_text = "-" if missed is None else f"{missed * 100:.3f}"
            lines.append(f"| {name} | {m.discard_ratio * 100:.3f} | {m.servant_seconds:.0f} | "
                         f"{cost} | {vs_floor} | {vs_ref} | {missed_text} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m arca.app.demo.suite", description=__doc__.split("\n")[0])
    p.add_argument("timelines", nargs="*", help="Timeline names or files (default: reference, overlap-*, "
                   "detectors-*).")
    p.add_argument("--strategy", action="append", help=f"Strategies (default: {', '.join(NAMES)}).")
    p.add_argument("--no-training", action="store_true",
                   help="Skip training: the learning strategies start from the shipped prior.")
    p.add_argument("--no-prior", action="store_true", help="With --no-training: from nothing (cold).")
    p.add_argument("--driver", choices=DRIVERS, default="openstack",
                   help="Through OpenStack (default) or the emulated OSM NBI (as arca demo --driver osm).")
    p.add_argument("--osm-aspect", type=int, action="append", default=[], metavar="N",
                   help="With --driver osm: a scaling aspect adding N relays per operation (repeatable).")
    p.add_argument("--boot-delay", type=float, metavar="S",
                   help="Servant boot delay (default: 10 s; with --driver osm, 42 s).")
    add_output_options(p, "{timeline: document}")
    args = p.parse_args(argv)
    print_json, json_file = output_options(args, "demo suite")
    from arca.testbed.timeline import load_timeline

    timelines = args.timelines or shipped()
    from arca.app.demo.runner import model_params, shipped_prior

    try:
        params = model_params(args.boot_delay, args.driver, args.osm_aspect)
    except ValueError as exc:
        p.error(str(exc))
    results = run_suite(timelines, args.strategy or NAMES, None if args.no_training else "training",
                        prior_file=None if args.no_prior else shipped_prior(), params=params)
    print(markdown(results), file=sys.stderr if print_json else sys.stdout)
    if print_json or json_file:
        doc = {tl: document(m, {"timeline": tl, "driver": args.driver,
                                "timeline_facts": timeline_facts(load_timeline(tl))})
               for tl, m in results.items()}
        if print_json:
            print(json.dumps(doc, indent=2))
        if json_file:
            write_json(json_file, doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
