"""The YANG shortcut never accepts what yangson refuses, and recognises the common valid events.

``known_valid_notification`` / ``known_valid_data`` let the collector skip yangson (~170 µs per
event) for shapes that are certainly valid. Checked against the real yangson validation: a table of
edge cases per leaf (each named), and thousands of seeded random mutations of valid documents. For
every input the shortcut accepts, yangson must accept it too; the common valid shapes must be
accepted by the shortcut (else it would save nothing). Also the string check that runs before it
(lone surrogates, characters YANG strings exclude): by one scan of a JSON text without escapes, by a
walk otherwise and on a document that did not come from ``load_json``, each refusal naming the field.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from arca.collector.errors import IngestError
from arca.collector.events import EVENTS, build_notification, build_payload, load_json, parse_notification
from arca.collector.ingest import Ingestor
from arca.collector.settings import CollectorSettings
from arca.collector.yang_model import (
    NOTIFICATION,
    known_valid_data,
    known_valid_notification,
    validate_data,
    validate_notification,
    yangson_validate,
)

B64 = base64.b64encode(b"anything").decode()
VALID_CONTENT = {"id": "q-17", "source": "seismo-hq", "sequence": "17", "context": "building-2",
                 "timestamp": "2026-11-22T01:59:59.500Z", "payload": B64}


def yangson_accepts(document: Any, subschema: str | None = None) -> bool:
    try:
        yangson_validate(document, "/x", subschema)
    except IngestError:
        return False
    return True


def payload(kind: str, **leaves: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(base64.b64decode(build_payload(kind, **leaves)))
    return doc


# the shortcut must say yes to these (and yangson agrees)
COMMON_NOTIFICATIONS = {
    "all-leaves": VALID_CONTENT,
    "no-sequence-no-context": {k: v for k, v in VALID_CONTENT.items() if k not in ("sequence", "context")},
    "offset-timezone": {**VALID_CONTENT, "timestamp": "2026-11-22T03:59:59+02:00"},
    "negative-sequence": {**VALID_CONTENT, "sequence": "-5"},
    "eighteen-digit-sequence": {**VALID_CONTENT, "sequence": "999999999999999999"},
    "empty-payload": {**VALID_CONTENT, "payload": ""},
}
COMMON_PAYLOADS = {
    "bigdata": payload("bigdata", severity=2, description="x"),
    "bigdata-severity-0": payload("bigdata", severity=0),
    "bigdata-severity-255": payload("bigdata", severity=255),
    "seismometer": payload("seismometer", magnitude=7, location="building-2"),
    "basic": payload("basic", data="opaque"),
    "two-entries-distinct-plids": {EVENTS: {"event-payloads": {"event-payloads-bigdata": [
        {"plid": "a", "severity": 1}, {"plid": "b", "severity": 2}]}}},
}


@pytest.mark.parametrize("content", COMMON_NOTIFICATIONS.values(), ids=list(COMMON_NOTIFICATIONS))
def test_common_notifications_skip_yangson(content: dict[str, Any]) -> None:
    assert known_valid_notification(content)
    assert yangson_accepts(content, NOTIFICATION)


@pytest.mark.parametrize("document", COMMON_PAYLOADS.values(), ids=list(COMMON_PAYLOADS))
def test_common_payloads_skip_yangson(document: dict[str, Any]) -> None:
    assert known_valid_data(document)
    assert yangson_accepts(document)


# edge cases: the shortcut declines (False); yangson decides, as before
DECLINED_NOTIFICATIONS = {
    "unknown-member": {**VALID_CONTENT, "colour": "red"},
    "qualified-member-name": {f"{NOTIFICATION.split(':')[0]}:id": "q"},
    "id-a-number": {**VALID_CONTENT, "id": 17},
    "id-null": {**VALID_CONTENT, "id": None},
    "source-a-list": {**VALID_CONTENT, "source": ["a"]},
    "context-true": {**VALID_CONTENT, "context": True},
    "sequence-a-json-number": {**VALID_CONTENT, "sequence": 17},
    "sequence-nineteen-digits": {**VALID_CONTENT, "sequence": "9223372036854775807"},
    "sequence-over-int64": {**VALID_CONTENT, "sequence": "9223372036854775808"},
    "sequence-plus-sign": {**VALID_CONTENT, "sequence": "+5"},
    "sequence-empty": {**VALID_CONTENT, "sequence": ""},
    "sequence-spaces": {**VALID_CONTENT, "sequence": " 5"},
    "sequence-arabic-indic-digits": {**VALID_CONTENT, "sequence": "\u0661\u0662"},
    "timestamp-lowercase-t": {**VALID_CONTENT, "timestamp": "2026-11-22t01:59:59Z"},
    "timestamp-no-offset": {**VALID_CONTENT, "timestamp": "2026-11-22T01:59:59"},
    "timestamp-trailing-newline": {**VALID_CONTENT, "timestamp": "2026-11-22T01:59:59Z\n"},
    "timestamp-a-number": {**VALID_CONTENT, "timestamp": 1700000000},
    "timestamp-date-only": {**VALID_CONTENT, "timestamp": "2026-11-22"},
    "payload-not-base64": {**VALID_CONTENT, "payload": "not base64!"},
    "payload-bad-padding": {**VALID_CONTENT, "payload": "YWJ"},
    "payload-a-number": {**VALID_CONTENT, "payload": 5},
    "not-an-object": ["id"],
}
def bigdata(*entries: Any) -> dict[str, Any]:
    return {EVENTS: {"event-payloads": {"event-payloads-bigdata": list(entries)}}}


DECLINED_PAYLOADS = {
    "severity-256": payload("bigdata", severity=256),
    "severity-negative": payload("bigdata", severity=-1),
    "severity-a-string": bigdata({"plid": "p", "severity": "2"}),
    "severity-true": bigdata({"plid": "p", "severity": True}),
    "severity-a-float": bigdata({"plid": "p", "severity": 2.0}),
    "magnitude-in-bigdata": bigdata({"plid": "p", "magnitude": 2}),
    "missing-plid": bigdata({"severity": 2}),
    "plid-a-number": bigdata({"plid": 1, "severity": 2}),
    "duplicate-plid": {EVENTS: {"event-payloads": {"event-payloads-bigdata": [
        {"plid": "a", "severity": 1}, {"plid": "a", "severity": 2}]}}},
    "unknown-list": {EVENTS: {"event-payloads": {"event-payloads-radar": [{"plid": "p"}]}}},
    "list-an-object": {EVENTS: {"event-payloads": {"event-payloads-bigdata": {"plid": "p"}}}},
    "empty-list": {EVENTS: {"event-payloads": {"event-payloads-bigdata": []}}},
    "empty-payloads": {EVENTS: {"event-payloads": {}}},
    "entry-not-an-object": {EVENTS: {"event-payloads": {"event-payloads-bigdata": ["p"]}}},
    "data-a-number": {EVENTS: {"event-payloads": {"event-payloads-basic": [{"plid": "p", "data": 5}]}}},
    "external-events-beside": {EVENTS: {"event-payloads": {"event-payloads-basic": [{"plid": "p"}]},
                                        "external-events": []}},
    "events-a-list": {EVENTS: []},
    "two-top-members": {EVENTS: {"event-payloads": {"event-payloads-basic": [{"plid": "p"}]}}, "x": 1},
    "unqualified-events": {"events": {"event-payloads": {"event-payloads-basic": [{"plid": "p"}]}}},
    "not-an-object": [EVENTS],
}


@pytest.mark.parametrize("content", DECLINED_NOTIFICATIONS.values(), ids=list(DECLINED_NOTIFICATIONS))
def test_edge_notifications_go_to_yangson(content: Any) -> None:
    assert not known_valid_notification(content)


@pytest.mark.parametrize("document", DECLINED_PAYLOADS.values(), ids=list(DECLINED_PAYLOADS))
def test_edge_payloads_go_to_yangson(document: Any) -> None:
    assert not known_valid_data(document)


def test_a_refusal_still_names_the_field_as_yangson_did() -> None:
    with pytest.raises(IngestError) as exc:
        validate_data(payload("bigdata", severity=256), "/p")
    assert exc.value.reason == "yang"
    assert exc.value.path == "/p/events/event-payloads/event-payloads-bigdata/0/severity", exc.value.path
    with pytest.raises(IngestError) as exc2:
        validate_notification({**VALID_CONTENT, "sequence": 17}, "/n")
    assert exc2.value.path == "/n/sequence" and "JSON string" in exc2.value.detail


VALUES: list[Any] = [None, True, False, 0, 1, -1, 255, 256, 2.5, "", "x", "17", "-0", "+1", "\uff11\uff17",
                     "9223372036854775807", "9223372036854775808", "2026-11-22T01:59:59Z",
                     "2026-11-22T01:59:59.5+01:00", "2026-11-22 01:59:59Z", "2026-13-45T99:99:99Z",
                     B64, "YWJj=", "YW Jj", [], {}, ["x"], {"plid": "p"}]
NAMES = ["id", "source", "context", "sequence", "timestamp", "payload", "plid", "data", "location",
         "magnitude", "description", "severity", "colour", "event-payloads-basic", "event-payloads-bigdata",
         "event-payloads-seismometer", "event-payloads"]


def mutate(doc: Any, rng: random.Random) -> Any:
    """One random change somewhere in ``doc``: a value replaced, a member added or removed."""
    doc = copy.deepcopy(doc)
    containers: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict | list):
            containers.append(node)
            for child in (node.values() if isinstance(node, dict) else node):
                walk(child)

    walk(doc)
    target = rng.choice(containers)
    action = rng.random()
    if isinstance(target, dict):
        if target and action < 0.5:
            target[rng.choice(list(target))] = rng.choice(VALUES)
        elif target and action < 0.7:
            del target[rng.choice(list(target))]
        else:
            target[rng.choice(NAMES)] = rng.choice(VALUES)
    elif target and action < 0.5:
        target[rng.randrange(len(target))] = rng.choice(VALUES)
    else:
        target.append(copy.deepcopy(rng.choice([*VALUES, target[0] if target else None])))
    return doc


@pytest.mark.parametrize("seed", [1, 2])
def test_random_mutations_the_shortcut_accepts_yangson_accepts(seed: int) -> None:
    rng = random.Random(seed)
    shortcut = 0
    for i in range(1500):
        content = VALID_CONTENT
        data = rng.choice(list(COMMON_PAYLOADS.values()))
        for _ in range(rng.randint(1, 3)):
            content, data = mutate(content, rng), mutate(data, rng)
        if known_valid_notification(content):
            shortcut += 1
            assert yangson_accepts(content, NOTIFICATION), (i, content)
        if known_valid_data(data):
            shortcut += 1
            assert yangson_accepts(data), (i, data)
    assert shortcut > 300  # the mutations left many valid documents: the check above was exercised


# the string check (lone surrogates, characters YANG strings exclude): one scan of the text when it has
# no escape, the walk otherwise, and the walk on a document that did not come from ``load_json``
EVENT_ID_PATH = "/ietf-restconf:notification/ietf-nmrg-nict-resource-anticipation:event/id"


def notification_with_id(event_id: str) -> dict[str, Any]:
    return build_notification(event_id=event_id, source="s", timestamp=datetime(2026, 11, 22, tzinfo=UTC),
                              payload=build_payload("bigdata", severity=2))


STRING_REFUSALS = {
    "raw-U+FFFF-in-a-value": ('{"a": "x\uffffy"}', "/a"),
    "raw-U+FFFE-in-a-value": ('{"a": ["\ufffe"]}', "/a/0"),
    "escaped-NUL": ('{"a": "x\\u0000"}', "/a"),
    "escaped-form-feed": ('{"a": "\\f"}', "/a"),
}


@pytest.mark.parametrize(("text", "path"), STRING_REFUSALS.values(), ids=list(STRING_REFUSALS))
def test_load_json_refuses_what_yang_strings_exclude(text: str, path: str) -> None:
    for body in (text, text.encode()):
        with pytest.raises(IngestError) as exc:
            load_json(body)
        assert (exc.value.reason, exc.value.path) == ("yang", path), exc.value


def test_a_parsed_document_is_checked_unless_load_json_returned_it() -> None:
    doc = notification_with_id("a\x00b")
    with pytest.raises(IngestError) as exc:
        parse_notification(doc)
    assert (exc.value.reason, exc.value.path) == ("yang", EVENT_ID_PATH)
    ingestor = Ingestor(CollectorSettings(allow_unauthenticated=True), lambda _m: None)
    with pytest.raises(IngestError) as exc2:
        ingestor.detector_event(doc)
    assert (exc2.value.reason, exc2.value.path) == ("yang", EVENT_ID_PATH)
    # from raw bytes (parsed and checked by load_json): refused the same way
    with pytest.raises(IngestError) as exc3:
        ingestor.detector_event(json.dumps(doc).encode())
    assert (exc3.value.reason, exc3.value.path) == ("yang", EVENT_ID_PATH)
    assert ingestor.detector_event(notification_with_id("a\tb")).status == "accepted"  # tab is allowed
