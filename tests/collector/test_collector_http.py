"""The running HTTP endpoint, through a real HTTP client: 202 on acceptance, otherwise RFC 8040 errors
on the RESTCONF event path and RFC 7807 problems on the other inputs."""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.http import EVENT_PATH
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Alarm, ExternalEvent, Message
from arca.metrics import MESSAGES_REJECTED
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps
from tests.conftest import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "collector"
JSON = {"Content-Type": "application/yang-data+json"}


def sample(name: str) -> dict[str, Any]:
    return json.loads((DATA / "events" / f"{name}.json").read_text())


def restconf_error(resp: requests.Response) -> dict[str, Any]:
    """The one error of an RFC 8040 error answer (``ietf-restconf:errors``, yang-data+json)."""
    assert resp.headers["Content-Type"] == "application/yang-data+json", resp.text
    errors = resp.json()["ietf-restconf:errors"]["error"]
    assert len(errors) == 1, errors
    error: dict[str, Any] = errors[0]
    return error


class Running:
    def __init__(self, service: CollectorService, received: list[Message]) -> None:
        self.service = service
        self.received = received
        assert service.http is not None
        self.url = service.http.url

    def post(self, path: str, body: bytes | str, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(self.url + path, data=body, headers=headers or JSON, timeout=10)


def start_collector(**cfg: Any) -> Running:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    cfg.setdefault("allow_unauthenticated", True)  # the auth tests configure tokens
    settings = ArcaSettings(collector=CollectorSettings(http_port=free_port(), **cfg))
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)  # messages arrive encoded, then decoded
    service = CollectorService(Deps(bus=bus, kb=kb, clock=SimClock(datetime(2026, 11, 22, 2, tzinfo=UTC)),
                                    settings=settings))
    service.attach()
    return Running(service, received)


@pytest.fixture
def collector() -> Iterator[Running]:
    running = start_collector()
    yield running
    running.service.close()


@pytest.fixture
def secured() -> Iterator[Running]:
    running = start_collector(tokens={"seismo-hq": "s3cr3t-hq", "bigdata-analyser": "s3cr3t-bd"},
                              http_max_body_bytes=4096)
    yield running
    running.service.close()


def rejected(reason: str) -> float:
    return MESSAGES_REJECTED.labels(service="collector", reason=reason)._value.get()


def test_accepted_event_answers_202_and_reaches_the_bus(collector: Running) -> None:
    resp = collector.post(EVENT_PATH, json.dumps(sample("seismometer")))
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "accepted" and len(body["messages"]) == 1
    [event] = collector.received
    assert isinstance(event, ExternalEvent) and event.message_id == body["messages"][0]
    assert (event.source, event.severity, event.magnitude, event.system) == ("seismo-hq", 3, 6.0, "emergency")


def test_duplicate_event_is_absorbed_with_202(collector: Running) -> None:
    body = json.dumps(sample("bigdata"))
    assert collector.post(EVENT_PATH, body).json()["status"] == "accepted"
    resp = collector.post(EVENT_PATH, body)
    assert resp.status_code == 202 and resp.json()["status"] == "duplicate"
    assert len(collector.received) == 1


def test_invalid_event_answers_an_rfc8040_error_naming_the_field(collector: Running) -> None:
    doc = sample("bigdata")
    doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]["sequence"] = 881
    before = rejected("event:yang")
    resp = collector.post(EVENT_PATH, json.dumps(doc))
    assert resp.status_code == 400
    error = restconf_error(resp)
    tags = (error["error-type"], error["error-tag"], error["error-app-tag"])
    assert tags == ("application", "invalid-value", "yang")
    assert error["error-path"].endswith("ietf-nmrg-nict-resource-anticipation:event/sequence")
    assert "int64 encoded as a JSON string" in error["error-message"]
    assert rejected("event:yang") == before + 1
    assert collector.received == []


def test_severity_outside_scale_is_refused(collector: Running) -> None:
    doc = sample("bigdata")
    payload = {"ietf-nmrg-nict-resource-anticipation:events": {"event-payloads": {
        "event-payloads-bigdata": [{"plid": "x", "severity": 5}]}}}
    doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]["payload"] = (
        base64.b64encode(json.dumps(payload).encode()).decode())
    resp = collector.post(EVENT_PATH, json.dumps(doc))
    assert resp.status_code == 400 and restconf_error(resp)["error-app-tag"] == "severity"
    assert restconf_error(resp)["error-path"].endswith("event-payloads-bigdata/severity")


def test_not_json_and_wrong_media_type(collector: Running) -> None:
    assert restconf_error(collector.post(EVENT_PATH, "{oops"))["error-tag"] == "malformed-message"
    # a valid event under any media type but the two JSON ones (CAP's XML types included) is a 415
    for media_type in ("text/plain", "application/xml", "application/cap+xml", "text/xml"):
        resp = collector.post(EVENT_PATH, json.dumps(sample("bigdata")), {"Content-Type": media_type})
        assert resp.status_code == 415, (media_type, resp.text)
        assert restconf_error(resp)["error-message"] == (
            f"Content-Type: {media_type} is not one of application/json, application/yang-data+json")
    assert collector.received == []
    ok = collector.post(EVENT_PATH, json.dumps(sample("bigdata")),
                        {"Content-Type": "Application/YANG-Data+JSON; charset=utf-8"})
    assert ok.status_code == 202, ok.text  # media types are case-insensitive, parameters ignored


def test_cap_alert_over_http(collector: Running) -> None:
    xml = (DATA / "cap" / "earthquake-severe.xml").read_bytes()
    resp = collector.post("/cap", xml, {"Content-Type": "application/cap+xml"})
    assert resp.status_code == 202, resp.text
    assert [getattr(e, "event_id", None) for e in collector.received] == [
        "JMA-EQ-20261122-0001#1", "JMA-EQ-20261122-0001#2"]
    cancel = (DATA / "cap" / "earthquake-cancel.xml").read_bytes()
    assert collector.post("/cap", cancel, {"Content-Type": "application/xml"}).status_code == 202
    ended = collector.received[2:]  # the Cancel ends both incidents (info blocks) of the alert
    assert [getattr(e, "event_id", None) for e in ended] == [
        "JMA-EQ-20261122-0001#1", "JMA-EQ-20261122-0001#2"]
    assert all(isinstance(e, ExternalEvent) and e.cancelled and e.references == "JMA-EQ-20261122-0001"
               for e in ended)
    laughs = collector.post("/cap", (DATA / "cap" / "billion-laughs.xml").read_bytes(),
                            {"Content-Type": "text/xml"})
    assert laughs.status_code == 400 and laughs.json()["reason"] == "xml_forbidden"
    exercise = collector.post("/cap", (DATA / "cap" / "exercise.xml").read_bytes(),
                              {"Content-Type": "text/xml"})
    assert exercise.status_code == 202 and exercise.json()["status"] == "ignored"
    assert len(collector.received) == 4
    again = collector.post("/cap", xml, {"Content-Type": "application/cap+xml"})
    assert again.status_code in (200, 202) and again.json()["status"] == "duplicate"
    assert len(collector.received) == 4


SAMPLE_NS = "a8c4e1f0-2d3b-4c5a-9e8f-7a6b5c4d3e2f"  # the NS instance of tests/data/collector/osm


def test_osm_webhook_over_http() -> None:
    collector = start_collector(osm_ns_systems={SAMPLE_NS: "emergency"})
    try:
        body = (DATA / "osm" / "vm-status-insufficient-data.body").read_bytes()
        resp = collector.post("/osm/alarm", body, {"Content-Type": "application/json"})
        assert resp.status_code == 202, resp.text
        [alarm] = collector.received
        assert isinstance(alarm, Alarm) and alarm.status == "insufficient-data" and alarm.ns_id == SAMPLE_NS
        bad = collector.post("/osm/alarm", json.dumps({"schema_type": "x"}),
                             {"Content-Type": "application/json"})
        assert bad.status_code == 400 and bad.json()["path"] == "/schema_type"
    finally:
        collector.service.close()


def test_osm_webhook_refused_when_no_ns_is_managed(collector: Running) -> None:
    """``collector.osm_ns_systems`` unset (the shipped default): ARCA manages no NS instance, so
    every OSM alarm is refused (403 ``unmanaged``, naming the setting, counted), never accepted."""
    refused = MESSAGES_REJECTED.labels(service="collector", reason="osm:unmanaged")._value.get()
    body = (DATA / "osm" / "vm-status-insufficient-data.body").read_bytes()
    resp = collector.post("/osm/alarm", body, {"Content-Type": "application/json"})
    assert resp.status_code == 403, resp.text
    problem = resp.json()
    assert problem["reason"] == "unmanaged" and problem["path"] == "/notify_details/ns_id"
    assert "collector.osm_ns_systems" in problem["detail"] and SAMPLE_NS in problem["detail"]
    assert collector.received == []
    assert MESSAGES_REJECTED.labels(service="collector", reason="osm:unmanaged")._value.get() == refused + 1


def test_bearer_token_per_source(secured: Running) -> None:
    body = json.dumps(sample("seismometer"))
    missing = secured.post(EVENT_PATH, body)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = secured.post(EVENT_PATH, body, {**JSON, "Authorization": "Bearer s3cr3t-bd"})  # other source's
    assert wrong.status_code == 403 and restconf_error(wrong)["error-path"].endswith("/source")
    ok = secured.post(EVENT_PATH, body, {**JSON, "Authorization": "Bearer s3cr3t-hq"})
    assert ok.status_code == 202
    again = secured.post(EVENT_PATH, body, {**JSON, "Authorization": "bearer  s3cr3t-hq "})
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")  # scheme in any case (RFC 9110)
    unknown = copy.deepcopy(sample("basic"))  # source without a configured token
    resp = secured.post(EVENT_PATH, json.dumps(unknown), {**JSON, "Authorization": "Bearer s3cr3t-hq"})
    assert resp.status_code == 403
    assert len(secured.received) == 1
    ing = secured.service.ingestor
    assert ing.rejections[("event", "unauthenticated")] == 1 and ing.rejections[("event", "forbidden")] == 2


def test_body_size_limit(secured: Running) -> None:
    doc = sample("seismometer")
    doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]["context"] = "x" * 5000
    resp = secured.post(EVENT_PATH, json.dumps(doc), {**JSON, "Authorization": "Bearer s3cr3t-hq"})
    assert resp.status_code == 413 and restconf_error(resp)["error-tag"] == "too-big"
    assert secured.received == []
    # refused on the declared length, one byte over the limit, before the body is read
    limit = secured.service.cfg.http_max_body_bytes
    over = secured.post(EVENT_PATH, b" " * (limit + 1), {**JSON, "Authorization": "Bearer s3cr3t-hq"})
    assert over.status_code == 413
    assert restconf_error(over)["error-message"] == f"body of {limit + 1} bytes > {limit}"


def test_503_when_the_bus_does_not_confirm_and_the_retry_is_accepted() -> None:
    from arca.collector.http import HttpIngestServer, create_app
    from arca.collector.ingest import Ingestor
    from arca.collector.severity import SeverityScales

    published: list[Message] = []
    confirms = iter([RuntimeError("broker gone"), None])

    def confirm(_tickets: list[object]) -> None:
        err = next(confirms)
        if err is not None:
            raise err

    ingestor = Ingestor(CollectorSettings(allow_unauthenticated=True), published.append, SeverityScales(),
                        confirm=confirm)
    server = HttpIngestServer(create_app(ingestor, lambda: datetime.now(UTC)), "127.0.0.1", 0)
    server.start()
    try:
        body = json.dumps(sample("bigdata"))
        first = requests.post(server.url + EVENT_PATH, data=body, headers=JSON, timeout=10)
        assert first.status_code == 503 and restconf_error(first)["error-app-tag"] == "bus_unavailable"
        retry = requests.post(server.url + EVENT_PATH, data=body, headers=JSON, timeout=10)
        # not confirmed -> not marked as seen: the retry is processed (and confirmed) again; a copy
        # the bus may still deliver later is absorbed downstream (incidents are keyed by event id)
        assert retry.status_code == 202 and retry.json()["status"] == "accepted"
        assert len(published) == 2
        third = requests.post(server.url + EVENT_PATH, data=body, headers=JSON, timeout=10)
        assert third.status_code == 202 and third.json()["status"] == "duplicate"
    finally:
        server.stop()


def test_stop_when_a_request_workers_pull_runs_the_close_before_our_own_pull() -> None:
    """The interleaving CI met once: our close is queued, a request worker's pull wakes the loop, the
    loop closes everything (the trigger's pipe too), then our own wake-up write finds the pipe closed."""
    from arca.collector.http import HttpIngestServer, create_app
    from arca.collector.ingest import Ingestor
    from arca.collector.severity import SeverityScales

    ingestor = Ingestor(CollectorSettings(allow_unauthenticated=True), lambda _m: None, SeverityScales())
    server = HttpIngestServer(create_app(ingestor, lambda: datetime.now(UTC)), "127.0.0.1", 0)
    server.start()
    trigger = server.server.trigger
    own_pull = trigger._physical_pull

    def worker_pulls_first() -> None:
        own_pull()  # the worker's wake-up: the loop runs the queued close
        deadline = time.monotonic() + 10
        while not trigger._closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert trigger._closed
        own_pull()  # ours, on the closed pipe

    trigger._physical_pull = worker_pulls_first
    server.stop()
    assert not server._thread.is_alive() and server.server._map == {}
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=2)
