"""The base of the four micro-services: dependencies in, messages handled, ticks self-dispatched.

A service gets everything from outside (``Deps``: bus, knowledge base, clock, settings) and only
wires decisions that live in pure functions elsewhere. ``attach`` subscribes its queue; the host
(``arca.app.runtime`` in production, the simulation driver in ``arca demo``) calls ``tick`` on a period.

Observability is done here once for every service (the buses count and time deliveries,
publishes and dead letters): each delivery is logged as ``handled <kind>`` with its correlation id,
outcome and duration (WARNING when the handler rejects it or fails); each publish goes through
``ServiceBus``, which logs ``published <kind>`` with the message's correlation id and updates the
per-system gauges the message carries (``arca.metrics.record_published``), and times detector
event -> decision. ``arca.logs.current_service`` names the service while its handler, tick or
publish runs (log lines and metric labels of four services sharing one in-process bus).
Observations are logged at DEBUG (they are many), every other kind at INFO.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from arca import metrics
from arca.bus import Bus
from arca.bus.base import BusStats, DeadLetter, Handler, Reject
from arca.bus.order import FIFO, DeliveryOrder
from arca.clock import Clock
from arca.kb import KnowledgeBase, KnowledgeBaseError, retention
from arca.logs import current_service
from arca.messages import Decision, Message, Situation

if TYPE_CHECKING:  # the composition root's aggregate: given to a service, never imported by the spine
    from arca.app.settings import ArcaSettings

log = logging.getLogger("arca.service")

_handling: contextvars.ContextVar[Message | None] = contextvars.ContextVar("handling", default=None)
"""The message whose handler is running (what a publish is caused by)."""

QUIET_KINDS = frozenset({"observation"})
"""Message kinds logged at DEBUG (high volume); every other kind is logged at INFO."""


def _level(kind: str) -> int:
    return logging.DEBUG if kind in QUIET_KINDS else logging.INFO


@dataclass
class Deps:
    """What a service is given."""

    bus: Bus
    kb: KnowledgeBase
    clock: Clock
    settings: ArcaSettings


TICK_CHUNK = 10
"""Routine items (telemetry situations, tick decisions) a tick handles before letting waiting
deliveries (events) go first (``Service.call_soon``)."""


class TickGate:
    """At most one tick of a service waiting or running on its delivery thread.

    The runtime offers a tick every ``tick_interval_s``; a tick is posted only when the previous one
    has finished, otherwise the offer is counted (``arca_ticks_skipped_total``) and dropped. Without
    it a tick slower than its interval (an enforcer reconciling hundreds of systems against a slow
    cloud) piled up ticks on the delivery thread without bound, and the deliveries behind them
    (decisions) waited for minutes (``scripts/bench_capacity.py``, 200 systems on one enforcer)."""

    def __init__(self, service: Service, clock: Clock) -> None:
        self.service, self.clock = service, clock
        self._busy = threading.Event()

    def offer(self, post: Callable[[Callable[[], None]], None]) -> bool:
        """Post a tick through ``post`` (the bus's ``call_soon_threadsafe``) unless one is pending."""
        if self._busy.is_set():
            metrics.TICKS_SKIPPED.labels(self.service.name).inc()
            return False
        self._busy.set()
        post(self._run)
        return True

    def _run(self) -> None:
        try:
            self.service.run_tick(self.clock.now())
        finally:
            self._busy.clear()


class Service(ABC):
    """One MAPE stage: consumes ``patterns`` from queue ``<prefix><name>``."""

    name: ClassVar[str]
    patterns: ClassVar[Sequence[str]]
    delivery_order: ClassVar[DeliveryOrder] = FIFO
    """How a backlog of this service's queue is handled (``arca.bus.order``; RabbitMQ bus only)."""
    sharding: ClassVar[str] = "none"
    """With ``bus.shards`` > 0 on RabbitMQ: ``shards`` (systems spread over the replicas, one owner
    each), ``single`` (one active replica, the others on standby) or ``none`` (one shared queue)."""
    broadcast: ClassVar[Sequence[str]] = ()
    """Patterns every replica receives (policy changes) when sharded."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.bus: Bus = ServiceBus(deps.bus, self.name, deps.clock)
        self.kb = deps.kb
        self.clock = deps.clock
        self.settings = deps.settings
        self.kb_ready = True
        """False while what the service reads from the knowledge base could not be loaded."""
        self.kb_error: str | None = None
        self.warnings: list[str] = []
        """Conditions an operator must know of that do not stop the service (``/readyz`` shows them)."""
        self._kb_retry_at = 0.0
        self._retain_at: datetime | None = None
        self._compact_at: datetime | None = None

    # -- knowledge -----------------------------------------------------------------------------------
    def refresh_knowledge(self) -> None:  # noqa: B027 - optional hook
        """(Re)load what the service reads from the knowledge base; raises ``KnowledgeBaseError``."""

    def load_knowledge(self) -> bool:
        """``refresh_knowledge``, tolerating a store outage: on failure the service keeps running
        on what it knew (or the settings' defaults), reports not-ready, and retries on its ticks."""
        try:
            self.refresh_knowledge()
        except KnowledgeBaseError as exc:
            self.knowledge_unavailable(exc)
            return False
        if not self.kb_ready:
            log.info("%s: knowledge base available again, knowledge reloaded", self.name)
        self.kb_ready, self.kb_error = True, None
        return True

    def knowledge_unavailable(self, exc: Exception) -> None:
        """Note that a read failed: not ready until ``load_knowledge`` succeeds again."""
        if self.kb_ready:
            log.warning("%s: knowledge base unavailable, running on what it knows (%s)", self.name, exc)
        self.kb_ready, self.kb_error = False, str(exc)
        self._kb_retry_at = time.monotonic() + 2.0

    @property
    def queue(self) -> str:
        return f"{self.settings.bus.queue_prefix}{self.name}"

    @property
    def sharded(self) -> bool:
        """Consuming through shard queues (``arca.bus.rabbitmq``: ``bus.shards`` > 0 on RabbitMQ)."""
        return (self.sharding != "none" and self.settings.bus.shards > 0
                and callable(getattr(self.deps.bus, "subscribe_sharded", None)))

    def attach(self) -> None:
        """Subscribe this service's queue on the bus (its shards when ``sharded``)."""
        if self.sharded:
            rest = [p for p in self.patterns if p not in self.broadcast]
            self.deps.bus.subscribe_sharded(  # type: ignore[attr-defined]
                self.queue, rest, self.broadcast, self.deliver, single=self.sharding == "single")
            self.deps.bus.on_channel_open(  # type: ignore[attr-defined]
                lambda: self.ownership_changed())
        else:
            self.bus.subscribe(self.queue, self.patterns, self.deliver)
        set_order = getattr(self.bus, "set_order", None)  # the in-memory bus delivers in order
        if callable(set_order):
            set_order(self.queue, self.delivery_order)

    def deliver(self, message: Message) -> None:
        """``handle`` one delivery, timed, counted and logged with its correlation id."""
        token = current_service.set(self.name)
        cause = _handling.set(message)
        outcome = "error"
        start = time.perf_counter()
        try:
            self.handle(message)
            outcome = "ok"
        except Reject as exc:
            outcome = f"rejected: {exc}"
            raise
        finally:
            elapsed = time.perf_counter() - start
            level = _level(message.kind) if outcome == "ok" else logging.WARNING
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "handled %s %s: %s",
                    message.kind,
                    message.routing_key(),
                    outcome,
                    extra={
                        "correlation_id": message.correlation_id,
                        "kind": message.kind,
                        "message_id": message.message_id,
                        "outcome": outcome,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            _handling.reset(cause)
            current_service.reset(token)

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the delivery thread once it has handled what arrived before this call, this
        service named in its log lines: how a long tick lets waiting deliveries (events) go first
        (``TICK_CHUNK`` at a time). The in-memory bus runs it at once: the same order as one loop."""
        def named() -> None:
            token = current_service.set(self.name)
            try:
                fn()
            finally:
                current_service.reset(token)

        self.bus.call_soon_threadsafe(named)

    def run_tick(self, now: datetime) -> None:
        """Call ``tick`` with this service named in its log lines."""
        token = current_service.set(self.name)
        try:
            if not self.kb_ready and time.monotonic() >= self._kb_retry_at:
                self.load_knowledge()  # catch up once the store is back
            self.tick(now)
            self.retain(now)
            self.compact_storage(now)
        finally:
            current_service.reset(token)

    def retain(self, now: datetime) -> dict[str, int]:
        """Delete what the retention rules (``kb.retention``) let go of the kinds this service owns
        (``arca.kb.retention.OWNERS``), at most every ``interval_s`` of the service's clock; the count
        per kind (empty when not due). A store outage is logged and retried on the next period."""
        rules = self.settings.kb.retention
        kinds = retention.OWNERS.get(self.name, ())
        if not (rules.enabled and kinds) or (self._retain_at is not None and now < self._retain_at):
            return {}
        self._retain_at = now + timedelta(seconds=rules.interval_s)
        try:
            gone = retention.compact_all(self.kb, rules, now, kinds)
        except KnowledgeBaseError as exc:
            log.warning("%s: retention not applied, the store is unavailable (%s)", self.name, exc)
            return {}
        if any(gone.values()):
            log.info("%s: retention deleted %s", self.name,
                     ", ".join(f"{n} {kind}s" for kind, n in gone.items() if n))
        return gone

    def compact_storage(self, now: datetime) -> str | None:
        """Ask the store to compact its files (``KnowledgeBase.compact_storage``, ``kb.compaction``)
        when this service is ``arca.kb.retention.STORAGE_OWNER``: one ``interval_s`` of the service's
        clock after its first tick, then every interval. What the store answered (None when not due or
        nothing to ask). A refusal or an outage is logged and tried again an interval later."""
        if self.name != retention.STORAGE_OWNER:
            return None
        interval = timedelta(seconds=self.settings.kb.compaction.interval_s)
        if self._compact_at is None:
            self._compact_at = now + interval
        if now < self._compact_at:
            return None
        self._compact_at = now + interval
        try:
            answer = self.kb.compact_storage()
        except KnowledgeBaseError as exc:
            log.warning("%s: store compaction not started (%s)", self.name, exc)
            return None
        if answer is not None:
            log.info("%s: store compaction: %s", self.name, answer)
        return answer

    def ownership_changed(self) -> None:  # noqa: B027 - optional hook
        """The bus reconnected: this replica may have lost systems to another (sharded only)."""

    @abstractmethod
    def handle(self, message: Message) -> None:
        """Process one delivered message (raise ``arca.bus.Reject`` to dead-letter it)."""

    def tick(self, now: datetime) -> None:  # noqa: B027 - optional hook
        """Self-dispatched work (timers, polls, deadlines); default: nothing."""

    @property
    def tick_interval_s(self) -> float:
        group = getattr(self.settings, self.name, None)
        return float(getattr(group, "tick_interval_s", 1.0))


class ServiceBus(Bus):
    """The bus as one service sees it: publishes are logged, labelled and turned into gauges."""

    def __init__(self, inner: Bus, service: str, clock: Clock | None = None) -> None:
        self.inner = inner
        self.service = service
        self.clock = clock

    @property
    def stats(self) -> BusStats:  # type: ignore[override]
        return self.inner.stats

    @property
    def concurrent_publish(self) -> bool:  # type: ignore[override]
        return self.inner.concurrent_publish

    def publish(self, message: Message, routing_key: str | None = None) -> None:
        self.publish_tracked(message, routing_key)

    def publish_tracked(self, message: Message, routing_key: str | None = None) -> Any:
        level = _level(message.kind)
        if log.isEnabledFor(level):
            log.log(
                level,
                "published %s %s",
                message.kind,
                routing_key or message.routing_key(),
                extra={
                    "service": self.service,
                    "correlation_id": message.correlation_id,
                    "kind": message.kind,
                    "message_id": message.message_id,
                },
            )
        token = current_service.set(self.service)
        try:
            ticket = self.inner.publish_tracked(message, routing_key)
        finally:
            current_service.reset(token)
        metrics.record_published(message)
        cause = _handling.get()
        if (isinstance(message, Decision) and isinstance(cause, Situation) and cause.trigger == "event"
                and self.clock is not None):
            # the situation of a detector event carries the event's time: detector event -> decision
            elapsed = (self.clock.now() - cause.event_time).total_seconds()
            metrics.EVENT_TO_DECISION_SECONDS.observe(max(0.0, elapsed))
        return ticket

    def wait_confirmed(self, tickets: Sequence[Any], timeout: float | None = None) -> None:
        self.inner.wait_confirmed(tickets, timeout)

    def consumer_activations(self) -> int:
        return self.inner.consumer_activations()

    def publish_raw(self, routing_key: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        token = current_service.set(self.service)
        try:
            self.inner.publish_raw(routing_key, body, headers)
        finally:
            current_service.reset(token)

    def subscribe(self, queue: str, patterns: Sequence[str], handler: Handler) -> None:
        self.inner.subscribe(queue, patterns, handler)

    def start(self) -> None:
        self.inner.start()

    def stop(self) -> None:
        self.inner.stop()

    def flush(self, timeout: float = 10.0) -> None:
        self.inner.flush(timeout)

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        self.inner.call_soon_threadsafe(fn)

    def dead_letters(self, queue: str | None = None) -> list[DeadLetter]:
        return self.inner.dead_letters(queue)

    def __getattr__(self, name: str) -> Any:  # drain(), manual... of a concrete bus
        return getattr(self.inner, name)
