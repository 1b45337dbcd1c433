"""RabbitMQ bus on pika: asynchronous publisher confirms, manual acks, dead-lettering, reconnect.

Threads:
  * one **I/O thread** owns a ``pika.SelectConnection`` (pika is not thread-safe); every other
    thread hands work to it with ``add_callback_threadsafe``;
  * one **delivery thread** runs the handlers (and ``call_soon_threadsafe`` functions) one at a
    time, so a slow handler or a synchronous SPARQL query never stalls heartbeats or confirms.

Publishing: ``publish`` encodes in the caller's thread and appends to an outbox (never blocks on
the broker). The I/O thread sends it on a channel in confirm mode and tracks its delivery tag;
``flush`` waits until every message published so far is confirmed and raises ``BusError`` on a
nack or a timeout; ``publish_tracked`` + ``wait_confirmed`` wait for given messages only, so
concurrent publishers (the collector's HTTP threads) each wait for their own confirms, together.
Messages unconfirmed when the connection drops are republished after the reconnect (consumers
dedup the rare duplicate by message id), so a confirmed message is never lost.

Consuming: one durable quorum queue per ``subscribe`` (``x-delivery-limit``, dead-letter exchange),
``prefetch`` unacked deliveries. A delivery is acked only after its handler succeeded **and** every
message the handler published has been confirmed, so a crash between the two cannot lose the
handler's output. Undecodable payloads and ``Reject`` are republished to the dead-letter exchange
with the reason in the ``x-arca-reason`` header, then acked. A handler crash is nacked with requeue;
on the last allowed delivery (``x-delivery-count`` header of quorum queues) the bus dead-letters it
itself with the exception as reason (the broker's delivery limit stays as a backstop).
Reconnects wait ``arca.backoff.Backoff`` (exponential, with jitter) and re-declare the whole topology
and consumers.

Sharding (``bus.shards`` = N > 0, ``subscribe_sharded``): every published message carries the header
``arca-shard`` = ``shard_of(subject, N)`` (a CRC-32 of the routing key's subject, i.e. the system),
and a service's topic patterns are bound exchange-to-exchange to its own headers exchange
``<queue>.shards``, which routes each message to one of N quorum queues ``<queue>.sNN`` by that
header. Each shard queue has ``x-single-active-consumer``: every replica consumes every shard, the
broker delivers a shard to one of them at a time and hands it to the next consumer when that one's
channel dies. A replica subscribes at once to its own shards (``i % replicas == replica_index``) and
``shard_claim_delay_s`` later to the others, so replicas started together each own some. Patterns
every replica must see (``policy.#``) go to a per-replica exclusive queue instead. ``single``: the
service keeps one queue, with single active consumer (hot standby). No plugin is needed.
"""

from __future__ import annotations

import contextlib
import logging
import queue as queue_mod
import threading
import time
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.channel
import pika.exceptions
import pika.frame
import pika.spec

from arca import metrics
from arca.backoff import Backoff
from arca.bus.base import (
    REASON_HEADER,
    Bus,
    BusStats,
    DeadLetter,
    Handler,
    Reject,
    SeenIds,
    reason_class,
)
from arca.bus.order import FIFO, DeliveryOrder, Slot, handling, plan
from arca.config import BusSettings, broker_urls
from arca.logs import correlation_id
from arca.messages import CONTENT_TYPE, Message, MessageError, decode, encode

log = logging.getLogger(__name__)

QUEUE_HEADER = "x-arca-queue"
"""Header naming the queue a message was dead-lettered from (set by this bus)."""

SHARD_HEADER = "arca-shard"
"""Header carrying the shard of a message's subject (``shard_of``) when ``bus.shards`` > 0 (not
``x-``: a headers exchange ignores binding arguments starting with ``x-``)."""


def shard_of(routing_key: str, shards: int) -> int:
    """The shard of a routing key ``<kind>.<subject>``: a stable hash of the subject (the same in
    every process and every release: CRC-32, not Python's salted ``hash``)."""
    subject = routing_key.split(".", 1)[1] if "." in routing_key else routing_key
    return zlib.crc32(subject.encode()) % shards


def shard_label(shard: int) -> str:
    return f"s{shard:02d}"


class BusError(RuntimeError):
    """Publishing failed: the broker nacked a message or confirms did not arrive in time."""


@dataclass
class _Out:
    seq: int
    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


@dataclass
class _Waiter:
    """One ``wait_confirmed`` call: the seqs it still waits for, set when none is left."""

    left: set[int] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _Subscription:
    queue: str
    patterns: list[str]
    handlers: list[Handler]
    seen: SeenIds = field(default_factory=SeenIds)
    base: str = ""
    """The service's queue name (delivery order and metric labels); ``queue`` when unsharded."""
    mode: str = "plain"
    """plain | shard (behind the headers exchange) | single (SAC) | broadcast (per-replica, exclusive)."""
    shard: str | None = None
    delay_s: float = 0.0
    """Seconds after the channel opens before consuming (a shard not this replica's own)."""

    def __post_init__(self) -> None:
        self.base = self.base or self.queue


@dataclass
class _Delivery:
    sub: _Subscription
    generation: int
    tag: int
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


@dataclass
class _Pending:
    """A delivery received by the delivery thread, until it is settled (in arrival order)."""

    delivery: _Delivery
    slot: Slot
    error: str | None = None
    ack: bool = True


@dataclass
class _Settle:
    """What to do with a delivery once every publish up to ``watermark`` is confirmed."""

    watermark: int
    generation: int
    tag: int
    ack: bool  # False: nack with requeue


def _kind(routing_key: str) -> str:
    return routing_key.split(".", 1)[0] or "_"


class RabbitBus(Bus):
    """``Bus`` on a RabbitMQ broker (see the module docstring for threads and guarantees)."""

    concurrent_publish = True

    def __init__(self, settings: BusSettings, *, service: str | None = None) -> None:
        self.settings = settings
        self.stats = BusStats()
        self._all_params = [pika.URLParameters(u) for u in broker_urls(settings.url)]
        self._node = 0
        self._params = self._all_params[0]
        self._service = service
        self._subs: dict[str, _Subscription] = {}
        self._orders: dict[str, DeliveryOrder] = {}
        self._declared: dict[str, tuple[list[str], dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._seq = 0  # last publish sequence number handed out
        self._outbox: deque[_Out] = deque()  # not yet sent on the current channel
        self._unconfirmed: dict[int, _Out] = {}  # seq -> sent, awaiting confirm
        self._tag_to_seq: dict[int, int] = {}
        self._inflight: set[int] = set()  # seqs published and not yet confirmed (outbox or sent)
        self._waiters: dict[int, _Waiter] = {}  # seq -> the wait_confirmed call waiting for it
        self._errors: list[tuple[int, str]] = []  # (seq, nack), reported by flush / wait_confirmed
        self._settle: deque[_Settle] = deque()
        self._conn: pika.SelectConnection | None = None
        self._channel: pika.channel.Channel | None = None
        self._generation = 0
        self._next_tag = 0  # delivery tag of the last message published on the current channel
        self._settle_scheduled = False
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._wake_scheduled = False
        self._work: queue_mod.Queue[_Delivery | Callable[[], None] | None] = queue_mod.Queue()
        self._io_thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self.connections = 0  # successful (re)connections, for tests and logs
        self._activations = 0  # consumer_activations(); a decider's take-over waits once per one
        self._activated: set[tuple[str, int]] = set()
        self._declared_sharded: dict[str, list[str]] = {}  # service queue -> patterns (sharded)
        self._on_channel: list[Callable[[], None]] = []
        self.replica_id = uuid.uuid4().hex[:8]

    # ----------------------------------------------------------------- public API

    @property
    def service(self) -> str:
        if self._service:
            return self._service
        for name in self._subs:
            return name.removeprefix(self.settings.queue_prefix)
        return "arca"

    @property
    def connected(self) -> bool:
        """The topology is declared on a live connection (what ``/readyz`` reports as ``bus``)."""
        return self._ready.is_set()

    def publish(self, message: Message, routing_key: str | None = None) -> None:
        self.publish_tracked(message, routing_key)

    def publish_tracked(self, message: Message, routing_key: str | None = None) -> int:
        """Publish; the returned ticket (publish sequence number) is what ``wait_confirmed`` waits for."""
        key = routing_key or message.routing_key()
        props = pika.BasicProperties(
            content_type=CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            type=type(message).__name__,
            app_id=message.producer,
            timestamp=int(message.event_time.timestamp()),
            headers={SHARD_HEADER: shard_label(shard_of(key, self.settings.shards))}
            if self.settings.shards else None,
        )
        seq = self._enqueue(self.settings.exchange, key, encode(message), props)
        metrics.MESSAGES_PUBLISHED.labels(self.service, message.kind).inc()
        return seq

    def wait_confirmed(self, tickets: Sequence[Any], timeout: float | None = None) -> None:
        """Block until the broker confirmed the messages of ``tickets`` (not the others' messages).

        Any number of threads wait at once, none holding a lock while the broker answers; raises
        ``BusError`` on a nack of one of them or a timeout.
        """
        timeout = self.settings.confirm_timeout_s if timeout is None else timeout
        mine = set(tickets)
        waiter = _Waiter()
        with self._lock:  # only the waiter's own confirms wake it (no notify_all to every waiter)
            waiter.left = mine & self._inflight
            for seq in waiter.left:
                self._waiters[seq] = waiter
            if not waiter.left:
                waiter.done.set()
        if not waiter.done.wait(timeout):
            with self._lock:
                for seq in mine:
                    if self._waiters.get(seq) is waiter:
                        del self._waiters[seq]
                n = len(mine & self._inflight)
            if n:
                raise BusError(f"{n} message(s) not confirmed by {self._safe_url()} after {timeout}s")
        with self._lock:
            if self._errors:
                own = [text for seq, text in self._errors if seq in mine]
                if own:
                    self._errors = [(seq, text) for seq, text in self._errors if seq not in mine]
                    raise BusError("; ".join(own))

    def publish_raw(self, routing_key: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        props = pika.BasicProperties(
            content_type=CONTENT_TYPE, delivery_mode=pika.DeliveryMode.Persistent, headers=headers
        )
        self._enqueue(self.settings.exchange, routing_key, body, props)
        metrics.MESSAGES_PUBLISHED.labels(self.service, _kind(routing_key)).inc()

    def subscribe(self, queue: str, patterns: Sequence[str], handler: Handler) -> None:
        with self._lock:
            sub = self._subs.get(queue)
            if sub is None:
                sub = self._subs[queue] = _Subscription(queue, list(patterns), [handler])
            else:
                sub.patterns.extend(p for p in patterns if p not in sub.patterns)
                sub.handlers.append(handler)
        if self._ready.is_set():
            self._threadsafe(lambda: self._declare_subscription(sub, consume=True))

    def subscribe_sharded(self, queue: str, patterns: Sequence[str], broadcast: Sequence[str],
                          handler: Handler, *, single: bool = False) -> None:
        """Consume ``patterns`` through the shard queues of ``queue`` (``single``: one SAC queue) and
        ``broadcast`` through a queue of this replica's own (see the module docstring)."""
        n = self.settings.shards
        subs: list[_Subscription] = []
        if single:
            subs.append(_Subscription(f"{queue}.single", list(patterns), [handler], base=queue,
                                      mode="single"))
        else:
            replicas, index = self.settings.replicas, self.settings.replica_index
            for i in range(n):
                own = index is None or i % replicas == index
                subs.append(_Subscription(f"{queue}.{shard_label(i)}", list(patterns), [handler],
                                          base=queue, mode="shard", shard=shard_label(i),
                                          delay_s=0.0 if own else self.settings.shard_claim_delay_s))
        if broadcast:
            subs.append(_Subscription(f"{queue}.replica-{self.replica_id}", list(broadcast), [handler],
                                      base=queue, mode="broadcast"))
        with self._lock:
            for sub in subs:
                self._subs[sub.queue] = sub
        if self._ready.is_set():
            for sub in subs:
                self._threadsafe(lambda sub=sub: self._declare_subscription(sub, consume=True))  # type: ignore[misc]

    def declare_sharded(self, queue: str, patterns: Sequence[str], *, single: bool = False) -> None:
        """Declare the shard queues of ``queue`` (or its single SAC queue) with the topology."""
        if single:
            self.declare(f"{queue}.single", patterns, {"x-single-active-consumer": True})
            return
        with self._lock:
            self._declared_sharded[queue] = list(patterns)
        if self._ready.is_set():
            self._threadsafe(lambda: self._declare_shards(queue, patterns))

    def on_channel_open(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the delivery thread each time a new channel opens after the first, before
        any of its deliveries (a replica may have lost or gained shards: forget per-system state)."""
        self._on_channel.append(fn)

    def declare(self, queue: str, patterns: Sequence[str],
                arguments: dict[str, Any] | None = None) -> None:
        """Declare a queue and its bindings with the topology (before any publish), not consumed.

        Used for the queues of the other services (so nothing published before their consumer
        started is unroutable) and for the knowledge-base writer's queue.
        """
        with self._lock:
            known = self._declared.get(queue)
            if known is None:
                self._declared[queue] = (list(patterns), dict(arguments or {}))
            else:
                known[0].extend(p for p in patterns if p not in known[0])
        if self._ready.is_set():
            self._threadsafe(lambda: self._declare_queue(queue, patterns, arguments))

    def start(self, wait_s: float | None = None) -> None:
        """Start the threads; wait (up to ``wait_s``, default confirm_timeout_s) for the topology."""
        if self._io_thread is not None:
            return
        self._stopping.clear()
        self._worker = threading.Thread(target=self._work_loop, name="arca-bus-delivery", daemon=True)
        self._worker.start()
        self._io_thread = threading.Thread(target=self._io_loop, name="arca-bus-io", daemon=True)
        self._io_thread.start()
        if not self._ready.wait(self.settings.confirm_timeout_s if wait_s is None else wait_s):
            log.warning("broker %s not ready yet; publishing is buffered until it is", self._safe_url())

    def stop(self) -> None:
        if self._io_thread is None:
            return
        try:  # wait for confirms, briefly when the broker is away (the caller flushes if it must)
            self.flush(min(self.settings.confirm_timeout_s, 10.0 if self._ready.is_set() else 1.0))
        except BusError as exc:
            log.error("stopping with unconfirmed messages: %s", exc)
        self._work.put(None)
        if self._worker is not None:
            self._worker.join(10)
        self._stopping.set()
        self._threadsafe(self._close)
        self._io_thread.join(15)
        self._io_thread = self._worker = None

    def flush(self, timeout: float | None = None) -> None:
        timeout = self.settings.confirm_timeout_s if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._changed:
            upto = self._seq
            while self._pending_min() <= upto:
                left = deadline - time.monotonic()
                if left <= 0:
                    n = sum(1 for s in self._unconfirmed if s <= upto)
                    n += sum(1 for o in self._outbox if o.seq <= upto)
                    raise BusError(f"{n} message(s) not confirmed by {self._safe_url()} after {timeout}s")
                self._changed.wait(min(left, 0.5))
            if self._errors:
                errors = [text for seq, text in self._errors if seq <= upto]
                self._errors = [(seq, text) for seq, text in self._errors if seq > upto]
                if errors:
                    raise BusError("; ".join(errors))

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the delivery thread (serialised with the handlers)."""
        self._work.put(fn)

    def dead_letters(self, queue: str | None = None) -> list[DeadLetter]:
        """Peek the dead-letter queue: messages are read unacked, then requeued on close."""
        out: list[DeadLetter] = []
        conn = pika.BlockingConnection(self._params)
        try:
            ch = conn.channel()
            self._declare_dlq_blocking(ch)
            while True:
                method, props, body = ch.basic_get(self.settings.dead_letter_queue, auto_ack=False)
                if method is None:
                    break
                headers = dict(props.headers or {})
                src, reason = self._dead_letter_origin(headers)
                if queue is None or src == queue:
                    out.append(DeadLetter(src, method.routing_key, bytes(body), reason))
        finally:
            with contextlib.suppress(Exception):
                conn.close()  # unacked gets are requeued: the peek is non-destructive
        return out

    # ----------------------------------------------------------------- publishing internals

    def _enqueue(self, exchange: str, key: str, body: bytes, props: pika.BasicProperties) -> int:
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._outbox.append(_Out(seq, exchange, key, body, props))
            self._inflight.add(seq)
            self.stats.published += 1
            schedule = not self._wake_scheduled
            self._wake_scheduled = True
        if schedule:
            self._threadsafe(self._send_outbox)
        return seq

    def _threadsafe(self, fn: Callable[[], None]) -> None:
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):  # closed: the next connect drains anyway
                conn.ioloop.add_callback_threadsafe(fn)

    def _pending_min(self) -> int:
        """Smallest publish seq not yet confirmed (``_seq + 1`` when all are). Lock held."""
        low = self._seq + 1
        if self._unconfirmed:
            low = min(low, next(iter(self._unconfirmed)))
        if self._outbox:
            low = min(low, self._outbox[0].seq)
        return low

    def _send_outbox(self) -> None:  # I/O thread
        with self._lock:
            self._wake_scheduled = False
            ch = self._channel
            if ch is None or not ch.is_open or not self._ready.is_set():
                return
            batch = list(self._outbox)
            self._outbox.clear()
        sent = 0
        try:
            for out in batch:
                # mandatory: a message no queue is bound for comes back (``_on_return``), never vanishes
                ch.basic_publish(out.exchange, out.routing_key, out.body, out.properties,
                                 mandatory=out.exchange == self.settings.exchange)
                self._next_tag += 1
                with self._lock:
                    self._tag_to_seq[self._next_tag] = out.seq
                    self._unconfirmed[out.seq] = out
                sent += 1
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("publish interrupted (%s); will resend after reconnect", exc)
            with self._lock:
                self._outbox.extendleft(reversed(batch[sent:]))

    def _on_confirm(self, frame: pika.frame.Method) -> None:  # I/O thread
        method = frame.method
        tag = method.delivery_tag
        nack = isinstance(method, pika.spec.Basic.Nack)
        with self._changed:
            tags: list[int] = []
            if method.multiple:
                for t in self._tag_to_seq:  # insertion order is tag order
                    if t > tag:
                        break
                    tags.append(t)
            else:
                tags.append(tag)
            for t in tags:
                seq = self._tag_to_seq.pop(t, None)
                if seq is None:
                    continue
                out = self._unconfirmed.pop(seq, None)
                self._inflight.discard(seq)
                waiter = self._waiters.pop(seq, None)
                if waiter is not None:
                    waiter.left.discard(seq)
                    if not waiter.left:
                        waiter.done.set()
                if nack and out is not None:
                    self._errors.append((seq, f"broker nacked message to {out.routing_key!r}"))
            self._changed.notify_all()
        self._settle_ready()

    def _on_return(self, ch: pika.channel.Channel, method: pika.spec.Basic.Return,
                   props: pika.BasicProperties, body: bytes) -> None:  # I/O thread
        """An unroutable message: count it and keep it in the dead-letter queue (alarmed)."""
        reason = f"unroutable: no queue bound for {method.routing_key!r} ({method.reply_text})"
        log.error("message %s returned by the broker: %s", props.message_id, reason)
        with self._lock:
            self.stats.unroutable += 1
            self.stats.dead("unroutable")
        metrics.MESSAGES_REJECTED.labels(self.service, "unroutable").inc()
        headers = dict(props.headers or {})
        headers[REASON_HEADER] = reason
        headers[QUEUE_HEADER] = ""
        dl = pika.BasicProperties(
            content_type=props.content_type or CONTENT_TYPE, delivery_mode=pika.DeliveryMode.Persistent,
            message_id=props.message_id, correlation_id=props.correlation_id, type=props.type,
            headers=headers,
        )
        self._enqueue(self.settings.dead_letter_exchange, method.routing_key, body, dl)
        with self._lock:  # the return precedes the confirm: hold back acks until the copy is safe
            for s in self._settle:
                s.watermark = max(s.watermark, self._seq)

    # ----------------------------------------------------------------- consuming internals

    def _on_message(self, sub: _Subscription, generation: int, ch: pika.channel.Channel,
                    method: pika.spec.Basic.Deliver, props: pika.BasicProperties, body: bytes) -> None:
        if (sub.queue, generation) not in self._activated:  # before the delivery is handled
            self._activated.add((sub.queue, generation))
            self._activations += 1
        self._work.put(_Delivery(sub, generation, method.delivery_tag, method.routing_key, body, props))

    def consumer_activations(self) -> int:
        """Consumers that got their first delivery, one per queue per channel (``Bus``)."""
        return self._activations

    def set_order(self, queue: str, order: DeliveryOrder) -> None:
        """Handle ``queue``'s backlog in this order (``arca.bus.order``; default first in, first out)."""
        self._orders[queue] = order

    def _work_loop(self) -> None:  # delivery thread
        """Handle deliveries and scheduled calls; settle deliveries in arrival order.

        The window is the deliveries received and not yet settled; ``arca.bus.order.plan`` picks the
        next one to handle among those that arrived before the first waiting scheduled call (a
        call runs once every delivery before it is handled, as in first in, first out).
        """
        window: list[_Pending] = []
        calls: deque[tuple[int, Callable[[], None]]] = deque()  # (deliveries received before it, fn)
        received = 0  # deliveries received so far (= arrival index of the next one)
        settled = 0  # arrival index of window[0]
        while True:
            idle = all(p.slot.done for p in window) and not calls
            items: list[_Delivery | Callable[[], None] | None] = []
            try:
                items.append(self._work.get(block=idle))
                while True:
                    items.append(self._work.get_nowait())
            except queue_mod.Empty:
                pass
            for item in items:
                if item is None:
                    return
                if isinstance(item, _Delivery):
                    window.append(self._receive(item))
                    received += 1
                else:
                    calls.append((received, item))
            limit = calls[0][0] - settled if calls else len(window)
            if limit > 0:
                self._handle_next(window[:limit])
            while window and window[0].slot.done:
                pending = window.pop(0)
                settled += 1
                self._finish(pending.delivery, ack=pending.ack)
            while calls and calls[0][0] <= settled:
                _, fn = calls.popleft()
                try:
                    fn()
                except Exception:
                    log.exception("scheduled call failed")

    def _receive(self, d: _Delivery) -> _Pending:
        try:
            message: Message | None = decode(d.body)
            error = None
        except MessageError as exc:
            message, error = None, str(exc)
        return _Pending(d, Slot(message), error)

    def _handle_next(self, window: list[_Pending]) -> None:
        if not window:
            return
        order = self._orders.get(window[0].delivery.sub.base, FIFO)
        slots = [p.slot for p in window]
        nxt, superseded = plan(slots, order)
        for i in superseded:
            pending = window[i]
            pending.slot.done = True
            message = pending.slot.message
            assert message is not None
            pending.delivery.sub.seen.add(message.message_id)
            with self._lock:
                self.stats.superseded += 1
            service = pending.delivery.sub.base.removeprefix(self.settings.queue_prefix)
            metrics.MESSAGES_SUPERSEDED.labels(service, message.kind).inc()
            log.debug("%s superseded by a newer delivery: not handled", message.message_id)
        if nxt is None:
            return
        pending = window[nxt]
        try:
            with handling(slots, nxt):
                pending.ack = self._deliver(pending)
        except Exception:  # never let the delivery thread die
            log.exception("delivery of %s failed unexpectedly", pending.delivery.routing_key)
            pending.ack = False
        pending.slot.done = True

    def _deliver(self, p: _Pending) -> bool:
        """Handle one delivery; True to ack it (handled, duplicate or dead-lettered), False to requeue."""
        d = p.delivery
        service = d.sub.base.removeprefix(self.settings.queue_prefix)
        kind = _kind(d.routing_key)
        message = p.slot.message
        if message is None:
            self._dead_letter(d, p.error or "unreadable", service)
            return True
        if d.sub.seen.seen(message.message_id):
            with self._lock:
                self.stats.duplicates += 1
            return True
        with self._lock:
            self.stats.delivered += 1
        metrics.MESSAGES_RECEIVED.labels(service, kind).inc()
        token = correlation_id.set(message.correlation_id)
        started = time.perf_counter()
        try:
            for handler in d.sub.handlers:
                handler(message)
        except Reject as exc:
            self._dead_letter(d, f"rejected: {exc}", service)
            return True
        except Exception as exc:
            attempts = int((d.properties.headers or {}).get("x-delivery-count", 0)) + 1
            log.exception("handler of %s failed (delivery %d of %d)", d.sub.queue, attempts,
                          self.settings.delivery_limit)
            if attempts >= self.settings.delivery_limit:
                self._dead_letter(d, f"handler failed {attempts} times: {exc!r}", service)
                return True
            return False
        finally:
            correlation_id.reset(token)
            metrics.HANDLER_SECONDS.labels(service, kind).observe(time.perf_counter() - started)
        d.sub.seen.add(message.message_id)
        return True

    def _dead_letter(self, d: _Delivery, reason: str, service: str) -> None:
        log.warning("dead-lettering from %s (%s): %s", d.sub.queue, d.routing_key, reason)
        cls = reason_class(reason)
        with self._lock:
            self.stats.dead(cls)
        metrics.MESSAGES_REJECTED.labels(service, cls).inc()
        headers = dict(d.properties.headers or {})
        headers[REASON_HEADER] = reason[:4000]
        headers[QUEUE_HEADER] = d.sub.queue
        props = pika.BasicProperties(
            content_type=d.properties.content_type or CONTENT_TYPE,
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=d.properties.message_id,
            correlation_id=d.properties.correlation_id,
            headers=headers,
        )
        self._enqueue(self.settings.dead_letter_exchange, d.routing_key, d.body, props)

    def _finish(self, d: _Delivery, *, ack: bool) -> None:
        with self._lock:
            self._settle.append(_Settle(self._seq, d.generation, d.tag, ack))
            schedule = not self._settle_scheduled
            self._settle_scheduled = True
        if schedule:
            self._threadsafe(self._settle_ready)

    def _settle_ready(self) -> None:  # I/O thread: ack/nack deliveries whose output is confirmed
        with self._lock:
            self._settle_scheduled = False
            low = self._pending_min()
            ready: list[_Settle] = []
            while self._settle and self._settle[0].watermark < low:
                ready.append(self._settle.popleft())
        ch = self._channel
        if not ready or ch is None or not ch.is_open:
            return  # (a dead channel's deliveries are redelivered by the broker; dedup by message id)
        # one delivery thread settles in delivery order, so a run of acks is one ``multiple`` ack
        run_end: int | None = None
        try:
            for s in ready:
                if s.generation != self._generation:
                    continue
                if s.ack:
                    run_end = s.tag
                    continue
                if run_end is not None:
                    ch.basic_ack(run_end, multiple=True)
                    run_end = None
                ch.basic_nack(s.tag, requeue=True)
            if run_end is not None:
                ch.basic_ack(run_end, multiple=True)
        except (pika.exceptions.AMQPError, OSError) as exc:
            log.warning("could not settle %d deliveries: %s", len(ready), exc)

    # ----------------------------------------------------------------- connection internals

    def _safe_url(self) -> str:
        p = self._params
        return f"amqp://{p.host}:{p.port}/{p.virtual_host}"

    def _io_loop(self) -> None:  # I/O thread
        backoff = Backoff.for_bus(self.settings)
        while not self._stopping.is_set():
            self._conn = pika.SelectConnection(
                self._params,
                on_open_callback=self._on_connection_open,
                on_open_error_callback=self._on_connection_error,
                on_close_callback=self._on_connection_closed,
            )
            opened_before = self.connections
            try:
                self._conn.ioloop.start()
            except Exception:
                log.exception("bus I/O loop crashed; reconnecting")
            self._ready.clear()
            self._channel = None
            if self._stopping.is_set():
                break
            if self.connections > opened_before:
                backoff.reset()
            # a cluster: the next node (a stopped node's clients move to a live one)
            self._node = (self._node + 1) % len(self._all_params)
            self._params = self._all_params[self._node]
            wait = backoff.next()
            if len(self._all_params) > 1 and self.connections > opened_before:
                wait = min(wait, 0.1)  # another node may be up: try it at once
            log.warning("broker connection lost; reconnecting to %s in %.1fs", self._safe_url(), wait)
            self._stopping.wait(wait)
        self._conn = None

    def _on_connection_open(self, conn: pika.connection.Connection) -> None:
        conn.channel(on_open_callback=self._on_channel_open)

    def _on_connection_error(self, conn: pika.connection.Connection, exc: BaseException) -> None:
        log.warning("cannot connect to %s: %s", self._safe_url(), exc)
        conn.ioloop.stop()

    def _on_connection_closed(self, conn: pika.connection.Connection, reason: BaseException) -> None:
        if not self._stopping.is_set():
            log.warning("broker connection closed: %s", reason)
        self._requeue_unconfirmed()
        conn.ioloop.stop()

    def _requeue_unconfirmed(self) -> None:
        """Put messages sent but not confirmed on the dead channel back in front of the outbox."""
        with self._changed:
            self._ready.clear()
            self._channel = None
            resend = [self._unconfirmed[s] for s in sorted(self._unconfirmed)]
            self._unconfirmed.clear()
            self._tag_to_seq.clear()
            self._outbox.extendleft(reversed(resend))
            self._changed.notify_all()

    def _on_channel_open(self, ch: pika.channel.Channel) -> None:
        self._generation += 1
        if self._generation > 1:
            for fn in self._on_channel:  # queued before any delivery of the new channel
                self._work.put(fn)
        self._next_tag = 0
        self._channel = ch
        ch.add_on_close_callback(self._on_channel_closed)
        ch.confirm_delivery(self._on_confirm)
        ch.add_on_return_callback(self._on_return)
        ch.basic_qos(prefetch_count=self.settings.prefetch)
        ch.exchange_declare(self.settings.exchange, exchange_type="topic", durable=True)
        ch.exchange_declare(self.settings.dead_letter_exchange, exchange_type="topic", durable=True)
        ch.queue_declare(self.settings.dead_letter_queue, durable=True,
                         arguments=self._dead_letter_arguments())
        ch.queue_bind(self.settings.dead_letter_queue, self.settings.dead_letter_exchange, "#")
        with self._lock:
            subs = list(self._subs.values())
            declared = [(q, list(p), dict(a)) for q, (p, a) in self._declared.items()
                        if q not in self._subs]
        for queue, patterns, arguments in declared:
            self._declare_queue(queue, patterns, arguments)
        with self._lock:
            sharded = [(q, list(p)) for q, p in self._declared_sharded.items()]
        for queue, patterns in sharded:
            self._declare_shards(queue, patterns)
        for sub in subs:
            self._declare_subscription(sub, consume=True)
        # channel RPCs run in order: when this one answers, the whole topology is in place
        ch.queue_declare(self.settings.dead_letter_queue, durable=True,
                         arguments=self._dead_letter_arguments(), callback=self._on_ready)

    def _dead_letter_arguments(self) -> dict[str, Any] | None:
        return {"x-queue-type": "quorum"} if self.settings.dead_letter_quorum else None

    def queue_arguments(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Arguments of every ARCA queue (quorum, delivery limit, dead-letter exchange)."""
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.settings.delivery_limit,
            "x-dead-letter-exchange": self.settings.dead_letter_exchange,
            **(extra or {}),
        }

    def _declare_queue(self, queue: str, patterns: Sequence[str],
                       arguments: dict[str, Any] | None = None) -> None:  # I/O thread
        ch = self._channel
        if ch is None:
            return
        ch.queue_declare(queue, durable=True, arguments=self.queue_arguments(arguments))
        for pattern in patterns:
            ch.queue_bind(queue, self.settings.exchange, pattern)

    def _shard_exchange(self, queue: str) -> str:
        return f"{queue}.shards"

    def _declare_shards(self, queue: str, patterns: Sequence[str]) -> None:  # I/O thread
        """The headers exchange of ``queue``, bound to the topic exchange by ``patterns``, and its
        ``bus.shards`` SAC quorum queues, each bound by its ``arca-shard`` value."""
        ch = self._channel
        if ch is None:
            return
        hx = self._shard_exchange(queue)
        ch.exchange_declare(hx, exchange_type="headers", durable=True)
        for pattern in patterns:
            ch.exchange_bind(hx, self.settings.exchange, pattern)
        for i in range(self.settings.shards):
            self._declare_shard_queue(queue, shard_label(i))

    def _declare_shard_queue(self, queue: str, shard: str) -> None:
        ch = self._channel
        assert ch is not None
        name = f"{queue}.{shard}"
        ch.queue_declare(name, durable=True,
                         arguments=self.queue_arguments({"x-single-active-consumer": True}))
        ch.queue_bind(name, self._shard_exchange(queue), "",
                      arguments={"x-match": "all", SHARD_HEADER: shard})

    def _declare_subscription(self, sub: _Subscription, *, consume: bool) -> None:
        ch = self._channel
        if ch is None:
            return
        if sub.mode == "shard":
            assert sub.shard is not None
            hx = self._shard_exchange(sub.base)
            ch.exchange_declare(hx, exchange_type="headers", durable=True)
            for pattern in sub.patterns:
                ch.exchange_bind(hx, self.settings.exchange, pattern)
            self._declare_shard_queue(sub.base, sub.shard)
        elif sub.mode == "broadcast":
            ch.queue_declare(sub.queue, durable=False, exclusive=True, auto_delete=True)
            for pattern in sub.patterns:
                ch.queue_bind(sub.queue, self.settings.exchange, pattern)
        elif sub.mode == "single":
            self._declare_queue(sub.queue, sub.patterns, {"x-single-active-consumer": True})
        else:
            with self._lock:
                extra = self._declared.get(sub.queue, ([], {}))[1]
            self._declare_queue(sub.queue, sub.patterns, extra)
        if not consume:
            return
        gen = self._generation

        def consume_now() -> None:
            now = self._channel
            if now is None or now is not ch or gen != self._generation or not now.is_open:
                return  # the channel this claim was for is gone (the new one claims again)
            now.basic_consume(
                sub.queue, lambda c, m, p, b: self._on_message(sub, gen, c, m, p, b), auto_ack=False
            )

        if sub.delay_s > 0 and self._conn is not None:
            self._conn.ioloop.call_later(sub.delay_s, consume_now)
        else:
            consume_now()

    def _on_ready(self, _frame: Any) -> None:
        self.connections += 1
        log.info("bus connected to %s (connection %d)", self._safe_url(), self.connections)
        self._ready.set()
        self._send_outbox()
        self._settle_ready()

    def _on_channel_closed(self, ch: pika.channel.Channel, reason: BaseException) -> None:
        if self._stopping.is_set():
            return
        log.warning("channel closed: %s", reason)
        conn = self._conn
        if conn is not None and conn.is_open:
            conn.close()

    def _close(self) -> None:
        conn = self._conn
        if conn is not None and conn.is_open:
            conn.close()
        elif conn is not None:
            conn.ioloop.stop()

    def _declare_dlq_blocking(self, ch: Any) -> None:
        ch.exchange_declare(self.settings.dead_letter_exchange, exchange_type="topic", durable=True)
        ch.queue_declare(self.settings.dead_letter_queue, durable=True,
                         arguments=self._dead_letter_arguments())
        ch.queue_bind(self.settings.dead_letter_queue, self.settings.dead_letter_exchange, "#")

    @staticmethod
    def _dead_letter_origin(headers: dict[str, Any]) -> tuple[str, str]:
        """(queue, reason) of a dead-lettered message: ours carry headers, the broker's x-death."""
        reason = headers.get(REASON_HEADER)
        src = headers.get(QUEUE_HEADER)
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        if isinstance(src, bytes):
            src = src.decode(errors="replace")
        if reason is None:
            deaths = headers.get("x-death") or [{}]
            first = deaths[0] if isinstance(deaths, list) and deaths else {}
            why = first.get("reason", b"unknown")
            why = why.decode() if isinstance(why, bytes) else str(why)
            src = src or (first.get("queue", b"") or b"")
            if isinstance(src, bytes):
                src = src.decode(errors="replace")
            reason = f"handler failed: broker dead-lettered ({why})"
        return str(src or ""), str(reason)
