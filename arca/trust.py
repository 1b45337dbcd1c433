"""Detector trust: per-source event rate limits and learned credibility (model, loaders, pure rules).

Admins declare, per event source, an ``arca:SourceTrust`` node (``arca:forSource "*"`` is the
fallback for sources without their own), in the same admin files as severity scales:

* ``arca:eventLimit`` events per ``arca:eventWindowSeconds``: the analyzer refuses the excess of a
  source (dead-lettered with the reason, counted in ``arca_events_refused_total``); cancellations
  are never refused;
* learned credibility in [0, 1] (1 for a new source): an announced incident is *confirmed* when a
  telemetry round of a system it concerns shows demand beyond what the system's default amount
  carries (``demand > defaultServants x highThreshold``) within ``arca:confirmationSeconds`` of the
  onset; an unconfirmed incident multiplies the credibility by ``arca:credibilityPenalty``, a
  confirmed one adds ``arca:credibilityReward`` (capped at 1). The severity an event anticipates
  with is ``round(severity x credibility)`` -- 0, i.e. no anticipation at all, once the credibility
  falls under ``0.5 / severity``. The credibility is kept in the knowledge base
  (``arca:graph/credibility/<source>``), shown and reset by ``arca trust show|reset``.

Without any ``arca:SourceTrust`` node nothing is limited and nothing is learned (every source is
fully credible). The shipped defaults (``ontology/policies/source-trust.ttl``) hold one ``*`` node: a
rate limit per source (10 events per 60 s, measured on the shipped timelines) and no learning, so a
flood from one source is bounded out of the box; each source is counted on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import rdflib
from rdflib.namespace import XSD

from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.namespace import ARCA_NS

ANY_SOURCE = "*"
CREDIBILITY_GRAPH_PREFIX = f"{ARCA_NS}graph/credibility/"
ARCA = rdflib.Namespace(ARCA_NS)


@dataclass(frozen=True)
class SourceTrust:
    """What admins set for one event source (``*``: every source without its own node)."""

    source: str
    event_limit: int | None = None
    window_s: float = 60.0
    penalty: float = 0.5
    reward: float = 0.25
    confirmation_s: float = 60.0
    learn: bool = True


@dataclass(frozen=True)
class Credibility:
    """The learned credibility of one source."""

    source: str
    value: float = 1.0
    confirmed: int = 0
    unconfirmed: int = 0
    updated_at: datetime | None = None
    by: str = "learned"
    """``learned`` or the admin who set it last."""
    refused: int = 0
    """Events of the source refused by its rate limit (as last stored by the analyzer)."""


def trust_for(trusts: dict[str, SourceTrust], source: str) -> SourceTrust | None:
    """The source's own trust node, else the ``*`` one, else None (nothing limited or learned).

    A source's own node without an ``arca:eventLimit`` keeps the ``*`` node's limit and window: a node
    written to tune a source's credibility does not lift the default rate limit by accident (to lift
    it, give the source a limit of its own)."""
    own, default = trusts.get(source), trusts.get(ANY_SOURCE)
    if own is None:
        return default
    if own.event_limit is None and default is not None and default.event_limit is not None:
        return replace(own, event_limit=default.event_limit, window_s=default.window_s)
    return own


def shifted(t: datetime, seconds: float) -> datetime:
    """``t`` moved by ``seconds``, held within the datetimes Python represents: never an
    ``OverflowError``, whatever the window (a bound in the shapes keeps real ones within a day)."""
    try:
        return t + timedelta(seconds=seconds)
    except OverflowError:  # beyond year 1 or 9999 (or a timedelta of over 999999999 days)
        edge = datetime.max if seconds > 0 else datetime.min
        return edge.replace(tzinfo=t.tzinfo)


def window_start(now: datetime, trust: SourceTrust) -> datetime:
    """The start of the source's rate-limit window ending at ``now``."""
    return shifted(now, -trust.window_s)


def confirmation_end(onset: datetime, trust: SourceTrust) -> datetime:
    """When the confirmation window of an incident announced at ``onset`` closes."""
    return shifted(onset, trust.confirmation_s)


def over_limit(times: Sequence[datetime], trust: SourceTrust, now: datetime) -> int | None:
    """Events already accepted from the source in ``(now - window, now]`` when that reaches the
    limit (the new event must be refused), else None."""
    if trust.event_limit is None:
        return None
    since = window_start(now, trust)
    count = sum(1 for t in times if since < t <= now)
    return count if count >= trust.event_limit else None


def take_slot(times: list[datetime], trust: SourceTrust, at: datetime) -> int | None:
    """Admit an event of time ``at`` into ``times``, the source's accepted event times (pruned here of
    those that left the window): None, and ``at`` recorded, when the limit allows it; else the count
    already accepted in the window (``over_limit``) and nothing recorded. The one rule the analyzer
    and the collector's door both apply."""
    since = window_start(at, trust)
    times[:] = [t for t in times if t > since]
    count = over_limit(times, trust, at)
    if count is None:
        times.append(at)
    return count


def judge(cred: Credibility, confirmed: bool, trust: SourceTrust, at: datetime) -> Credibility:
    """The credibility after one incident of the source was confirmed by load or not."""
    if confirmed:
        return replace(cred, value=min(1.0, cred.value + trust.reward), confirmed=cred.confirmed + 1,
                       updated_at=at, by="learned")
    return replace(cred, value=max(0.0, cred.value * trust.penalty), unconfirmed=cred.unconfirmed + 1,
                   updated_at=at, by="learned")


def effective_severity(severity: int, credibility: float) -> int:
    """The severity an event anticipates with: ``round(severity x credibility)`` (half up)."""
    return math.floor(severity * credibility + 0.5)


# -- knowledge base ---------------------------------------------------------------------------------
_TRUST_PROPS = {
    "eventLimit": ("event_limit", int),
    "eventWindowSeconds": ("window_s", float),
    "credibilityPenalty": ("penalty", float),
    "credibilityReward": ("reward", float),
    "confirmationSeconds": ("confirmation_s", float),
    "learnCredibility": ("learn", bool),
}


def trusts_from_rows(rows: Iterable[tuple[str, str, str, Any]]) -> dict[str, SourceTrust]:
    """(node, source, property IRI, value) rows -> trust by source."""
    data: dict[str, dict[str, Any]] = {}
    for node, source, prop, value in rows:
        entry = data.setdefault(node, {"source": source})
        local = prop[len(ARCA_NS):] if prop.startswith(ARCA_NS) else prop
        spec = _TRUST_PROPS.get(local)
        if spec is not None:
            name, kind = spec
            entry[name] = kind(value) if kind is not bool else str(value).lower() in ("true", "1")
    return {d["source"]: SourceTrust(**d) for d in data.values()}


def load_trusts(kb: KnowledgeBase) -> dict[str, SourceTrust]:
    """Every ``arca:SourceTrust`` node of the knowledge base (any graph), by source."""
    rows = kb.query("SELECT ?n ?src ?p ?o WHERE { { ?n a arca:SourceTrust ; arca:forSource ?src ; ?p ?o } "
                    "UNION { GRAPH ?g { ?n a arca:SourceTrust ; arca:forSource ?src ; ?p ?o } } }")
    return trusts_from_rows((str(r["n"]), str(r["src"]), str(r["p"]), r["o"]) for r in rows)


def trusts_from_graph(graph: rdflib.Graph) -> dict[str, SourceTrust]:
    """Every ``arca:SourceTrust`` node of an rdflib graph (an admin file), by source."""
    rows = []
    for node in graph.subjects(rdflib.RDF.type, ARCA.SourceTrust):
        source = str(graph.value(node, ARCA.forSource))
        for p, o in graph.predicate_objects(node):
            value = o.toPython() if isinstance(o, rdflib.Literal) else str(o)
            rows.append((str(node), source, str(p), value))
    return trusts_from_rows(rows)


def credibility_graph(source: str) -> IRI:
    return arca_iri("graph/credibility", source)


def load_credibility(kb: KnowledgeBase) -> dict[str, Credibility]:
    """The stored credibility of every source."""
    rows = kb.query(
        "SELECT ?src ?v ?c ?u ?at ?by ?r WHERE { GRAPH ?g { ?n a arca:SourceCredibility ; "
        "arca:forSource ?src ; "
        "arca:credibility ?v ; arca:confirmedIncidents ?c ; arca:unconfirmedIncidents ?u ; "
        "arca:credibilitySetBy ?by . OPTIONAL { ?n arca:credibilityUpdatedAt ?at } "
        "OPTIONAL { ?n arca:eventsRefused ?r } } "
        "FILTER(STRSTARTS(STR(?g), $prefix)) }",
        prefix=CREDIBILITY_GRAPH_PREFIX,
    )
    out = {}
    for r in rows:
        at = r.get("at")
        if at is not None and not isinstance(at, datetime):
            at = datetime.fromisoformat(str(at))
        refused = int(r["r"]) if r.get("r") is not None else 0
        out[str(r["src"])] = Credibility(str(r["src"]), float(r["v"]), int(r["c"]), int(r["u"]), at,
                                         str(r["by"]), refused)
    return out


def store_credibility(kb: KnowledgeBase, cred: Credibility) -> None:
    """Replace the stored credibility of ``cred.source``."""
    g = rdflib.Graph()
    node = rdflib.URIRef(arca_iri("credibility", cred.source))
    g.add((node, rdflib.RDF.type, ARCA.SourceCredibility))
    g.add((node, ARCA.forSource, rdflib.Literal(cred.source)))
    g.add((node, ARCA.credibility, rdflib.Literal(round(cred.value, 6), datatype=XSD.double)))
    g.add((node, ARCA.confirmedIncidents, rdflib.Literal(cred.confirmed, datatype=XSD.integer)))
    g.add((node, ARCA.unconfirmedIncidents, rdflib.Literal(cred.unconfirmed, datatype=XSD.integer)))
    g.add((node, ARCA.credibilitySetBy, rdflib.Literal(cred.by)))
    g.add((node, ARCA.eventsRefused, rdflib.Literal(cred.refused, datatype=XSD.integer)))
    if cred.updated_at is not None:
        at = rdflib.Literal(cred.updated_at.isoformat(), datatype=XSD.dateTime)
        g.add((node, ARCA.credibilityUpdatedAt, at))
    kb.replace_graph(g.serialize(format="turtle"), credibility_graph(cred.source))
