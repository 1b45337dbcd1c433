"""Every rejected class of detector event, through the real HTTP endpoint and the real RabbitMQ."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pika
import pytest
import requests
from test_collector_events import REJECTED, sample

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.amqp import REASON_CLASS_HEADER, wait_ready
from arca.collector.http import EVENT_PATH
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Message
from arca.service import Deps
from tests.collector.test_collector_http import restconf_error
from tests.conftest import free_port

SCALES_TTL = """
@prefix arca: <https://w3id.org/arca/ns#> .
arca:s a arca:SeverityScale ; arca:forSource "seismo-hq" ;
  arca:step [ a arca:SeverityStep ; arca:fromMagnitude 3 ; arca:stepSeverity 1 ] ,
            [ a arca:SeverityStep ; arca:fromMagnitude 6 ; arca:stepSeverity 3 ] .
"""


def bad_bodies() -> list[tuple[str, str, str, bytes]]:
    out = []
    for case_id, name, mutate, reason, path in REJECTED:
        doc = copy.deepcopy(sample(name))
        mutate(doc)
        out.append((case_id, reason, path, json.dumps(doc).encode()))
    return out


BAD = bad_bodies()


def make_service(**cfg: object) -> tuple[CollectorService, list[Message]]:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle(SCALES_TTL)
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)
    open_cfg = {"allow_unauthenticated": True, **cfg}
    settings = ArcaSettings(collector=CollectorSettings.model_validate(open_cfg))
    service = CollectorService(Deps(bus=bus, kb=kb, clock=SimClock(datetime(2026, 11, 22, tzinfo=UTC)),
                                    settings=settings))
    service.attach()
    return service, received


@pytest.fixture(scope="module")
def http_collector() -> Iterator[tuple[CollectorService, list[Message]]]:
    service, received = make_service(http_port=free_port())
    yield service, received
    service.close()


@pytest.mark.parametrize(("reason", "path", "body"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_every_rejected_class_over_http(
    http_collector: tuple[CollectorService, list[Message]], reason: str, path: str, body: bytes
) -> None:
    service, received = http_collector
    assert service.http is not None
    before = service.ingestor.rejections[("event", reason)]
    resp = requests.post(service.http.url + EVENT_PATH, data=body,
                         headers={"Content-Type": "application/yang-data+json"}, timeout=10)
    assert resp.status_code == 400
    error = restconf_error(resp)  # RFC 8040 errors, application/yang-data+json
    assert error["error-app-tag"] == reason and path in error.get("error-path", "/"), error
    assert service.ingestor.rejections[("event", reason)] == before + 1
    assert received == []


@pytest.mark.rabbitmq
def test_every_rejected_class_over_amqp_is_dead_lettered(rabbit_url: str, unique: str) -> None:
    exchange = f"arca.detectors.{unique}"
    service, received = make_service(amqp_ingest=True, amqp_url=rabbit_url, detectors_exchange=exchange,
                                     detectors_queue=exchange)
    try:
        assert wait_ready(service.amqp[0])
        conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
        ch = conn.channel()
        ch.confirm_delivery()
        for _id, _reason, _path, body in BAD:
            ch.basic_publish(exchange, "event.bad", body, pika.BasicProperties(delivery_mode=2))
        got: Counter[str] = Counter()
        deadline = time.monotonic() + 20
        while sum(got.values()) < len(BAD) and time.monotonic() < deadline:
            method, props, _body = ch.basic_get(f"{exchange}.dead", auto_ack=True)
            if method is None:
                time.sleep(0.05)
                continue
            got[props.headers[REASON_CLASS_HEADER]] += 1
        conn.close()
        assert got == Counter(reason for _id, reason, _path, _body in BAD)
        assert received == []
    finally:
        service.close()
