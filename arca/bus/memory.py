"""In-process bus: the embedded default (``arca demo``), same semantics as RabbitMQ, no broker.

Messages are really serialised and parsed (so bad payloads are dead-lettered exactly as on
RabbitMQ) and delivered in FIFO order when ``drain()`` is called, which makes simulations
deterministic. ``drain`` is called automatically after ``publish`` unless ``manual=True``.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from arca import metrics
from arca.bus.base import (
    Bus,
    BusStats,
    DeadLetter,
    Handler,
    Reject,
    SeenIds,
    reason_class,
    topic_matches,
)
from arca.logs import correlation_id, current_service
from arca.messages import Message, MessageError, decode, encode

log = logging.getLogger(__name__)


@dataclass
class _Queue:
    name: str
    patterns: list[str]
    handlers: list[Handler]
    pending: deque[tuple[str, bytes]] = field(default_factory=deque)
    seen: SeenIds = field(default_factory=SeenIds)
    activated: bool = False  # it got its first delivery (``consumer_activations``)


class InMemoryBus(Bus):
    """Single-threaded in-process bus with AMQP topic routing."""

    def __init__(self, *, manual: bool = False, max_attempts: int = 3, service: str = "arca",
                 queue_prefix: str = "arca.") -> None:
        self._queues: dict[str, _Queue] = {}
        self._manual = manual
        self._max_attempts = max_attempts
        self._draining = False
        self._dead: list[DeadLetter] = []
        self.stats = BusStats()
        self.service = service  # ``service`` label of publishes made outside any service's
        # handler or tick (inside, ``arca.logs.current_service`` names it: one bus, four services)
        self.queue_prefix = queue_prefix  # stripped from queue names for the other metrics' label
        self._activations = 0

    def subscribe(self, queue: str, patterns: Sequence[str], handler: Handler) -> None:
        q = self._queues.get(queue)
        if q is None:
            self._queues[queue] = _Queue(queue, list(patterns), [handler])
        else:
            q.patterns.extend(p for p in patterns if p not in q.patterns)
            q.handlers.append(handler)

    def publish(self, message: Message, routing_key: str | None = None) -> None:
        self.publish_raw(routing_key or message.routing_key(), encode(message))

    def publish_raw(self, routing_key: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.stats.published += 1
        metrics.MESSAGES_PUBLISHED.labels(current_service.get() or self.service,
                                          routing_key.split(".", 1)[0]).inc()
        for q in self._queues.values():
            if any(topic_matches(p, routing_key) for p in q.patterns):
                q.pending.append((routing_key, body))
        if not self._manual:
            self.drain()

    def drain(self, max_deliveries: int = 1_000_000) -> int:
        """Deliver pending messages until every queue is empty; returns how many were delivered."""
        if self._draining:  # a handler published: the outer drain loop delivers it
            return 0
        self._draining = True
        delivered = 0
        try:
            while delivered < max_deliveries:
                progressed = False
                for q in list(self._queues.values()):
                    if q.pending:
                        routing_key, body = q.pending.popleft()
                        self._deliver(q, routing_key, body)
                        delivered += 1
                        progressed = True
                if not progressed:
                    break
        finally:
            self._draining = False
        return delivered

    def consumer_activations(self) -> int:
        """Queues that got their first delivery (every consumer here is its queue's only one)."""
        return self._activations

    def _deliver(self, q: _Queue, routing_key: str, body: bytes) -> None:
        if not q.activated:  # before the delivery is handled, as on RabbitMQ
            q.activated = True
            self._activations += 1
        try:
            message = decode(body)
        except MessageError as exc:
            self._dead_letter(q, routing_key, body, str(exc))
            return
        if q.seen.seen(message.message_id):
            self.stats.duplicates += 1
            return
        self.stats.delivered += 1
        service = q.name.removeprefix(self.queue_prefix)
        metrics.MESSAGES_RECEIVED.labels(service, message.kind).inc()
        token = correlation_id.set(message.correlation_id)
        started = time.perf_counter()
        try:
            self._handle(q, routing_key, body, message)
        finally:
            correlation_id.reset(token)
            metrics.HANDLER_SECONDS.labels(service, message.kind).observe(time.perf_counter() - started)
        q.seen.add(message.message_id)

    def _handle(self, q: _Queue, routing_key: str, body: bytes, message: Message) -> None:
        for attempt in range(1, self._max_attempts + 1):
            try:
                for handler in q.handlers:
                    handler(message)
                break
            except Reject as exc:
                self._dead_letter(q, routing_key, body, f"rejected: {exc}")
                break
            except Exception as exc:  # a crash is retried, then dead-lettered
                log.exception("handler of %s failed (attempt %d)", q.name, attempt)
                if attempt == self._max_attempts:
                    self._dead_letter(
                        q, routing_key, body, f"handler failed {attempt} times: {exc!r}"
                    )

    def _dead_letter(self, q: _Queue, routing_key: str, body: bytes, reason: str) -> None:
        log.warning("dead-lettered from %s (%s): %s", q.name, routing_key, reason)
        self.stats.dead(reason_class(reason))
        metrics.MESSAGES_REJECTED.labels(q.name.removeprefix(self.queue_prefix), reason_class(reason)).inc()
        self._dead.append(DeadLetter(q.name, routing_key, body, reason))

    def start(self) -> None:
        self.drain()

    def stop(self) -> None:
        self.drain()

    def flush(self, timeout: float = 10.0) -> None:
        self.drain()

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        fn()
        if not self._manual:
            self.drain()

    def dead_letters(self, queue: str | None = None) -> list[DeadLetter]:
        return [d for d in self._dead if queue is None or d.queue == queue]
