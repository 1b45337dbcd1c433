"""Decider commands: ``arca policy validate|apply|diff|history|rollback``, ``arca anticipation
seed|show``, ``arca bench-svr``.

``apply`` and ``rollback`` replace the policy graph of a system (or a source's severity scale or trust),
record the version in the knowledge
base (``arca.policy_history``: when, by whom, the Turtle) and publish ``PolicyUpdated`` so the
running services reload it without restart.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from arca.app.cli.main import CliError, read_file, settings


def register(sub: Any) -> None:
    policy = sub.add_parser("policy", help="Admin policies (Turtle, checked with SHACL).")
    psub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    validate = psub.add_parser("validate", help="Check an admin file (policies, severity scales, learned "
                               "samples); say which kind it is; exit 1 naming each problem.")
    validate.add_argument("file", help="Turtle admin file.")
    validate.set_defaults(func=cmd_validate)
    apply = psub.add_parser("apply", help="Validate, store in the knowledge base (a new version in the "
                            "history) and notify the services.")
    apply.add_argument("file", help="Turtle file with arca:Policy, arca:SeverityScale and/or "
                       "arca:SourceTrust nodes.")
    apply.add_argument("--by", default=None, help="Who applies it (default: the login name).")
    apply.set_defaults(func=cmd_apply)
    diff = psub.add_parser("diff", help="What applying FILE would change against the knowledge base.")
    diff.add_argument("file", help="Turtle file with arca:Policy and/or arca:SeverityScale nodes.")
    diff.set_defaults(func=cmd_diff)
    history = psub.add_parser("history", help="Versions of a system's policy (or of a source's severity "
                              "scale or trust): when, by whom, what.")
    history.add_argument("system", help="Controlled system id, scale:SOURCE or source:SOURCE.")
    history.add_argument("--show", type=int, metavar="VERSION", help="Print the Turtle of that version.")
    history.set_defaults(func=cmd_history)
    rollback = psub.add_parser("rollback", help="Re-apply an earlier version (default: the one before "
                               "the current) as a new version.")
    rollback.add_argument("system", help="Controlled system id, scale:SOURCE or source:SOURCE.")
    rollback.add_argument("version", nargs="?", type=int, help="Version to restore.")
    rollback.add_argument("--by", default=None, help="Who rolls back (default: the login name).")
    rollback.set_defaults(func=cmd_rollback)

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
    from arca.decider.validation import PolicyInvalid, validate_admin_file

    try:
        valid = validate_admin_file(read_file(args.file), args.file)
    except PolicyInvalid as exc:
        raise CliError(str(exc)) from exc
    found = ", ".join(f"{kind} ({n} node{'s' if n > 1 else ''})" for kind, n in valid.kinds.items())
    print(f"{args.file}: valid admin file of kind {found}")
    for p in valid.policies:
        print(f"{args.file}: policy for system {p.system!r} is valid (strategy {p.strategy})")
    return 0


def _by(args: argparse.Namespace) -> str:
    import getpass

    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _store_and_notify(kb: Any, items: list[tuple[str, str, str, str]], *, by: str, change: str,
                      rolled_back_to: int | None = None) -> list[tuple[str, int]]:
    """Replace each (system, policy IRI, graph, Turtle), record the version, publish PolicyUpdated.

    The bus topology (every service's queue and bindings) is declared before publishing, as
    ``arca run`` does: applied before any service runs, the ``PolicyUpdated`` messages wait in the
    services' queues (a starting service reads the stored policies anyway, and the message only
    makes it reload them), instead of coming back unroutable into the dead-letter queue.
    """
    from arca.app.runtime import make_publisher
    from arca.kb import KnowledgeBaseError
    from arca.messages import PolicyUpdated
    from arca.policy_history import record_version

    now = datetime.now(UTC)  # an admin action: wall time is its event time
    versions = []
    try:
        for system, _iri, graph, turtle in items:
            kb.replace_graph(turtle, graph)
            kb.flush()
            v = record_version(kb, system, turtle, by=by, at=now, change=change,
                               rolled_back_to=rolled_back_to)
            versions.append((system, v.version))
    except KnowledgeBaseError as exc:
        raise CliError(f"the knowledge base refused the policy: {exc}") from exc
    bus = make_publisher(settings())
    bus.start()
    try:
        for system, iri, _graph, _turtle in items:
            bus.publish(PolicyUpdated(event_time=now, producer="arca-cli", system=system, policy=iri))
        bus.flush()
    finally:
        bus.stop()
    return versions


def cmd_apply(args: argparse.Namespace) -> int:
    import rdflib

    from arca.app.runtime import make_kb
    from arca.decider.validation import (
        PolicyInvalid,
        node_turtle,
        policy_turtle,
        reused_policy_nodes,
        validate_admin_file,
    )
    from arca.kb import KnowledgeBaseError
    from arca.kb.terms import arca_iri
    from arca.namespace import ARCA_NS
    from arca.policy import SCALE_KEY, scale_graph, stored_policy_nodes

    try:
        valid = validate_admin_file(read_file(args.file), args.file)
    except PolicyInvalid as exc:
        raise CliError(str(exc)) from exc
    items = [(p.system, p.iri, str(p.graph), policy_turtle(valid.graph, p)) for p in valid.policies]
    for_source = rdflib.URIRef(ARCA_NS + "forSource")
    trust_class = rdflib.URIRef(ARCA_NS + "SourceTrust")
    for node in sorted(valid.graph.subjects(rdflib.RDF.type, trust_class), key=str):
        source = str(valid.graph.value(node, for_source))
        items.append((f"source:{source}", str(node), str(arca_iri("graph/trust", source)),
                      node_turtle(valid.graph, node)))
    scale_class = rdflib.URIRef(ARCA_NS + "SeverityScale")
    for node in sorted(valid.graph.subjects(rdflib.RDF.type, scale_class), key=str):
        source = str(valid.graph.value(node, for_source))
        items.append((f"{SCALE_KEY}{source}", str(node), str(scale_graph(source)),
                      node_turtle(valid.graph, node)))
    if not items:
        raise CliError(f"{args.file}: nothing to apply (arca policy apply takes arca:Policy, "
                       f"arca:SeverityScale and arca:SourceTrust nodes; found {', '.join(valid.kinds)}; "
                       f"load others with arca kb load)")
    kb = make_kb(settings())
    try:
        if valid.policies:  # one policy per node, across the knowledge base too
            try:
                reused = reused_policy_nodes(valid.policies, stored_policy_nodes(kb))
            except KnowledgeBaseError as exc:
                raise CliError(f"the knowledge base did not answer: {exc}") from exc
            if reused:
                raise CliError(str(PolicyInvalid(args.file, reused)))
        versions = _store_and_notify(kb, items, by=_by(args), change="apply")
    finally:
        kb.close()
    for (system, version), item in zip(versions, items, strict=True):
        what = (f"source trust for {system[7:]!r}" if system.startswith("source:")
                else f"severity scale for source {system[len(SCALE_KEY):]!r}" if system.startswith(SCALE_KEY)
                else f"policy for system {system!r}")
        print(f"applied {what} as version {version} (graph {item[2]})")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.decider.validation import PolicyInvalid, validate_admin_file
    from arca.policy import SCALE_KEY, PolicyError, load_policy, load_scale_steps, scale_steps_from_graph
    from arca.policy_history import diff_policies, diff_scales

    try:
        valid = validate_admin_file(read_file(args.file), args.file)
    except PolicyInvalid as exc:
        raise CliError(str(exc)) from exc
    scales = scale_steps_from_graph(valid.graph)
    if not valid.policies and not scales:
        raise CliError(f"{args.file}: nothing to compare (arca policy diff takes arca:Policy and "
                       f"arca:SeverityScale nodes; found {', '.join(valid.kinds)})")
    kb = make_kb(settings())
    try:
        for p in valid.policies:
            try:
                stored = load_policy(kb, p.system)
            except PolicyError as exc:
                print(f"{p.system}: the stored policy is invalid ({exc}); applying replaces it")
                continue
            lines = diff_policies(stored, p)
            print(f"{p.system}: " + ("no change" if not lines else f"{len(lines)} change(s)"))
            for line in lines:
                print(f"  {line}")
        for source, steps in scales.items():
            lines = diff_scales(source, load_scale_steps(kb, source).get(source), steps)
            print(f"{SCALE_KEY}{source}: " + ("no change" if not lines else f"{len(lines)} change(s)"))
            for line in lines:
                print(f"  {line}")
    finally:
        kb.close()
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.policy_history import load_history

    kb = make_kb(settings())
    try:
        versions = load_history(kb, args.system)
    finally:
        kb.close()
    if not versions:
        raise CliError(f"no policy history for {_what(args.system)}")
    if args.show is not None:
        chosen = [v for v in versions if v.version == args.show]
        if not chosen:
            raise CliError(f"{_what(args.system)} has no policy version {args.show} "
                           f"(versions 1..{versions[-1].version})")
        print(chosen[0].turtle)
        return 0
    print(f"{'version':>7}  {'applied at (UTC)':<25} {'by':<12} change")
    for v in versions:
        change = v.change + (f" to version {v.rolled_back_to}" if v.rolled_back_to else "")
        current = "  (current)" if v is versions[-1] else ""
        print(f"{v.version:>7}  {v.applied_at.astimezone(UTC).isoformat(timespec='seconds'):<25} "
              f"{v.applied_by:<12} {change}{current}")
    return 0


def _what(key: str) -> str:
    """What a history key names, for messages."""
    from arca.policy import SCALE_KEY

    if key.startswith(SCALE_KEY):
        return f"the severity scale of source {key[len(SCALE_KEY):]!r}"
    if key.startswith("source:"):
        return f"the trust of source {key[7:]!r}"
    return f"system {key!r}"


def _rollback_item(key: str, turtle: str, source: str) -> tuple[str, str, str, str]:
    """(history key, node IRI, graph, Turtle) to store for a version of ``key``: a system's policy,
    ``scale:<source>`` (severity scale) or ``source:<source>`` (detector trust)."""
    import rdflib

    from arca.decider.validation import validate_admin_file, validate_policy
    from arca.kb.terms import arca_iri
    from arca.namespace import ARCA_NS
    from arca.policy import SCALE_KEY, policy_graph, scale_graph

    for prefix, cls, graph_of in ((SCALE_KEY, "SeverityScale", scale_graph),
                                  ("source:", "SourceTrust", lambda s: arca_iri("graph/trust", s))):
        if key.startswith(prefix):
            name = key[len(prefix):]
            graph = validate_admin_file(turtle, source).graph
            nodes = [n for n in graph.subjects(rdflib.RDF.type, rdflib.URIRef(ARCA_NS + cls))
                     if str(graph.value(n, rdflib.URIRef(ARCA_NS + "forSource"))) == name]
            if len(nodes) != 1:
                raise ValueError(f"no arca:{cls} for source {name!r} in it")
            return key, str(nodes[0]), str(graph_of(name)), turtle
    (p,) = [q for q in validate_policy(turtle, source).policies if q.system == key]
    return p.system, p.iri, policy_graph(p.system), turtle


def cmd_rollback(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.decider.validation import PolicyInvalid
    from arca.policy_history import load_history

    kb = make_kb(settings())
    try:
        versions = load_history(kb, args.system)
        if not versions:
            raise CliError(f"no policy history for {_what(args.system)}: nothing to roll back to")
        if args.version is None:
            if len(versions) < 2:
                raise CliError(f"{_what(args.system)} has only version 1: nothing before it")
            target = versions[-2]
        else:
            found = [v for v in versions if v.version == args.version]
            if not found:
                raise CliError(f"{_what(args.system)} has no policy version {args.version} "
                               f"(versions 1..{versions[-1].version})")
            target = found[0]
        try:
            item = _rollback_item(args.system, target.turtle, f"version {target.version}")
        except (PolicyInvalid, ValueError) as exc:
            raise CliError(f"version {target.version} of {args.system!r} is no longer valid: {exc}") from exc
        (_, version), = _store_and_notify(kb, [item], by=_by(args), change="rollback",
                                          rolled_back_to=target.version)
    finally:
        kb.close()
    print(f"rolled back policy of {args.system!r} to version {target.version} (now version {version})")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    import rdflib

    from arca.app.runtime import make_kb
    from arca.decider.samples import LEARNED_GRAPH
    from arca.decider.validation import PolicyInvalid, parse_turtle, shacl_problems
    from arca.kb import KnowledgeBaseError

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
    systems = sorted({str(o) for o in graph.objects(None, rdflib.URIRef("https://w3id.org/arca/ns#system"))})
    s = settings()
    kb = make_kb(s)
    try:
        kb.load_turtle(data, LEARNED_GRAPH)
        kb.close()
    except KnowledgeBaseError as exc:
        raise CliError(f"{args.file}: the knowledge base refused the samples: {exc}") from None
    print(f"seeded {count} samples from {args.file}")
    told = _tell_deciders(s, systems)
    if told:
        print(f"running deciders told to reload the samples of {', '.join(systems)}")
    return 0


def _tell_deciders(s: Any, systems: list[str]) -> bool:
    """Publish ``PolicyUpdated`` (policy = the learned-samples graph) per system, so a running decider
    rebuilds its anticipator now; the topology is declared first, so a decider that starts later
    finds the note in its queue (and reads the store at start anyway). False when there is no bus."""
    from arca.app.runtime import make_publisher
    from arca.decider.samples import LEARNED_GRAPH
    from arca.messages import PolicyUpdated

    if s.bus.kind != "rabbitmq" or not systems:
        return False
    bus = make_publisher(s)
    try:
        bus.start()
        now = datetime.now(UTC)
        for system in systems:
            bus.publish(PolicyUpdated(event_time=now, producer="arca-cli", system=system,
                                      policy=str(LEARNED_GRAPH)))
        bus.flush()
    except Exception as exc:
        print(f"arca anticipation seed: stored, but the running deciders were not told ({exc}); "
              "they read the samples when they start", file=sys.stderr)
        return False
    finally:
        bus.stop()
    return True


def cmd_show(args: argparse.Namespace) -> int:
    from arca.app.runtime import make_kb
    from arca.decider.anticipator import Anticipator
    from arca.decider.samples import load_samples

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
    from arca.decider.bench import bench_svr

    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    print(f"{'samples':>8} {'fit ms':>9} {'floor ms':>9} {'support':>8}")
    for row in bench_svr(sizes, repeat=args.repeat):
        print(f"{row.samples:>8} {row.fit_s * 1e3:9.1f} {row.floor_s * 1e3:9.3f} {row.support:>8}")
    return 0
