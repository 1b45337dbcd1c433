"""Core commands: ``arca run SERVICE`` and ``arca kb load FILE``."""

from __future__ import annotations

import argparse
from typing import Any

from arca.cli.main import CliError, read_file, settings


def register(sub: Any) -> None:
    run = sub.add_parser("run", help="Run one micro-service until interrupted.")
    run.add_argument("service", choices=["collector", "analyzer", "decider", "enforcer"])
    run.set_defaults(func=cmd_run)

    kb = sub.add_parser("kb", help="Knowledge-base tools.")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    load = kb_sub.add_parser("load", help="Load a Turtle file into the configured store.")
    load.add_argument("file", help="Turtle file to load.")
    load.add_argument("--graph", help="Named graph IRI (default graph when omitted).")
    load.add_argument("--replace", action="store_true",
                      help="Replace the named graph instead of adding to it (needs --graph).")
    load.set_defaults(func=cmd_kb_load)


def cmd_run(args: argparse.Namespace) -> int:
    from arca.logs import setup_logging
    from arca.runtime import run_service

    s = settings()
    setup_logging(s.ops, service=args.service)
    run_service(args.service, s)
    return 0


def cmd_kb_load(args: argparse.Namespace) -> int:
    from arca.kb import KnowledgeBaseError, TermError
    from arca.runtime import make_kb

    if args.replace and not args.graph:
        raise CliError("--replace needs --graph (the named graph to replace)")
    data = read_file(args.file)
    kb = make_kb(settings())
    try:
        n = kb.replace_graph(data, args.graph) if args.replace else kb.load_turtle(data, args.graph)
        kb.close()
    except (KnowledgeBaseError, TermError) as exc:
        raise CliError(f"{args.file}: {exc}") from exc
    print(f"loaded {n} triples from {args.file}")
    return 0
