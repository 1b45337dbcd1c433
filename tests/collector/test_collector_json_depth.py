"""The JSON depth bound of ``load_json`` without its scan for ordinary texts (issue 24 item 3).

A text cannot nest deeper than it has opening brackets, so one with at most ``MAX_JSON_DEPTH`` of
them skips ``_depth``'s pass over its strings; the bound and its refusal stay as they were.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from arca.collector import events
from arca.collector.errors import IngestError
from arca.collector.events import MAX_JSON_DEPTH, build_notification, build_payload, load_json

EVENT = json.dumps(build_notification(
    event_id="e1", source="s", timestamp=datetime(2026, 11, 22, 2, tzinfo=UTC),
    payload=build_payload("bigdata", severity=2, description="d"))).encode()


def test_an_ordinary_event_is_parsed_without_the_depth_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def scan(_text: str) -> int:
        raise AssertionError("the depth scan ran for a text with few brackets")

    monkeypatch.setattr(events, "_depth", scan)
    doc = load_json(EVENT)
    assert doc == json.loads(EVENT)
    assert events.parse_notification(EVENT).event_id == "e1"  # its base64 payload too


@pytest.mark.parametrize("depth, refused", [
    pytest.param(MAX_JSON_DEPTH, False, id="at-the-bound"),
    pytest.param(MAX_JSON_DEPTH + 1, True, id="one-over"),
])
def test_the_bound_is_where_it_was(depth: int, refused: bool) -> None:
    text = "[" * depth + "]" * depth
    if refused:
        with pytest.raises(IngestError, match=f"nested {depth} levels deep > {MAX_JSON_DEPTH}") as err:
            load_json(text)
        assert err.value.reason == "json"
    else:
        assert load_json(text) is not None


def test_many_brackets_inside_strings_are_not_nesting() -> None:
    text = json.dumps({"a": "[" * 100, "b": ["{" * 50]})  # over the count, shallow: scanned, accepted
    assert load_json(text) == {"a": "[" * 100, "b": ["{" * 50]}


def test_many_shallow_siblings_are_scanned_and_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = events._depth
    monkeypatch.setattr(events, "_depth", lambda t: calls.append(t) or real(t))
    text = json.dumps([[i] for i in range(MAX_JSON_DEPTH)])  # 33 openings, depth 2
    assert len(load_json(text)) == MAX_JSON_DEPTH
    assert calls == [text]
