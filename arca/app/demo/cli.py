"""``arca demo``: every strategy on the training then the reference timeline, compared with the oracle.

    arca demo [--strategy NAME ...] [--timeline FILE] [--training FILE] [--seed N]
              [--driver openstack|osm] [--osm-aspect N ...] [--boot-delay S] [--json | -o FILE]
              [--plot FILE.png] [--no-training [--no-prior]] [--quiet]

``--driver osm`` plays the same timelines through the testbed's emulated OSM NBI (the Ukko-style NS:
its relay VDUs are the servants, one LCM operation per NS at a time, a VDU boots in 42 s as Ukko
measured) instead of OpenStack; ``threshold-repo`` is Ukko's own controller there; ``arca`` states a
discard objective of 20 % there (``harness.OSM_OBJECTIVE``): servants asked at a notification serve
after the burst, so it holds servants between incidents for it (``arca.decider.hold``). Its relay
VNFD has Ukko's one-VDU scaling aspect; ``--osm-aspect N`` adds one that adds N relays per operation (the
enforcer reads the aspects from the VNFD and picks the largest that does not overshoot).

Progress (one bar per run with the overall ETA) goes to stderr when it is a terminal, unless
``--quiet``; the table and its legend go to stdout. Output paths are checked before the run.
Registering the command imports nothing heavy, so the first line appears at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from arca.app.cli.main import CliError, add_output_options, output_options

DEFAULT_ORDER = ("oracle", "arca", "arca-reactive", "threshold-paper", "threshold-repo", "proportional",
                 "static", "oracle-notified", "arca-warm", "oracle-warm")


class _Strategies:
    """argparse ``choices`` read from the harness only when an option is checked (cheap start-up)."""

    def _names(self) -> list[str]:
        from arca.app.demo.harness import STRATEGIES

        return sorted(STRATEGIES)

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="Run the whole loop on the emulated testbed for each strategy and compare them.",
        description="Plays the training timeline (strategies that learn), then the reference one, for "
        "each strategy, on the embedded default (in-process bus, embedded store, simulated clock) "
        "against the testbed's emulated OpenStack through the real OpenStack driver.",
    )
    p.add_argument("--strategy", action="append", choices=_Strategies(), metavar="NAME",
                   help=f"Strategy to run (repeatable; default all: {', '.join(DEFAULT_ORDER)}). "
                   "The oracle always runs: costs are relative to it.")
    p.add_argument("--timeline", help="Reference timeline JSON (default: the testbed's reference).")
    p.add_argument("--training", help="Training timeline JSON (default: the testbed's training).")
    p.add_argument("--no-training", action="store_true",
                   help="Skip training: the learning strategies start from the shipped prior (as "
                   "'arca kb init --defaults' seeds it), or from nothing with --no-prior.")
    p.add_argument("--no-prior", action="store_true",
                   help="With --no-training: no prior either (a cold arca is reactive until it learns).")
    p.add_argument("--seed", type=int, help="Override the timelines' seeds (demand noise).")
    p.add_argument("--driver", choices=("openstack", "osm"), default="openstack",
                   help="How the enforcer changes the servants: 'openstack' (Nova + Octavia, default) or "
                   "'osm' (scale/heal of the emulated Ukko-style NS through the OSM NBI, Ukko's timings).")
    p.add_argument("--osm-aspect", type=int, action="append", default=[], metavar="N",
                   help="With --driver osm: the relay VNFD also has a scaling aspect 'relay-scaling-N' "
                   "adding N relays per LCM operation (repeatable; default: only Ukko's one-VDU aspect).")
    p.add_argument("--boot-delay", type=float, metavar="S",
                   help="Servant boot delay in seconds (default: the testbed's 10 s; with --driver osm, "
                   "Ukko's measured 42 s). The policies' provisioning lead time follows it.")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="Run the strategies in N worker processes at once (default: the number of cores; "
                        "1: one after the other, with a progress bar per run). The results do not "
                        "depend on it.")
    add_output_options(p, "the results (the table then goes to stderr)")
    p.add_argument("--plot", metavar="FILE.png", help="Write the figure (.png, or .svg/.pdf).")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="No progress on stderr (it is off anyway when stderr is not a terminal).")
    p.set_defaults(func=cmd_demo)


def _load(path: str | None, default: str, seed: int | None) -> Any:
    from arca.testbed.timeline import TimelineError, load_timeline

    try:
        tl = load_timeline(path or default)
    except TimelineError as exc:  # its message names the file once
        text = str(exc)
        raise CliError(text if text.startswith("cannot read") else f"invalid timeline {text}") from exc
    except OSError as exc:
        raise CliError(f"timeline {path or default}: {exc.strerror or exc}") from exc
    return tl.with_seed(seed) if seed is not None else tl


def timeline_name(path: str | None, default: str) -> str:
    """What the table and the figure call a timeline: the shipped name or the file's name."""
    return default if path is None else Path(path).name


def cmd_demo(args: argparse.Namespace) -> int:
    from arca.app.demo.progress import Progress

    # the first line: arca.app.cli.main.EARLY_NOTES
    progress = Progress(enabled=False if args.quiet else None)
    from arca.app.demo.report import check_writable

    print_json, json_file = output_options(args, "demo")
    try:  # outputs first: a typo must not cost a whole run
        if json_file:
            check_writable(json_file, "-o")
        if args.plot:
            from arca.app.demo.figstyle import FORMATS

            check_writable(args.plot, "--plot", FORMATS)
            import importlib.util

            if importlib.util.find_spec("matplotlib") is None:
                raise ValueError("--plot needs matplotlib, which the demo extra installs: "
                                 "pip install 'arca[demo]'")
    except ValueError as exc:
        raise CliError(str(exc)) from None
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs < 1:
        raise CliError(f"--jobs {jobs}: must be at least 1")
    if args.osm_aspect and args.driver != "osm":
        raise CliError("--osm-aspect needs --driver osm")
    for n in args.osm_aspect:
        if not 1 <= n <= 10:
            raise CliError(f"--osm-aspect {n}: must be within [1, 10] relays (the scaling group's bound)")
    if args.boot_delay is not None and not 0 <= args.boot_delay <= 600:
        raise CliError(f"--boot-delay {args.boot_delay:g}: must be within [0, 600] seconds")

    from arca.app.demo.metrics import with_cost
    from arca.app.demo.report import document, legend, table, timeline_facts, write_json
    from arca.app.demo.runner import model_params, plan, run_all, shipped_prior

    logging.basicConfig(level=logging.ERROR)
    names = list(dict.fromkeys(args.strategy or DEFAULT_ORDER))
    if "oracle" not in names:
        names.insert(0, "oracle")
    reference = _load(args.timeline, "reference", args.seed)
    training = None if args.no_training else _load(args.training, "training", args.seed)
    ref_name = timeline_name(args.timeline, "reference")
    train_name = timeline_name(args.training, "training")
    t0 = time.perf_counter()
    params = model_params(args.boot_delay, args.driver, args.osm_aspect)
    tasks = plan(names, reference, training, ref_name, train_name)
    progress.plan(tasks)
    work = sum(t.work_s for t in tasks)
    aspects = ", ".join(f"{name} +{n}" for name, n in params.osm_scaling_aspects)
    via = (f"through the OSM NBI (VDU boot {params.osm_boot_delay_s:g} s, one LCM operation per NS "
           f"at a time; aspects {aspects})" if args.driver == "osm" else "through OpenStack")
    progress.say(f"{len(names)} strategies, {len(tasks)} runs ({work:.0f} simulated s) {via}: "
                 f"training on {train_name if training else '-'}, then {ref_name}")
    prior = None if training is not None or args.no_prior else shipped_prior()
    results = run_all(names, reference, training, progress=progress, params=params, jobs=jobs,
                      prior_file=prior)
    metrics = with_cost({n: r.metrics for n, r in results.items()})
    out = sys.stderr if print_json else sys.stdout  # --json: stdout is the JSON document alone
    if args.driver == "osm":
        from arca.app.demo.harness import OSM_OBJECTIVE

        objective = OSM_OBJECTIVE["discardObjective"] * 100
        goal = f"; arca's discard objective {objective:g} %" if "arca" in names else ""
        print(f"driver: osm -- {via}; Ukko's controller is threshold-repo{goal}", file=out)
    print(table(metrics, ref_name), file=out)
    print(legend(), file=out)
    print(f"total wall time {time.perf_counter() - t0:.1f} s", file=out)
    meta = {"timeline": ref_name, "training": None if args.no_training else train_name,
            "prior": Path(prior).name if prior else None,
            "seed": reference.seed, "driver": args.driver,
            "boot_delay_s": params.osm_boot_delay_s if args.driver == "osm" else params.boot_delay_s,
            "osm_scaling_aspects": dict(params.osm_scaling_aspects) if args.driver == "osm" else None,
            "timeline_facts": timeline_facts(reference),
            "enforcement": {n: r.enforcement_outcomes for n, r in results.items()}}
    if print_json:
        print(json.dumps(document(metrics, meta), indent=2))
    try:
        if json_file:
            write_json(json_file, document(metrics, meta))
        if args.plot:
            from arca.app.demo.plot import plot
            from arca.app.demo.runner import SURFACE_ELAPSED, truth_table

            arca_run = results.get("arca")
            surface = arca_run.surface if arca_run else None
            plot(args.plot, {n: r.series for n, r in results.items()}, surface, SURFACE_ELAPSED,
                 truth_table(SURFACE_ELAPSED) if surface else None,
                 title=f"ARCA demo, timeline {ref_name} (seed {reference.seed}, "
                       f"{'OSM NBI, ' if args.driver == 'osm' else ''}"
                       f"boot {meta['boot_delay_s']:g} s)",
                 incidents=[(i.at_s, i.severity) for i in reference.incidents],
                 capacity_per_servant=params.capacity_rps, metrics=metrics)
    except OSError as exc:
        raise CliError(f"cannot write {exc.filename}: {exc.strerror}") from None
    return 0
