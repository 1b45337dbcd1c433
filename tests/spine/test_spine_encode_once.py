"""A message is serialised once for the bus and the knowledge base, and the bytes stay its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from arca.messages import Observation, codec, decode, encode

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _obs(load: float) -> Observation:
    return Observation(event_time=T0, producer="collector", system="emergency", resource="vm-1",
                       metric="cpu_util", value=load)


def test_second_encode_of_one_message_does_not_serialise_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = codec._encode
    monkeypatch.setattr(codec, "_encode", lambda m: calls.append(m) or real(m))
    msg = _obs(0.5)
    first = encode(msg)
    assert encode(msg) is first
    assert calls == [msg]


def test_equal_but_distinct_messages_each_get_their_own_bytes() -> None:
    a, b = _obs(0.25), _obs(0.75)
    assert decode(encode(a)) == a and decode(encode(b)) == b
    copy = a.model_copy(update={"value": 0.9})
    assert decode(encode(copy)).value == 0.9  # a copy is another object: serialised afresh


def test_the_cache_is_bounded_and_survives_many_messages() -> None:
    msgs = [_obs(i / 1000) for i in range(codec._RECENT_MAX * 3)]
    bodies = [encode(m) for m in msgs]
    assert len(codec._recent) <= codec._RECENT_MAX
    assert [decode(b).value for b in bodies] == [m.value for m in msgs]
    assert [decode(encode(m)).value for m in msgs] == [m.value for m in msgs]
