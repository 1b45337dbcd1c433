"""Issue 13: the codec refuses naive datetimes (they later raised ``TypeError`` when subtracted from
the loop's aware times) and strings it could not write, naming the property."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from arca.messages import ExternalEvent, Situation
from arca.messages.codec import MessageError, decode, encode

T0 = datetime(2026, 11, 22, 2, tzinfo=UTC)




@pytest.mark.parametrize("field", ["eventTime", "onset"])
def test_decode_refuses_a_naive_datetime_naming_the_property(field: str) -> None:
    good = encode(ExternalEvent(event_time=T0, event_id="e", source="s", onset=T0, payload_kind="basic"))
    lines = good.decode().splitlines()
    hostile = "\n".join(
        line.replace("2026-11-22T02:00:00+00:00", "2026-11-22T02:00:00") if f"#{field}>" in line else line
        for line in lines
    ) + "\n"
    assert hostile != good.decode()
    with pytest.raises(MessageError, match=f"arca:{field}.*timezone"):
        decode(hostile)


@pytest.mark.parametrize("kwargs", [
    {"event_time": datetime(2026, 11, 22, 2)},
    {"incident_onset": datetime(2026, 11, 22, 2)},
], ids=["event_time", "incident_onset"])
def test_models_refuse_naive_datetimes(kwargs: dict[str, datetime]) -> None:
    base = {"event_time": T0, "system": "emergency", "servants_active": 1, "average_load": 0.1}
    with pytest.raises(ValidationError, match="timezone"):
        Situation(**{**base, **kwargs})


def test_models_refuse_lone_surrogates() -> None:
    with pytest.raises(ValidationError, match="surrogate"):
        ExternalEvent(event_time=T0, event_id="e", source="s", onset=T0, payload_kind="basic",
                      location="\ud800")


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"],
                         ids=["past-year-9999", "before-year-1"])
def test_extreme_datetimes_round_trip_or_are_refused_cleanly(text: str) -> None:
    good = encode(ExternalEvent(event_time=T0, event_id="e", source="s", onset=T0, payload_kind="basic"))
    hostile = good.decode().replace("2026-11-22T02:00:00+00:00", text)
    try:
        msg = decode(hostile)
    except MessageError:
        return
    assert decode(encode(msg)) == msg
