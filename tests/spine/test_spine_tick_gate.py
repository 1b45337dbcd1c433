"""At most one tick waits or runs on a service's delivery thread (``arca.service.TickGate``).

A tick slower than its interval (an enforcer reconciling 200 systems against the cloud took seconds
per tick) used to be posted every interval regardless: ticks piled up on the delivery thread and the
deliveries queued behind them (decisions) waited for minutes. The gate posts a tick only once the
previous one finished and counts the offers it dropped (``arca_ticks_skipped_total``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from arca.app.settings import ArcaSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Message, Observation
from arca.service import Deps, Service, TickGate
from tests.spine.spine_helpers import bus_settings, delivered, wait_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Slow(Service):
    """Ticks take ``tick_s``; records what ran on the delivery thread, in order."""

    name = "tickgate"
    patterns = ("observation.#",)
    tick_s = 0.0

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.ran: list[str] = []

    def handle(self, message: Message) -> None:
        self.ran.append(f"handle:{message.message_id}")

    def tick(self, now: datetime) -> None:
        self.ran.append("tick")
        if self.tick_s:
            time.sleep(self.tick_s)
        if getattr(self, "fail", False):
            raise RuntimeError("a failing tick")


def skipped(service: str) -> float:
    value = REGISTRY.get_sample_value("arca_ticks_skipped_total", {"service": service})
    return value or 0.0


def _service() -> Slow:
    return Slow(Deps(bus=None, kb=EmbeddedKnowledgeBase(), clock=SimClock(T0),  # type: ignore[arg-type]
                     settings=ArcaSettings()))


@pytest.mark.parametrize(("offers", "run_after", "posted", "dropped"), [
    pytest.param(1, [], 1, 0, id="one-offer-is-posted"),
    pytest.param(3, [], 1, 2, id="offers-while-one-waits-are-dropped-and-counted"),
    pytest.param(3, [0], 2, 1, id="after-the-tick-ran-the-next-offer-is-posted"),
    pytest.param(4, [0, 1, 2], 4, 0, id="each-tick-ran-before-the-next-offer"),
])
def test_the_gate_posts_a_tick_only_once_the_previous_one_finished(
        offers: int, run_after: list[int], posted: int, dropped: int) -> None:
    service = _service()
    queue: list[object] = []
    gate = TickGate(service, service.clock)
    before = skipped(service.name)
    for k in range(offers):
        gate.offer(queue.append)
        if k in run_after:
            queue[-1]()  # type: ignore[operator]
    assert len(queue) == posted
    assert skipped(service.name) - before == dropped


def test_a_failing_tick_does_not_close_the_gate_for_good() -> None:
    service = _service()
    service.fail = True  # type: ignore[attr-defined]
    gate = TickGate(service, service.clock)
    queue: list[object] = []
    assert gate.offer(queue.append)
    with pytest.raises(RuntimeError):
        queue[0]()  # type: ignore[operator]
    assert gate.offer(queue.append)
    assert len(queue) == 2


@pytest.mark.rabbitmq
def test_a_delivery_waits_for_at_most_one_tick_however_slow_the_ticks(rabbit_url: str, unique: str) -> None:
    """Ticks of 0.2 s offered every 0.02 s for a second: a message published then is handled after at
    most the tick running and the one waiting — without the gate ~40 ticks were queued before it."""
    bus = bus_settings(rabbit_url, unique)
    consumer = RabbitBus(bus, service="tickgate")
    service = Slow(Deps(consumer, EmbeddedKnowledgeBase(), SimClock(T0), ArcaSettings(bus=bus)))
    service.tick_s = 0.2
    service.attach()
    producer = RabbitBus(bus, service="test")
    queue = f"{bus.queue_prefix}{service.name}"
    producer.declare(queue, list(Slow.patterns))
    producer.start()
    consumer.start()
    stop = threading.Event()
    gate = TickGate(service, service.clock)

    def ticker() -> None:
        while not stop.wait(0.02):
            gate.offer(consumer.call_soon_threadsafe)

    thread = threading.Thread(target=ticker, daemon=True)
    before = skipped(service.name)
    try:
        thread.start()
        time.sleep(1.0)
        producer.publish(Observation(event_time=T0, producer="test", system="s", metric="cpu_util", value=0.5,
                                     message_id="the-one"))
        producer.flush()
        delivered(rabbit_url, queue)  # on the consumer's delivery queue now, behind what was posted
        ticks_before = service.ran.count("tick") if "handle:the-one" not in service.ran else None
        wait_for(lambda: "handle:the-one" in service.ran, timeout=30, what="the observation handled")
    finally:
        stop.set()
        thread.join(5)
        for b in (producer, consumer):
            b.stop()
    at = service.ran.index("handle:the-one")
    if ticks_before is not None:  # the tick running then (counted) and at most the one waiting
        assert service.ran[:at].count("tick") - ticks_before <= 1, service.ran
    assert service.ran[:at].count("tick") <= 1.0 / 0.2 + 4, service.ran  # ~1.3 s of 0.2 s ticks
    assert skipped(service.name) - before >= 20  # ~50 offers a second, ~5 ticks run
