"""Retention of stored messages: which ones go (a pure rule) and deleting them from the store.

Every message a service stores (``arca.kb.messages.store_message``) lives in ``arca:graph/<kind>``.
``expired`` decides, from (message, key, event time) rows and a ``KindRetention``, which messages
go: ranked newest first per key (the system, or the source for events), the newest ``keep_latest``
stay whatever their age, the others go once older than ``max_age_s``, and nothing beyond the newest
``max_count`` of a key stays. ``compact`` applies it to one kind: it reads the rows, deletes the
expired messages' triples and, for situations, the incident nodes no situation refers to any more
(a situation refers to incidents stored once, ``arca.messages.codec.node_iri``).

Each kind has one owner that runs ``compact`` on its ticks (``OWNERS``): the analyzer (events,
situations, alarms, observations), the decider (decisions), the enforcer (enforcements); ``arca kb
compact`` runs every kind at once. Deleted triples free disk only once the store compacts its files:
``STORAGE_OWNER`` asks it every ``kb.compaction.interval_s`` (``KnowledgeBase.compact_storage``), as
``arca kb compact`` does after deleting. Deleting is idempotent, so two replicas of an owner doing it
twice change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from arca.config import KindRetention, RetentionSettings
from arca.kb.base import KnowledgeBase
from arca.kb.messages import graph_of
from arca.kb.terms import IRI
from arca.messages import MESSAGE_TYPES
from arca.namespace import ARCA_NS

KINDS = ("observation", "event", "situation", "alarm", "decision", "enforcement")
"""Every kind a retention rule covers (the ``kind`` of its message class)."""

OWNERS = {"analyzer": ("observation", "event", "situation", "alarm"), "decider": ("decision",),
          "enforcer": ("enforcement",)}
"""The one service that deletes each kind on its ticks."""

STORAGE_OWNER = "analyzer"
"""The service that asks the store to compact its files (``kb.compaction``): the one deleting most."""

BATCH = 200
"""Messages deleted per update."""


@dataclass(frozen=True)
class Stored:
    """One stored message as the rule sees it."""

    message: str
    key: str
    time: datetime


def expired(rows: Iterable[Stored], rule: KindRetention, now: datetime,
            newer: Mapping[str, int] | None = None) -> list[str]:
    """The messages ``rule`` removes at ``now`` (sorted): per key, ranked newest first, a message
    goes when its rank is ``max_count`` or more, or when its rank is ``keep_latest`` or more and it is
    older than ``max_age_s``. ``newer``: per key, how many messages newer than every row given were
    left out (their ranks come first), so only the candidates need to be read."""
    by_key: dict[str, list[Stored]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    cutoff = now - timedelta(seconds=rule.max_age_s)
    out = []
    for items in by_key.values():
        items.sort(key=lambda r: (r.time, r.message), reverse=True)
        skipped = (newer or {}).get(items[0].key, 0)
        for index, row in enumerate(items):
            rank = skipped + index
            if rank >= rule.max_count or (rank >= rule.keep_latest and row.time < cutoff):
                out.append(row.message)
    return sorted(out)


def _class_of(kind: str) -> str:
    names = [name for name, cls in MESSAGE_TYPES.items() if cls.kind == kind]
    if len(names) != 1:
        raise KeyError(f"no message class of kind {kind!r}")
    return names[0]


def _key(kind: str) -> str:
    return "source" if kind == "event" else "system"


def stored(kb: KnowledgeBase, kind: str, before: datetime | None = None) -> list[Stored]:
    """The stored messages of ``kind`` (only those older than ``before`` when given) with their key
    (the source for events, else the system) and time."""
    older = "FILTER(?t < $before)" if before is not None else ""
    binds: dict[str, object] = {"g": graph_of(kind), "type": IRI(ARCA_NS + _class_of(kind))}
    if before is not None:
        binds["before"] = before
    rows = kb.query("SELECT ?m ?k ?t WHERE { GRAPH $g { ?m a $type ; arca:eventTime ?t . "
                    f"OPTIONAL {{ ?m arca:{_key(kind)} ?k }} {older} }} }}", **binds)
    return [Stored(str(r["m"]), str(r.get("k") or ""), r["t"]) for r in rows
            if isinstance(r.get("t"), datetime)]


def counts(kb: KnowledgeBase, kind: str) -> dict[str, int]:
    """How many messages of ``kind`` each key has."""
    rows = kb.query("SELECT ?k (COUNT(?m) AS ?n) WHERE { GRAPH $g { ?m a $type . "
                    f"OPTIONAL {{ ?m arca:{_key(kind)} ?k }} }} }} GROUP BY ?k",
                    g=graph_of(kind), type=IRI(ARCA_NS + _class_of(kind)))
    return {str(r.get("k") or ""): int(r["n"]) for r in rows}


def candidates(kb: KnowledgeBase, kind: str, rule: KindRetention,
               now: datetime) -> tuple[list[Stored], dict[str, int]]:
    """What ``expired`` needs, read without every row: the messages older than the rule's age (all of a
    key over ``max_count``), and per key how many newer ones were left out. A write landing between
    the two reads only makes the ranks lower, so it keeps more, never less."""
    total = counts(kb, kind)
    rows = {r.message: r for r in stored(kb, kind, before=now - timedelta(seconds=rule.max_age_s))}
    if any(n > rule.max_count for n in total.values()):  # a flood: rank every row of those keys
        over = {k for k, n in total.items() if n > rule.max_count}
        rows.update({r.message: r for r in stored(kb, kind) if r.key in over})
    seen: dict[str, int] = {}
    for r in rows.values():
        seen[r.key] = seen.get(r.key, 0) + 1
    newer = {k: max(0, total.get(k, 0) - n) for k, n in seen.items()}
    return list(rows.values()), newer


def delete(kb: KnowledgeBase, kind: str, messages: Sequence[str], *, sync: bool = False) -> None:
    """Delete the triples of ``messages`` from ``arca:graph/<kind>`` (and, for situations, the
    incident nodes left without a situation), ``BATCH`` at a time; buffered unless ``sync``."""
    run = kb.update if sync else kb.submit
    for i in range(0, len(messages), BATCH):
        chunk = messages[i:i + BATCH]
        binds: dict[str, object] = {f"m{j}": IRI(m) for j, m in enumerate(chunk)}
        values = " ".join(f"$m{j}" for j in range(len(chunk)))
        run(f"DELETE {{ GRAPH $g {{ ?m ?p ?o }} }} "
            f"WHERE {{ VALUES ?m {{ {values} }} GRAPH $g {{ ?m ?p ?o }} }}", g=graph_of(kind), **binds)
    if kind == "situation" and messages:
        run("DELETE { GRAPH $g { ?i ?p ?o } } WHERE { GRAPH $g { ?i a arca:Incident ; ?p ?o "
            "FILTER NOT EXISTS { ?s arca:activeIncident ?i } } }", g=graph_of(kind))


def compact(kb: KnowledgeBase, kind: str, rule: KindRetention, now: datetime, *,
            dry_run: bool = False, sync: bool = False) -> int:
    """Apply ``rule`` to the stored messages of ``kind`` at ``now``; returns how many go (or would)."""
    rows, newer = candidates(kb, kind, rule, now)
    gone = expired(rows, rule, now, newer)
    if not dry_run:
        delete(kb, kind, gone, sync=sync)
    return len(gone)


def compact_all(kb: KnowledgeBase, settings: RetentionSettings, now: datetime, kinds: Sequence[str] = KINDS,
                *, dry_run: bool = False, sync: bool = False) -> dict[str, int]:
    """``compact`` every kind of ``kinds`` by its rule; the count per kind."""
    return {kind: compact(kb, kind, settings.rule(kind), now, dry_run=dry_run, sync=sync) for kind in kinds}


def triples(kb: KnowledgeBase) -> int:
    """Triples in the whole store (every graph and the default one)."""
    rows = kb.query("SELECT (COUNT(*) AS ?n) WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }")
    return int(rows[0]["n"]) if rows else 0
