"""Detector events: envelope, YANG validation, payload convention, severity, duplicates (table tests)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from arca.collector.errors import IngestError
from arca.collector.events import (
    ENVELOPE,
    EVENTS,
    parse_notification,
    to_external_event,
)
from arca.collector.ingest import Ingestor
from arca.collector.settings import CollectorSettings
from arca.collector.severity import SeverityScales
from arca.collector.yang_model import NOTIFICATION
from arca.messages import ExternalEvent, decode, encode

DATA = Path(__file__).resolve().parents[1] / "data" / "collector" / "events"
SCALES = SeverityScales.from_mapping({"seismo-hq": [(3, 1), (5, 2), (6, 3), (7, 4)]})


def sample(name: str) -> dict[str, Any]:
    return json.loads((DATA / f"{name}.json").read_text())


def content(doc: dict[str, Any]) -> dict[str, Any]:
    return doc[ENVELOPE][NOTIFICATION]


def set_payload(doc: dict[str, Any], payload_doc: Any, raw: bytes | None = None) -> None:
    data = raw if raw is not None else json.dumps(payload_doc).encode()
    content(doc)["payload"] = base64.b64encode(data).decode()


def payload_of(doc: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(content(doc)["payload"]))


def entries(doc: dict[str, Any]) -> dict[str, Any]:
    return payload_of(doc)[EVENTS]["event-payloads"]


def with_entry(doc: dict[str, Any], lst: str, entry: dict[str, Any]) -> None:
    set_payload(doc, {EVENTS: {"event-payloads": {lst: [entry]}}})


Mutation = Callable[[dict[str, Any]], None]


def m_set(path: str, value: Any) -> Mutation:
    def f(doc: dict[str, Any]) -> None:
        content(doc)[path] = value
    return f


def m_del(path: str) -> Mutation:
    def f(doc: dict[str, Any]) -> None:
        del content(doc)[path]
    return f


def m_env(key: str, value: Any) -> Mutation:
    def f(doc: dict[str, Any]) -> None:
        if value is None:
            del doc[ENVELOPE][key]
        else:
            doc[ENVELOPE][key] = value
    return f


REJECTED: list[tuple[str, str, Mutation, str, str]] = [
    # id, sample, mutation, reason, path fragment
    ("envelope-wrong-root", "bigdata", lambda d: d.update({"notification": d.pop(ENVELOPE)}), "envelope",
     "/"),
    ("envelope-unknown-member", "bigdata", m_env("streamName", "x"), "envelope", "/streamName"),
    ("eventTime-missing", "bigdata", m_env("eventTime", None), "missing", "/eventTime"),
    ("eventTime-not-rfc3339", "bigdata", m_env("eventTime", "yesterday"), "datetime", "/eventTime"),
    ("eventTime-impossible-date", "bigdata", m_env("eventTime", "2026-02-30T00:00:00Z"), "datetime",
     "/eventTime"),
    ("event-not-object", "bigdata", m_env(NOTIFICATION, ["x"]), "envelope", f"/{NOTIFICATION}"),
    ("timestamp-month-13", "bigdata", m_set("timestamp", "2026-13-01T00:00:00Z"), "datetime", "/timestamp"),
    ("timestamp-no-offset", "bigdata", m_set("timestamp", "2026-11-22T02:00:00"), "yang", "/timestamp"),
    ("sequence-json-number", "bigdata", m_set("sequence", 881), "yang", "/sequence"),
    ("sequence-overflows-int64", "bigdata", m_set("sequence", "9223372036854775808"), "yang", "/sequence"),
    ("unknown-leaf", "bigdata", m_set("priority", "high"), "yang", "/priority"),
    ("id-wrong-type", "bigdata", m_set("id", 7), "yang", "/id"),
    ("id-missing", "bigdata", m_del("id"), "missing", "/id"),
    ("source-missing", "bigdata", m_del("source"), "missing", "/source"),
    ("timestamp-missing", "bigdata", m_del("timestamp"), "missing", "/timestamp"),
    ("payload-missing", "bigdata", m_del("payload"), "missing", "/payload"),
    ("payload-not-base64", "bigdata", m_set("payload", "%%%not-base64%%%"), "yang", "/payload"),
    ("payload-not-json", "bigdata", lambda d: set_payload(d, None, b"\x00\x01binary"), "json", "/payload"),
    ("payload-wrong-root", "bigdata", lambda d: set_payload(d, {"events": {}}), "payload", "/payload"),
    ("payload-two-entries", "bigdata", lambda d: set_payload(d, {EVENTS: {"event-payloads": {
        "event-payloads-bigdata": [{"plid": "a", "severity": 1}, {"plid": "b", "severity": 2}]}}}),
     "payload", "/event-payloads"),
    ("payload-no-entry", "bigdata", lambda d: set_payload(d, {EVENTS: {"event-payloads": {}}}),
     "payload", "/event-payloads"),
    ("payload-external-events-not-allowed", "bigdata", lambda d: set_payload(d, {EVENTS: {
        "event-payloads": {"event-payloads-basic": [{"plid": "a"}]}, "external-events": [{"id": "x"}]}}),
     "payload", "/payload/events"),
    ("payload-unknown-list", "bigdata", lambda d: set_payload(d, {EVENTS: {"event-payloads": {
        "event-payloads-radar": [{"plid": "a"}]}}}), "yang", "event-payloads-radar"),
    ("payload-plid-missing", "bigdata", lambda d: with_entry(d, "event-payloads-bigdata", {"severity": 2}),
     "yang", "event-payloads-bigdata"),
    ("magnitude-over-uint8", "seismometer", lambda d: with_entry(d, "event-payloads-seismometer",
     {"plid": "s", "magnitude": 300}), "yang", "/magnitude"),
    ("magnitude-as-string", "seismometer", lambda d: with_entry(d, "event-payloads-seismometer",
     {"plid": "s", "magnitude": "6"}), "yang", "/magnitude"),
    ("severity-outside-scale", "bigdata", lambda d: with_entry(d, "event-payloads-bigdata",
     {"plid": "b", "severity": 7}), "severity", "event-payloads-bigdata/severity"),
    ("bigdata-without-severity", "bigdata", lambda d: with_entry(d, "event-payloads-bigdata",
     {"plid": "b", "description": "?"}), "missing", "/severity"),
    ("seismometer-without-magnitude", "seismometer", lambda d: with_entry(d, "event-payloads-seismometer",
     {"plid": "s", "location": "hq"}), "missing", "/magnitude"),
    ("seismometer-source-without-scale", "seismometer", m_set("source", "seismo-unknown"), "no_scale",
     "/source"),
]


@pytest.mark.parametrize(("name", "mutate", "reason", "path"), [c[1:] for c in REJECTED],
                         ids=[c[0] for c in REJECTED])
def test_rejected_notifications_name_the_failing_field(
    name: str, mutate: Mutation, reason: str, path: str
) -> None:
    doc = copy.deepcopy(sample(name))
    mutate(doc)
    with pytest.raises(IngestError) as err:
        to_external_event(parse_notification(json.dumps(doc)), SCALES)
    assert err.value.reason == reason, str(err.value)
    assert path in err.value.path, err.value.path


def test_not_json_is_rejected_at_the_root() -> None:
    with pytest.raises(IngestError) as err:
        parse_notification(b"{not json")
    assert (err.value.reason, err.value.path) == ("json", "/")


def test_seismometer_severity_comes_from_the_source_scale() -> None:
    doc = sample("seismometer")
    event = to_external_event(parse_notification(json.dumps(doc)), SCALES, system="emergency")
    assert event.payload_kind == "seismometer"
    assert event.magnitude == 6.0 and event.severity == 3
    assert event.location == "hq" and event.sequence == 17
    assert event.onset.isoformat() == "2026-11-22T02:00:00.500000+00:00"
    assert event.event_time.isoformat() == "2026-11-22T02:00:01.020000+00:00"
    assert event.routing_key() == "event.seismo-hq"
    assert decode(encode(event)) == event


def test_a_seismometer_scale_mapping_outside_the_configured_scale_is_rejected() -> None:
    scales = SeverityScales.from_mapping({"seismo-hq": [(3, 1), (6, 9)]})
    with pytest.raises(IngestError) as err:
        to_external_event(parse_notification(json.dumps(sample("seismometer"))), scales)
    assert err.value.reason == "severity" and err.value.path.endswith("/magnitude")


def test_configured_scale_bounds_are_used() -> None:
    parsed = parse_notification(json.dumps(sample("bigdata")))  # severity 3
    assert to_external_event(parsed, SCALES, (0, 3)).severity == 3
    with pytest.raises(IngestError):
        to_external_event(parsed, SCALES, (0, 2))


def test_bigdata_severity_is_taken_directly() -> None:
    event = to_external_event(parse_notification(json.dumps(sample("bigdata"))), SCALES)
    assert (event.payload_kind, event.severity, event.magnitude) == ("bigdata", 3, None)
    assert event.description == "Heavy rainfall: flash flood risk in building-3"


def test_basic_payload_carries_no_severity() -> None:
    event = to_external_event(parse_notification(json.dumps(sample("basic"))), SCALES)
    assert (event.payload_kind, event.severity) == ("basic", None)
    assert event.description == "link flap on uplink"


def _ingestor() -> tuple[Ingestor, list[ExternalEvent]]:
    out: list[Any] = []
    return Ingestor(CollectorSettings(), out.append, SCALES), out


def test_duplicate_source_id_is_absorbed() -> None:
    ing, out = _ingestor()
    doc = sample("bigdata")
    assert ing.detector_event(doc).status == "accepted"
    assert ing.detector_event(doc).status == "duplicate"
    other = copy.deepcopy(doc)
    content(other)["source"] = "bigdata-analyser-2"  # same id, other source: not a duplicate
    assert ing.detector_event(other).status == "accepted"
    assert len(out) == 2


def test_sequence_going_backwards_is_flagged_counted_and_accepted() -> None:
    ing, out = _ingestor()
    first = sample("bigdata")
    ing.detector_event(first)
    late = copy.deepcopy(first)
    content(late)["id"] = "bd-flood-880"
    content(late)["sequence"] = "880"
    outcome = ing.detector_event(late)
    assert outcome.status == "accepted" and "backwards" in outcome.flags[0]
    assert ing.sequence_regressions["bigdata-analyser"] == 1
    newer = copy.deepcopy(first)
    content(newer)["id"] = "bd-flood-882"
    content(newer)["sequence"] = "882"
    assert ing.detector_event(newer).flags == []
    assert [e.sequence for e in out] == [881, 880, 882]


def test_rejections_are_counted_by_input_and_reason() -> None:
    ing, out = _ingestor()
    with pytest.raises(IngestError):
        ing.detector_event(b"[]")
    with pytest.raises(IngestError):
        ing.detector_event(b"{")
    assert ing.rejections[("event", "envelope")] == 1 and ing.rejections[("event", "json")] == 1
    assert out == []
