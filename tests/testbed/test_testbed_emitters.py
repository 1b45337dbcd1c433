"""Emitted documents in their documented formats, checked with the collector's own parsers/validators:
detector YANG notifications, Nova versioned notifications (also through the real RabbitMQ), OSM alarm
webhooks, HAProxy stats; and the HTTP sink against a real HTTP endpoint."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pika
import pytest
import requests
from flask import Flask, request

from arca.collector.events import event_severity, parse_notification
from arca.collector.haproxy import counters, parse_stats
from arca.collector.nova import to_topology, unwrap
from arca.collector.osm import parse_webhook, to_alarm
from arca.collector.severity import SeverityScales
from arca.testbed.detectors import MAGNITUDES, Detectors
from arca.testbed.model import ModelParams, TestbedModel
from arca.testbed.notifications import EXCHANGE, ROUTING_KEY, NovaNotifier
from arca.testbed.platform import Testbed
from arca.testbed.serving import bind, serve
from arca.testbed.sinks import AmqpSink, HttpSink, ListSink
from arca.testbed.timeline import parse_timeline

# the collector's default scale (ontology/policies/severity-scales.ttl, scale-default)
DEFAULT_SCALE = SeverityScales.from_mapping({"*": [(4.0, 1), (6.0, 2), (7.0, 3), (8.0, 4)]})
INCIDENTS = {
    "duration_s": 200,
    "seed": 4,
    "incidents": [{"at_s": 10, "severity": s, "domain": d} for s, d in ((1, "building-2"),)]
    + [
        {"at_s": 40 * s, "severity": s, "domain": d}
        for s, d in ((2, "building-3"), (3, "hq"), (4, "building-4"))
    ],
}


@pytest.mark.parametrize("kind", ["seismometer", "bigdata"])
def test_detector_notifications_pass_the_collector_validator(kind: str) -> None:
    model = TestbedModel(parse_timeline(INCIDENTS), ModelParams(detector_delay_s=0.5, step_s=0.5))
    sink = ListSink()
    Detectors(model, sink, kind=kind)
    model.advance(10.4)
    assert sink.sent == []
    model.advance(0.2)
    assert len(sink.sent) == 1
    model.run()
    assert len(sink.sent) == 4
    severities = []
    for sent in sink.sent:
        assert sent.content_type == "application/yang-data+json"
        parsed = parse_notification(sent.body)  # yangson validation of envelope and payload
        severity, magnitude = event_severity(parsed, DEFAULT_SCALE, (0, 4))
        severities.append(severity)
        assert parsed.payload_kind == kind
        assert (parsed.event_time - parsed.timestamp).total_seconds() == pytest.approx(0.5)
        if kind == "seismometer":
            assert magnitude == MAGNITUDES[severity or 0]
            assert parsed.source.startswith("seismometer-")
            assert sent.routing_key == f"event.{parsed.source}"
    assert severities == [1, 2, 3, 4]
    doc = json.loads(sink.sent[0].body)["ietf-restconf:notification"][
        "ietf-nmrg-nict-resource-anticipation:event"
    ]
    assert doc["sequence"] == "1"  # int64 is a JSON string (RFC 7951)
    inner = json.loads(base64.b64decode(doc["payload"]))
    assert list(inner) == ["ietf-nmrg-nict-resource-anticipation:events"]


def test_imperfect_detectors_send_what_the_timeline_says() -> None:
    doc = {"duration_s": 120, "seed": 4, "incidents": [
        {"at_s": 10, "severity": 3, "domain": "building-2", "detector": {"missed": True}},
        {"at_s": 40, "severity": 4, "domain": "building-3", "detector": {"severity_error": -2}},
        {"at_s": 70, "severity": 2, "domain": "building-4", "detector": {"delay_s": 6}}],
        "false_alarms": [{"at_s": 100, "severity": 1, "domain": "hq"}]}
    model = TestbedModel(parse_timeline(doc), ModelParams(detector_delay_s=0.5))
    sink = ListSink()
    Detectors(model, sink)
    model.run()
    seen = []
    for sent in sink.sent:
        parsed = parse_notification(sent.body)
        severity, _ = event_severity(parsed, DEFAULT_SCALE, (0, 4))
        onset = (parsed.timestamp - model.time_of(0)).total_seconds()
        delay = (parsed.event_time - parsed.timestamp).total_seconds()
        seen.append((parsed.source, onset, severity, delay))
    # missed: nothing; wrong severity: the reported one; late: the extra delay; false alarm: an event
    assert seen == [("seismometer-building-3", 40.0, 2, 0.5), ("seismometer-building-4", 70.0, 2, 6.5),
                    ("seismometer-hq", 100.0, 1, 0.5)]
    # the burst of the missed incident still comes, and the false alarm brings none
    assert model.demand.total(20) > 3 * model.demand.total(5)
    assert model.demand.total(110) < 40


def test_detectors_post_to_an_http_collector() -> None:
    received: list[tuple[str, bytes]] = []
    app = Flask("receiver")

    @app.post("/restconf/notifications/ietf-nmrg-nict-resource-anticipation:event")
    def receive() -> Any:
        received.append((request.content_type or "", request.get_data()))
        return "", 202

    served = serve("receiver", bind("receiver", app))
    try:
        url = served.url + "/restconf/notifications/ietf-nmrg-nict-resource-anticipation:event"
        sink = HttpSink(url)
        model = TestbedModel(parse_timeline(INCIDENTS))
        Detectors(model, sink)
        model.run()
    finally:
        served.stop()
    assert sink.statuses == [202] * 4 and sink.errors == 0
    assert all(ct == "application/yang-data+json" for ct, _ in received)
    assert [parse_notification(body).source for _, body in received] == [
        "seismometer-building-2",
        "seismometer-building-3",
        "seismometer-hq",
        "seismometer-building-4",
    ]


def test_http_sink_counts_failures_without_stopping() -> None:
    sink = HttpSink("http://127.0.0.1:9/nowhere", timeout_s=0.5)
    sink.send(b"{}")
    assert sink.errors == 1


def _lifecycle_model() -> tuple[TestbedModel, ListSink, str]:
    tl = parse_timeline({"duration_s": 100, "failures": [{"at_s": 30, "servants": 1}]})
    model = TestbedModel(tl, ModelParams(initial_servants=0))
    sink = ListSink()
    NovaNotifier(model, sink)
    s = model.create_servant("arca-emergency-1", metadata={"arca_system": "emergency"}, tags=["arca-managed"])
    model.flush_events()
    model.advance(40)  # active at 10, dies at 30
    model.delete_servant(s.id)
    model.flush_events()
    return model, sink, s.id


def test_nova_versioned_notifications_follow_the_servant_lifecycle() -> None:
    _, sink, sid = _lifecycle_model()
    notes = [unwrap(x.body) for x in sink.sent]
    assert [n["event_type"] for n in notes] == [
        "instance.create.start",
        "instance.create.end",
        "instance.update",
        "instance.delete.start",
        "instance.delete.end",
    ]
    assert all(x.routing_key == ROUTING_KEY for x in sink.sent)
    outer = json.loads(sink.sent[0].body)
    assert outer["oslo.version"] == "2.0" and isinstance(outer["oslo.message"], str)
    changes = [to_topology(n) for n in notes]
    states = [c.state if c else None for c in changes]
    assert states == ["building", "active", "error", None, "deleted"]  # delete.start is not a state change
    assert changes[1] is not None and changes[1].server_id == sid and changes[1].address
    assert changes[1].event_time == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    data = notes[1]["payload"]["nova_object.data"]
    assert data["metadata"] == {"arca_system": "emergency"} and data["tags"] == ["arca-managed"]


@pytest.mark.rabbitmq
def test_nova_notifications_on_the_real_rabbitmq(rabbit_url: str, unique: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    ch = conn.channel()
    ch.exchange_declare(EXCHANGE, exchange_type="topic", durable=False)  # as oslo.messaging declares it
    queue = f"test-nova-{unique}"
    ch.queue_declare(queue, exclusive=True)
    ch.queue_bind(queue, EXCHANGE, routing_key="versioned_notifications.*")
    sink = AmqpSink(rabbit_url, EXCHANGE, durable=False)
    tl = parse_timeline({"duration_s": 100})
    model = TestbedModel(tl, ModelParams(initial_servants=0))
    NovaNotifier(model, sink)
    model.create_servant("arca-emergency-1", metadata={"arca_system": "emergency"})
    model.flush_events()
    model.advance(11)
    sink.close()
    got = []
    for _ in range(2):
        method, props, body = ch.basic_get(queue, auto_ack=True)
        assert props.content_type == "application/json"
        assert method is not None, "notification not delivered"
        assert method.routing_key == "versioned_notifications.info" and method.exchange == EXCHANGE
        got.append(unwrap(body)["event_type"])
    conn.close()
    assert got == ["instance.create.start", "instance.create.end"]
    assert sink.errors == 0


def test_osm_webhooks_post_double_encoded_json_to_a_real_endpoint() -> None:
    received: list[bytes] = []
    app = Flask("webhook")

    @app.post("/osm/alarm")
    def alarm() -> Any:
        received.append(request.get_data())
        return "", 200

    served = serve("webhook", bind("webhook", app))
    try:
        tl = parse_timeline({"duration_s": 200, "failures": [{"at_s": 35, "servants": 1}]})
        tb = Testbed(tl, ModelParams(initial_owner="osm"), alarm_sink=HttpSink(served.url + "/osm/alarm"))
        tb.model.advance(61)
    finally:
        served.stop()
    [body] = received
    doc = parse_webhook(body)
    assert isinstance(json.loads(body), str)
    alarm_msg = to_alarm(doc, datetime(2026, 1, 1, tzinfo=UTC), default_system="emergency")
    assert doc["notify_details"]["status"] == "insufficient-data"
    assert doc["notify_details"]["ns_id"] == tb.osm.ns.id
    assert alarm_msg is not None


def test_haproxy_stats_parse_with_the_collector_and_count_discards() -> None:
    tl = parse_timeline({"duration_s": 200, "incidents": [{"at_s": 0, "severity": 4, "domain": "hq"}]})
    with Testbed(tl) as tb:
        tb.model.advance(30)  # one servant cannot absorb severity 4
        url = tb.urls()["haproxy:building-2"]
        r = requests.get(url, timeout=5)
        assert r.status_code == 200
        rows = parse_stats(r.text)
        c = counters(rows, datetime(2026, 1, 1, tzinfo=UTC))
        lb = tb.model.lb_counters("building-2")
        assert c.requests == round(lb["requests"])
        assert c.refused == round(lb["discarded"]) and c.refused > 0
        assert c.queue == round(lb["queue"])
        assert requests.get(url.replace("lb-building-2", "lb-9"), timeout=5).status_code == 404


@pytest.fixture
def served_testbed() -> Iterator[Testbed]:
    with Testbed(parse_timeline({"duration_s": 600})) as tb:
        yield tb


def test_control_api(served_testbed: Testbed) -> None:
    base = served_testbed.urls()["control"]
    assert requests.post(base + "/faults", json={"service": "compute", "count": 1}, timeout=5).ok
    assert requests.get(served_testbed.url("compute") + "/servers", timeout=5).status_code == 503
    bad = requests.post(base + "/faults", json={"service": "nope"}, timeout=5)
    assert bad.status_code == 400 and "service must be one of" in bad.json()["error"]
    assert requests.post(base + "/advance", json={"seconds": 12}, timeout=5).json() == {"t": 12.0}
    killed = requests.post(base + "/kill", json={"servants": 1}, timeout=5).json()["killed"]
    status = requests.get(base + "/status", timeout=5).json()
    assert status["t"] == 12.0
    assert [s["status"] for s in status["servants"] if s["id"] in killed] == ["ERROR"]
    assert requests.post(base + "/never-active", json={"count": 2}, timeout=5).ok
    assert served_testbed.model.never_active_next == 2


def test_emitters_run_in_a_background_thread_safely() -> None:
    # the ticker and API threads share the model: notifications still arrive once each
    tb = Testbed(parse_timeline({"duration_s": 100}), ModelParams(initial_servants=0))
    sink = tb.notification_sink
    assert isinstance(sink, ListSink)

    def create(i: int) -> None:
        tb.model.create_servant(f"s{i}")
        tb.model.flush_events()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tb.model.advance(10)
    kinds = [unwrap(x.body)["event_type"] for x in sink.sent]
    assert kinds.count("instance.create.start") == 8 and kinds.count("instance.create.end") == 8


def test_two_detector_sets_each_send_their_own_notifications_once() -> None:
    tb = Testbed(parse_timeline(INCIDENTS))  # has its own default detectors
    extra = ListSink()
    Detectors(tb.model, extra)
    tb.model.run()
    default = tb.detector_sink
    assert isinstance(default, ListSink)
    assert len(extra.sent) == 4 and len(default.sent) == 4


@pytest.mark.rabbitmq
def test_collectors_amqp_consumers_receive_nova_and_detector_messages(rabbit_url: str, unique: str) -> None:
    from arca.collector.amqp import AmqpIngest

    nova_bodies: list[bytes] = []
    detector_bodies: list[bytes] = []
    nova_in = AmqpIngest(
        rabbit_url,
        exchange="nova",
        queue=f"t-nova-{unique}",
        routing_keys=[ROUTING_KEY],
        handler=nova_bodies.append,
        exchange_durable=False,
    )
    det_in = AmqpIngest(
        rabbit_url,
        exchange=f"detectors-{unique}",
        queue=f"t-det-{unique}",
        routing_keys=["#"],
        handler=detector_bodies.append,
    )
    for consumer in (nova_in, det_in):
        consumer.start()
        assert consumer.ready.wait(10)
    notes = AmqpSink(rabbit_url, "nova", durable=False)
    detectors = AmqpSink(rabbit_url, f"detectors-{unique}")
    try:
        tb = Testbed(
            parse_timeline({"duration_s": 60, "incidents": [{"at_s": 5, "severity": 3, "domain": "hq"}]}),
            notification_sink=notes,
            detector_sink=detectors,
        )
        tb.model.create_servant("arca-emergency-2", metadata={"arca_system": "emergency"})
        tb.model.flush_events()
        tb.model.advance(12)
        deadline = time.monotonic() + 10
        while (len(nova_bodies) < 2 or not detector_bodies) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        notes.close()
        detectors.close()
        nova_in.stop()
        det_in.stop()
    assert [unwrap(b)["event_type"] for b in nova_bodies] == ["instance.create.start", "instance.create.end"]
    [event] = detector_bodies
    assert parse_notification(event).source == "seismometer-hq"
    assert notes.errors == 0 and detectors.errors == 0


def test_server_actions_send_novas_action_notifications() -> None:
    tl = parse_timeline({"duration_s": 200, "failures": []})
    model = TestbedModel(tl, ModelParams(initial_servants=1))
    sink = ListSink()
    NovaNotifier(model, sink)
    (s,) = model.live_servants()
    for action in ("os-stop", "os-start", "shelve", "unshelve", "reboot:SOFT"):
        model.server_action(s.id, action)
        model.flush_events()
        model.advance(15)
    notes = [unwrap(x.body) for x in sink.sent]
    assert [n["event_type"] for n in notes] == [
        "instance.power_off.start", "instance.power_off.end",
        "instance.power_on.start", "instance.power_on.end",
        "instance.shelve.start", "instance.shelve.end", "instance.shelve_offload.start",
        "instance.shelve_offload.end", "instance.unshelve.start", "instance.unshelve.end",
        "instance.reboot.start", "instance.reboot.end",
    ]
    data = [n["payload"]["nova_object.data"] for n in notes]
    assert (data[0]["state"], data[0]["task_state"]) == ("active", "powering-off")
    assert (data[1]["state"], data[1]["power_state"], data[1]["task_state"]) == ("stopped", "shutdown", None)
    assert data[7]["state"] == "shelved_offloaded"
    states = [c.state if c else None for c in (to_topology(n) for n in notes)]
    assert states[1] == "shutoff" and states[3] == "active" and states[-1] == "active"
