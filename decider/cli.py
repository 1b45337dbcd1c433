"""Decider commands: ``arca policy validate|apply``, ``arca anticipation seed|show``, ``arca bench-svr``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from arca.cli.main import CliError, read_file, settings


def register(sub: Any) -> None:
    policy = sub.add_parser("policy", help="Admin policies (Turtle, checked with SHACL).")
    psub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    validate = psub.add_parser("validate", help="Check a policy file; exit 1 naming each problem.")
    validate.add_argument("file", help="Turtle file with one or more arca:Policy nodes.")
    validate.set_defaults(func=cmd_validate)
    apply = psub.add_parser("apply", help="Validate, store in the knowledge base and notify the services.")
    apply.add_argument("file", help="Turtle file with one or more arca:Policy nodes.")
    apply.set_defaults(func=cmd_apply)

    ant = sub.add_parser("anticipation", help="The decider's learned anticipation (SVR samples).")
    asub = ant.add_subparsers(dest="anticipation_command", metavar="ACTION", required=True)
    seed = asub.add_parser("seed", help="Load prior knowledge (arca:LearnedSample nodes) into the store.")
    seed.add_argument("file", help="Turtle file of arca:LearnedSample nodes.")
    seed.set_defaults(func=cmd_seed)
    show = asub.add_parser("show", help="Print the MSA the stored samples predict (severity x elapsed).")
    show.add_argument("--system", default="emergency", help="Controlled system id.")
    show.add_argument("--horizon", type=int, default=40, help="Last elapsed second shown.")
    show.add_argument("--step", type=int, default=5, help="Seconds between columns.")
    show.set_defaults(func=cmd_show)

    bench = sub.add_parser("bench-svr", help="Measure the anticipator's SVR fit and predict cost.")
    bench.add_argument("--sizes", default="100,1000,5000", help="Comma-separated sample counts.")
    bench.add_argument("--repeat", type=int, default=3, help="Runs per size (the best is kept).")
    bench.set_defaults(func=cmd_bench)


def cmd_validate(args: argparse.Namespace) -> int:
    from decider.validation import PolicyInvalid, validate_policy

    try:
        valid = validate_policy(read_file(args.file), args.file)
    except PolicyInvalid as exc:
        raise CliError(str(exc)) from exc
    for p in valid.policies:
        print(f"{args.file}: policy for system {p.system!r} is valid (strategy {p.strategy})")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from arca.kb import KnowledgeBaseError
    from arca.messages import PolicyUpdated
    from arca.runtime import make_bus, make_kb
    from decider.validation import PolicyInvalid, policy_turtle, validate_policy

    try:
        valid = validate_policy(read_file(args.file), args.file)
    except PolicyInvalid as exc:
        raise CliError(str(exc)) from exc
    s = settings()
    kb = make_kb(s)
    bus = make_bus(s)
    try:
        for p in valid.policies:
            kb.replace_graph(policy_turtle(valid.graph, p), p.graph)
        kb.flush()
    except KnowledgeBaseError as exc:
        raise CliError(f"{args.file}: the knowledge base refused the policy: {exc}") from exc
    bus.start()
    try:
        now = datetime.now(UTC)  # an admin action: wall time is its event time
        for p in valid.policies:
            bus.publish(PolicyUpdated(event_time=now, producer="arca-cli", system=p.system, policy=p.iri))
            print(f"applied policy for system {p.system!r} (graph {p.graph})")
        bus.flush()
    finally:
        bus.stop()
        kb.close()
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    import rdflib

    from arca.runtime import make_kb
    from decider.samples import LEARNED_GRAPH
    from decider.validation import PolicyInvalid, parse_turtle, shacl_problems

    data = read_file(args.file)
    try:
        graph = parse_turtle(data, args.file)
    except PolicyInvalid as exc:  # the samples file's own noun, not "policy"
        raise CliError(f"{args.file}: " + "\n  ".join(["invalid samples", *exc.problems])) from None
    problems = shacl_problems(graph)
    if problems:
        raise CliError(f"{args.file}: " + "\n  ".join(["invalid samples", *problems]))
    kind = rdflib.URIRef("https://w3id.org/arca/ns#LearnedSample")
    count = len(set(graph.subjects(rdflib.RDF.type, kind)))
    if count == 0:
        raise CliError(f"{args.file}: no node of class arca:LearnedSample")
    kb = make_kb(settings())
    kb.load_turtle(data, LEARNED_GRAPH)
    kb.close()
    print(f"seeded {count} samples from {args.file}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from arca.runtime import make_kb
    from decider.anticipator import Anticipator
    from decider.samples import load_samples

    kb = make_kb(settings())
    model = Anticipator(load_samples(kb, args.system))
    if not model.trained:
        print(f"no learned samples for system {args.system!r}: the decider is purely reactive")
        return 0
    columns = list(range(0, args.horizon + 1, args.step))
    print(f"{len(model)} samples; predicted MSA by severity (rows) and seconds since the incident:")
    print("sev " + " ".join(f"{c:>5}" for c in columns))
    for sev in range(5):
        values = model.predict(sev, [float(c) for c in columns])
        assert values is not None
        print(f"{sev:>3} " + " ".join(f"{v:5.1f}" for v in values))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from decider.bench import bench_svr

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    print(f"{'samples':>8} {'fit ms':>9} {'floor ms':>9} {'support':>8}")
    for row in bench_svr(sizes, repeat=args.repeat):
        print(f"{row.samples:>8} {row.fit_s * 1e3:9.1f} {row.floor_s * 1e3:9.3f} {row.support:>8}")
    return 0
