"""The collector's real HTTP server (waitress) hammered by concurrent clients, publishing to RabbitMQ.

Threads post valid events (each a fresh id), repeats of them (duplicates), and invalid ones (bad
token, bad severity, bad JSON, a missing field) at once, on keep-alive connections. Asserts: no 5xx,
every valid event's message is on the real queue exactly once (its 202 came after the broker's
confirm), every invalid one is a 4xx naming its reason and publishes nothing.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pika
import pytest
import requests

from arca.app.settings import ArcaSettings, BusSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.collector.events import build_notification, build_payload
from arca.collector.http import EVENT_PATH
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import ExternalEvent, decode
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps
from tests.conftest import free_port

pytestmark = pytest.mark.rabbitmq

TOKENS = {"seismo-hq": "tok-hq", "bigdata-analyser": "tok-bd"}
T0 = datetime(2026, 11, 22, 2, tzinfo=UTC)
CLIENTS = 12
PER_CLIENT = 40
HEADERS = {"Content-Type": "application/yang-data+json"}


def valid(client: int, i: int) -> str:
    doc = build_notification(event_id=f"c{client}-e{i}", source="bigdata-analyser",
                             timestamp=T0 + timedelta(milliseconds=i),
                             payload=build_payload("bigdata", severity=i % 5, description="hammer"))
    return json.dumps(doc)


def invalid(client: int, i: int) -> tuple[str, dict[str, str], str]:
    """(body, extra headers, expected reason) of one invalid request."""
    kind = i % 4
    if kind == 0:  # someone else's token
        return valid(client, 10_000 + i), {"Authorization": "Bearer tok-hq"}, "forbidden"
    if kind == 1:  # a severity outside the scale
        doc = build_notification(event_id=f"bad-c{client}-{i}", source="bigdata-analyser", timestamp=T0,
                                 payload=build_payload("bigdata", severity=9))
        return json.dumps(doc), {}, "severity"
    if kind == 2:
        return '{"ietf-restconf:notification": ', {}, "json"
    doc = build_notification(event_id=f"bad-c{client}-{i}", source="bigdata-analyser", timestamp=T0,
                             payload=build_payload("basic"))
    del doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]["timestamp"]
    return json.dumps(doc), {}, "missing"


def test_concurrent_clients_get_no_5xx_and_each_valid_event_is_published_exactly_once(
    rabbit_url: str, unique: str
) -> None:
    bus_cfg = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                          dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                          queue_prefix=f"t-{unique}.")
    out_queue = f"t-{unique}.out"
    bus = RabbitBus(bus_cfg, service="collector")
    bus.declare(out_queue, ["event.#"])
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    cfg = CollectorSettings(http_port=free_port(), tokens=TOKENS, http_threads=6)
    service = CollectorService(Deps(bus=bus, kb=kb, clock=SimClock(T0),
                                    settings=ArcaSettings(bus=bus_cfg, collector=cfg)))
    bus.start()
    service.attach()
    assert service.http is not None
    url = service.http.url + EVENT_PATH
    answers: list[tuple[str, int, dict[str, Any]]] = []  # (kind, status, body)
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        session = requests.Session()  # keep-alive, like a detector posting a stream
        auth = {**HEADERS, "Authorization": "Bearer tok-bd"}
        start.wait()
        for i in range(PER_CLIENT):
            jobs = [("valid", valid(n, i), auth)]
            if i % 3 == 0:
                jobs.append(("duplicate", valid(n, i), auth))
            if i % 2 == 0:
                body, extra, reason = invalid(n, i)
                jobs.append((f"invalid:{reason}", body, {**auth, **extra}))
            for kind, body, headers in jobs:
                resp = session.post(url, data=body, headers=headers, timeout=30)
                with lock:
                    answers.append((kind, resp.status_code, resp.json()))
        session.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
    finally:
        service.close()
        bus.stop()

    statuses = Counter(status for _kind, status, _body in answers)
    assert not [a for a in answers if a[1] >= 500], statuses
    valid_answers = [a for a in answers if a[0] == "valid"]
    assert len(valid_answers) == CLIENTS * PER_CLIENT
    assert {status for _k, status, _b in valid_answers} == {202}
    assert all(body["status"] == "accepted" for _k, _s, body in valid_answers)
    for kind, status, body in answers:
        if kind == "duplicate":  # after its original's 202 (same client, in order): absorbed
            assert (status, body["status"]) == (202, "duplicate")
        elif kind.startswith("invalid:"):
            reason = body["ietf-restconf:errors"]["error"][0]["error-app-tag"]  # RFC 8040 errors
            assert 400 <= status < 500 and reason == kind.split(":", 1)[1], (kind, status, body)

    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    try:
        ch = conn.channel()
        ids: Counter[str] = Counter()
        while True:
            method, _props, raw = ch.basic_get(out_queue, auto_ack=True)
            if method is None:
                break
            message = decode(raw)
            assert isinstance(message, ExternalEvent)
            ids[message.event_id] += 1
        ch.queue_delete(out_queue)
    finally:
        conn.close()
    expected = {f"c{n}-e{i}" for n in range(CLIENTS) for i in range(PER_CLIENT)}
    assert set(ids) == expected  # nothing invalid published, no valid event missing
    assert set(ids.values()) == {1}  # and none twice
