"""Where emitted documents go: an in-process callback, a list (tests), HTTP POST, or an AMQP exchange.

Every emitter (Nova notifications, OSM alarm webhooks, detector events) produces ``bytes`` plus a
routing key and hands them to a ``Sink``; the sink decides the transport. Transport failures are
counted in ``errors`` and never stop the simulation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import pika
import requests

log = logging.getLogger(__name__)

TOKEN_HEADER = "x-arca-token"
"""The collector's AMQP token header (``arca.collector.auth.TOKEN_HEADER``; the testbed, the cloud side,
does not import ARCA's services: a test keeps the two equal)."""


class Sink(Protocol):
    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None: ...


@dataclass
class Sent:
    body: bytes
    routing_key: str
    content_type: str


@dataclass
class ListSink:
    """Keeps what it is sent (tests, the demo's in-process wiring)."""

    sent: list[Sent] = field(default_factory=list)

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        self.sent.append(Sent(body, routing_key, content_type))


@dataclass
class CallbackSink:
    """Calls ``fn(body, routing_key)`` in process."""

    fn: Callable[[bytes, str], None]

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        self.fn(body, routing_key)


def source_token(tokens: dict[str, str], routing_key: str) -> str | None:
    """The token of the source a detector routing key (``<prefix>.<source>``) names, if any."""
    _, _, source = routing_key.partition(".")
    return tokens.get(source) if source else None


@dataclass
class HttpSink:
    """POSTs each document to ``url`` (a webhook, the collector's RESTCONF endpoint).

    ``tokens`` (source -> token) authenticate detectors: a document routed ``<prefix>.<source>`` (as
    the detectors route theirs) carries ``Authorization: Bearer <token of source>``."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    errors: int = 0
    statuses: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        token = source_token(self.tokens, routing_key)
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            r = requests.post(
                self.url,
                data=body,
                headers={"Content-Type": content_type, **self.headers, **auth},
                timeout=self.timeout_s,
            )
            self.statuses.append(r.status_code)
            if r.status_code >= 400:
                self.errors += 1
                log.warning("POST %s answered %s: %s", self.url, r.status_code, r.text[:200])
        except requests.RequestException as exc:
            self.errors += 1
            log.warning("POST %s failed: %s", self.url, exc)


@dataclass
class AmqpSink:
    """Publishes to a topic exchange on a RabbitMQ broker (persistent messages, confirms); one connection."""

    url: str
    exchange: str
    exchange_type: str = "topic"
    default_routing_key: str = ""
    durable: bool = True
    """Exchange durability; Nova's ``nova`` exchange is not durable (oslo.messaging's default)."""
    tokens: dict[str, str] = field(default_factory=dict)
    """Detector tokens (source -> token), sent in the collector's ``x-arca-token`` header."""
    errors: int = 0
    _conn: pika.BlockingConnection | None = None
    _chan: object | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _channel(self) -> object:
        if self._conn is None or self._conn.is_closed:
            self._conn = pika.BlockingConnection(pika.URLParameters(self.url))
            chan = self._conn.channel()
            chan.exchange_declare(self.exchange, exchange_type=self.exchange_type, durable=self.durable)
            chan.confirm_delivery()
            self._chan = chan
        assert self._chan is not None
        return self._chan

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        with self._lock:
            try:
                chan = self._channel()
                chan.basic_publish(  # type: ignore[attr-defined]
                    self.exchange,
                    routing_key or self.default_routing_key,
                    body,
                    pika.BasicProperties(content_type=content_type, delivery_mode=2,
                                         headers=self._headers(routing_key or self.default_routing_key)),
                )
            except Exception as exc:  # broker down, channel closed: counted, the run goes on
                self.errors += 1
                self._conn = None
                log.warning("publish to %s failed: %s", self.exchange, exc)

    def _headers(self, routing_key: str) -> dict[str, str] | None:
        token = source_token(self.tokens, routing_key)
        return {TOKEN_HEADER: token} if token else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._conn.is_open:
                self._conn.close()
            self._conn = None


@dataclass
class FanOut:
    """Sends every document to each of ``sinks``."""

    sinks: list[Sink] = field(default_factory=list)

    def send(self, body: bytes, routing_key: str = "", content_type: str = "application/json") -> None:
        for sink in self.sinks:
            sink.send(body, routing_key, content_type)
