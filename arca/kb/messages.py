"""Keeping messages in the knowledge base: the audit trail and the latest state per system.

A message is stored as exactly the triples it has on the wire (``arca.messages.codec``) in the
named graph ``arca:graph/<kind>`` — N-Triples produced by our own serialiser is valid inside
``INSERT DATA`` (every ``$`` escaped as ``\\u0024`` so it cannot act as a placeholder), so nothing
untrusted is pasted into a query unescaped.
"""

from __future__ import annotations

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


def store_message(kb: KnowledgeBase, message: Message, *, sync: bool = False) -> None:
    """Insert the message's triples into ``arca:graph/<kind>`` (buffered unless ``sync``)."""
    # "$" would read as a template placeholder: write it as the codepoint escape \u0024, which
    # SPARQL (like N-Triples) resolves inside strings and IRIs, so the stored text is unchanged
    body = encode(message).decode().replace("$", "\\u0024")
    template = f"INSERT DATA {{ GRAPH $g {{\n{body}}} }}"
    if sync:
        kb.update(template, g=graph_of(message.kind))
    else:
        kb.submit(template, g=graph_of(message.kind))


def load_messages(kb: KnowledgeBase, cls: type[M], system: str | None = None,
                  limit: int = 1) -> list[M]:
    """The latest ``limit`` stored messages of ``cls`` (optionally of one system), newest first."""
    filt = "?m arca:system $system ." if system is not None else ""
    binds: dict[str, object] = {"g": graph_of(cls.kind), "t": IRI(ARCA_NS + cls.__name__)}
    if system is not None:
        binds["system"] = system
    rows = kb.query(
        f"SELECT ?m WHERE {{ GRAPH $g {{ ?m a $t ; arca:eventTime ?time . {filt} }} }} "
        f"ORDER BY DESC(?time) LIMIT {int(limit)}",
        **binds,
    )
    out: list[M] = []
    for row in rows:
        triples = kb.query(
            "SELECT ?p ?o WHERE { GRAPH $g { $m ?p ?o } }", g=graph_of(cls.kind), m=IRI(row["m"])
        )
        subject = ox.NamedNode(row["m"])
        graph = [ox.Triple(subject, ox.NamedNode(t["p"]), _term(t["o"])) for t in triples]
        msg = from_triples(graph)
        assert type(msg) is MESSAGE_TYPES[cls.__name__]
        out.append(msg)  # type: ignore[arg-type]
    return out


def _term(value: object) -> ox.NamedNode | ox.Literal:
    from datetime import datetime

    from arca.messages.codec import _literal

    if isinstance(value, IRI):
        return ox.NamedNode(value)
    for kind in (bool, int, float, datetime, str):
        if isinstance(value, kind):
            return _literal(value, kind if kind is not str else str)
    raise TypeError(type(value))
