"""Ops commands: ``arca status`` (live terminal view or JSON of every controlled system)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

from arca.app.cli.main import CliError, settings

CLEAR = "\x1b[H\x1b[2J"


def register(sub: Any) -> None:
    status = sub.add_parser(
        "status",
        help="Live view of every controlled system, read from the knowledge base.",
        description="Load, servants desired/active/booting, MSA, incident and elapsed time and the "
        "last decisions with their reasons, of every controlled system in the knowledge base "
        "(ARCA_KB__KIND=embedded|sparql and its URLs). Refreshes every --interval seconds until "
        "interrupted; --once prints once; --json prints the document of docs/ops.md.",
    )
    status.add_argument("--once", action="store_true", help="Print once and exit.")
    status.add_argument("--json", action="store_true",
                        help="JSON (schema arca.status/1); without --once, one document per line.")
    status.add_argument("--interval", type=float, default=2.0, metavar="S",
                        help="Seconds between refreshes (default 2).")
    status.add_argument("--system", action="append", metavar="ID",
                        help="Only this system (repeatable; default: every system in the store).")
    status.add_argument("--decisions", type=int, default=5, metavar="N",
                        help="How many recent decisions to show per system (default 5).")
    status.add_argument("--now", metavar="TIME",
                        help="Evaluate elapsed times at this ISO 8601 time (simulated runs).")
    status.set_defaults(func=cmd_status)


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        now = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--now: not an ISO 8601 time: {text!r}") from exc
    if now.tzinfo is None:
        raise CliError(f"--now: give a timezone (e.g. {text}+00:00)")
    return now


def cmd_status(args: argparse.Namespace) -> int:
    from arca.kb import KnowledgeBaseError
    from arca.status import collect, render_text

    if args.interval <= 0:
        raise CliError("--interval: must be > 0 seconds")
    if args.decisions < 0:
        raise CliError("--decisions: must be >= 0")
    now = _parse_now(args.now)
    s = settings()
    kb = _open_kb(s)
    try:
        while True:
            try:
                doc = collect(kb, args.system, now, args.decisions)
            except (KnowledgeBaseError, OSError) as exc:
                where = s.kb.query_url if s.kb.kind == "sparql" else (s.kb.path or "embedded store")
                if args.once:
                    raise CliError(f"cannot read the knowledge base at {where}: {exc}") from exc
                print(f"{CLEAR if sys.stdout.isatty() else ''}arca status: cannot read the knowledge "
                      f"base at {where}: {exc} (retrying)", flush=True)
            else:
                if args.json:
                    print(json.dumps(doc, indent=2 if args.once else None), flush=True)
                else:
                    clear = CLEAR if sys.stdout.isatty() and not args.once else ""
                    print(clear + render_text(doc), flush=True)
            if args.once:
                return 0
            time.sleep(args.interval)
    finally:
        kb.close()


def _open_kb(s: Any) -> Any:
    """The configured store; an embedded one on disk is opened read-only."""
    from arca.app.runtime import make_kb
    from arca.kb import EmbeddedKnowledgeBase

    if s.kb.kind == "embedded" and s.kb.path:
        import pyoxigraph as ox

        kb = EmbeddedKnowledgeBase()
        try:
            kb.store = ox.Store.read_only(s.kb.path)
        except OSError as exc:
            raise CliError(f"cannot open the embedded store {s.kb.path}: {exc}") from exc
        return kb
    return make_kb(s)
