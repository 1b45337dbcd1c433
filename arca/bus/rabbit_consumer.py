"""Consuming of ``RabbitBus``: the delivery thread, delivery order and folding, acks.

One **delivery thread** runs the handlers (and ``call_soon_threadsafe`` functions) one at a time, so
a slow handler or a synchronous SPARQL query never stalls heartbeats or confirms. It holds a window
of deliveries (up to the prefetch) and handles them in the queue's ``DeliveryOrder``
(``arca.bus.order``: urgency, then folding of superseded deliveries, acked unhandled). A delivery is
acked only after its handler succeeded **and** every message the handler published has been
confirmed, so a crash between the two cannot lose the handler's output; deliveries are settled in
arrival order. Undecodable payloads and ``Reject`` are republished to the dead-letter exchange with
the reason in the ``x-arca-reason`` header, then acked. A handler crash is nacked with requeue; on
the last allowed delivery (``x-delivery-count`` header of quorum queues) the bus dead-letters it
itself with the exception as reason (the broker's delivery limit stays as a backstop).
"""

from __future__ import annotations

import logging
import queue as queue_mod
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import overload

import pika
import pika.channel
import pika.exceptions
import pika.spec

from arca import metrics
from arca.bus.base import REASON_HEADER, Reject, reason_class
from arca.bus.order import FIFO, DeliveryOrder, Planner, Slot, handling
from arca.bus.rabbit_core import (
    QUEUE_HEADER,
    _Delivery,
    _kind,
    _Pending,
    _RabbitCore,
    _Settle,
    _Subscription,
)
from arca.logs import correlation_id
from arca.messages import CONTENT_TYPE, Message, MessageError, decode

log = logging.getLogger(__name__)



class _Slots(Sequence[Slot]):
    """The slots of a window, read through (``waiting()`` walks them only when a handler asks)."""

    def __init__(self, window: list[_Pending]) -> None:
        self._window = window

    def __len__(self) -> int:
        return len(self._window)

    def __iter__(self) -> Iterator[Slot]:
        return (p.slot for p in self._window)

    @overload
    def __getitem__(self, i: int) -> Slot: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Slot]: ...
    def __getitem__(self, i: int | slice) -> Slot | Sequence[Slot]:
        if isinstance(i, slice):
            return [p.slot for p in self._window[i]]
        return self._window[i].slot


class _Consumer(_RabbitCore):
    """The delivery thread: receiving, ordering, handling, dead-lettering and settling deliveries."""

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

    def call_soon_threadsafe(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the delivery thread (serialised with the handlers)."""
        self._work.put(fn)

    def _work_loop(self) -> None:  # delivery thread
        """Handle deliveries and scheduled calls; settle deliveries in arrival order.

        The window is the deliveries received and not yet settled; the queue's ``Planner``
        (``arca.bus.order``) picks the next one to handle among those that arrived before the first
        waiting scheduled call (a call runs once every delivery before it is handled, as in first
        in, first out); while a call runs, ``waiting()`` gives the deliveries received after it (a
        tick leaves to them what they will redo on a newer state). Nothing here walks the whole
        window per delivery: a prefetch of hundreds costs what a prefetch of ten does.
        """
        window: list[_Pending] = []
        calls: deque[tuple[int, Callable[[], None]]] = deque()  # (deliveries received before it, fn)
        received = 0  # deliveries received so far (= arrival index of the next one)
        settled = 0  # arrival index of window[0]
        undone = 0  # deliveries of the window not done
        while True:
            idle = undone == 0 and not calls
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
                    undone += 1
                else:
                    calls.append((received, item))
            limit = calls[0][0] - settled if calls else len(window)
            if limit > 0 and undone:
                undone -= self._handle_next(window, limit, settled)
            done = 0
            while done < len(window) and window[done].slot.done:
                pending = window[done]
                done += 1
                self._finish(pending.delivery, ack=pending.ack)
            if done:
                del window[:done]
                settled += done
            while calls and calls[0][0] <= settled:
                _, fn = calls.popleft()
                try:
                    with handling(_Slots(window), -1):  # waiting(): what arrived after the call
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

    def _planner_for(self, window: list[_Pending], first: int) -> Planner:
        """The planner of the window's order (the first delivery's queue's), started afresh on the
        window when the order is another (one bus serving queues of different orders)."""
        order = self._orders.get(window[0].delivery.sub.base, FIFO)
        planner = self._planner
        if planner is None or planner.order is not order or planner.next_arrival < first:
            planner = self._planner = Planner(order, start=first)
        return planner

    def _handle_next(self, window: list[_Pending], limit: int, first: int) -> int:
        """Handle the next delivery among the first ``limit`` of the window (``first``: the arrival
        number of ``window[0]``); returns how many deliveries it marked done (handled or superseded)."""
        planner = self._planner_for(window, first)
        marked = 0
        while planner.next_arrival < first + limit:
            for n in planner.add(window[planner.next_arrival - first].slot):
                marked += self._supersede(window[n - first])
        chosen = planner.choose()
        if chosen is None:
            return marked
        index = chosen - first
        pending = window[index]
        try:
            with handling(_Slots(window), index):
                pending.ack = self._deliver(pending)
        except Exception:  # never let the delivery thread die
            log.exception("delivery of %s failed unexpectedly", pending.delivery.routing_key)
            pending.ack = False
        pending.slot.done = True
        return marked + 1

    def _supersede(self, pending: _Pending) -> int:
        """Acknowledge a delivery a newer one covers, unhandled (counted)."""
        pending.slot.done = True
        message = pending.slot.message
        assert message is not None
        pending.delivery.sub.seen.add(message.message_id)
        with self._lock:
            self.stats.superseded += 1
        service = pending.delivery.sub.base.removeprefix(self.settings.queue_prefix)
        metrics.MESSAGES_SUPERSEDED.labels(service, message.kind).inc()
        log.debug("%s superseded by a newer delivery: not handled", message.message_id)
        return 1

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
        metrics.bus_child(metrics.MESSAGES_RECEIVED, service, kind).inc()
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
            metrics.bus_child(metrics.HANDLER_SECONDS, service, kind).observe(time.perf_counter() - started)
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
            # the I/O thread is woken only when the oldest delivery waiting can be settled now: else
            # the confirm it waits for settles it (``_on_confirm`` ends in ``_settle_ready``), and a
            # wake-up per delivery would hand the interpreter lock over for nothing
            ready = self._settle[0].watermark < self._pending_min()
            schedule = ready and not self._settle_scheduled
            self._settle_scheduled = self._settle_scheduled or schedule
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
