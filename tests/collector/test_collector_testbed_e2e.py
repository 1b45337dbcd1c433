"""End to end on the testbed: its detectors POST to the running collector, its Nova notifications go
through the real RabbitMQ, its HAProxy stats and Gnocchi are polled over HTTP (openstacksdk)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pika
import pytest
import requests
from collector_shacl import assert_conforms

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.amqp import wait_ready
from arca.collector.gnocchi import GnocchiPoller, openstack_fetchers
from arca.collector.haproxy import HaproxyPoller
from arca.collector.http import EVENT_PATH
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import ExternalEvent, Message, Observation, TopologyChange, encode
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps
from arca.testbed.api.nova import NETWORKS
from arca.testbed.model import ModelParams
from arca.testbed.notifications import ROUTING_KEY
from arca.testbed.platform import Testbed
from arca.testbed.sinks import AmqpSink, HttpSink
from arca.testbed.timeline import parse_timeline
from tests.conftest import free_port

pytestmark = pytest.mark.rabbitmq
TIMELINE = {"duration_s": 600, "seed": 5, "incidents": [{"at_s": 10, "severity": 3, "domain": "hq"}],
            "failures": [{"at_s": 40, "servants": 1}]}


@pytest.fixture
def setup(rabbit_url: str, unique: str) -> Iterator[tuple[Testbed, CollectorService, list[Message]]]:
    nova_exchange = f"nova-{unique}"
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    conn.channel().exchange_declare(nova_exchange, "topic", durable=True)  # as the OpenStack side has it
    conn.close()
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    cfg = CollectorSettings(http_port=free_port(), nova_notifications_url=rabbit_url,
                            allow_unauthenticated=True, nova_exchange=nova_exchange,
                            detectors_queue=f"arca.detectors.{unique}")
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)
    nova_sink = AmqpSink(rabbit_url, nova_exchange, default_routing_key=ROUTING_KEY)
    url = f"http://127.0.0.1:{cfg.http_port}"
    tb = Testbed(parse_timeline(TIMELINE), ModelParams(), notification_sink=nova_sink,
                 detector_sink=HttpSink(url + EVENT_PATH)).start()
    sdk = tb.connect()
    stats_url = tb.urls()["haproxy:building-2"]

    def fetch_stats() -> str:
        resp = requests.get(stats_url, timeout=5)
        resp.raise_for_status()
        return resp.text

    lb = HaproxyPoller(fetch_stats, system="emergency", lb_name="lb-building-2", domain="building-2")
    clock = SimClock(tb.model.now())
    service = CollectorService(
        Deps(bus=bus, kb=kb, clock=clock, settings=ArcaSettings(collector=cfg)),
        gnocchi=GnocchiPoller(*openstack_fetchers(sdk)), haproxy=[lb],
    )
    service.attach()
    assert wait_ready(service.amqp[0])
    try:
        yield tb, service, received
    finally:
        service.close()
        nova_sink.close()
        sdk.close()
        tb.stop()


def _create_servant(sdk: Any) -> Any:
    image = next(i for i in sdk.image.images() if i.name == "emergency-servant")
    flavor = next(f for f in sdk.compute.flavors() if f.name == "m1.servant")
    return sdk.compute.create_server(name="arca-emergency-9", image_id=image.id, flavor_id=flavor.id,
                                     networks=[{"uuid": NETWORKS[0]["id"]}],
                                     metadata={"arca_system": "emergency"}, tags=["arca-managed"])


def test_collector_follows_the_testbed(setup: tuple[Testbed, CollectorService, list[Message]]) -> None:
    tb, service, received = setup
    sdk = tb.connect()
    server = _create_servant(sdk)
    for _ in range(60):
        tb.model.advance(1)
        service.tick(tb.model.now())
    deadline = time.monotonic() + 15
    while not any(isinstance(m, TopologyChange) and m.server_id == server.id and m.state == "active"
                  for m in received):
        assert time.monotonic() < deadline, [m for m in received if isinstance(m, TopologyChange)]
        time.sleep(0.05)
    sdk.close()
    events = [m for m in received if isinstance(m, ExternalEvent)]
    assert [(e.payload_kind, e.severity) for e in events] == [("seismometer", 3)]
    assert events[0].source.startswith("seismometer-")
    changes = [m for m in received if isinstance(m, TopologyChange)]
    states = [m.state for m in changes if m.server_id == server.id]
    assert states[0] == "building" and "active" in states
    failed = [m for m in changes if m.state == "error"]  # the timeline's failure at 40 s
    assert len(failed) == 1 and failed[0].server_id != server.id
    metrics = {m.metric for m in received if isinstance(m, Observation)}
    assert {"cpu_util", "request_rate", "discard_rate", "queue_length"} <= metrics
    cpu = [m for m in received if isinstance(m, Observation) and m.metric == "cpu_util"]
    assert all(0.0 <= o.value <= 1.0 for o in cpu)
    for message in received:
        assert_conforms(encode(message))
    assert sum(service.ingestor.rejections.values()) == 0
