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

The shapes are open (a property they do not name passes SHACL), so before them every ``arca:`` term is
checked against the vocabulary the shipped ontology files declare (``vocabulary()``): an unknown
property or class, or a property used on a class it is not for, is refused naming the term and the
nearest known one (``difflib``), e.g. ``arca:maxServant`` -> ``arca:maxServants``.

One message per fault, one format: ``node <node> property <prop>: <why> (value <v>)``. A value that
fails several constraints is reported once, a bad value is not also blamed on the properties compared
with it, and a comparison (``minServants`` <= ``maxServants``...) names both properties and values.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import logging
import math
import re
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pyshacl
import rdflib
import rdflib.collection
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


VOCABULARY_FILES = ("arca.ttl", "policy.ttl", "severity.ttl")
"""The shipped ontology files that declare ARCA's terms (every ``arca:`` class and property)."""
PROPERTY_TYPES = (rdflib.OWL.DatatypeProperty, rdflib.OWL.ObjectProperty, rdflib.RDF.Property)
CLASS_TYPES = (rdflib.OWL.Class, rdflib.RDFS.Class)


@dataclass(frozen=True)
class Vocabulary:
    """The ``arca:`` terms the shipped ontology declares (local names), read from its files."""

    classes: frozenset[str]
    properties: frozenset[str]
    object_properties: frozenset[str]
    domains: dict[str, frozenset[str]]
    """property -> the classes it is declared for (``rdfs:domain``; empty: any class)."""

    shaped: dict[str, frozenset[str]]
    """class -> the properties its SHACL shapes constrain."""

    def for_class(self, cls: str) -> list[str]:
        """The properties a node of class ``cls`` may have: those declared for it (``rdfs:domain``) or
        for any class, and those its shapes constrain."""
        return sorted(p for p in self.properties
                      if not self.domains.get(p) or cls in self.domains[p] or p in self.shaped.get(cls, ()))


@functools.cache
def vocabulary() -> Vocabulary:
    """ARCA's vocabulary as the ontology files declare it (not a hand-kept list)."""
    graph = rdflib.Graph()
    for name in VOCABULARY_FILES:
        graph.parse(ONTOLOGY_DIR / name)

    def local(term: object) -> str | None:
        text = str(term)
        return text[len(ARCA_NS):] if isinstance(term, rdflib.URIRef) and text.startswith(ARCA_NS) else None

    def declared(types: tuple[rdflib.URIRef, ...]) -> frozenset[str]:
        return frozenset(n for t in types for s in graph.subjects(rdflib.RDF.type, t)
                         if (n := local(s)) is not None)

    def classes(domain: rdflib.term.Node) -> list[rdflib.term.Node]:  # a class or an owl:unionOf of them
        union = graph.value(domain, rdflib.OWL.unionOf)
        return list(rdflib.collection.Collection(graph, union)) if union is not None else [domain]

    properties = declared(PROPERTY_TYPES)
    domains = {p: frozenset(n for d in graph.objects(rdflib.URIRef(ARCA_NS + p), rdflib.RDFS.domain)
                            for c in classes(d) if (n := local(c)) is not None) for p in properties}
    shaped: dict[str, set[str]] = {}
    for shape, cls in shapes().subject_objects(SH.targetClass):
        for prop in shapes().objects(shape, SH.property):
            owner, on = local(cls), local(shapes().value(prop, SH.path))
            if owner is not None and on is not None:
                shaped.setdefault(owner, set()).add(on)
    return Vocabulary(declared(CLASS_TYPES), properties, declared((rdflib.OWL.ObjectProperty,)), domains,
                      {c: frozenset(ps) for c, ps in shaped.items()})


def object_properties() -> frozenset[str]:
    """The ``arca:`` properties the vocabularies declare as ``owl:ObjectProperty`` (node values)."""
    return frozenset(ARCA_NS + p for p in vocabulary().object_properties)


def _nearest(word: str, known: list[str] | frozenset[str]) -> str:
    """``, did you mean arca:<nearest>?`` (difflib's closest known term), or nothing close."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f"; did you mean arca:{close[0]}?" if close else ""


def unknown_terms(graph: rdflib.Graph) -> tuple[list[str], set[rdflib.term.Node]]:
    """Every ``arca:`` term of ``graph`` the ontology does not declare (a property, or a class named by
    ``rdf:type``), and every known property used on a node of a class it is not declared for; each
    problem names the term and the nearest known one. Also returns the properties refused, whose
    values are then not examined (one message per fault). Node names (``arca:scale-x``...) are not
    terms and are not checked."""
    vocab = vocabulary()
    out: set[str] = set()
    refused: set[rdflib.term.Node] = set()
    data = {rdflib.URIRef(ARCA_NS + p) for p in vocab.properties - vocab.object_properties}
    in_bad_values = {o for _, p, o in graph if p in data and isinstance(o, rdflib.BNode)}  # reported as such
    for s, p, o in graph:
        if s in in_bad_values:
            continue
        if p == rdflib.RDF.type and isinstance(o, rdflib.URIRef) and str(o).startswith(ARCA_NS):
            cls = str(o)[len(ARCA_NS):]
            if cls not in vocab.classes:
                out.add(f"node {_short(s)} property rdf:type: unknown class arca:{cls}"
                        f"{_nearest(cls, vocab.classes)}")
            continue
        if not str(p).startswith(ARCA_NS):
            continue
        prop = str(p)[len(ARCA_NS):]
        classes = sorted(str(c)[len(ARCA_NS):] for c in graph.objects(s, rdflib.RDF.type)
                         if str(c)[len(ARCA_NS):] in vocab.classes)
        allowed = sorted({q for c in classes for q in vocab.for_class(c)}) if classes else vocab.properties
        if prop not in vocab.properties:
            refused.add(p)
            out.add(f"node {_short(s)} property arca:{prop}: unknown term (not in the ARCA ontology)"
                    f"{_nearest(prop, allowed)}")
        elif classes and prop not in allowed:
            refused.add(p)
            owners = ", ".join(f"arca:{c}" for c in sorted(vocab.domains[prop]))
            out.add(f"node {_short(s)} property arca:{prop}: not a property of "
                    f"{', '.join(f'arca:{c}' for c in classes)} (it belongs to {owners})"
                    f"{_nearest(prop, allowed)}")
    return sorted(out), refused


def literal_problems(graph: rdflib.Graph, skip: Collection[rdflib.term.Node] = ()) -> list[str]:
    """Every ``arca:`` data property value that is not a well-typed, finite literal (object
    properties such as a severity scale's ``arca:step`` aside: SHACL checks their nodes; ``skip``:
    properties already refused)."""
    out = []
    nodes = object_properties()
    for s, p, o in graph:
        if not str(p).startswith(ARCA_NS) or str(p) in nodes or p in skip:
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


PAIR_CONSTRAINTS = {
    SH.LessThanConstraintComponent: (SH.lessThan, lambda a, b: a < b, "is not below"),
    SH.LessThanOrEqualsConstraintComponent: (SH.lessThanOrEquals, lambda a, b: a <= b, "is above"),
}
"""SHACL's comparisons of two properties: the shape's predicate, the test, and how a failure reads."""


def _number(term: object) -> float | Decimal | None:
    if not isinstance(term, rdflib.Literal) or term.ill_typed:
        return None
    value = term.toPython()
    return value if isinstance(value, int | float | Decimal) and not isinstance(value, bool) else None


def shacl_problems(graph: rdflib.Graph) -> list[str]:
    """One line per fault SHACL finds: ``node <node> property <prop>: <why> (value <v>)``.

    pyshacl reports one result per failed constraint component, so one bad value can fail its
    datatype, its range and every comparison other properties make with it. Here a value counts
    once (one line per node, property and value), and a comparison of two properties
    (``sh:lessThan``, ``sh:lessThanOrEquals``) is reported only when both values are numbers (a bad
    value is reported on its own property, not on the properties compared with it), naming both
    properties and both values.
    """
    try:
        with _quiet_rdflib():
            conforms, results, _ = pyshacl.validate(graph, shacl_graph=shapes(), inference="none")
    except Exception as exc:  # pyshacl's ReportableRuntimeError and friends: still a named problem
        first = str(exc).splitlines()[0] if str(exc) else ""
        return [f"SHACL validation failed: {type(exc).__name__}: {first}"]
    if conforms:
        return []
    assert isinstance(results, rdflib.Graph)
    lines: dict[tuple[object, object, object], str] = {}
    pairs: set[tuple[rdflib.term.Node, rdflib.term.Node, rdflib.term.Node, rdflib.URIRef, str]] = set()
    for result in results.subjects(rdflib.RDF.type, SH.ValidationResult):
        node = results.value(result, SH.focusNode)
        path = results.value(result, SH.resultPath)
        message = results.value(result, SH.resultMessage)
        value = results.value(result, SH.value)
        component = results.value(result, SH.sourceConstraintComponent)
        shape = results.value(result, SH.sourceShape)
        if (isinstance(component, rdflib.URIRef) and component in PAIR_CONSTRAINTS and path is not None
                and node is not None and shape is not None):
            pairs.add((node, path, shape, component, str(message)))
            continue
        line = f"node {_short(node)}"
        why = str(message)
        if path is not None:
            line += f" property {_short(path)}"
            why = why.removeprefix(f"{_short(path).removeprefix('arca:')}: ")  # the property is named already
        line += f": {why}"
        if value is not None:
            line += f" (value {_short(value)})"
        lines.setdefault((node, path, value), line)
    faulty = {(node, path) for node, path, _ in lines}
    out = set(lines.values())
    for node, path, shape, component, said in pairs:
        predicate, holds, verb = PAIR_CONSTRAINTS[component]
        for other in shapes().objects(shape, predicate):
            if (node, path) in faulty or (node, other) in faulty:
                continue  # a bad value is reported on its own property only
            found = False
            for v in graph.objects(node, path):
                for w in graph.objects(node, other):
                    a, b = _number(v), _number(w)
                    if a is None or b is None:
                        continue
                    found = True
                    if not holds(a, b):
                        out.add(f"node {_short(node)} property {_short(path)}: {_short(path)} {v} {verb} "
                                f"{_short(other)} {w}")
            if not found and any(True for _ in graph.objects(node, other)):  # not numbers: as SHACL says
                out.add(f"node {_short(node)} property {_short(path)}: {said}")
    if not out:  # SHACL refused the graph: never let it pass for want of a line (say it as SHACL does)
        out = {f"node {_short(node)} property {_short(path)}: {said}" for node, path, _, _, said in pairs}
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


def input_problems(graph: rdflib.Graph) -> list[str]:
    """Every problem of a parsed admin file, one line per fault: unknown terms and ill-typed values
    first (SHACL would only trip over them), then nodes shared by two systems, then the shapes."""
    unknown, refused = unknown_terms(graph)
    problems = sorted([*unknown, *literal_problems(graph, refused)])
    return problems or shared_policy_nodes(graph) or shacl_problems(graph)


def validate_admin_file(data: bytes | str, source: str = "admin file") -> AdminFile:
    """Any shipped kind of admin file: syntax, shapes, kind, then the typed models."""
    graph = parse_turtle(data, source)
    problems = input_problems(graph)
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
    problems = input_problems(graph)
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
        raise PolicyInvalid(source, exc.problems) from exc
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
