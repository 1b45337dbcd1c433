"""``arca testbed``: serve the emulated NFVI and play a timeline; validate timelines; print the MSA table.

arca testbed run --timeline reference [--speed 10] [--port-base 18000] [--clouds-yaml FILE]
arca testbed check FILE
arca testbed msa [--threshold 0.7]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from arca.app.cli.main import CliError, settings


def register(sub: Any) -> None:
    tb = sub.add_parser("testbed", help="The emulated NFVI of the reference scenario (OpenStack + OSM APIs).")
    tb_sub = tb.add_subparsers(dest="testbed_command", metavar="ACTION", required=True)

    run = tb_sub.add_parser("run", help="Serve every emulated API and play a timeline in (scaled) real time.")
    run.add_argument(
        "--timeline",
        default="reference",
        help="Timeline JSON file, or a shipped one: 'reference', 'training' (default: reference).",
    )
    run.add_argument(
        "--speed", type=float, default=1.0, help="Simulated seconds per wall second (default 1 = real time)."
    )
    run.add_argument(
        "--port-base",
        type=int,
        default=None,
        help="Serve the APIs on PORT_BASE+0..8 (default: settings, else free ports).",
    )
    run.add_argument("--host", default=None, help="Listen address (default: settings, 127.0.0.1).")
    run.add_argument("--seed", type=int, default=None, help="Override the timeline's noise seed.")
    run.add_argument(
        "--clouds-yaml",
        default=None,
        help="Write a clouds.yaml for OS_CLOUD=arca-testbed here, readable by you only (it holds the "
             "testbed's password; default: $XDG_CONFIG_HOME/arca/testbed-clouds.yaml, i.e. "
             "~/.config/arca/..., never the working directory; '-' to skip).",
    )
    run.add_argument(
        "--collector-url", default=None, help="POST detector notifications to this URL (default: settings)."
    )
    run.add_argument(
        "--detector-token", action="append", default=[], metavar="SOURCE=TOKEN",
        help="The collector token of a detector source (seismometer-<domain>, bigdata-analyser), sent with "
             "its notifications; repeat per source (default: settings testbed.detector_tokens).",
    )
    run.add_argument("--alarm-webhook-url", default=None, help="POST OSM alarms to this URL.")
    run.add_argument(
        "--start",
        default="now",
        help="Simulated time of t=0: 'now' (wall clock, whole second; default) or an ISO 8601 "
        "date-time with offset. At --speed 1 the emulated timestamps then match the wall clock "
        "of services running as separate processes.",
    )
    run.add_argument("--linger", action="store_true", help="Keep serving after the timeline ends.")
    run.set_defaults(func=cmd_run)

    bench = tb_sub.add_parser(
        "bench", help="Time a timeline: model only, in-process oracle, oracle over HTTP."
    )
    bench.add_argument("--timeline", default="reference", help="Timeline file or shipped name.")
    bench.add_argument("--no-http", action="store_true", help="Skip the run through openstacksdk + HTTP.")
    bench.set_defaults(func=cmd_bench)

    check = tb_sub.add_parser("check", help="Validate a timeline file (exit 1 naming the bad field).")
    check.add_argument("timeline", help="Timeline JSON file or shipped name.")
    check.set_defaults(func=cmd_check)

    msa = tb_sub.add_parser("msa", help="Servants needed per severity and second after an incident.")
    msa.add_argument("--threshold", type=float, default=0.7, help="Policy high threshold (default 0.7).")
    msa.add_argument("--horizon", type=int, default=40, help="Seconds after the incident (default 40).")
    msa.set_defaults(func=cmd_msa)


def _timeline(name: str, seed: int | None = None) -> Any:
    from arca.testbed.timeline import TimelineError, load_timeline

    try:
        tl = load_timeline(name)
    except TimelineError as exc:
        raise CliError(str(exc)) from None
    return tl.with_seed(seed) if seed is not None else tl


def _start(text: str) -> datetime:
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"--start: not an ISO 8601 date-time: {text!r}") from None
    if t.tzinfo is None:
        raise CliError(f"--start: {text!r} has no UTC offset")
    return t.astimezone(UTC)


def default_clouds_yaml() -> Path:
    """Where ``arca testbed run`` writes its clouds.yaml unless told: the user's config directory."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "arca" / "testbed-clouds.yaml"


def write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` readable and writable by its owner only (it holds a password)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        path.chmod(0o600)  # an existing file keeps its mode through O_CREAT
    except OSError as exc:
        raise CliError(f"--clouds-yaml {path}: {exc.strerror}") from None
    return path


def cmd_check(args: argparse.Namespace) -> int:
    tl = _timeline(args.timeline)
    print(
        f"ok: {len(tl.incidents)} incidents, {len(tl.failures)} failures, {tl.duration_s:g} s, seed {tl.seed}"
    )
    if tl.imperfect:
        det = [i.detector for i in tl.incidents]
        print(f"imperfect detectors: {len(tl.false_alarms)} false alarms, "
              f"{sum(d.missed for d in det)} missed, "
              f"{sum(1 for d in det if d.severity_error)} severity errors, "
              f"{sum(1 for d in det if d.delay_s > 0)} late")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from arca.testbed.bench import bench

    print(json.dumps(bench(_timeline(args.timeline), http=not args.no_http), indent=1))
    return 0


def cmd_msa(args: argparse.Namespace) -> int:
    from arca.testbed.scenario import msa_table

    if not 0 < args.threshold <= 1:
        raise CliError("--threshold must be in (0, 1]")
    table = msa_table(args.threshold, args.horizon)
    print("severity | servants needed at t = 0.." + str(args.horizon) + " s after the incident")
    for sev, row in table.items():
        print(f"{sev:8d} | {' '.join(f'{n:2d}' for n in row)}")
    return 0


def detector_tokens(pairs: list[str]) -> dict[str, str]:
    """``SOURCE=TOKEN`` options as a map, or a ``CliError`` naming the bad one."""
    out: dict[str, str] = {}
    for pair in pairs:
        source, sep, token = pair.partition("=")
        if not sep or not source.strip() or not token.strip():
            raise CliError(f"--detector-token {pair!r}: expected SOURCE=TOKEN, "
                           "e.g. seismometer-building-2=s3cret")
        out[source.strip()] = token.strip()
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from arca.testbed.accounting import summarize
    from arca.testbed.platform import Testbed

    if args.speed <= 0:
        raise CliError("--speed must be > 0")
    s = settings().testbed
    updates: dict[str, Any] = {}
    if args.port_base is not None:
        updates["port_base"] = args.port_base
    if args.host is not None:
        updates["host"] = args.host
    if args.collector_url is not None:
        updates["collector_url"] = args.collector_url
    if args.alarm_webhook_url is not None:
        updates["alarm_webhook_url"] = args.alarm_webhook_url
    if args.detector_token:
        updates["detector_tokens"] = {**s.detector_tokens, **detector_tokens(args.detector_token)}
    s = s.model_copy(update=updates)
    tl = _timeline(args.timeline, args.seed)
    tb = Testbed.from_settings(tl, s, start=_start(args.start))
    try:
        tb.start()
    except OSError as exc:
        raise CliError(f"cannot listen: {exc}") from None
    try:
        print(
            f"testbed: timeline {args.timeline} ({tl.duration_s:g} s, seed {tl.seed}) at speed {args.speed:g}"
        )
        for name, url in tb.urls().items():
            print(f"  {name:22s} {url}")
        c = tb.cloud.credentials
        print(
            f"  credentials: keystone {c.username}/{c.password} project {c.project_name}; "
            f"osm {s.osm_username}/{s.osm_password}"
        )
        if args.clouds_yaml != "-":
            path = write_private(Path(args.clouds_yaml) if args.clouds_yaml else default_clouds_yaml(),
                                 tb.clouds_yaml())
            print(f"  clouds.yaml: {path} (OS_CLIENT_CONFIG_FILE={path} OS_CLOUD=arca-testbed)")
        sys.stdout.flush()
        tb.start_ticker(speed=args.speed)
        while not tb.model.finished:
            time.sleep(0.2)
        print(json.dumps({"summary": summarize(tb.model).as_dict()}))
        sys.stdout.flush()
        while args.linger:
            time.sleep(1.0)
    finally:
        tb.stop()
    return 0
