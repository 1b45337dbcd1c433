"""A thin pika consumer for the collector's AMQP inputs (detectors exchange, OpenStack's Nova bus).

One ``BlockingConnection`` in a daemon thread (pika connections are not thread-safe; ``stop`` uses
``add_callback_threadsafe``), reconnecting with the bus settings' backoff (``arca.backoff``,
jittered). The queue is durable and dead-letters to ``<queue>.dlx`` -> ``<queue>.dead``. A body
the handler refuses (``IngestError``) is re-published to the dead-letter exchange with the reason in
header ``x-arca-reason`` (and ``x-arca-reason-class``) and acknowledged. A handler failure (e.g. the
bus not confirming) is requeued once, then dead-lettered with reason class ``handler_error``.
Acknowledgements follow the handler, which the service makes wait for the bus's publisher confirms:
an accepted input is never lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from arca.backoff import Backoff
from arca.bus.base import REASON_HEADER
from arca.collector.errors import IngestError
from arca.config import broker_urls

log = logging.getLogger(__name__)

REASON_CLASS_HEADER = "x-arca-reason-class"

BodyHandler = Callable[..., object]
"""``handler(body)``, or ``handler(body, headers)`` when the consumer is built with ``pass_headers``."""


class AmqpIngest:
    """Consume ``queue`` bound to ``exchange`` with ``routing_keys``; refusals are dead-lettered."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str,
        queue: str,
        routing_keys: Sequence[str],
        handler: BodyHandler,
        exchange_type: str = "topic",
        exchange_durable: bool = True,
        prefetch: int = 50,
        pass_headers: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        self.url = url
        self.backoff = backoff or Backoff(0.5, 30.0)  # the service passes the bus settings' policy
        self.exchange = exchange
        self.queue = queue
        self.routing_keys = list(routing_keys)
        self.handler = handler
        self.exchange_type = exchange_type
        self.exchange_durable = exchange_durable
        self.prefetch = prefetch
        self.pass_headers = pass_headers
        self.dlx = f"{queue}.dlx"
        self.dead_queue = f"{queue}.dead"
        self.ready = threading.Event()
        self.consumed = 0
        self.dead_lettered = 0
        self._stop = threading.Event()
        self._conn: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._thread: threading.Thread | None = None

    def declare(self, conn: pika.BlockingConnection) -> BlockingChannel:
        """Declare the topology; an exchange that already exists is used as it is (its owner, e.g.
        oslo.messaging for ``nova``, decides its durability). Returns the channel to consume on."""
        ch = conn.channel()
        try:
            ch.exchange_declare(self.exchange, passive=True)
        except pika.exceptions.ChannelClosedByBroker:  # 404: not there yet, declare it ourselves
            ch = conn.channel()
            ch.exchange_declare(self.exchange, self.exchange_type, durable=self.exchange_durable)
        ch.exchange_declare(self.dlx, "fanout", durable=True)
        ch.queue_declare(self.dead_queue, durable=True)
        ch.queue_bind(self.dead_queue, self.dlx)
        ch.queue_declare(self.queue, durable=True, arguments={"x-dead-letter-exchange": self.dlx})
        for key in self.routing_keys:
            ch.queue_bind(self.queue, self.exchange, routing_key=key)
        return ch

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"amqp-ingest-{self.queue}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        conn, ch = self._conn, self._channel
        if conn is not None and ch is not None:
            try:
                conn.add_callback_threadsafe(ch.stop_consuming)
            except Exception:  # connection already gone
                log.debug("stop: connection already closed")
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        backoff = self.backoff
        while not self._stop.is_set():
            try:
                self._conn = pika.BlockingConnection(
                    [pika.URLParameters(u) for u in broker_urls(self.url)])
                ch = self._channel = self.declare(self._conn)
                ch.basic_qos(prefetch_count=self.prefetch)
                ch.basic_consume(self.queue, self._on_message)
                self.ready.set()
                backoff.reset()
                ch.start_consuming()
            except pika.exceptions.AMQPError as exc:
                if self._stop.is_set():
                    break
                wait = backoff.next()
                log.warning("AMQP ingest %s: %r; reconnecting in %.1fs", self.queue, exc, wait)
                self._stop.wait(wait)
            finally:
                if self._conn is not None and self._conn.is_open:
                    with contextlib.suppress(pika.exceptions.AMQPError):
                        self._conn.close()
                self._conn = None
        self.ready.clear()

    def _on_message(
        self,
        ch: BlockingChannel,
        method: pika.spec.Basic.Deliver,
        props: pika.BasicProperties,
        body: bytes,
    ) -> None:
        self.consumed += 1
        try:
            if self.pass_headers:
                self.handler(body, dict(props.headers or {}))
            else:
                self.handler(body)
        except IngestError as exc:
            self.dead_letter(ch, method.routing_key or "", body, exc)
        except Exception as exc:
            if not method.redelivered:  # e.g. the bus did not confirm: try once more
                log.warning("AMQP ingest %s: handler failed (%r); requeued once", self.queue, exc)
                ch.basic_nack(method.delivery_tag, requeue=True)
                return
            log.exception("AMQP ingest %s: handler failed again", self.queue)
            self.dead_letter(ch, method.routing_key or "", body,
                             IngestError("handler_error", "", f"handler failed twice: {exc!r}"))
        ch.basic_ack(method.delivery_tag)

    def dead_letter(self, ch: BlockingChannel, routing_key: str, body: bytes, exc: IngestError) -> None:
        headers = {REASON_HEADER: str(exc)[:1000], REASON_CLASS_HEADER: exc.reason}
        ch.basic_publish(
            self.dlx, routing_key, body,
            pika.BasicProperties(delivery_mode=2, headers=headers, content_type="application/octet-stream"),
        )
        self.dead_lettered += 1


def wait_ready(ingest: AmqpIngest, timeout: float = 10.0) -> bool:
    """Wait until the consumer is declared and consuming (tools and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ingest.ready.wait(0.05):
            return True
    return False
