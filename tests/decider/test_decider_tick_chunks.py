"""The decider's tick re-decides every system TICK_CHUNK at a time, on the real broker: an event's
situation that arrives during a tick is decided after the first chunk, not after every system."""

from __future__ import annotations

import threading

import pytest

from arca.app.settings import ArcaSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.decider.policy import policy_graph
from arca.decider.service import DeciderService
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, Situation
from arca.service import TICK_CHUNK, Deps
from tests.decider.decider_helpers import at, situation, wait_for
from tests.spine.spine_helpers import bus_settings, delivered

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


@pytest.mark.rabbitmq
def test_an_event_situation_does_not_wait_behind_a_whole_tick(rabbit_url: str, unique: str) -> None:
    bus = bus_settings(rabbit_url, unique)
    systems = [f"s{k:02d}" for k in range(30)]
    kb = EmbeddedKnowledgeBase()
    for system in systems:
        kb.replace_graph(HEAD + f'<urn:p-{system}> a arca:Policy ; arca:system "{system}" ; '
                         'arca:strategy "threshold" .', policy_graph(system))
    consumer = RabbitBus(bus, service="decider")
    decider = DeciderService(Deps(consumer, kb, SimClock(at(0)), ArcaSettings(bus=bus)))
    order: list[tuple[str, bool]] = []  # (system, on a situation) in the order decide ran
    decide = decider.decide

    def recorded(s: Situation, now: object, *, force: bool) -> Decision | None:
        order.append((s.system, force))
        return decide(s, now, force=force)  # type: ignore[arg-type]

    decider.decide = recorded  # type: ignore[method-assign]
    decider.attach()
    decisions: list[Decision] = []
    listener = RabbitBus(bus, service="test-listener")
    listener.subscribe(f"{bus.queue_prefix}out", ["decision.#"],
                       lambda m: decisions.append(m) if isinstance(m, Decision) else None)
    producer = RabbitBus(bus, service="test")
    queue = f"{bus.queue_prefix}decider"
    producer.declare(queue, list(DeciderService.patterns))
    listener.start()
    producer.start()
    consumer.start()
    try:
        for system in systems:  # every system has a last situation to re-decide on ticks
            producer.publish(situation(1, system=system))
        producer.flush()
        wait_for(lambda: len(order) == len(systems), what="30 situations decided")
        order.clear()
        gate = threading.Event()
        consumer.call_soon_threadsafe(lambda: gate.wait(60) and None)  # what follows queues up meanwhile
        consumer.call_soon_threadsafe(lambda: decider.run_tick(at(5)))
        event = situation(4, system="s29", severity=3, onset=3, trigger="event")
        producer.publish(event)
        producer.flush()
        delivered(rabbit_url, queue)
        gate.set()
        wait_for(lambda: len(order) == len(systems) + 1, what="a tick over 30 systems and the event's")
        wait_for(lambda: any(d.correlation_id == event.correlation_id for d in decisions),
                 what="the event's decision")
    finally:
        for b in (producer, consumer, listener):
            b.stop()
    assert order.index(("s29", True)) == TICK_CHUNK, order
    assert sorted(s for s, on_situation in order if not on_situation) == systems  # each system once
