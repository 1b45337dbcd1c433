"""Policy life cycle in the knowledge base: every version applied, when, by whom, with its Turtle.

``record_version`` is called by ``arca policy apply`` and ``arca policy rollback`` after the policy's
graph (``arca:graph/policy/<system>``) was replaced: it appends one ``arca:PolicyVersion`` node to
``arca:graph/policy-history/<system>`` with the version number (1, 2, ...), ``arca:appliedAt``,
``arca:appliedBy``, ``arca:changeKind`` (``apply`` or ``rollback``), ``arca:rolledBackTo`` for a
rollback and the whole Turtle of the policy (``arca:policyTurtle``), so any version can be shown or
restored later. ``diff_policies`` compares two typed policies field by field (``arca policy diff``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rdflib
from rdflib.namespace import XSD

from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.namespace import ARCA_NS
from arca.policy import _PROPS, Policy

ARCA = rdflib.Namespace(ARCA_NS)


@dataclass(frozen=True)
class PolicyVersion:
    """One applied version of a system's policy."""

    system: str
    version: int
    applied_at: datetime
    applied_by: str
    change: str
    """``apply`` or ``rollback``."""
    turtle: str
    rolled_back_to: int | None = None


def history_graph(system: str) -> IRI:
    """Named graph holding the versions of ``system``'s policy."""
    return arca_iri("graph/policy-history", system)


def load_history(kb: KnowledgeBase, system: str) -> list[PolicyVersion]:
    """Every recorded version of ``system``'s policy, oldest first."""
    rows = kb.query(
        "SELECT ?n ?at ?by ?kind ?ttl ?to WHERE { GRAPH $g { ?v a arca:PolicyVersion ; "
        "arca:versionNumber ?n ; arca:appliedAt ?at ; arca:appliedBy ?by ; arca:changeKind ?kind ; "
        "arca:policyTurtle ?ttl . OPTIONAL { ?v arca:rolledBackTo ?to } } } ORDER BY ?n",
        g=history_graph(system),
    )
    out = []
    for r in rows:
        at = r["at"]
        if not isinstance(at, datetime):
            at = datetime.fromisoformat(str(at))
        to = r.get("to")
        out.append(PolicyVersion(system, int(r["n"]), at, str(r["by"]), str(r["kind"]), str(r["ttl"]),
                                 int(to) if to is not None else None))
    return out


def record_version(kb: KnowledgeBase, system: str, turtle: str, *, by: str, at: datetime,
                   change: str = "apply", rolled_back_to: int | None = None) -> PolicyVersion:
    """Append the next version of ``system``'s policy to its history graph (flushed)."""
    versions = load_history(kb, system)
    number = versions[-1].version + 1 if versions else 1
    g = rdflib.Graph()
    node = rdflib.URIRef(arca_iri("policy-version", f"{system}/{number}"))
    g.add((node, rdflib.RDF.type, ARCA.PolicyVersion))
    g.add((node, ARCA.system, rdflib.Literal(system)))
    g.add((node, ARCA.versionNumber, rdflib.Literal(number, datatype=XSD.integer)))
    g.add((node, ARCA.appliedAt, rdflib.Literal(at.isoformat(), datatype=XSD.dateTime)))
    g.add((node, ARCA.appliedBy, rdflib.Literal(by)))
    g.add((node, ARCA.changeKind, rdflib.Literal(change)))
    g.add((node, ARCA.policyTurtle, rdflib.Literal(turtle)))
    if rolled_back_to is not None:
        g.add((node, ARCA.rolledBackTo, rdflib.Literal(rolled_back_to, datatype=XSD.integer)))
    kb.load_turtle(g.serialize(format="turtle"), history_graph(system))
    kb.flush()
    return PolicyVersion(system, number, at, by, change, turtle, rolled_back_to)


def _term(field: str) -> str:
    for local, (name, _kind) in _PROPS.items():
        if name == field:
            return f"arca:{local}"
    return field


def _show(value: Any) -> str:
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    return "-" if value is None else str(value)


def diff_policies(old: Policy | None, new: Policy) -> list[str]:
    """One line per policy term whose value changes from ``old`` to ``new`` (defaults included)."""
    if old is None:
        return [f"new policy for system {new.system!r}"]
    a, b = old.model_dump(exclude={"iri"}), new.model_dump(exclude={"iri"})
    return [f"{_term(k)}: {_show(a[k])} -> {_show(b[k])}" for k in a if a[k] != b[k]]


def diff_scales(source: str, old: list[tuple[float, int]] | None,
                new: list[tuple[float, int]]) -> list[str]:
    """One line per magnitude step of ``source``'s severity scale that changes (``-``: no such step)."""
    if not old:
        return [f"new severity scale for source {source!r}"]
    a, b = dict(old), dict(new)
    return [f"from magnitude {lower:g}: severity {_show(a.get(lower))} -> {_show(b.get(lower))}"
            for lower in sorted(set(a) | set(b)) if a.get(lower) != b.get(lower)]
