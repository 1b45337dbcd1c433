"""The testbed's detectors authenticate: each source's token goes with its notifications (HTTP bearer,
AMQP ``x-arca-token``) to a collector that has tokens configured; a source without one is refused.
And a collector left open (unauthenticated mode) says so in its log and in ``/readyz``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from arca.app.runtime import readiness
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.amqp import wait_ready
from arca.collector.auth import TOKEN_HEADER
from arca.collector.http import EVENT_PATH
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import ExternalEvent, Message
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps
from arca.testbed import sinks
from arca.testbed.platform import Testbed
from arca.testbed.settings import TestbedSettings
from arca.testbed.timeline import parse_timeline
from tests.conftest import free_port

pytestmark = pytest.mark.rabbitmq
# one incident per domain with a seismometer: three sources, seismometer-<domain>
TIMELINE = {"duration_s": 60, "seed": 5, "failures": [],
            "incidents": [{"at_s": 2, "severity": 3, "domain": d} for d in ("building-2", "building-3")]}
TOKENS = {"seismometer-building-2": "tok-b2", "seismometer-building-3": "tok-b3"}


def test_the_testbed_sends_the_collectors_token_header() -> None:
    assert sinks.TOKEN_HEADER == TOKEN_HEADER  # the testbed does not import the collector


@pytest.mark.parametrize(
    ("tokens", "key", "token"),
    [(TOKENS, "event.seismometer-building-2", "tok-b2"),
     (TOKENS, "event.seismometer-hq", None),
     (TOKENS, "seismometer-building-2", None),
     ({}, "event.seismometer-building-2", None)],
    ids=["known-source", "source-without-token", "key-without-prefix", "no-tokens"],
)
def test_source_token(tokens: dict[str, str], key: str, token: str | None) -> None:
    assert sinks.source_token(tokens, key) == token


def collector(rabbit_url: str, unique: str, **cfg: Any) -> tuple[CollectorService, list[Message]]:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    settings = CollectorSettings(http_port=free_port(), detectors_exchange=f"arca.detectors.{unique}",
                                 detectors_queue=f"arca.detectors.{unique}", amqp_url=rabbit_url, **cfg)
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)
    deps = Deps(bus=bus, kb=kb, clock=SimClock(), settings=ArcaSettings(collector=settings))
    service = CollectorService(deps, gnocchi=None, haproxy=[])
    service.attach()
    return service, received


@pytest.fixture
def secured(rabbit_url: str, unique: str) -> Iterator[tuple[CollectorService, list[Message]]]:
    service, received = collector(rabbit_url, unique, tokens={**TOKENS, "seismo-hq": "tok-hq"},
                                  amqp_ingest=True)
    assert wait_ready(service.amqp[0])
    try:
        yield service, received
    finally:
        service.close()


@pytest.mark.parametrize("transport", ["http", "amqp"])
def test_testbed_detectors_authenticate_per_source(secured: tuple[CollectorService, list[Message]],
                                                   rabbit_url: str, transport: str) -> None:
    service, received = secured
    cfg = service.cfg
    url = f"http://127.0.0.1:{cfg.http_port}{EVENT_PATH}"
    # building-3's token is wrong on purpose: its notifications must be refused, building-2's accepted
    tokens = {**TOKENS, "seismometer-building-3": "not-issued"}
    settings = (TestbedSettings(collector_url=url, detector_tokens=tokens) if transport == "http" else
                TestbedSettings(detector_exchange=cfg.detectors_exchange, amqp_url=rabbit_url,
                                detector_tokens=tokens))
    tb = Testbed.from_settings(parse_timeline(TIMELINE), settings)
    try:
        tb.model.advance(30)
        deadline = time.monotonic() + 15
        while not any(isinstance(m, ExternalEvent) for m in received):
            assert time.monotonic() < deadline, "no detector event accepted"
            time.sleep(0.05)
        time.sleep(1.0)  # the refused one, if it were accepted, would be here by now
    finally:
        tb.stop()
    sources = sorted(m.source for m in received if isinstance(m, ExternalEvent))
    assert sources == ["seismometer-building-2"]
    if transport == "http":
        http = next(s for s in tb.detector_sink.sinks if isinstance(s, sinks.HttpSink))  # type: ignore[attr-defined]
        assert sorted(http.statuses) == [202, 401]


def test_unauthenticated_mode_warns_in_the_log_and_in_readyz(rabbit_url: str, unique: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="arca.collector.service"):
        service, _ = collector(rabbit_url, unique, allow_unauthenticated=True)
    try:
        assert any("UNAUTHENTICATED mode" in r.getMessage() for r in caplog.records)
        report = readiness(service.deps, service)
        assert report["ready"] is True
        assert any("UNAUTHENTICATED mode" in w for w in report["warnings"])
        # and over HTTP, as an operator or a probe reads it
        from arca import metrics

        server, port = metrics.serve(0, "127.0.0.1", health=lambda: readiness(service.deps, service))
        try:
            body = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()
        finally:
            server.shutdown()
            server.server_close()
        assert any("UNAUTHENTICATED mode" in w for w in body["warnings"])
    finally:
        service.close()


def test_a_collector_with_tokens_has_no_warning(rabbit_url: str, unique: str) -> None:
    service, _ = collector(rabbit_url, unique, tokens=TOKENS, allow_unauthenticated=True)
    try:
        assert "warnings" not in readiness(service.deps, service)
    finally:
        service.close()
