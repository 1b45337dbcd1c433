"""Issue 19 item 8: errors that help detector authors. The RESTCONF event endpoint answers each refusal
as RFC 8040 section 7.1 says (``ietf-restconf:errors`` in ``application/yang-data+json``, error-tag
per the RFC's table, the status kept), YANG type faults say the RFC 7951 JSON encoding expected and
name the path, and the other inputs keep their RFC 7807 problem documents. Exact bodies, through a
real HTTP client against the running collector."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from arca.collector.http import EVENT_PATH
from tests.collector.test_collector_http import JSON, Running, sample, start_collector

EV = "ietf-nmrg-nict-resource-anticipation:event"
ENV = "ietf-restconf:notification"
AT = f"/{ENV}/{EV}"
MOD = "not valid against ietf-nmrg-nict-resource-anticipation: "
TOKEN = {**JSON, "Authorization": "Bearer s3cr3t-bd"}  # bigdata-analyser's token


@pytest.fixture(scope="module")
def secured() -> Iterator[Running]:
    running = start_collector(tokens={"seismo-hq": "s3cr3t-hq", "bigdata-analyser": "s3cr3t-bd"},
                              http_max_body_bytes=4096, allow_unauthenticated=False)
    yield running
    running.service.close()


def event(change: Callable[[dict[str, Any]], None] | None = None, name: str = "bigdata") -> str:
    doc = copy.deepcopy(sample(name))
    if change is not None:
        change(doc[ENV][EV])
    return json.dumps(doc)


def put(leaf: str, value: object) -> Callable[[dict[str, Any]], None]:
    return lambda ev: ev.__setitem__(leaf, value)


def error(etype: str, tag: str, message: str, *, app: str = "", path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"error-type": etype, "error-tag": tag}
    if app:
        out["error-app-tag"] = app
    if path:
        out["error-path"] = path
    out["error-message"] = message
    return {"ietf-restconf:errors": {"error": [out]}}


INT64 = ('expected an int64 encoded as a JSON string, e.g. "5" (RFC 7951 section 6.1: int64, uint64 and '
         "decimal64 values are JSON strings)")

BIG = event(put("context", "x" * 5000))

CASES = [
    pytest.param("POST", event(put("sequence", 5)), TOKEN, 400,
                 error("application", "invalid-value", f"{MOD}{INT64}, got the JSON number 5", app="yang",
                       path=f"{AT}/sequence"), id="sequence-json-number-rfc7951"),
    pytest.param("POST", event(put("sequence", "five")), TOKEN, 400,
                 error("application", "invalid-value", f'{MOD}{INT64}, got the JSON string "five"',
                       app="yang", path=f"{AT}/sequence"), id="sequence-not-a-number"),
    pytest.param("POST", event(put("sequence", "9223372036854775808")), TOKEN, 400,
                 error("application", "invalid-value", f"{MOD}9223372036854775808 is not a valid int64 "
                       "(outside its range)", app="yang", path=f"{AT}/sequence"), id="sequence-over-int64"),
    pytest.param("POST", event(put("id", 7)), TOKEN, 400,
                 error("application", "invalid-value", f"{MOD}expected a JSON string (RFC 7951 section 6.2), "
                       "got the JSON number 7", app="yang", path=f"{AT}/id"), id="id-json-number"),
    pytest.param("POST", event(put("priority", "high")), TOKEN, 400,
                 error("protocol", "unknown-element", f"{MOD}unknown member", app="yang",
                       path=f"{AT}/priority"), id="unknown-leaf"),
    pytest.param("POST", "{oops", TOKEN, 400,
                 error("rpc", "malformed-message", "not JSON: Expecting property name enclosed in double "
                       "quotes: line 1 column 2 (char 1)", app="json"), id="not-json"),
    pytest.param("POST", event(), JSON, 401,
                 error("protocol", "access-denied", "Authorization: a bearer token is required",
                       app="unauthenticated"), id="no-token"),
    pytest.param("POST", event(), {**JSON, "Authorization": "Bearer s3cr3t-hq"}, 403,
                 error("protocol", "access-denied", "the token is not valid for source 'bigdata-analyser'",
                       app="forbidden", path=f"{AT}/source"), id="other-sources-token"),
    pytest.param("POST", BIG, TOKEN, 413,
                 error("transport", "too-big", f"body of {len(BIG)} bytes > 4096", app="too_large"),
                 id="too-big"),
    pytest.param("POST", event(), {**TOKEN, "Content-Type": "text/plain"}, 415,
                 error("protocol", "operation-not-supported", "Content-Type: text/plain is not one of "
                       "application/json, application/yang-data+json", app="media_type"),
                 id="wrong-media-type"),
    pytest.param("GET", "", TOKEN, 405,
                 error("protocol", "operation-not-supported", "Method Not Allowed: The method is not allowed "
                       "for the requested URL."), id="get-the-event-resource"),
    pytest.param("POST", event(), TOKEN, 404,
                 error("protocol", "invalid-value", "Not Found: The requested URL was not found on the "
                       "server. If you entered the URL manually please check your spelling and try again."),
                 id="unknown-restconf-resource"),
]


@pytest.mark.parametrize(("method", "body", "headers", "status", "expected"), CASES)
def test_restconf_event_errors_are_rfc8040_errors(secured: Running, method: str, body: str,
                                                  headers: dict[str, str], status: int,
                                                  expected: dict[str, Any]) -> None:
    path = EVENT_PATH if status != 404 else EVENT_PATH.replace(":event", ":evnt")
    resp = requests.request(method, secured.url + path, data=body, headers=headers, timeout=10)
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/yang-data+json"
    assert resp.json() == expected
    if status == 405:
        assert set(resp.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}


def test_the_cli_prints_the_rfc8040_error_path_and_message(secured: Running,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.cli.main import main

    assert main(["event", "send", "--source", "bigdata-analyser", "--severity", "3", "--url", secured.url,
                 "--token", "s3cr3t-hq"]) == 1
    assert capsys.readouterr().err == ("arca: collector refused the event (403): "
                                       f"{AT}/source: the token is not valid for source 'bigdata-analyser'\n")


@pytest.mark.parametrize(("path", "body", "headers"), [
    pytest.param("/cap", "<alert", {"Content-Type": "application/cap+xml"}, id="cap"),
    pytest.param("/osm/alarm", json.dumps({"schema_type": "x"}), {"Content-Type": "application/json"},
                 id="osm-webhook"),
])
def test_the_other_inputs_keep_rfc7807_problems(path: str, body: str, headers: dict[str, str]) -> None:
    running = start_collector()  # unauthenticated: the body is examined
    try:
        resp = running.post(path, body, headers)
        assert resp.status_code == 400 and resp.headers["Content-Type"] == "application/problem+json"
        assert {"type", "title", "status", "detail", "reason", "path", "instance"} <= set(resp.json())
    finally:
        running.service.close()


def with_magnitude(value: object) -> str:
    """A seismometer event whose base64 payload carries ``magnitude`` as given."""
    import base64

    payload = {"ietf-nmrg-nict-resource-anticipation:events": {"event-payloads": {
        "event-payloads-seismometer": [{"plid": "s", "magnitude": value}]}}}
    return event(put("payload", base64.b64encode(json.dumps(payload).encode()).decode()), "seismometer")


PAYLOAD = f"{AT}/payload/events/event-payloads/event-payloads-seismometer"


@pytest.mark.parametrize(("body", "path", "message"), [
    pytest.param(with_magnitude("6"), f"{PAYLOAD}=s/magnitude",
                 "expected a uint8 encoded as a JSON number, e.g. 5 (RFC 7951 section 6.1), got the JSON "
                 'string "6"', id="uint8-as-json-string"),
    pytest.param(with_magnitude(300), f"{PAYLOAD}/0/magnitude",
                 "300 is not a valid uint8 (outside its range)", id="uint8-over-255"),
    pytest.param(event(put("timestamp", "2026-11-22T02:00:00")), f"{AT}/timestamp",
                 '"2026-11-22T02:00:00" is not a valid date-and-time (RFC 3339 with a time-zone offset, e.g. '
                 '"2026-11-22T02:00:00Z")', id="timestamp-without-offset"),
    pytest.param(event(put("sequence", True)), f"{AT}/sequence",
                 f"{INT64}, got JSON true", id="sequence-boolean"),
])
def test_yang_type_faults_in_the_payload_say_the_rfc7951_encoding(body: str, path: str, message: str) -> None:
    from arca.collector.errors import IngestError
    from arca.collector.events import parse_notification, to_external_event
    from arca.collector.severity import SeverityScales

    scales = SeverityScales.from_mapping({"seismo-hq": [(3, 1), (5, 2), (6, 3), (7, 4)]})
    with pytest.raises(IngestError) as refused:
        to_external_event(parse_notification(body), scales)
    assert (refused.value.reason, refused.value.path) == ("yang", path)
    assert refused.value.detail == MOD + message
