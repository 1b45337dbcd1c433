"""Knowledge-base writes that survive a store outage and a crash: RabbitMQ is the write buffer.

``BrokerBufferedKnowledgeBase.submit`` renders the update and publishes it on the bus with routing
key ``kb.<service>``, to the durable quorum queue ``<prefix><service>.kb`` (declared with the rest of
the topology, before the first publish). Because a delivery is acked only once everything its
handler published is confirmed, *a message counts as handled only when its knowledge-base writes
are on the broker's disk* — the same guarantee as its bus output.

``StoreWriter`` (a thread of the same process, its own ``pika.BlockingConnection``) consumes that
queue: it accumulates up to ``kb.write_batch_max`` updates (or ``kb.write_flush_interval_s``),
sends them as one SPARQL Update request (one TDB2 commit per batch, ~45 ms measured), and acks the whole
batch with one ``multiple`` ack **only after the store answered 2xx**. While the store is down it
retries with backoff (capped at ``reconnect_max_s``) holding the batch, and the broker keeps the
rest: nothing is dropped, however long the outage. An update the store refuses (4xx) is retried
alone and, if refused again, dead-lettered with the store's answer as reason (never lost silently).

Order: one queue per service, ``x-single-active-consumer``, FIFO and batch-wise acks, so updates
are applied in the order they were submitted (a sample's insert before its deletion). After a
crash the unacked tail is redelivered and applied again: every update ARCA submits is ``INSERT
DATA``/``DELETE WHERE`` over ground triples, so replaying a suffix in order gives the same store.

Why not a local journal: it needs a durable local volume per replica and its own fsync, replay and
compaction code; the broker already persists, replicates (quorum queue) and orders, and the ack
chain above ties a knowledge-base write to the message that caused it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import uuid
from typing import Any

import pika
import pika.exceptions

from arca import metrics
from arca.backoff import Backoff
from arca.bus.base import REASON_HEADER, Bus
from arca.config import BusSettings, broker_urls
from arca.kb.base import KnowledgeBase, KnowledgeBaseError, Row
from arca.kb.sparql import SparqlKnowledgeBase
from arca.kb.terms import IRI, arca_iri, render
from arca.namespace import ARCA_NS

log = logging.getLogger(__name__)

WRITE_KIND = "kb"
"""First word of the routing key of a buffered update."""
UPDATE_CONTENT_TYPE = "application/sparql-update"
_SEQ_HEADER = "x-arca-kb-seq"
_ORIGIN_HEADER = "x-arca-kb-origin"
_BARRIER_HEADER = "x-arca-kb-barrier"
"""Set on a barrier marker: someone waits for it, so the writer sends its batch at once instead of
waiting out ``kb.write_flush_interval_s`` (on TDB2 a barrier then costs one commit, not a window)."""


def writer_queue(bus: BusSettings, service: str) -> str:
    return f"{bus.queue_prefix}{service}.{WRITE_KIND}"


def writer_key(service: str) -> str:
    return f"{WRITE_KIND}.{service}"


WRITER_QUEUE_ARGUMENTS: dict[str, Any] = {"x-single-active-consumer": True}

BARRIER_GRAPH = IRI(f"{ARCA_NS}graph/barrier")
"""Graph of the short-lived markers ``flush`` and ``barrier`` wait for in the store."""


class StoreWriter:
    """Consumes one service's update queue and applies it to the store, batch by batch."""

    def __init__(self, kb: SparqlKnowledgeBase, bus: BusSettings, service: str,
                 arguments: dict[str, Any]) -> None:
        self.kb = kb
        self.bus = bus
        self.queue = writer_queue(bus, service)
        self.arguments = arguments
        self.service = service
        self.applied: dict[str, int] = {}  # origin -> highest seq applied (or dead-lettered)
        self.batches = 0
        self.store_ok = True  # False while the store refuses or does not answer
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._conn: pika.BlockingConnection | None = None
        self._thread = threading.Thread(target=self._run, name="arca-kb-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def wait_applied(self, origin: str, seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.applied.get(origin, 0) < seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        backoff = Backoff.for_bus(self.bus)
        while not self._stop.is_set():
            try:
                self._consume()
            except (pika.exceptions.AMQPError, OSError) as exc:
                if self._conn is not None:  # it had connected: a new outage starts from the beginning
                    backoff.reset()
                wait = backoff.next()
                log.warning("kb writer: broker connection lost (%s); reconnecting in %.1fs", exc, wait)
                self._stop.wait(wait)
            finally:
                conn, self._conn = self._conn, None
                if conn is not None and conn.is_open:
                    with contextlib.suppress(Exception):
                        conn.close()

    def _consume(self) -> None:
        self._conn = conn = pika.BlockingConnection(
            [pika.URLParameters(u) for u in broker_urls(self.bus.url)])
        ch = conn.channel()
        ch.confirm_delivery()  # a dead-lettered update is on the broker before its ack
        ch.basic_qos(prefetch_count=self.kb.settings.write_batch_max)
        ch.exchange_declare(self.bus.exchange, exchange_type="topic", durable=True)
        ch.exchange_declare(self.bus.dead_letter_exchange, exchange_type="topic", durable=True)
        ch.queue_declare(self.queue, durable=True, arguments=self.arguments)
        ch.queue_bind(self.queue, self.bus.exchange, writer_key(self.service))
        interval = self.kb.settings.write_flush_interval_s
        batch: list[tuple[int, Any, bytes]] = []
        first_at = 0.0
        for method, props, body in ch.consume(self.queue, inactivity_timeout=min(interval, 0.05)):
            if method is not None:
                if not batch:
                    first_at = time.monotonic()
                batch.append((method.delivery_tag, props, body))
            full = len(batch) >= self.kb.settings.write_batch_max
            awaited = method is not None and bool((props.headers or {}).get(_BARRIER_HEADER))
            if batch and (full or awaited or method is None or time.monotonic() - first_at >= interval):
                self._apply(ch, batch)
                batch = []
            if self._stop.is_set() and not batch:
                ch.cancel()
                return

    def _apply(self, ch: Any, batch: list[tuple[int, Any, bytes]]) -> None:
        texts = [body.decode() for _, _, body in batch]
        refused = self._commit(texts, ch)
        for index, exc in refused:
            _tag, props, body = batch[index]
            reason = f"rejected by the store: {exc}"
            log.error("kb writer: dead-lettering an update: %s", reason)
            headers = dict(props.headers or {})
            headers[REASON_HEADER] = reason[:4000]
            ch.basic_publish(self.bus.dead_letter_exchange, writer_key(self.service), body,
                             pika.BasicProperties(content_type=UPDATE_CONTENT_TYPE, delivery_mode=2,
                                                  headers=headers))
            metrics.MESSAGES_REJECTED.labels(self.service, "rejected").inc()
        ch.basic_ack(batch[-1][0], multiple=True)
        with self._cond:
            for _tag, props, _body in batch:
                headers = props.headers or {}
                origin, seq = headers.get(_ORIGIN_HEADER), headers.get(_SEQ_HEADER)
                if isinstance(origin, bytes):
                    origin = origin.decode()
                if origin is not None and seq is not None:
                    self.applied[str(origin)] = max(self.applied.get(str(origin), 0), int(seq))
            self.batches += 1
            self._cond.notify_all()

    def _commit(self, texts: list[str], ch: Any) -> list[tuple[int, KnowledgeBaseError]]:
        """Send the batch until the store takes it; returns the updates it refused (4xx) alone."""
        backoff = Backoff(min(0.1, self.bus.reconnect_max_s), self.bus.reconnect_max_s)
        while True:
            try:
                self.kb.send_update(" ;\n".join(texts), self.kb.settings.write_timeout_s)
                self._healthy()
                return []
            except KnowledgeBaseError as exc:
                if exc.client_error:
                    self._healthy()
                    if len(texts) == 1:
                        return [(0, exc)]
                    refused: list[tuple[int, KnowledgeBaseError]] = []
                    for i, text in enumerate(texts):  # one bad update must not sink the others
                        refused += [(i, e) for _, e in self._commit([text], ch)]
                    return refused
                if self.store_ok:
                    log.error("kb writer: store unavailable, holding %d update(s) and retrying: %s",
                              len(texts), exc)
                self.store_ok, self.last_error = False, str(exc)
                if self._stop.is_set() and self._conn is not None:
                    raise pika.exceptions.AMQPError("stopping with the store down") from exc
                # conn.sleep keeps heartbeats going while we wait for the store
                ch.connection.sleep(backoff.next())

    def _healthy(self) -> None:
        if not self.store_ok:
            log.info("kb writer: store available again")
        self.store_ok, self.last_error = True, None


class BrokerBufferedKnowledgeBase(KnowledgeBase):
    """A ``SparqlKnowledgeBase`` whose ``submit`` goes through the broker (see the module docstring).

    Reads, ``update`` and Turtle loading go straight to the store, as before.
    """

    def __init__(self, inner: SparqlKnowledgeBase, bus: Bus, bus_settings: BusSettings,
                 service: str) -> None:
        self.inner = inner
        self.bus = bus
        self.service = service
        self.origin = uuid.uuid4().hex
        self._seq = itertools.count(1)
        self._last = 0
        self._lock = threading.Lock()
        self.writer = StoreWriter(inner, bus_settings, service,
                                  _queue_arguments(bus, bus_settings))
        declare = getattr(bus, "declare", None)
        if callable(declare):  # declared with the topology: publishes before the writer runs are kept
            declare(writer_queue(bus_settings, service), [writer_key(service)], WRITER_QUEUE_ARGUMENTS)
        self.writer.start()

    def query(self, template: str, **bindings: Any) -> list[Row]:
        return self.inner.query(template, **bindings)

    def ask(self, template: str, **bindings: Any) -> bool:
        return self.inner.ask(template, **bindings)

    def update(self, template: str, **bindings: Any) -> None:
        self.inner.update(template, **bindings)

    def load_turtle(self, data: str | bytes, graph: str | None = None) -> int:
        return self.inner.load_turtle(data, graph)

    def replace_graph(self, data: str | bytes, graph: str) -> int:
        return self.inner.replace_graph(data, graph)

    def compact_storage(self, wait_s: float = 0.0) -> str | None:
        return self.inner.compact_storage(wait_s)

    def submit(self, template: str, **bindings: Any) -> None:
        self._publish(render(template, bindings))  # template errors surface in the caller, now

    def _publish(self, text: str, *, awaited: bool = False) -> None:
        with self._lock:
            seq = self._last = next(self._seq)
        headers = {_ORIGIN_HEADER: self.origin, _SEQ_HEADER: str(seq)}
        if awaited:
            headers[_BARRIER_HEADER] = "1"
        self.bus.publish_raw(writer_key(self.service), text.encode(), headers)

    @property
    def ready(self) -> bool:
        """The store answered the writer's last request (False during an outage)."""
        return self.writer.store_ok

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every update submitted so far is applied to the store.

        With replicas the queue has one active writer, maybe another process's: when this one's
        does not report our updates, a marker submitted after them is looked for in the store."""
        with self._lock:
            last = self._last
        if self.writer.applied.get(self.origin, 0) >= last:
            return
        self._wait(last, self.barrier_marker(), timeout)

    def barrier(self, timeout: float = 30.0) -> None:
        """Wait until every update queued so far by *any* process of this service (a dead replica's
        included: the queue is FIFO) is applied: a marker is submitted and waited for."""
        with self._lock:
            last = self._last
        self._wait(last, self.barrier_marker(), timeout)

    def barrier_marker(self) -> IRI:
        marker = arca_iri("barrier", uuid.uuid4().hex)
        text = render("INSERT DATA { GRAPH $g { $m a arca:Barrier } }", {"g": BARRIER_GRAPH, "m": marker})
        self._publish(text, awaited=True)
        return marker

    def _wait(self, last: int, marker: IRI, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.bus.flush(timeout)
        with self._lock:
            mine = self._last  # the marker's own sequence number (or later)
        try:
            while True:
                left = max(0.0, deadline - time.monotonic())
                if self.writer.wait_applied(self.origin, mine, min(0.2, left)):
                    break
                with contextlib.suppress(KnowledgeBaseError):  # the store away: keep waiting
                    if self.inner.ask("ASK { GRAPH $g { $m a arca:Barrier } }", g=BARRIER_GRAPH,
                                      m=marker):
                        break
                if time.monotonic() >= deadline:
                    raise KnowledgeBaseError(
                        f"{self.inner.settings.update_url}: updates up to #{last} not applied after "
                        f"{timeout}s" + (f" ({self.writer.last_error})" if self.writer.last_error else ""))
        finally:
            self.submit("DELETE WHERE { GRAPH $g { $m ?p ?o } }", g=BARRIER_GRAPH, m=marker)

    def close(self) -> None:
        """Stop the writer; what it has not applied stays in its queue for the next start."""
        try:
            self.bus.flush(10.0)
        except Exception as exc:  # the bus logs it too; the queue keeps what was confirmed
            log.error("kb: closing with unconfirmed updates: %s", exc)
        self.writer.stop()
        self.inner.close()


def _queue_arguments(bus: Bus, settings: BusSettings) -> dict[str, Any]:
    arguments = getattr(bus, "queue_arguments", None)
    if callable(arguments):
        result: dict[str, Any] = arguments(WRITER_QUEUE_ARGUMENTS)
        return result
    return {"x-queue-type": "quorum", "x-dead-letter-exchange": settings.dead_letter_exchange,
            **WRITER_QUEUE_ARGUMENTS}
