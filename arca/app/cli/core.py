"""Core commands: ``arca run SERVICE``, ``arca kb load FILE``, ``arca kb init [--defaults]`` and
``arca kb compact [--dry-run]``."""

from __future__ import annotations

import argparse
from typing import Any

from arca.app.cli.main import CliError, read_file, settings


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
    init = kb_sub.add_parser("init", help="Load (or reload) the shipped ontology into the configured store: "
                                          "each file of the package's ontology into its own named graph.")
    init.add_argument("--defaults", action="store_true",
                      help="Also apply the shipped policies (arca policy apply) and seed the shipped prior "
                           "samples (arca anticipation seed) when the store has no policy yet: a new loop "
                           "anticipates from its first event. A store that has a policy is left as it is.")
    init.set_defaults(func=cmd_kb_init)
    compact = kb_sub.add_parser(
        "compact", help="Delete the stored messages the retention rules (kb.retention) let go, every kind at "
                        "once, print what was deleted per kind (the services do it on their ticks), then ask "
                        "the store to compact its files (kb.compaction.url) and wait for it.")
    compact.add_argument("--dry-run", action="store_true", help="Count what would go; delete nothing.")
    compact.set_defaults(func=cmd_kb_compact)


def cmd_run(args: argparse.Namespace) -> int:
    from arca.app.runtime import run_service
    from arca.logs import setup_logging

    s = settings()
    setup_logging(s.ops, service=args.service)
    run_service(args.service, s)
    return 0


def ontology_graph(stem: str) -> str:
    """The named graph of one shipped ontology file (``arca:graph/ontology/<stem>``)."""
    from arca.namespace import ARCA_NS

    return f"{ARCA_NS}graph/ontology/{stem}"


def cmd_kb_init(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.kb import KnowledgeBaseError
    from arca.namespace import ONTOLOGY_DIR

    kb = make_kb(settings())
    try:
        for path in sorted(ONTOLOGY_DIR.glob("*.ttl")):
            n = kb.replace_graph(path.read_bytes(), ontology_graph(path.stem))
            print(f"loaded {n} triples from {path.name} into {ontology_graph(path.stem)}")
        kb.close()
    except KnowledgeBaseError as exc:
        raise CliError(f"kb init: {exc}") from exc
    if args.defaults:
        apply_defaults()
    return 0


SHIPPED_POLICIES = ("policies/severity-scales.ttl", "policies/emergency.ttl", "policies/source-trust.ttl")
SHIPPED_PRIORS = ("priors/emergency.ttl",)


def apply_defaults() -> None:
    """The shipped policies and prior, applied as ``arca policy apply`` and ``arca anticipation seed``
    apply them (versions recorded, running services told), unless the store already has a policy."""
    from arca.app.runtime import make_kb
    from arca.decider.cli import cmd_apply, cmd_seed
    from arca.kb import KnowledgeBaseError
    from arca.namespace import ONTOLOGY_DIR
    from arca.policy import stored_policy_nodes

    kb = make_kb(settings())
    try:
        stored = stored_policy_nodes(kb)
        kb.close()
    except KnowledgeBaseError as exc:
        raise CliError(f"kb init: {exc}") from exc
    if stored:
        print(f"the store has {len(stored)} polic{'y' if len(stored) == 1 else 'ies'}: the shipped policies "
              "and prior are not applied (arca policy apply / arca anticipation seed do it by hand)")
        return
    for name in SHIPPED_POLICIES:
        cmd_apply(argparse.Namespace(file=str(ONTOLOGY_DIR / name), by="arca kb init"))
    for name in SHIPPED_PRIORS:
        cmd_seed(argparse.Namespace(file=str(ONTOLOGY_DIR / name)))


def cmd_kb_compact(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from arca.app.runtime import make_kb
    from arca.kb import KnowledgeBaseError, retention

    s = settings()
    kb = make_kb(s)
    try:
        before = retention.triples(kb)
        gone = retention.compact_all(kb, s.kb.retention, datetime.now(UTC), dry_run=args.dry_run, sync=True)
        after = retention.triples(kb)
        storage = None if args.dry_run else kb.compact_storage(wait_s=s.kb.write_timeout_s * 10)
        kb.close()
    except KnowledgeBaseError as exc:
        raise CliError(f"kb compact: {exc}") from exc
    verb = "would delete" if args.dry_run else "deleted"
    for kind, n in gone.items():
        print(f"{kind}: {verb} {n}")
    print(f"triples: {before} before, {after} after")
    if args.dry_run:
        print("store files: not compacted (--dry-run)")
    elif storage is None:
        print("store files: no compaction to ask for (kb.compaction.url unset; Oxigraph compacts by itself)")
    else:
        print(f"store files: compaction {storage}")
    return 0


def cmd_kb_load(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.kb import KnowledgeBaseError, TermError

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
