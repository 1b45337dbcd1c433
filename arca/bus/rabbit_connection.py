"""Connection of ``RabbitBus``: the I/O thread, reconnect with backoff, and each channel's set-up.

One **I/O thread** owns a ``pika.SelectConnection`` (pika is not thread-safe); every other thread
hands work to it with ``add_callback_threadsafe`` (``_threadsafe``). Reconnects wait
``arca.backoff.Backoff`` (exponential, with jitter), move to the next node of a cluster's URL list,
and re-declare the whole topology and consumers on the new channel before publishing resumes;
``connected`` is true once that is done.

Confirms take a short path: ``_ConfirmingConnection`` hands the ``Basic.Ack`` / ``Basic.Nack`` frames of
the bus's own open channel straight to ``_on_confirm`` instead of through pika's callback registry
(what the broker sends most to a publisher: one frame per confirm, each dispatched through two
decorators and a lookup by channel and method; 15 % of a collector's I/O thread under load, py-spy).
Any other frame, and a confirm of any other channel, goes the way pika sends it. What the outbox
sends in one go (every message published since the I/O thread last ran) is written to the socket in one
piece (``cork`` / ``uncork``): pika's transport sends each frame with its own ``send`` call, three per
message, each releasing and taking back the interpreter lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pika
import pika.channel
import pika.connection
import pika.frame
import pika.spec

from arca.backoff import Backoff
from arca.bus.rabbit_core import BusError, _RabbitCore

log = logging.getLogger(__name__)

_CONFIRMS = (pika.spec.Basic.Ack, pika.spec.Basic.Nack)


class _ConfirmingConnection(pika.SelectConnection):
    """A ``SelectConnection`` that calls ``on_confirm`` directly for the confirms of ``confirm_channel``
    (set once that channel is in confirm mode; pika's own dispatch is kept for everything else)."""

    confirm_channel: pika.channel.Channel | None = None
    on_confirm: Callable[[pika.frame.Method], None] | None = None

    def _process_frame(self, frame_value: Any) -> None:
        channel = self.confirm_channel
        if (channel is not None and type(getattr(frame_value, "method", None)) in _CONFIRMS
                and frame_value.channel_number == channel.channel_number and channel.is_open
                and self.on_confirm is not None):
            self.frames_received += 1
            self.on_confirm(frame_value)
            return
        super()._process_frame(frame_value)

    _corked: list[bytes] | None = None

    def cork(self) -> None:
        """Hold what is written until ``uncork``: a batch of messages goes to the socket in one write."""
        self._corked = []

    def uncork(self) -> None:
        """Write what was held since ``cork``, in order, as one piece."""
        held, self._corked = self._corked, None
        if held and self._transport is not None:  # (gone: the unconfirmed are resent after a reconnect)
            self._adapter_emit_data(b"".join(held))

    def _output_marshaled_frames(self, marshaled_frames: Any) -> None:
        """Frames handed to the transport as one write (pika writes each frame on its own, and its
        transport sends each write with its own ``send``: three per published message)."""
        frames = list(marshaled_frames)
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        self.bytes_sent += len(data)
        self.frames_sent += len(frames)
        if self._corked is not None:
            self._corked.append(data)
        else:
            self._adapter_emit_data(data)


class _Connection(_RabbitCore):
    """Start, stop, the I/O loop and the connection and channel callbacks."""

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

    def on_channel_open(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the delivery thread each time a new channel opens after the first, before
        any of its deliveries (a replica may have lost or gained shards: forget per-system state)."""
        self._on_channel.append(fn)

    def _io_loop(self) -> None:  # I/O thread
        backoff = Backoff.for_bus(self.settings)
        while not self._stopping.is_set():
            self._conn = _ConfirmingConnection(
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

    def _on_channel_open(self, ch: pika.channel.Channel) -> None:
        self._generation += 1
        if self._generation > 1:
            for fn in self._on_channel:  # queued before any delivery of the new channel
                self._work.put(fn)
        self._next_tag = 0
        self._channel = ch
        ch.add_on_close_callback(self._on_channel_closed)
        ch.confirm_delivery(self._on_confirm)  # registered with pika too: the path of last resort
        conn = ch.connection
        if isinstance(conn, _ConfirmingConnection):
            conn.on_confirm = self._on_confirm
            conn.confirm_channel = ch
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
