"""Property-based round trip of every message model through the N-Triples codec (hypothesis)."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic_core import PydanticUndefined

from arca.messages import MESSAGE_TYPES, Message, decode, encode
from arca.messages.schema import FieldSpec, field_specs, nested_specs

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # no lone surrogates
IDS = st.text(string.ascii_letters + string.digits + "-_.", min_size=1, max_size=36)  # IRI-safe ids


def _strategy(spec: FieldSpec) -> st.SearchStrategy[Any]:
    if spec.allowed:
        return st.sampled_from(spec.allowed)
    lo = spec.min_inclusive
    hi = spec.max_inclusive
    if spec.xsd == "string":
        return st.text(st.characters(codec="utf-8"), min_size=spec.min_length or 0,
                       max_size=40)
    if spec.xsd == "integer":
        return st.integers(min_value=int(lo) if lo is not None else -(2**62),
                           max_value=int(hi) if hi is not None else 2**62)
    if spec.xsd == "double":
        return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    if spec.xsd == "boolean":
        return st.booleans()
    if spec.xsd == "dateTime":
        return st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                            timezones=st.timezones())
    raise AssertionError(spec)


def _fields(cls: type[Any], fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, st.SearchStrategy[Any]]:
    for spec in field_specs(cls):
        strat = _strategy(spec)
        if spec.field == "correlation_id":
            strat = IDS
        if not spec.required:
            default = cls.model_fields[spec.field].default
            if default is None:
                strat = st.none() | strat
            elif default is not PydanticUndefined:  # (fields with a default factory: just draw)
                strat = st.one_of(strat, st.just(default))
        fields[spec.field] = strat
    for n in nested_specs(cls):  # e.g. Situation.incidents: 0-3 sub-models with unique ids
        sub = st.fixed_dictionaries(_fields(n.sub, {})).map(lambda kw, m=n.sub: m(**kw))
        fields[n.field] = st.lists(sub, max_size=3, unique_by=lambda i: i.incident_id).map(tuple)
    return fields


def messages(cls: type[Message]) -> st.SearchStrategy[Message]:
    fields = _fields(cls, {"message_id": IDS})
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


@pytest.mark.parametrize("cls", list(MESSAGE_TYPES.values()), ids=list(MESSAGE_TYPES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_message_round_trips_losslessly(cls: type[Message], data: st.DataObject) -> None:
    msg = data.draw(messages(cls))
    back = decode(encode(msg))
    assert type(back) is cls
    assert comparable(back) == comparable(msg)
    assert encode(back) == encode(msg)  # stable wire form


@pytest.mark.parametrize("cls", list(MESSAGE_TYPES.values()), ids=list(MESSAGE_TYPES))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_the_text_encoder_writes_what_oxigraph_serializes(cls: type[Message], data: st.DataObject) -> None:
    """The bus's encoder writes N-Triples text itself: byte for byte what oxigraph's serializer writes
    for the message's graph, and each nested node is still named by the hash of its literals' N-Triples
    forms computed from ``ox.Literal`` objects (the definition the store's existing nodes were named by)."""
    import hashlib

    import pyoxigraph as ox

    from arca.messages.codec import _literal, _predicates, node_iri, node_prefix, to_ntriples, to_triples

    msg = data.draw(messages(cls))
    assert to_ntriples(msg).encode() == ox.serialize(to_triples(msg), format=ox.RdfFormat.N_TRIPLES)
    for spec in nested_specs(cls):
        for item in getattr(msg, spec.field):
            canon = "\n".join(sorted(f"{p.value} {_literal(getattr(item, n), k)}"
                                     for p, n, k in _predicates(type(item)) if getattr(item, n) is not None))
            assert node_iri(item) == node_prefix(type(item)) + hashlib.sha256(canon.encode()).hexdigest()[:32]


def comparable(msg: Message) -> dict[str, Any]:
    """Field values, datetimes as their instant: zoneinfo datetimes in a fold or gap never compare
    equal across zones (PEP 495), although the codec keeps their instant (and offset when hh:mm)."""
    def plain(v: Any) -> Any:
        if isinstance(v, datetime):
            return v.timestamp()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return {k: plain(v) for k, v in msg.model_dump().items()}


def test_offsets_keep_their_value_and_odd_offsets_become_utc() -> None:
    from datetime import timedelta, timezone

    from arca.messages import PolicyUpdated

    plus_0530 = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    lmt = datetime(1890, 1, 1, 12, tzinfo=timezone(timedelta(minutes=17, seconds=30)))
    a = decode(encode(PolicyUpdated(event_time=plus_0530, system="s", policy="p")))
    b = decode(encode(PolicyUpdated(event_time=lmt, system="s", policy="p")))
    assert a.event_time.isoformat() == "2026-01-01T12:00:00+05:30"
    assert b.event_time.isoformat() == "1890-01-01T11:42:30+00:00" and b.event_time == lmt


def _situation_nt() -> tuple[str, str]:
    from datetime import UTC

    from arca.messages import ActiveIncident, Situation

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    sit = Situation(event_time=t0, system="e", servants_active=1, average_load=0.1,
                    incidents=(ActiveIncident(incident_id="ev-1", severity=4, onset=t0, source="s"),))
    text = encode(sit).decode()
    return text, text.split(" ", 1)[0][1:-1]


def _inc() -> str:
    """The content IRI of the incident of ``_situation_nt``'s situation."""
    from datetime import UTC

    from arca.messages import ActiveIncident
    from arca.messages.codec import node_iri

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    return node_iri(ActiveIncident(incident_id="ev-1", severity=4, onset=t0, source="s"))


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (lambda t, n: t + f'<{n}#stray> <https://w3id.org/arca/ns#severity> '
                          '"1"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
         "not referenced"),
        (lambda t, n: t.replace(f"<{_inc()}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> "
                                "<https://w3id.org/arca/ns#Incident>", f"<{_inc()}> "
                                "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/arca/ns#Alarm>"),
         "rdf:type arca:Incident"),
        (lambda t, n: t.replace(f"<{n}> <https://w3id.org/arca/ns#activeIncident> <{_inc()}>",
                                f"<{n}> <https://w3id.org/arca/ns#activeIncident> <urn:other#x>"),
         "arca:activeIncident"),
        (lambda t, n: t.replace(_inc(), "urn:arca:incident:" + "0" * 32),
         "no node is named by the content"),
        (lambda t, n: t.replace('"4"^^<http://www.w3.org/2001/XMLSchema#integer>',
                                '"-4"^^<http://www.w3.org/2001/XMLSchema#integer>'),
         r"arca:activeIncident\[0\] arca:severity"),
        (lambda t, n: "\n".join(x for x in t.splitlines() if "#source>" not in x) + "\n",
         r"arca:activeIncident\[0\] arca:source"),
    ],
    ids=["stray-node", "wrong-class", "foreign-node", "stale-content-name", "negative-severity",
         "missing-source"],
)
def test_bad_incident_nodes_are_refused_naming_them(edit: Any, names: str) -> None:
    from arca.messages import MessageError

    text, node = _situation_nt()
    with pytest.raises(MessageError, match=names):
        decode(edit(text, node))


def test_duplicate_incident_ids_are_refused() -> None:
    from datetime import UTC

    from pydantic import ValidationError

    from arca.messages import ActiveIncident, Situation

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    inc = ActiveIncident(incident_id="ev-1", severity=4, onset=t0, source="s")
    with pytest.raises(ValidationError, match="repeated: ev-1"):
        Situation(event_time=t0, system="e", servants_active=1, average_load=0.1, incidents=(inc, inc))
