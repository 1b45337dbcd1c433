"""The bus interface every service talks to, and the delivery rules both implementations share.

Routing keys are ``<kind>.<subject>`` (``observation.emergency``, ``event.seismo-1``...) on one
topic exchange; a service consumes one queue bound with AMQP topic patterns (``*`` one word,
``#`` zero or more). Payloads are N-Triples graphs (``arca.messages.codec``). A payload that does
not decode, or whose handler raises ``Reject``, is dead-lettered with the reason; handler crashes
are retried a bounded number of times, then dead-lettered. Redelivered message ids are skipped.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from arca.messages import Message

Handler = Callable[[Message], None]

REASON_HEADER = "x-arca-reason"
"""AMQP header carrying the human-readable reason a message was dead-lettered."""


class Reject(Exception):
    """Raised by a handler for a message that is well-formed RDF but unacceptable (never retried)."""


@dataclass(frozen=True)
class DeadLetter:
    """A message the bus gave up on, with the reason."""

    queue: str
    routing_key: str
    body: bytes
    reason: str


@dataclass
class BusStats:
    """Counters every bus keeps (exported as metrics by the ops layer)."""

    published: int = 0
    delivered: int = 0
    duplicates: int = 0
    superseded: int = 0
    """Deliveries acknowledged unhandled: a newer one of the window covered them (``arca.bus.order``)."""
    unroutable: int = 0
    dead_lettered: dict[str, int] = field(default_factory=dict)

    def dead(self, reason_class: str) -> None:
        self.dead_lettered[reason_class] = self.dead_lettered.get(reason_class, 0) + 1


_PATTERN_CACHE: dict[str, re.Pattern[str]] = {}


def topic_matches(pattern: str, routing_key: str) -> bool:
    """AMQP topic-exchange matching (``*`` exactly one word, ``#`` zero or more words)."""
    rx = _PATTERN_CACHE.get(pattern)
    if rx is None:
        parts = []
        for word in pattern.split("."):
            if word == "#":
                parts.append(r"(?:[^.]+(?:\.[^.]+)*)?")
            elif word == "*":
                parts.append(r"[^.]+")
            else:
                parts.append(re.escape(word))
        src = r"\.".join(parts).replace(r"\.(?:[^.]+(?:\.[^.]+)*)?", r"(?:\.[^.]+)*")
        src = src.replace(r"(?:[^.]+(?:\.[^.]+)*)?\.", r"(?:[^.]+\.)*")
        rx = _PATTERN_CACHE[pattern] = re.compile(f"^{src}$")
    return rx.match(routing_key) is not None


class SeenIds:
    """Bounded memory of processed message ids (idempotent handling of redeliveries)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def seen(self, message_id: str) -> bool:
        return message_id in self._ids

    def add(self, message_id: str) -> None:
        self._ids[message_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


def reason_class(reason: str) -> str:
    """Low-cardinality class of a dead-letter reason (for counters)."""
    for prefix, cls in (
        ("not N-Triples", "syntax"),
        ("unreadable", "syntax"),
        ("unknown message type", "unknown_type"),
        ("rejected", "rejected"),
        ("handler failed", "handler_error"),
        ("unroutable", "unroutable"),
    ):
        if reason.startswith(prefix):
            return cls
    return "invalid"


class Bus(ABC):
    """Publish/subscribe of ARCA messages; see the module docstring for the semantics."""

    stats: BusStats

    @abstractmethod
    def publish(self, message: Message, routing_key: str | None = None) -> None:
        """Publish persistently; confirmed asynchronously (``flush`` waits for confirms)."""

    # Publishing threads that each wait for their own messages' confirms. ``publish_tracked`` is
    # thread-safe where ``concurrent_publish`` is true (RabbitMQ: it only appends to an outbox);
    # the in-process bus delivers in the caller's thread, so its callers serialise publishes.
    concurrent_publish: bool = False

    def publish_tracked(self, message: Message, routing_key: str | None = None) -> Any:
        """Publish; returns a ticket for ``wait_confirmed`` (default: none, ``flush`` waits for all)."""
        self.publish(message, routing_key)
        return None

    def wait_confirmed(self, tickets: Sequence[Any], timeout: float | None = None) -> None:
        """Block until the messages of ``tickets`` are confirmed (default: ``flush``, everything)."""
        self.flush(10.0 if timeout is None else timeout)

    @abstractmethod
    def publish_raw(self, routing_key: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Publish bytes as they are (tools and tests of bad input)."""

    @abstractmethod
    def consumer_activations(self) -> int:
        """How many of this bus's consumers got their first delivery (one per queue per channel): with
        single-active-consumer queues a replica learns it became a queue's active consumer only from
        that first delivery (the in-process bus, which has no standby, counts each queue's first)."""

    @abstractmethod
    def subscribe(self, queue: str, patterns: Sequence[str], handler: Handler) -> None:
        """Declare ``queue`` bound to ``patterns`` and deliver its messages to ``handler``."""

    @abstractmethod
    def start(self) -> None:
        """Begin delivering (RabbitMQ: in a background I/O thread)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop delivering and close connections (after flushing confirms)."""

    @abstractmethod
    def flush(self, timeout: float = 10.0) -> None:
        """Block until every message published so far is confirmed by the broker."""

    @abstractmethod
    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the thread that delivers messages (timers, self-dispatch)."""

    @abstractmethod
    def dead_letters(self, queue: str | None = None) -> list[DeadLetter]:
        """Dead-lettered messages so far (RabbitMQ: peeks the dead-letter queue)."""
