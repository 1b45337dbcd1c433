"""The state every part of ``RabbitBus`` shares, and the records they pass to one another.

``RabbitBus`` (``arca.bus.rabbitmq``) is one object assembled from one class per concern —
``rabbit_connection`` (I/O loop, reconnect, channel set-up), ``rabbit_topology`` (exchanges,
queues, bindings, the dead-letter queue), ``rabbit_shards`` (shard queues behind a headers
exchange), ``rabbit_publisher`` (outbox and confirms), ``rabbit_consumer`` (the delivery thread:
order, folding, settling). Each is a subclass of ``_RabbitCore``, which holds the shared state (one
lock guards it), the helpers every part uses, and, as abstract methods, the few hooks one concern
calls in another, each naming the module that defines it.
"""

from __future__ import annotations

import contextlib
import queue as queue_mod
import threading
import uuid
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.channel
import pika.frame
import pika.spec

from arca.bus.base import Bus, BusStats, Handler, SeenIds
from arca.bus.order import DeliveryOrder, Planner, Slot
from arca.config import BusSettings, broker_urls

QUEUE_HEADER = "x-arca-queue"
"""Header naming the queue a message was dead-lettered from (set by this bus)."""


class BusError(RuntimeError):
    """Publishing failed: the broker nacked a message or confirms did not arrive in time."""


@dataclass
class _Out:
    seq: int
    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


class _Waiter:
    """One ``wait_confirmed`` call: the seqs it still waits for; ``wake`` once none is left.

    A lock taken at creation and released by ``wake`` (the I/O thread, or the caller when nothing was
    left): one C call each way, where a ``threading.Event`` runs a ``Condition`` in Python on both
    sides (set and wait) — one wake-up per HTTP event in the collector."""

    __slots__ = ("_lock", "left")

    def __init__(self) -> None:
        self.left: set[int] = set()
        self._lock = threading.Lock()
        self._lock.acquire()

    def wake(self) -> None:
        """Called once, when ``left`` became empty (under the bus's lock)."""
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        """Whether it was woken within ``timeout`` seconds."""
        return self._lock.acquire(timeout=max(0.0, timeout))


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


class _RabbitCore(Bus):
    """State and helpers shared by the parts of ``RabbitBus`` (one lock, ``_lock``, guards it)."""

    def __init__(self, settings: BusSettings, *, service: str | None = None) -> None:
        self.settings = settings
        self.stats = BusStats()
        self._all_params = [pika.URLParameters(u) for u in broker_urls(settings.url)]
        self._node = 0
        self._params = self._all_params[0]
        self._service = service
        self._subs: dict[str, _Subscription] = {}
        self._orders: dict[str, DeliveryOrder] = {}
        self._planner: Planner | None = None  # the delivery thread's (arca.bus.order)
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

    def _threadsafe(self, fn: Callable[[], None]) -> None:
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):  # closed: the next connect drains anyway
                conn.ioloop.add_callback_threadsafe(fn)

    def _safe_url(self) -> str:
        p = self._params
        return f"amqp://{p.host}:{p.port}/{p.virtual_host}"

    def queue_arguments(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Arguments of every ARCA queue (quorum, delivery limit, dead-letter exchange)."""
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.settings.delivery_limit,
            "x-dead-letter-exchange": self.settings.dead_letter_exchange,
            **(extra or {}),
        }

    def _dead_letter_arguments(self) -> dict[str, Any] | None:
        return {"x-queue-type": "quorum"} if self.settings.dead_letter_quorum else None

    # ------------------------------------------------ hooks one concern calls in another

    @abstractmethod
    def _enqueue(self, exchange: str, key: str, body: bytes, props: pika.BasicProperties) -> int:
        """Append to the outbox; the publish sequence number (``rabbit_publisher``)."""

    @abstractmethod
    def _pending_min(self) -> int:
        """Smallest publish seq not yet confirmed (``rabbit_publisher``). Lock held."""

    @abstractmethod
    def _send_outbox(self) -> None:
        """Send the outbox on the current channel (``rabbit_publisher``, I/O thread)."""

    @abstractmethod
    def _requeue_unconfirmed(self) -> None:
        """Put what the dead channel left unconfirmed back in the outbox (``rabbit_publisher``)."""

    @abstractmethod
    def _on_confirm(self, frame: pika.frame.Method) -> None:
        """A broker confirm (``rabbit_publisher``, I/O thread)."""

    @abstractmethod
    def _on_return(self, ch: pika.channel.Channel, method: pika.spec.Basic.Return,
                   props: pika.BasicProperties, body: bytes) -> None:
        """An unroutable message came back (``rabbit_publisher``, I/O thread)."""

    @abstractmethod
    def _on_message(self, sub: _Subscription, generation: int, ch: pika.channel.Channel,
                    method: pika.spec.Basic.Deliver, props: pika.BasicProperties, body: bytes) -> None:
        """A delivery, handed to the delivery thread (``rabbit_consumer``, I/O thread)."""

    @abstractmethod
    def _work_loop(self) -> None:
        """The delivery thread's loop (``rabbit_consumer``)."""

    @abstractmethod
    def _settle_ready(self) -> None:
        """Ack/nack deliveries whose output is confirmed (``rabbit_consumer``, I/O thread)."""

    @abstractmethod
    def declare(self, queue: str, patterns: Sequence[str],
                arguments: dict[str, Any] | None = None) -> None:
        """Declare a queue with the topology (``rabbit_topology``)."""

    @abstractmethod
    def _declare_queue(self, queue: str, patterns: Sequence[str],
                       arguments: dict[str, Any] | None = None) -> None:
        """Declare a queue and its bindings on the channel (``rabbit_topology``, I/O thread)."""

    @abstractmethod
    def _declare_subscription(self, sub: _Subscription, *, consume: bool) -> None:
        """Declare a subscription's queue and consume it (``rabbit_topology``, I/O thread)."""

    @abstractmethod
    def _declare_shards(self, queue: str, patterns: Sequence[str]) -> None:
        """Declare a sharded queue's exchange and shard queues (``rabbit_shards``, I/O thread)."""

    @abstractmethod
    def _declare_shard_queue(self, queue: str, shard: str) -> None:
        """Declare one shard queue (``rabbit_shards``, I/O thread)."""
