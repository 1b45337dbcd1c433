"""Helpers shared by the spine tests (bus settings on the throw-away vhost, waiting, an observation)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from arca.app.settings import BusSettings
from arca.messages import Observation

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def obs(system: str, value: float = 0.5) -> Observation:
    """A cpu_util observation of ``system`` at ``T0`` (what the publisher-confirm tests publish)."""
    return Observation(event_time=T0, system=system, metric="cpu_util", value=value)


def bus_settings(rabbit_url: str, unique: str, **overrides: object) -> BusSettings:
    """Settings whose exchange, dead-letter names and queue prefix are unique to one test."""
    values: dict[str, object] = dict(
        kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}", dead_letter_exchange=f"dlx-{unique}",
        dead_letter_queue=f"dlq-{unique}", queue_prefix=f"t-{unique}.", reconnect_initial_s=0.2,
        reconnect_max_s=2.0, confirm_timeout_s=30.0,
    )
    values.update(overrides)
    return BusSettings.model_validate(values)


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true; fail (AssertionError) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def queue_depth(rabbit_url: str, queue: str) -> int:
    """Messages ready in ``queue`` (an unacknowledged one is back there once its consumer is gone)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def delivered(rabbit_url: str, queue: str) -> None:
    """Wait until the broker has handed every message of ``queue`` to its consumer (none ready)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    try:
        wait_for(lambda: conn.channel().queue_declare(queue, passive=True).method.message_count == 0,
                 what=f"{queue} delivered")
    finally:
        conn.close()
    time.sleep(0.3)  # off the socket and onto the consumer's delivery queue
