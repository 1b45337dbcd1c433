"""Publishing of ``RabbitBus``: the outbox, asynchronous publisher confirms, returns.

``publish`` encodes in the caller's thread and appends to an outbox (never blocks on the broker).
The I/O thread sends it on a channel in confirm mode and tracks its delivery tag; ``flush`` waits
until every message published so far is confirmed and raises ``BusError`` on a nack or a timeout;
``publish_tracked`` + ``wait_confirmed`` wait for given messages only, so concurrent publishers (the
collector's HTTP threads) each wait for their own confirms, together. Messages unconfirmed when the
connection drops are republished after the reconnect (consumers dedup the rare duplicate by message
id), so a confirmed message is never lost. Messages go out ``mandatory``: one no queue is bound for
comes back (``_on_return``) and is dead-lettered with reason ``unroutable``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import pika
import pika.channel
import pika.exceptions
import pika.frame
import pika.spec

from arca import metrics
from arca.bus.base import REASON_HEADER
from arca.bus.rabbit_core import QUEUE_HEADER, BusError, _kind, _Out, _RabbitCore, _Waiter
from arca.bus.rabbit_shards import SHARD_HEADER, shard_label, shard_of
from arca.messages import CONTENT_TYPE, Message, encode

log = logging.getLogger(__name__)



class _Publisher(_RabbitCore):
    """Publishing, confirms and returns."""

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
        metrics.bus_child(metrics.MESSAGES_PUBLISHED, self.service, message.kind).inc()
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
                waiter.wake()
        if not waiter.wait(timeout):
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
        metrics.bus_child(metrics.MESSAGES_PUBLISHED, self.service, _kind(routing_key)).inc()

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
            # each message leaves the outbox only once it is among the unconfirmed (below): a flush
            # from another thread never sees a message in neither, which it would count as confirmed
            batch = list(self._outbox)
        # the batch in one write to the socket (``rabbit_connection._ConfirmingConnection``)
        cork, uncork = getattr(self._conn, "cork", None), getattr(self._conn, "uncork", None)
        corked = cork is not None and uncork is not None and len(batch) > 1
        if corked:
            cork()  # type: ignore[misc]
        try:
            for out in batch:
                # mandatory: a message no queue is bound for comes back (``_on_return``), never vanishes
                ch.basic_publish(out.exchange, out.routing_key, out.body, out.properties,
                                 mandatory=out.exchange == self.settings.exchange)
                self._next_tag += 1
                with self._lock:
                    self._tag_to_seq[self._next_tag] = out.seq
                    self._unconfirmed[out.seq] = out
                    if self._outbox and self._outbox[0] is out:  # only this thread takes from the left
                        self._outbox.popleft()
        except (pika.exceptions.AMQPError, OSError) as exc:  # the unsent are still in the outbox
            log.warning("publish interrupted (%s); will resend after reconnect", exc)
        finally:
            if corked:
                uncork()  # type: ignore[misc]

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
                        waiter.wake()
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
