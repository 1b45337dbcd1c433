"""Analyzer commands: ``arca trust show|reset`` -- the learned credibility of event sources.

``show`` lists every source's stored credibility and its rate limit; ``reset SOURCE [--to V]`` sets
a source's credibility (default back to 1: fully trusted), records who did it, and publishes
``PolicyUpdated`` so the running analyzer reloads it without restart.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from arca.app.cli.main import CliError, settings


def register(sub: Any) -> None:
    trust = sub.add_parser("trust", help="Detector trust: learned credibility of event sources.")
    tsub = trust.add_subparsers(dest="trust_command", metavar="ACTION", required=True)
    show = tsub.add_parser("show", help="Every source's credibility, incidents judged and rate limit.")
    show.set_defaults(func=cmd_show)
    reset = tsub.add_parser("reset", help="Set a source's credibility (default: back to 1).")
    reset.add_argument("source", help="Event source id (as in arca:forSource).")
    reset.add_argument("--to", type=float, default=1.0, help="New credibility in [0, 1] (default 1).")
    reset.add_argument("--by", default=None, help="Who resets it (default: the login name).")
    reset.set_defaults(func=cmd_reset)


def cmd_show(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.trust import load_credibility, load_trusts, trust_for

    kb = make_kb(settings())
    try:
        creds, trusts = load_credibility(kb), load_trusts(kb)
    finally:
        kb.close()
    if not creds and not trusts:
        print("no source trust declared and no credibility learned: every source is fully trusted")
        return 0
    print(f"{'source':<20} {'credibility':>11} {'confirmed':>9} {'unconfirmed':>11} {'refused':>8}  "
          f"{'limit':<14} set by")
    for source in sorted(set(creds) | set(trusts)):
        c = creds.get(source)
        t = trust_for(trusts, source)
        limit = f"{t.event_limit}/{t.window_s:g}s" if t and t.event_limit is not None else "-"
        print(f"{source:<20} {c.value if c else 1.0:>11.3f} {c.confirmed if c else 0:>9} "
              f"{c.unconfirmed if c else 0:>11} {c.refused if c else 0:>8}  {limit:<14} {c.by if c else '-'}")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    import getpass

    from arca.app.runtime import make_kb, make_publisher
    from arca.kb.terms import arca_iri
    from arca.messages import PolicyUpdated
    from arca.trust import Credibility, load_credibility, store_credibility

    if not 0.0 <= args.to <= 1.0:
        raise CliError(f"--to {args.to}: a credibility is in [0, 1]")
    by = args.by or getpass.getuser()
    now = datetime.now(UTC)  # an admin action: wall time is its event time
    kb = make_kb(settings())
    try:
        old = load_credibility(kb).get(args.source) or Credibility(args.source)
        new = Credibility(args.source, args.to, old.confirmed, old.unconfirmed, now, by, old.refused)
        store_credibility(kb, new)
        kb.flush()
    finally:
        kb.close()
    bus = make_publisher(settings())  # services not started yet: the message waits in their queues
    bus.start()
    try:
        bus.publish(PolicyUpdated(event_time=now, producer="arca-cli", system=f"source:{args.source}",
                                  policy=str(arca_iri("credibility", args.source))))
        bus.flush()
    finally:
        bus.stop()
    print(f"credibility of source {args.source!r}: {old.value:.3f} -> {new.value:.3f} (by {by})")
    return 0
