"""Issue 25 (item 6): what a YANG string may not hold, and dates no clock could have produced, are
refused over the collector's real HTTP endpoint with a 400 naming the field — in every string field
of a detector event (envelope leaves, payload leaves, member names), and for event and OSM alarm
dates outside the sane window (before 2000, or more than a day past the collector's clock)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from arca.collector.events import EVENT_PATH as FIELD
from arca.collector.http import EVENT_PATH
from arca.messages import Alarm, ExternalEvent
from tests.collector.test_collector_http import Running, restconf_error, sample, start_collector

ENV = "ietf-restconf:notification"
EV = "ietf-nmrg-nict-resource-anticipation:event"
EVENTS = "ietf-nmrg-nict-resource-anticipation:events"
NS = "ns-limits"


@pytest.fixture(scope="module")
def collector() -> Iterator[Running]:
    running = start_collector(osm_ns_systems={NS: "emergency"})  # its clock: 2026-11-22T02:00Z
    yield running
    running.service.close()


def envelope_leaf(leaf: str) -> Callable[[dict[str, Any], str], None]:
    def run(doc: dict[str, Any], text: str) -> None:
        doc[ENV][EV][leaf] = doc[ENV][EV][leaf][:2] + text
    return run


def payload_leaf(leaf: str) -> Callable[[dict[str, Any], str], None]:
    def run(doc: dict[str, Any], text: str) -> None:
        content = doc[ENV][EV]
        payload = json.loads(base64.b64decode(content["payload"]))
        [entry] = next(iter(payload[EVENTS]["event-payloads"].values()))
        entry[leaf] = str(entry[leaf])[:2] + text
        content["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    return run


def member_name(doc: dict[str, Any], text: str) -> None:
    doc[ENV][EV]["x" + text] = "1"


FIELDS: dict[str, tuple[str, Callable[[dict[str, Any], str], None], str]] = {
    # id: (sample, how to put the text in, the field the error must name)
    "id": ("bigdata", envelope_leaf("id"), f"{FIELD}/id"),
    "source": ("bigdata", envelope_leaf("source"), f"{FIELD}/source"),
    "context": ("seismometer", envelope_leaf("context"), f"{FIELD}/context"),
    "payload-plid": ("bigdata", payload_leaf("plid"), "/plid"),
    "payload-description": ("bigdata", payload_leaf("description"), "/description"),
    "payload-location": ("seismometer", payload_leaf("location"), "/location"),
    "payload-data": ("basic", payload_leaf("data"), "/data"),
    "member-name": ("bigdata", member_name, FIELD),
}
EXCLUDED = {"nul": "\x00", "soh": "\x01", "vt": "\x0b", "esc": "\x1b", "us": "\x1f", "ufffe": "\ufffe",
            "uffff": "\uffff"}


@pytest.mark.parametrize("char", sorted(EXCLUDED), ids=sorted(EXCLUDED))
@pytest.mark.parametrize("field", sorted(FIELDS), ids=sorted(FIELDS))
def test_characters_yang_strings_exclude_are_400_naming_the_field(collector: Running, field: str,
                                                                  char: str) -> None:
    name, put, path = FIELDS[field]
    doc = sample(name)
    doc[ENV][EV]["id"] = f"limits-{field}-{char}"
    put(doc, f"a{EXCLUDED[char]}b")
    before = len(collector.received)
    resp = collector.post(EVENT_PATH, json.dumps(doc))
    assert resp.status_code == 400, resp.text
    error = restconf_error(resp)
    assert error["error-app-tag"] == "yang", error
    assert path in error["error-path"], error
    assert f"U+{ord(EXCLUDED[char]):04X}" in error["error-message"]
    assert len(collector.received) == before


@pytest.mark.parametrize("text", ["tab\there", "line\nfeed", "carriage\rreturn", "\u00e9\u6f22\U0001f30a"],
                         ids=["tab", "lf", "cr", "non-ascii"])
def test_characters_yang_strings_allow_are_accepted(collector: Running, text: str) -> None:
    doc = sample("bigdata")
    doc[ENV][EV]["id"] = f"limits-ok-{len(collector.received)}"
    payload_leaf("description")(doc, text)
    resp = collector.post(EVENT_PATH, json.dumps(doc))
    assert resp.status_code == 202, resp.text
    event = collector.received[-1]
    assert isinstance(event, ExternalEvent) and event.description is not None and text in event.description


DATES = [
    # id, eventTime, timestamp, the field refused (None: accepted)
    ("year-9926", "9926-01-01T00:00:00Z", "2026-11-22T02:00:00Z", "eventTime"),
    ("timestamp-year-9926", "2026-11-22T02:00:00Z", "9926-01-01T00:00:00Z", "timestamp"),
    ("two-days-ahead", "2026-11-24T02:00:01Z", "2026-11-22T02:00:00Z", "eventTime"),
    ("epoch", "2026-11-22T02:00:00Z", "1970-01-01T00:00:00Z", "timestamp"),
    ("year-1", "0001-01-01T00:00:00Z", "2026-11-22T02:00:00Z", "eventTime"),
    ("an-hour-ahead", "2026-11-22T03:00:00Z", "2026-11-22T03:00:00Z", None),
    ("a-year-old", "2025-11-22T02:00:00Z", "2025-11-22T02:00:00Z", None),
]


@pytest.mark.parametrize("event_time,timestamp,refused", [d[1:] for d in DATES], ids=[d[0] for d in DATES])
def test_event_dates_outside_the_sane_window_are_400(collector: Running, event_time: str, timestamp: str,
                                                     refused: str | None) -> None:
    doc = sample("seismometer")
    doc[ENV]["eventTime"] = event_time
    doc[ENV][EV]["timestamp"] = timestamp
    doc[ENV][EV]["id"] = f"limits-date-{event_time}-{timestamp}"
    resp = collector.post(EVENT_PATH, json.dumps(doc))
    if refused is None:
        assert resp.status_code == 202, resp.text
        return
    assert resp.status_code == 400, resp.text
    error = restconf_error(resp)
    assert error["error-app-tag"] == "datetime" and error["error-path"].endswith(refused), error


def osm_body(start_date: str) -> str:
    details = {"alarm_uuid": f"a-{start_date}", "vdu_name": "vm-1", "vnf_member_index": "1", "ns_id": NS,
               "metric_name": "vm_status", "status": "insufficient-data", "start_date": start_date}
    return json.dumps(json.dumps({"schema_version": "1.1", "schema_type": "notify_alarm",
                                  "notify_details": details}))


@pytest.mark.parametrize("start_date,accepted", [
    ("01-01-9926 00:00:00", False), ("9926-01-01T00:00:00Z", False), ("24-11-2026 02:00:01", False),
    ("01-01-1970 00:00:00", False), ("22-11-2026 02:30:00", True), ("2026-11-21T23:00:00Z", True),
], ids=["mon-year-9926", "iso-year-9926", "two-days-ahead", "epoch", "half-hour-ahead", "earlier"])
def test_osm_alarm_dates_outside_the_sane_window_are_400(collector: Running, start_date: str,
                                                         accepted: bool) -> None:
    before = len(collector.received)
    resp = collector.post("/osm/alarm", osm_body(start_date), {"Content-Type": "application/json"})
    if accepted:
        assert resp.status_code == 202, resp.text
        assert isinstance(collector.received[-1], Alarm)
        return
    assert resp.status_code == 400, resp.text
    assert resp.json()["reason"] == "datetime" and resp.json()["path"] == "/notify_details/start_date"
    assert len(collector.received) == before
