"""``arca demo``: every strategy on the training then the reference timeline, compared with the oracle.

    arca demo [--strategy NAME ...] [--timeline FILE] [--training FILE] [--seed N]
              [--boot-delay S] [--json FILE] [--plot FILE.png] [--no-training]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any

from arca.cli.main import CliError

DEFAULT_ORDER = ("oracle", "arca", "arca-reactive", "threshold-paper", "threshold-repo", "proportional",
                 "static", "oracle-notified")


def register(sub: Any) -> None:
    from arca.demo.harness import STRATEGIES

    p = sub.add_parser(
        "demo",
        help="Run the whole loop on the emulated testbed for each strategy and compare them.",
        description="Plays the training timeline (strategies that learn), then the reference one, for "
        "each strategy, on the embedded default (in-process bus, embedded store, simulated clock) "
        "against the testbed's emulated OpenStack through the real OpenStack driver.",
    )
    p.add_argument("--strategy", action="append", choices=sorted(STRATEGIES), metavar="NAME",
                   help=f"Strategy to run (repeatable; default all: {', '.join(DEFAULT_ORDER)}). "
                   "The oracle always runs: costs are relative to it.")
    p.add_argument("--timeline", help="Reference timeline JSON (default: the testbed's reference).")
    p.add_argument("--training", help="Training timeline JSON (default: the testbed's training).")
    p.add_argument("--no-training", action="store_true", help="Skip training (a cold arca is reactive).")
    p.add_argument("--seed", type=int, help="Override the timelines' seeds (demand noise).")
    p.add_argument("--boot-delay", type=float, metavar="S",
                   help="Servant boot delay in seconds (default: the testbed's 10 s; OSM in Ukko: 42 s). "
                   "The policies' provisioning lead time follows it.")
    p.add_argument("--json", dest="json_file", metavar="FILE", help="Write the results as JSON.")
    p.add_argument("--plot", metavar="FILE.png", help="Write the figure (PNG).")
    p.set_defaults(func=cmd_demo)


def _load(path: str | None, default: str, seed: int | None) -> Any:
    from testbed.timeline import TimelineError, load_timeline

    try:
        tl = load_timeline(path or default)
    except (OSError, TimelineError) as exc:
        raise CliError(f"{path or default}: {exc}") from exc
    return tl.with_seed(seed) if seed is not None else tl


def cmd_demo(args: argparse.Namespace) -> int:
    from arca.demo.metrics import with_cost
    from arca.demo.plot import plot
    from arca.demo.report import document, table, timeline_facts, write_json
    from arca.demo.runner import model_params, run_all

    logging.basicConfig(level=logging.ERROR)
    names = list(dict.fromkeys(args.strategy or DEFAULT_ORDER))
    if "oracle" not in names:
        names.insert(0, "oracle")
    reference = _load(args.timeline, "reference", args.seed)
    training = None if args.no_training else _load(args.training, "training", args.seed)
    t0 = time.perf_counter()
    if args.boot_delay is not None and not 0 <= args.boot_delay <= 600:
        raise CliError(f"--boot-delay {args.boot_delay:g}: must be within [0, 600] seconds")
    params = model_params(args.boot_delay)
    results = run_all(names, reference, training, progress=lambda m: print(m, file=sys.stderr),
                      params=params)
    metrics = with_cost({n: r.metrics for n, r in results.items()})
    print(table(metrics, args.timeline or "reference"))
    print(f"total wall time {time.perf_counter() - t0:.1f}s")
    meta = {"timeline": args.timeline or "reference", "training": None if args.no_training else
            (args.training or "training"), "seed": reference.seed,
            "boot_delay_s": params.boot_delay_s, "timeline_facts": timeline_facts(reference),
            "enforcement": {n: r.enforcement_outcomes for n, r in results.items()}}
    if args.json_file:
        write_json(args.json_file, document(metrics, meta))
    if args.plot:
        arca_run = results.get("arca")
        surface = arca_run.surface if arca_run else None
        from arca.demo.runner import SURFACE_ELAPSED, truth_table

        plot(args.plot, {n: r.series for n, r in results.items()}, surface, SURFACE_ELAPSED,
             truth_table(SURFACE_ELAPSED) if surface else None,
             title=f"ARCA demo, reference timeline (seed {reference.seed}, boot {params.boot_delay_s:g} s)")
    return 0
