"""AMQP ingest on the real RabbitMQ: detector events, dead-lettering with a reason, Nova notifications.

The service publishes through the real ``RabbitBus``; the test reads the raw bodies off the broker,
decodes them with ``arca.messages.decode`` and checks them against ``ontology/shapes.ttl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pika
import pytest
from collector_shacl import assert_conforms

from arca.app.settings import ArcaSettings, BusSettings
from arca.bus.base import REASON_HEADER
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.collector.amqp import REASON_CLASS_HEADER, wait_ready
from arca.collector.auth import TOKEN_HEADER
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import ExternalEvent, Message, TopologyChange, decode
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps

TOKENS = {"seismo-hq": "tok-hq", "bigdata-analyser": "tok-bd", "x": "tok-x"}

pytestmark = pytest.mark.rabbitmq
DATA = Path(__file__).resolve().parents[1] / "data" / "collector"


def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class Harness:
    def __init__(self, rabbit_url: str, unique: str, policies: dict[str, str] | None = None,
                 **collector: Any) -> None:
        kb = EmbeddedKnowledgeBase(None)
        kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
        for turtle, graph in (policies or {}).items():
            kb.load_turtle(turtle, graph)
        self.exchange = f"arca.detectors.{unique}"
        self.nova_exchange = f"nova.{unique}"
        cfg = CollectorSettings(amqp_ingest=True, amqp_url=rabbit_url, detectors_exchange=self.exchange,
                                detectors_queue=self.exchange, nova_notifications_url=rabbit_url,
                                nova_exchange=self.nova_exchange, tokens=TOKENS, **collector)
        bus_cfg = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                              dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                              queue_prefix=f"t-{unique}.")
        self.bus = RabbitBus(bus_cfg, service="collector")
        self.conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        self.out_queue = f"out-{unique}"  # what the decider side would receive
        self.ch.exchange_declare(bus_cfg.exchange, "topic", durable=True)
        self.ch.queue_declare(self.out_queue, durable=False, auto_delete=True)
        self.ch.queue_bind(self.out_queue, bus_cfg.exchange, routing_key="#")
        clock = SimClock(datetime(2026, 11, 22, tzinfo=UTC))
        self.service = CollectorService(Deps(bus=self.bus, kb=kb, clock=clock,
                                             settings=ArcaSettings(bus=bus_cfg, collector=cfg)))
        self.service.attach()
        self.bus.start()
        for consumer in self.service.amqp:
            assert wait_ready(consumer), consumer.queue
        self._received: list[Message] = []

    @property
    def received(self) -> list[Message]:
        """Messages published on the bus so far: raw bodies decoded, each checked against the shapes."""
        self.bus.flush(10)
        while True:
            method, _props, body = self.ch.basic_get(self.out_queue, auto_ack=True)
            if method is None:
                return self._received
            assert_conforms(body)
            self._received.append(decode(body))

    def publish(self, exchange: str, key: str, body: bytes, token: str | None = "auto") -> None:
        """Publish like a detector: the token of the routing key's source in ``x-arca-token``."""
        if token == "auto":
            token = TOKENS.get(key.removeprefix("event."))
        headers = {TOKEN_HEADER: token} if token is not None else {}
        self.ch.basic_publish(exchange, key, body, pika.BasicProperties(delivery_mode=2, headers=headers),
                              mandatory=True)

    def dead(self, queue: str, n: int) -> list[tuple[dict[str, Any], bytes]]:
        out: list[tuple[dict[str, Any], bytes]] = []
        deadline = time.monotonic() + 10
        while len(out) < n and time.monotonic() < deadline:
            method, props, body = self.ch.basic_get(queue, auto_ack=True)
            if method is None:
                time.sleep(0.05)
                continue
            out.append((dict(props.headers or {}), body))
        return out

    def close(self) -> None:
        self.conn.close()
        self.service.close()
        self.bus.stop()


@pytest.fixture
def harness(rabbit_url: str, unique: str) -> Iterator[Harness]:
    h = Harness(rabbit_url, unique)
    yield h
    h.close()


def test_detector_events_over_amqp_accepted_and_dead_lettered_with_reason(harness: Harness) -> None:
    good = (DATA / "events" / "seismometer.json").read_bytes()
    bad_doc = json.loads((DATA / "events" / "bigdata.json").read_text())
    bad_doc["ietf-restconf:notification"]["eventTime"] = "2026-02-30T00:00:00Z"
    harness.publish(harness.exchange, "event.seismo-hq", good)
    harness.publish(harness.exchange, "event.bigdata-analyser", json.dumps(bad_doc).encode())
    harness.publish(harness.exchange, "event.x", b"\xff not json")
    harness.publish(harness.exchange, "event.seismo-hq", good)  # duplicate: absorbed, not dead-lettered
    wait_for(lambda: harness.service.amqp[0].consumed == 4)
    wait_for(lambda: len(harness.received) >= 1)
    dead = harness.dead(f"{harness.exchange}.dead", 2)
    assert sorted(h[REASON_CLASS_HEADER] for h, _ in dead) == ["datetime", "json"]
    by_class = {h[REASON_CLASS_HEADER]: (h, body) for h, body in dead}
    assert "/ietf-restconf:notification/eventTime" in by_class["datetime"][0][REASON_HEADER]
    assert by_class["json"][1] == b"\xff not json"  # the original body is kept
    events = [m for m in harness.received if isinstance(m, ExternalEvent)]
    assert [(e.event_id, e.severity) for e in events] == [("seismo-hq-2026-0017", 3)]
    rej = harness.service.ingestor.rejections
    assert rej[("event", "datetime")] == 1 and rej[("event", "json")] == 1


def test_amqp_events_need_the_token_of_their_source(harness: Harness) -> None:
    """Issue 13: the AMQP ingest accepted events without a token while HTTP answered 401."""
    from arca.metrics import INGEST_AUTH_REFUSED

    before = INGEST_AUTH_REFUSED.labels(input="event", reason="forbidden")._value.get()
    good = (DATA / "events" / "seismometer.json").read_bytes()  # source seismo-hq
    harness.publish(harness.exchange, "event.seismo-hq", good, token=None)
    harness.publish(harness.exchange, "event.seismo-hq", good, token="guessed")
    harness.publish(harness.exchange, "event.seismo-hq", good, token=TOKENS["bigdata-analyser"])
    wait_for(lambda: harness.service.amqp[0].consumed == 3)
    dead = harness.dead(f"{harness.exchange}.dead", 3)
    classes = sorted(h[REASON_CLASS_HEADER] for h, _ in dead)
    assert classes == ["forbidden", "unauthenticated", "unauthenticated"]
    assert all(REASON_HEADER in h for h, _ in dead)
    assert INGEST_AUTH_REFUSED.labels(input="event", reason="forbidden")._value.get() == before + 1
    harness.publish(harness.exchange, "event.seismo-hq", good)  # the right token: accepted
    wait_for(lambda: len(harness.received) >= 1)
    events = [m for m in harness.received if isinstance(m, ExternalEvent)]
    assert [e.source for e in events] == ["seismo-hq"]


def test_events_routed_by_policies_over_amqp_and_an_unsubscribed_one_dead_lettered(
    rabbit_url: str, unique: str
) -> None:
    from arca.policy import policy_graph

    head = "@prefix arca: <https://w3id.org/arca/ns#> .\n"
    policies = {f'{head}<urn:p:{s}> a arca:Policy ; arca:system "{s}" ; {subs} .\n': policy_graph(s)
                for s, subs in (("hq-care", 'arca:listensToDomain "hq"'),
                                ("hq-ops", 'arca:listensToSource "seismo-hq"'),
                                ("rain", 'arca:listensToDomain "building-3"'))}
    harness = Harness(rabbit_url, unique, policies, routing="policies")
    try:
        events_dir = DATA / "events"
        harness.publish(harness.exchange, "event.seismo-hq", (events_dir / "seismometer.json").read_bytes())
        # no location nor context: concerns only a system listening to its source, and none does
        bigdata = (events_dir / "bigdata.json").read_bytes()
        harness.publish(harness.exchange, "event.bigdata-analyser", bigdata)
        wait_for(lambda: harness.service.amqp[0].consumed == 2)
        wait_for(lambda: len(harness.received) >= 2)
        events = [m for m in harness.received if isinstance(m, ExternalEvent)]
        assert sorted((e.event_id, e.system) for e in events) == [
            ("seismo-hq-2026-0017", "hq-care"), ("seismo-hq-2026-0017", "hq-ops")]
        [(headers, body)] = harness.dead(f"{harness.exchange}.dead", 1)
        assert headers[REASON_CLASS_HEADER] == "unrouted" and "bigdata-analyser" in headers[REASON_HEADER]
        assert b"bd-flood-881" in body
        assert harness.service.ingestor.rejections[("event", "unrouted")] == 1
    finally:
        harness.close()


def test_nova_notifications_over_the_openstack_bus(harness: Harness) -> None:
    bodies = (DATA / "nova" / "lifecycle-ip-reuse.jsonl").read_bytes().splitlines()
    for body in bodies:
        harness.publish(harness.nova_exchange, "versioned_notifications.info", body)
    harness.publish(harness.nova_exchange, "versioned_notifications.info", b'{"oslo.version": "2.0"}')
    wait_for(lambda: harness.service.amqp[1].consumed == len(bodies) + 1)
    wait_for(lambda: len(harness.received) >= 7)
    changes = [m for m in harness.received if isinstance(m, TopologyChange)]
    assert [(c.server_id[:8], c.state) for c in changes] == [
        ("178b0921", "building"), ("178b0921", "building"), ("178b0921", "active"), ("178b0921", "deleted"),
        ("9d3a7f3e", "building"), ("9d3a7f3e", "active"), ("9d3a7f3e", "shutoff"),
    ]
    [(headers, _)] = harness.dead(f"{harness.exchange}.nova.dead", 1)
    assert headers[REASON_CLASS_HEADER] == "nova" and "/event_type" in headers[REASON_HEADER]


def test_cli_send_over_amqp_reaches_the_collector(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, rabbit_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from arca.app.cli.main import main

    monkeypatch.setenv("ARCA_COLLECTOR__AMQP_URL", rabbit_url)
    monkeypatch.setenv("ARCA_COLLECTOR__DETECTORS_EXCHANGE", harness.exchange)
    harness.service.clock.set(datetime.now(UTC))  # the CLI stamps the wall clock: the collector runs on it
    code = main(["event", "send", "--source", "bigdata-analyser", "--severity", "2", "--id", "cli-1",
                 "--sequence", "5", "--location", "building-3", "--amqp",
                 "--token", TOKENS["bigdata-analyser"]])
    assert code == 0, capsys.readouterr().err
    wait_for(lambda: any(isinstance(m, ExternalEvent) for m in harness.received))
    [event] = [m for m in harness.received if isinstance(m, ExternalEvent)]
    assert (event.event_id, event.severity, event.sequence, event.location) == ("cli-1", 2, 5, "building-3")


def test_a_failing_handler_is_requeued_once_then_dead_lettered(rabbit_url: str, unique: str) -> None:
    from arca.collector.amqp import AmqpIngest

    calls: list[bytes] = []

    def handler(body: bytes) -> None:
        calls.append(body)
        raise RuntimeError("bus did not confirm")

    ingest = AmqpIngest(rabbit_url, exchange=f"ex-{unique}", queue=f"q-{unique}", routing_keys=["#"],
                        handler=handler)
    ingest.start()
    try:
        assert wait_ready(ingest)
        conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
        ch = conn.channel()
        ch.basic_publish(f"ex-{unique}", "event.x", b"{}", pika.BasicProperties(delivery_mode=2))
        wait_for(lambda: ingest.dead_lettered == 1)
        assert calls == [b"{}", b"{}"]  # first delivery requeued, the redelivery dead-lettered
        method, props, body = ch.basic_get(f"q-{unique}.dead", auto_ack=True)
        assert method is not None and body == b"{}"
        assert props.headers[REASON_CLASS_HEADER] == "handler_error"
        assert "bus did not confirm" in props.headers[REASON_HEADER]
        conn.close()
    finally:
        ingest.stop()
