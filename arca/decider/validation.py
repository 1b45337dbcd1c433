"""Validation of admin files: Turtle syntax, SHACL shapes, then the typed models.

Every kind of admin file the project ships is recognised by the classes of its nodes
(``ADMIN_KINDS``): policies (``arca:Policy``), severity scales (``arca:SeverityScale``), detector trust
(``arca:SourceTrust``) and learned
samples seeded as prior knowledge (``arca:LearnedSample``). Every problem is reported with the node
and property it concerns (or the line of a syntax error), so ``arca policy validate`` can name each
offending triple and say which kind of file it found.

Before SHACL runs, every ``arca:`` property value is checked to be a well-typed, finite literal
(pyshacl and rdflib fail with ``TypeError``/``InvalidOperation``/``ReportableRuntimeError`` on
``arca:thresholdUp []``, ``"abc"^^xsd:integer`` or ``"NaN"^^xsd:double``); anything pyshacl still
raises becomes a named problem too, so a bad file is always a ``PolicyInvalid``, never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pyshacl
import rdflib
from rdflib.namespace import SH

from arca.decider.policy import Policy, PolicyError, policy_from_graph
from arca.namespace import ARCA_NS, ONTOLOGY_DIR

SHAPES_FILE = ONTOLOGY_DIR / "policy-shapes.ttl"
SHAPES_FILES = (SHAPES_FILE, ONTOLOGY_DIR / "severity-shapes.ttl")
ADMIN_KINDS: dict[str, str] = {
    "Policy": "policy",
    "SeverityScale": "severity scale",
    "SourceTrust": "source trust",
    "LearnedSample": "learned samples",
}
"""Class local name -> the kind of admin file it makes."""


class PolicyInvalid(ValueError):
    """A policy file that must be refused; ``problems`` lists each reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        if len(problems) == 1:  # one line: "<file>: invalid policy: <node> <property>: <why>"
            super().__init__(f"{source}: invalid policy: {problems[0]}")
        else:
            super().__init__(f"{source}: " + "\n  ".join(["invalid policy", *problems]))


@dataclass(frozen=True)
class ValidPolicies:
    graph: rdflib.Graph
    policies: list[Policy]


@dataclass(frozen=True)
class AdminFile:
    """A valid admin file: the kinds found (with node counts) and the typed policies it holds."""

    graph: rdflib.Graph
    kinds: dict[str, int]
    policies: list[Policy]


_shapes: rdflib.Graph | None = None


def shapes() -> rdflib.Graph:
    global _shapes
    if _shapes is None:
        graph = rdflib.Graph()
        for path in SHAPES_FILES:
            graph.parse(path, format="turtle")
        _shapes = graph
    return _shapes


def _short(term: object) -> str:
    text = str(term)
    if text.startswith(ARCA_NS):
        return "arca:" + text[len(ARCA_NS):]
    return f"<{text}>" if isinstance(term, rdflib.URIRef) else repr(text)


@contextlib.contextmanager
def _quiet_rdflib() -> Iterator[None]:
    """rdflib logs a traceback for each ill-typed literal it meets; we report those ourselves."""
    logger = logging.getLogger("rdflib.term")
    level, normalize = logger.level, rdflib.NORMALIZE_LITERALS
    logger.setLevel(logging.CRITICAL)
    rdflib.NORMALIZE_LITERALS = False  # keep lexical forms as written, so problems quote them
    try:
        with warnings.catch_warnings():  # e.g. "Parsing weird boolean": reported as a problem instead
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
        rdflib.NORMALIZE_LITERALS = normalize


def parse_turtle(data: bytes | str, source: str) -> rdflib.Graph:
    """Parse Turtle or raise ``PolicyInvalid`` with the line of the syntax error."""
    try:
        with _quiet_rdflib():
            return rdflib.Graph().parse(data=data, format="turtle")
    except Exception as exc:  # rdflib raises BadSyntax and others
        text = str(exc)
        m = re.search(r"at line (\d+)", text)
        why = re.search(r"Bad syntax \((.*?)\)", text)
        detail = why.group(1) if why else text.splitlines()[0] if text else type(exc).__name__
        where = f"line {m.group(1)}: " if m else ""
        raise PolicyInvalid(source, [f"{where}Turtle syntax error: {detail}"]) from exc


@functools.cache
def object_properties() -> frozenset[str]:
    """The ``arca:`` properties the vocabularies declare as ``owl:ObjectProperty`` (node values)."""
    vocab = rdflib.Graph()
    for name in ("arca.ttl", "policy.ttl", "severity.ttl"):
        vocab.parse(ONTOLOGY_DIR / name)
    return frozenset(str(p) for p in vocab.subjects(rdflib.RDF.type, rdflib.OWL.ObjectProperty))


def literal_problems(graph: rdflib.Graph) -> list[str]:
    """Every ``arca:`` data property value that is not a well-typed, finite literal (object
    properties such as a severity scale's ``arca:step`` aside: SHACL checks their nodes)."""
    out = []
    nodes = object_properties()
    for s, p, o in graph:
        if not str(p).startswith(ARCA_NS) or str(p) in nodes:
            continue
        where = f"node {_short(s)} property {_short(p)}"
        if not isinstance(o, rdflib.Literal):
            kind = "a blank node" if isinstance(o, rdflib.BNode) else f"the IRI {_short(o)}"
            out.append(f"{where}: expected a literal value, got {kind}")
            continue
        datatype = _short(o.datatype).replace(str(rdflib.XSD), "xsd:") if o.datatype else "string"
        if o.ill_typed:
            out.append(f"{where}: {str(o)!r} is not a valid {datatype.strip('<>')}")
            continue
        value = o.toPython()
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            out.append(f"{where}: {str(o)!r} is not a finite number")
    return sorted(set(out))


def shacl_problems(graph: rdflib.Graph) -> list[str]:
    """One line per SHACL violation: node, property, message, value."""
    try:
        with _quiet_rdflib():
            conforms, results, _ = pyshacl.validate(graph, shacl_graph=shapes(), inference="none")
    except Exception as exc:  # pyshacl's ReportableRuntimeError and friends: still a named problem
        first = str(exc).splitlines()[0] if str(exc) else ""
        return [f"SHACL validation failed: {type(exc).__name__}: {first}"]
    if conforms:
        return []
    assert isinstance(results, rdflib.Graph)
    out = []
    for result in results.subjects(rdflib.RDF.type, SH.ValidationResult):
        node = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        value = results.value(result, SH.value)
        line = f"node {_short(node)}"
        if path is not None:
            line += f" property {_short(path)}"
        line += f": {message}"
        if value is not None:
            line += f" (value {_short(value)})"
        out.append(line)
    return sorted(out)


def shared_policy_nodes(graph: rdflib.Graph) -> list[str]:
    """One policy per node: a node of class ``arca:Policy`` naming two systems or more (each system
    needs its own node), named with every system it names."""
    system = rdflib.URIRef(ARCA_NS + "system")
    out = []
    for node in sorted(graph.subjects(rdflib.RDF.type, rdflib.URIRef(ARCA_NS + "Policy")), key=str):
        systems = sorted(str(o) for o in graph.objects(node, system))
        if len(systems) > 1:
            out.append(f"node {_short(node)} is the policy of {len(systems)} systems "
                       f"({', '.join(repr(s) for s in systems)}): one policy per node, give each "
                       "system its own node")
    return out


def reused_policy_nodes(policies: list[Policy], stored: dict[str, set[str]]) -> list[str]:
    """Policies of a file whose node the knowledge base already holds as another system's policy
    (``stored``: node IRI -> systems, ``arca.policy.stored_policy_nodes``): applying one would give
    that node two systems and stop every policy reload. Pure; one problem per node, naming both."""
    out = []
    for p in policies:
        others = sorted(stored.get(p.iri, set()) - {p.system})
        if others:
            out.append(f"node <{p.iri}> is already the policy of system {', '.join(repr(s) for s in others)} "
                       f"in the knowledge base; this file makes it the policy of system {p.system!r}: "
                       "one policy per node, give each system its own node")
    return out


def validate_admin_file(data: bytes | str, source: str = "admin file") -> AdminFile:
    """Any shipped kind of admin file: syntax, shapes, kind, then the typed models."""
    graph = parse_turtle(data, source)
    problems = literal_problems(graph) or shared_policy_nodes(graph) or shacl_problems(graph)
    if problems:
        raise PolicyInvalid(source, problems)
    kinds = {kind: len(set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(ARCA_NS + cls))))
             for cls, kind in ADMIN_KINDS.items()}
    kinds = {k: n for k, n in kinds.items() if n}
    if not kinds:
        known = ", ".join(f"arca:{c}" for c in ADMIN_KINDS)
        raise PolicyInvalid(source, [f"no node of class {known} (the kinds of admin file: "
                                     f"{', '.join(ADMIN_KINDS.values())})"])
    policies = _policies(graph, source) if "policy" in kinds else []
    scale_sources = [str(o) for s in graph.subjects(rdflib.RDF.type, rdflib.URIRef(ARCA_NS + "SeverityScale"))
                     for o in graph.objects(s, rdflib.URIRef(ARCA_NS + "forSource"))]
    dupes = sorted({s for s in scale_sources if scale_sources.count(s) > 1})
    if dupes:
        raise PolicyInvalid(source, [f"more than one severity scale for source {s!r}" for s in dupes])
    trust_sources = [str(o) for s in graph.subjects(rdflib.RDF.type, rdflib.URIRef(ARCA_NS + "SourceTrust"))
                     for o in graph.objects(s, rdflib.URIRef(ARCA_NS + "forSource"))]
    dupes = sorted({s for s in trust_sources if trust_sources.count(s) > 1})
    if dupes:
        raise PolicyInvalid(source, [f"more than one source trust for source {s!r}" for s in dupes])
    return AdminFile(graph, kinds, policies)


def validate_policy(data: bytes | str, source: str = "policy") -> ValidPolicies:
    """Syntax, shapes and model checks of a policy file; raises ``PolicyInvalid`` listing every problem."""
    graph = parse_turtle(data, source)
    problems = literal_problems(graph) or shared_policy_nodes(graph) or shacl_problems(graph)
    if problems:
        raise PolicyInvalid(source, problems)
    if (None, rdflib.RDF.type, rdflib.URIRef(ARCA_NS + "Policy")) not in graph:
        raise PolicyInvalid(source, ["no node of class arca:Policy"])
    return ValidPolicies(graph, _policies(graph, source))


def _policies(graph: rdflib.Graph, source: str) -> list[Policy]:
    try:
        with _quiet_rdflib():
            policies = policy_from_graph(graph)
    except PolicyError as exc:
        raise PolicyInvalid(source, [str(exc)]) from exc
    except (ValueError, TypeError, ArithmeticError) as exc:  # a value the model cannot read
        raise PolicyInvalid(source, [f"{type(exc).__name__}: {exc}"]) from exc
    systems = [p.system for p in policies]
    dupes = sorted({s for s in systems if systems.count(s) > 1})
    if dupes:
        raise PolicyInvalid(source, [f"more than one policy for system {s!r}" for s in dupes])
    return policies


def policy_turtle(graph: rdflib.Graph, policy: Policy) -> str:
    """The Turtle of one policy node (its concise bounded description)."""
    return node_turtle(graph, rdflib.URIRef(policy.iri))


def node_turtle(graph: rdflib.Graph, node: rdflib.term.Node) -> str:
    """The Turtle of one admin node (its concise bounded description)."""
    sub = graph.cbd(node)
    sub.bind("arca", ARCA_NS)
    return sub.serialize(format="turtle")
