"""Keeping messages in the knowledge base: the audit trail and the latest state per system.

A message is stored as exactly the triples it has on the wire (``arca.messages.codec``) in the
named graph ``arca:graph/<kind>`` — N-Triples produced by our own serialiser is valid inside
``INSERT DATA`` (every ``$`` escaped as ``\\u0024`` so it cannot act as a placeholder), so nothing
untrusted is pasted into a query unescaped.

A nested item (a situation's ``arca:Incident``) is a node named by its content, shared by every
message that carries it: the writer may pass ``stored`` — nodes it knows are in the graph and stay
there until this message is (the analyzer's ``IncidentNodes``) — and only the links to those are
written, not their descriptions again. A burst of incidents otherwise writes each incident's triples
once per situation of its system: quadratic in the incidents alive, four-fifths of the store's work
in a 10,000-incident burst (docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

import pyoxigraph as ox

from arca.kb.base import KnowledgeBase
from arca.kb.terms import IRI
from arca.messages import MESSAGE_TYPES, Message
from arca.messages.codec import encode, from_triples
from arca.namespace import ARCA_NS

M = TypeVar("M", bound=Message)


def graph_of(kind: str) -> IRI:
    return IRI(f"{ARCA_NS}graph/{kind}")


def store_message(kb: KnowledgeBase, message: Message, *, sync: bool = False,
                  stored: Collection[str] = ()) -> None:
    """Insert the message's triples into ``arca:graph/<kind>`` (buffered unless ``sync``); of the
    nested nodes in ``stored`` (IRIs), only the message's links to them."""
    text = encode(message).decode()
    if stored:
        text = without_descriptions(text, stored)
    # "$" would read as a template placeholder: write it as the codepoint escape \u0024, which
    # SPARQL (like N-Triples) resolves inside strings and IRIs, so the stored text is unchanged
    body = text.replace("$", "\\u0024")
    # keep the first copy: a message handled again after a crash has the same id (``derived_id``)
    # and must not add a second value to its fields; replaying the update changes nothing either
    template = (f"INSERT {{ GRAPH $g {{\n{body}}} }} "
                "WHERE { FILTER NOT EXISTS { GRAPH $g { $m a ?type } } }")
    node = IRI(f"urn:uuid:{message.message_id}")
    if sync:
        kb.update(template, g=graph_of(message.kind), m=node)
    else:
        kb.submit(template, g=graph_of(message.kind), m=node)


def without_descriptions(ntriples: str, nodes: Collection[str]) -> str:
    """``ntriples`` (our serialiser's: one triple a line, the subject first) without the lines whose
    subject is one of ``nodes`` (IRIs): the links to them stay."""
    wanted = {f"<{node}>" for node in nodes}
    return "".join(line for line in ntriples.splitlines(keepends=True)
                   if line[:line.find(" ")] not in wanted)


def load_messages(kb: KnowledgeBase, cls: type[M], system: str | None = None,
                  limit: int = 1) -> list[M]:
    """The latest ``limit`` stored messages of ``cls`` (optionally of one system), newest first."""
    filt = "?m arca:system $system ." if system is not None else ""
    binds: dict[str, object] = {"g": graph_of(cls.kind), "t": IRI(ARCA_NS + cls.__name__)}
    if system is not None:
        binds["system"] = system
    rows = kb.query(  # one request: the latest messages, all their triples and their nested nodes'
        "SELECT ?m ?s ?p ?o WHERE { "
        f"{{ SELECT ?m ?time WHERE {{ GRAPH $g {{ ?m a $t ; arca:eventTime ?time . {filt} }} }} "
        f"ORDER BY DESC(?time) LIMIT {int(limit)} }} "
        "GRAPH $g { { ?m ?p ?o BIND(?m AS ?s) } UNION { ?m ?np ?s . ?s ?p ?o FILTER(isIRI(?s)) } } } "
        "ORDER BY DESC(?time) ?m",
        **binds,
    )
    graphs: dict[str, list[ox.Triple]] = {}
    for row in rows:  # dicts keep insertion order: newest message first
        subject = ox.NamedNode(row["s"])
        graphs.setdefault(row["m"], []).append(ox.Triple(subject, ox.NamedNode(row["p"]), _term(row["o"])))
    out: list[M] = []
    for graph in graphs.values():
        msg = from_triples(graph)
        assert type(msg) is MESSAGE_TYPES[cls.__name__]
        out.append(msg)  # type: ignore[arg-type]
    return out


def _term(value: object) -> ox.NamedNode | ox.Literal:
    from datetime import datetime

    from arca.messages.codec import _literal

    if isinstance(value, IRI):
        return ox.NamedNode(value)
    for kind in (bool, int, float, datetime, str):  # bool before int: True is an int too
        if isinstance(value, kind):
            return _literal(value, kind)
    raise TypeError(type(value))
