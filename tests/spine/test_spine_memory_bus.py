"""The in-process bus counts the same Prometheus metrics as the RabbitMQ bus."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arca import metrics
from arca.bus import InMemoryBus, Reject
from arca.messages import Message, Observation


def value(metric: Any, *labels: str) -> float:
    return float(metric.labels(*labels)._value.get())


def test_memory_bus_counts_published_received_rejected_and_handler_time() -> None:
    bus = InMemoryBus(service="collector")

    def handler(m: Message) -> None:
        if isinstance(m, Observation) and m.value < 0:
            raise Reject("negative")

    bus.subscribe("arca.memtest", ["observation.#"], handler)
    before = (value(metrics.MESSAGES_PUBLISHED, "collector", "observation"),
              value(metrics.MESSAGES_RECEIVED, "memtest", "observation"),
              value(metrics.MESSAGES_REJECTED, "memtest", "rejected"),
              value(metrics.MESSAGES_REJECTED, "memtest", "syntax"))
    hist_before = metrics.HANDLER_SECONDS.labels("memtest", "observation")._sum.get()
    t = datetime(2026, 3, 1, tzinfo=UTC)
    bus.publish(Observation(event_time=t, system="emergency", metric="cpu_util", value=0.5))
    bus.publish(Observation(event_time=t, system="emergency", metric="cpu_util", value=-1.0))
    bus.publish_raw("observation.emergency", b"not rdf")
    after = (value(metrics.MESSAGES_PUBLISHED, "collector", "observation"),
             value(metrics.MESSAGES_RECEIVED, "memtest", "observation"),
             value(metrics.MESSAGES_REJECTED, "memtest", "rejected"),
             value(metrics.MESSAGES_REJECTED, "memtest", "syntax"))
    assert [a - b for a, b in zip(after, before, strict=True)] == [3, 2, 1, 1]
    assert metrics.HANDLER_SECONDS.labels("memtest", "observation")._sum.get() > hist_before


def test_memory_bus_counts_each_queues_first_delivery_as_an_activation() -> None:
    """As on RabbitMQ (``consumer_activations``), counted before the delivery is handled, readable or
    not; a queue that got nothing is not active yet."""
    bus = InMemoryBus()
    seen: list[int] = []
    bus.subscribe("arca.a", ["observation.#"], lambda m: seen.append(bus.consumer_activations()))
    bus.subscribe("arca.b", ["event.#"], lambda m: None)
    assert bus.consumer_activations() == 0
    t = datetime(2026, 3, 1, tzinfo=UTC)
    bus.publish(Observation(event_time=t, system="emergency", metric="cpu_util", value=0.5))
    bus.publish(Observation(event_time=t, system="emergency", metric="cpu_util", value=0.6))
    assert seen == [1, 1]
    assert bus.consumer_activations() == 1
    bus.publish_raw("event.seismo", b"not rdf")
    assert bus.consumer_activations() == 2
