"""The decider's per-system state in the knowledge base, so another replica (or a restarted one) can
take a system over without its decisions jumping.

Learned samples are kept in the store already (``arca.decider.samples``); what a decider kept only in
memory is each system's strategy state (``ArcaState``: the incidents anticipated now, those expired
or ended unconfirmed, the held correction, cool-downs), its velocity and fallback state and its last
decision. They are saved as one JSON literal per system (``arca:DeciderState`` in graph
``arca:graph/decider-state``), replaced whenever it changes, through the buffered writes (on RabbitMQ
the broker holds them until the store has them, in order). The anticipator itself is not in it: it
is rebuilt from the stored samples.

The codec is generic over the strategies' state dataclasses: each field is dumped and validated with
a pydantic ``TypeAdapter`` of its annotation (datetimes, tuples, frozensets, nested dataclasses), so a
new state field is saved without touching this module; a field that cannot be (the anticipator) is
left out and keeps the value of a fresh state.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import typing
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from arca.decider.anticipator import Anticipator
from arca.decider.fallback import FallbackState
from arca.decider.velocity import VelocityState
from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.messages import Decision
from arca.namespace import ARCA_NS

log = logging.getLogger(__name__)

STATE_GRAPH = IRI(f"{ARCA_NS}graph/decider-state")

_ADAPTERS: dict[type, dict[str, TypeAdapter[Any]]] = {}


def _adapters(cls: type) -> dict[str, TypeAdapter[Any]]:
    known = _ADAPTERS.get(cls)
    if known is None:
        hints = typing.get_type_hints(cls)
        known = {}
        for f in dataclasses.fields(cls):
            if hints.get(f.name) is Anticipator:
                continue  # rebuilt from the stored samples
            try:
                known[f.name] = TypeAdapter(hints[f.name])
            except Exception:  # a type pydantic cannot describe: not saved
                log.debug("state field %s.%s not saved", cls.__name__, f.name)
        _ADAPTERS[cls] = known
    return known


def dump(state: Any) -> dict[str, Any] | None:
    """A dataclass state as JSON-able data (None: not a dataclass, nothing saved)."""
    if state is None or not dataclasses.is_dataclass(state) or isinstance(state, type):
        return None
    return {name: ad.dump_python(getattr(state, name), mode="json")
            for name, ad in _adapters(type(state)).items()}


def load(fresh: Any, data: dict[str, Any] | None) -> Any:
    """``fresh`` (a new state of the right class) with the saved fields of ``data``."""
    if data is None or not dataclasses.is_dataclass(fresh) or isinstance(fresh, type):
        return fresh
    ads = _adapters(type(fresh))
    return dataclasses.replace(fresh, **{k: ads[k].validate_python(v) for k, v in data.items() if k in ads})


@dataclasses.dataclass(frozen=True)
class Saved:
    """One system's saved state, decoded lazily (the strategy's class is known by the caller)."""

    strategy: str
    state: dict[str, Any] | None
    velocity: VelocityState | None
    fallback: FallbackState | None
    decision: Decision | None
    saved_at: datetime


def encode(strategy: str, state: Any, velocity: VelocityState | None, fallback: FallbackState | None,
           decision: Decision | None) -> str:
    return json.dumps({
        "strategy": strategy,
        "state": dump(state),
        "velocity": dump(velocity),
        "fallback": dump(fallback),
        "decision": decision.model_dump(mode="json") if decision is not None else None,
    }, sort_keys=True, separators=(",", ":"))


def decode(text: str, saved_at: datetime) -> Saved:
    data = json.loads(text)
    velocity = load(VelocityState(), data.get("velocity")) if data.get("velocity") else None
    fallback = load(FallbackState(), data.get("fallback")) if data.get("fallback") else None
    decision = Decision.model_validate(data["decision"]) if data.get("decision") else None
    return Saved(str(data["strategy"]), data.get("state"), velocity, fallback, decision, saved_at)


def state_iri(system: str) -> IRI:
    return arca_iri("decider-state", system)


def save(kb: KnowledgeBase, system: str, text: str, now: datetime) -> None:
    """Replace the system's saved state (buffered, applied in submission order)."""
    kb.submit(
        "DELETE WHERE { GRAPH $g { $s ?p ?o } } ; "
        "INSERT DATA { GRAPH $g { $s a arca:DeciderState ; arca:system $system ; "
        "arca:stateJson $json ; arca:savedAt $at } }",
        g=STATE_GRAPH, s=state_iri(system), system=system, json=text, at=now)


def fetch(kb: KnowledgeBase, system: str) -> Saved | None:
    """The system's saved state, or None (never saved, or unreadable: logged, started fresh)."""
    rows = kb.query("SELECT ?json ?at WHERE { GRAPH $g { $s arca:stateJson ?json ; arca:savedAt ?at } }",
                    g=STATE_GRAPH, s=state_iri(system))
    if not rows:
        return None
    return parse(system, str(rows[0]["json"]), rows[0].get("at"))


def fetch_all(kb: KnowledgeBase) -> dict[str, tuple[str, Any]]:
    """Every system's saved state as stored (its JSON text and when it was saved), in one query;
    ``parse`` reads one."""
    rows = kb.query("SELECT ?system ?json ?at WHERE { GRAPH $g { ?s a arca:DeciderState ; "
                    "arca:system ?system ; arca:stateJson ?json ; arca:savedAt ?at } }", g=STATE_GRAPH)
    return {str(r["system"]): (str(r["json"]), r.get("at")) for r in rows}


def parse(system: str, text: str, at: Any) -> Saved | None:
    """A saved state read back, or None when unreadable (logged: the system starts fresh)."""
    try:
        return decode(text, at if isinstance(at, datetime) else datetime.now(UTC))
    except (ValueError, KeyError, TypeError) as exc:
        log.error("saved decider state of %s unreadable, starting it fresh: %s", system, exc)
        return None
