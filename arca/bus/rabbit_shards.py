"""Sharding of ``RabbitBus`` (``bus.shards`` = N > 0, ``subscribe_sharded``).

Every published message carries the header ``arca-shard`` = ``shard_of(subject, N)`` (a CRC-32 of
the routing key's subject, i.e. the system), and a service's topic patterns are bound
exchange-to-exchange to its own headers exchange ``<queue>.shards``, which routes each message to
one of N quorum queues ``<queue>.sNN`` by that header. Each shard queue has
``x-single-active-consumer``: every replica consumes every shard, the broker delivers a shard to one
of them at a time and hands it to the next consumer when that one's channel dies. A replica
subscribes at once to its own shards (``i % replicas == replica_index``) and
``shard_claim_delay_s`` later to the others, so replicas started together each own some. Patterns
every replica must see (``policy.#``) go to a per-replica exclusive queue instead. ``single``: the
service keeps one queue, with single active consumer (hot standby). No plugin is needed.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from arca.bus.base import Handler
from arca.bus.rabbit_core import _RabbitCore, _Subscription

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


def shard_queue(queue: str, shard: int) -> str:
    """The quorum queue of ``queue``'s shard number ``shard``."""
    return f"{queue}.{shard_label(shard)}"


def single_queue(queue: str) -> str:
    """The one queue (single active consumer) of a service that keeps one (``single``)."""
    return f"{queue}.single"


def shard_exchange(queue: str) -> str:
    """The headers exchange that routes ``queue``'s messages to its shard queues."""
    return f"{queue}.shards"


def sharded_topology(queue: str, shards: int) -> tuple[list[str], list[str]]:
    """Every queue and exchange ``queue`` may have on the broker with ``bus.shards`` = ``shards``: its
    single queue, its shard queues, its shard exchange (a replica's broadcast queue is exclusive: it
    goes with its connection)."""
    return [single_queue(queue), *(shard_queue(queue, i) for i in range(shards))], [shard_exchange(queue)]


class _Shards(_RabbitCore):
    """Declaring and subscribing to shard queues."""

    def subscribe_sharded(self, queue: str, patterns: Sequence[str], broadcast: Sequence[str],
                          handler: Handler, *, single: bool = False) -> None:
        """Consume ``patterns`` through the shard queues of ``queue`` (``single``: one SAC queue) and
        ``broadcast`` through a queue of this replica's own (see the module docstring)."""
        n = self.settings.shards
        subs: list[_Subscription] = []
        if single:
            subs.append(_Subscription(single_queue(queue), list(patterns), [handler], base=queue,
                                      mode="single"))
        else:
            replicas, index = self.settings.replicas, self.settings.replica_index
            for i in range(n):
                own = index is None or i % replicas == index
                subs.append(_Subscription(shard_queue(queue, i), list(patterns), [handler],
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
            self.declare(single_queue(queue), patterns, {"x-single-active-consumer": True})
            return
        with self._lock:
            self._declared_sharded[queue] = list(patterns)
        if self._ready.is_set():
            self._threadsafe(lambda: self._declare_shards(queue, patterns))

    def _declare_shards(self, queue: str, patterns: Sequence[str]) -> None:  # I/O thread
        """The headers exchange of ``queue``, bound to the topic exchange by ``patterns``, and its
        ``bus.shards`` SAC quorum queues, each bound by its ``arca-shard`` value."""
        ch = self._channel
        if ch is None:
            return
        hx = shard_exchange(queue)
        ch.exchange_declare(hx, exchange_type="headers", durable=True)
        for pattern in patterns:
            ch.exchange_bind(hx, self.settings.exchange, pattern)
        for i in range(self.settings.shards):
            self._declare_shard_queue(queue, shard_label(i))

    def _declare_shard_queue(self, queue: str, shard: str) -> None:
        ch = self._channel
        assert ch is not None
        name = f"{queue}.{shard}"  # shard: its label (``shard_queue`` of its number)
        ch.queue_declare(name, durable=True,
                         arguments=self.queue_arguments({"x-single-active-consumer": True}))
        ch.queue_bind(name, shard_exchange(queue), "",
                      arguments={"x-match": "all", SHARD_HEADER: shard})
