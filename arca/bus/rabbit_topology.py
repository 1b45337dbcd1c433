"""Topology of ``RabbitBus``: exchanges, queues, bindings, and the dead-letter queue.

Every queue is a durable quorum queue with a delivery limit and the dead-letter exchange
(``queue_arguments``); ``subscribe`` consumes one, ``declare`` declares another service's queue (or
the knowledge-base writer's) with the topology so nothing published before its consumer started is
unroutable. Everything declared is declared again on each new channel. ``dead_letters`` peeks the
dead-letter queue without consuming it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pika

from arca.bus.base import REASON_HEADER, DeadLetter, Handler
from arca.bus.rabbit_core import QUEUE_HEADER, _RabbitCore, _Subscription
from arca.bus.rabbit_shards import shard_exchange


class _Topology(_RabbitCore):
    """Declaring queues and subscriptions; reading the dead-letter queue."""

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

    def _declare_queue(self, queue: str, patterns: Sequence[str],
                       arguments: dict[str, Any] | None = None) -> None:  # I/O thread
        ch = self._channel
        if ch is None:
            return
        ch.queue_declare(queue, durable=True, arguments=self.queue_arguments(arguments))
        for pattern in patterns:
            ch.queue_bind(queue, self.settings.exchange, pattern)

    def _declare_subscription(self, sub: _Subscription, *, consume: bool) -> None:
        ch = self._channel
        if ch is None:
            return
        if sub.mode == "shard":
            assert sub.shard is not None
            hx = shard_exchange(sub.base)
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
