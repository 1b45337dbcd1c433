"""RabbitMQ bus on pika: asynchronous publisher confirms, manual acks, dead-lettering, reconnect.

``RabbitBus`` is assembled here from one class per concern, each in a module of its own:

* ``arca.bus.rabbit_core`` — the shared state (one lock), the records the parts pass one another;
* ``arca.bus.rabbit_connection`` — the **I/O thread** that owns the ``pika.SelectConnection`` (pika
  is not thread-safe; other threads hand it work with ``add_callback_threadsafe``), reconnect with
  backoff and jitter over a cluster's nodes, each new channel's set-up;
* ``arca.bus.rabbit_topology`` — quorum queues, bindings, the dead-letter exchange and queue;
* ``arca.bus.rabbit_shards`` — shard queues behind a headers exchange (``bus.shards`` > 0);
* ``arca.bus.rabbit_publisher`` — the outbox and asynchronous confirms: ``flush`` and
  ``wait_confirmed`` raise ``BusError`` on a nack or a timeout, what a dropped connection left
  unconfirmed is republished, unroutable messages are dead-lettered;
* ``arca.bus.rabbit_consumer`` — the **delivery thread**: handlers one at a time in the queue's
  delivery order (events first, bursts folded), each delivery acked only once its handler succeeded
  and everything it published is confirmed.

This module's names (``RabbitBus``, ``BusError``, ``shard_of``...) are the bus's public API.
"""

from __future__ import annotations

from arca.bus.rabbit_connection import _Connection
from arca.bus.rabbit_consumer import _Consumer
from arca.bus.rabbit_core import QUEUE_HEADER, BusError
from arca.bus.rabbit_publisher import _Publisher
from arca.bus.rabbit_shards import SHARD_HEADER, _Shards, shard_label, shard_of
from arca.bus.rabbit_topology import _Topology

__all__ = ["QUEUE_HEADER", "SHARD_HEADER", "BusError", "RabbitBus", "shard_label", "shard_of"]


class RabbitBus(_Connection, _Topology, _Shards, _Publisher, _Consumer):
    """``Bus`` on a RabbitMQ broker (see the module docstrings for threads and guarantees)."""

    concurrent_publish = True
