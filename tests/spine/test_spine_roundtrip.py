"""Property-based round trip of every message model through the N-Triples codec (hypothesis)."""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arca.messages import MESSAGE_TYPES, Message, decode, encode
from arca.messages.schema import FieldSpec, field_specs

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


def messages(cls: type[Message]) -> st.SearchStrategy[Message]:
    fields: dict[str, st.SearchStrategy[Any]] = {"message_id": IDS}
    for spec in field_specs(cls):
        strat = _strategy(spec)
        if spec.field == "correlation_id":
            strat = IDS
        if not spec.required:
            default = cls.model_fields[spec.field].default
            strat = st.one_of(strat, st.just(default)) if default is not None else st.none() | strat
        fields[spec.field] = strat
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


@pytest.mark.parametrize("cls", list(MESSAGE_TYPES.values()), ids=list(MESSAGE_TYPES))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_message_round_trips_losslessly(cls: type[Message], data: st.DataObject) -> None:
    msg = data.draw(messages(cls))
    back = decode(encode(msg))
    assert type(back) is cls
    assert back == msg
    assert back.model_dump() == msg.model_dump()
    assert encode(back) == encode(msg)  # stable wire form
