"""A consumer wakes its I/O thread to acknowledge a delivery only when the delivery can be settled at
once; a delivery whose output is still unconfirmed is settled by the confirm it waits for.

On the real broker: a relay whose every delivery publishes one message, and a sink whose deliveries
publish nothing. Both must settle every delivery while they run (nothing left waiting in the bus), and
the broker must hold none of them once they stop (an unacknowledged one would be back in its queue);
the relay must not wake its I/O thread once per delivery (it did: one ``_settle_ready`` hand-off per
message, each handing the interpreter lock over for nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from spine_helpers import bus_settings, obs, queue_depth, wait_for

from arca.bus.rabbitmq import RabbitBus
from arca.messages import Message

pytestmark = pytest.mark.rabbitmq
PACED, BURST = 50, 200


def test_deliveries_are_settled_with_a_wake_only_when_nothing_is_left_to_confirm(
        rabbit_url: str, unique: str) -> None:
    settings = bus_settings(rabbit_url, unique)
    relay, sink = RabbitBus(settings, service="relay"), RabbitBus(settings, service="sink")
    wakes: Counter[str] = Counter()
    real: Callable[[Callable[[], None]], None] = relay._threadsafe

    def counting(fn: Callable[[], None]) -> None:
        wakes[getattr(fn, "__name__", "?")] += 1
        real(fn)

    relay._threadsafe = counting  # type: ignore[method-assign]
    got: list[Message] = []
    relay.subscribe(f"{settings.queue_prefix}relay", ["observation.in"],
                    lambda m: relay.publish(obs("out", getattr(m, "value", 0.0))))
    sink.subscribe(f"{settings.queue_prefix}sink", ["observation.out"], got.append)
    producer = RabbitBus(settings, service="producer")
    for b in (sink, relay, producer):
        b.start()
    try:
        for i in range(PACED):  # one at a time, as live events come: each delivery alone in the window
            producer.publish(obs("in", i / PACED))
            wait_for(lambda i=i: len(got) == i + 1, what=f"relayed message {i + 1} at the sink")  # type: ignore[misc]
        paced = wakes["_settle_ready"]
        for i in range(BURST):
            producer.publish(obs("in", i / BURST))
        producer.flush()
        wait_for(lambda: len(got) == PACED + BURST, what="every relayed message at the sink")
        wait_for(lambda: not relay._settle and not sink._settle, timeout=30,
                 what="every delivery settled while the buses run")
        # a relayed delivery waits for its output's confirm; the confirm settles it, not a wake (the
        # old code woke the I/O thread for each paced delivery: 50 of 50)
        assert paced <= PACED // 5, (paced, wakes)
        assert wakes["_settle_ready"] <= (PACED + BURST) // 5, wakes
        assert wakes["_send_outbox"] >= 1
    finally:
        for b in (producer, relay, sink):
            b.stop()
    assert [queue_depth(rabbit_url, f"{settings.queue_prefix}{q}") for q in ("relay", "sink")] == [0, 0]
