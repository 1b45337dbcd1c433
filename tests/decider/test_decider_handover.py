"""A decider that takes a system over (a replica, or itself restarted) rebuilds the system's incident
and anticipation state from the knowledge base, so its decisions go on where the other's left off."""

from __future__ import annotations

import time
from typing import Any

import pytest
from decider_helpers import at, situation, trained
from test_decider_service import World, apply

from arca.app.settings import ArcaSettings
from arca.bus.memory import InMemoryBus
from arca.decider import handover
from arca.decider.anticipator import Anticipator
from arca.decider.fallback import FallbackState
from arca.decider.loop import Anticipation, ArcaState
from arca.decider.samples import store_sample
from arca.decider.velocity import VelocityState
from arca.kb import EmbeddedKnowledgeBase, Row


def test_the_state_codec_round_trips_every_field_but_the_anticipator() -> None:
    state = ArcaState(
        anticipator=trained(), current=4,
        anticipations=(Anticipation("inc-1", 3, at(0), at(1), peak=4.5, last=4.0, learned_ids=("a", "b")),),
        expired=frozenset({("inc-0", 2)}), last_load_time=at(5), correction=3, last_scale_out=at(6))
    velocity = VelocityState(current=3, changes=((at(2), 1),))
    text = handover.encode("arca", state, velocity, FallbackState(last_good=2, active=True), None)
    saved = handover.decode(text, at(7))
    restored = handover.load(ArcaState(), saved.state)
    assert restored == ArcaState(**{**state.__dict__, "anticipator": restored.anticipator})
    assert isinstance(restored.anticipator, Anticipator) and len(restored.anticipator) == 0
    assert saved.velocity == velocity and saved.fallback == FallbackState(last_good=2, active=True)
    assert handover.encode("arca", restored, velocity, saved.fallback, None) == text


def _targets(persist: bool, standby: bool = False) -> tuple[list[int], list[int]]:
    """(targets of a decider that kept the system, targets of one that took it over at 15 s;
    ``standby``: as a replica that became its queue's active consumer, reading the store once after
    its barrier for every system it takes over)."""
    kb = _CountingKb() if standby else EmbeddedKnowledgeBase()
    settings = ArcaSettings()
    settings.decider.persist_state = persist
    first = World(kb, settings)
    apply(kb)
    for s in trained().samples:
        store_sample(kb, "emergency", s)
    kb.flush()
    a = first.start()
    first.bus.publish(situation(0, trigger="event", severity=3, onset=0))
    for t in range(1, 14):
        a.tick(at(t))
    # a telemetry round the load does not confirm while 6 servants are anticipated: the incident's
    # anticipation ends (back to 1, not anticipated again while it is reported)
    quiet = situation(14, severity=3, onset=0, demand=0.5, load=0.2, discard=0.0)
    first.bus.publish(quiet)
    kb.flush()
    second = World(kb, settings, bus=_ActivatedBus() if standby else None)
    b = second.start()
    # then the detector repeats the incident (an event situation, no telemetry round)
    later = situation(15, trigger="event", severity=3, onset=0)
    kept, taken = [], []
    for world, service, out in ((second, b, taken), (first, a, kept)):  # b reads the state first
        world.bus.publish(later.model_copy())
        for t in range(16, 60):
            service.tick(at(t))
        out.extend(d.target_servants for d in world.decisions if d.event_time >= later.event_time)
    return kept, taken


@pytest.mark.parametrize("standby", [False, True], ids=["read-per-system", "read-once-after-barrier"])
def test_a_decider_taking_a_system_over_decides_as_the_one_that_kept_it(standby: bool) -> None:
    kept, taken = _targets(persist=True, standby=standby)
    assert taken and taken == kept[:len(taken)], (kept, taken)
    assert max(taken) == 1  # the incident the load did not confirm stays ended


@pytest.mark.parametrize("standby", [False, True], ids=["read-per-system", "read-once-after-barrier"])
def test_without_the_saved_state_the_decisions_jump(standby: bool) -> None:
    """The reference: the same takeover with nothing saved re-anticipates the incident (a jump)."""
    kept, taken = _targets(persist=False, standby=standby)
    assert max(taken) > max(kept), (kept, taken)


class _CountingKb(EmbeddedKnowledgeBase):
    """The embedded store with a barrier that only counts (the wait itself is the durable writer's,
    tested in tests/spine/test_spine_durability.py), and its queries counted."""

    barriers = 0
    queries = 0

    def barrier(self, timeout: float = 30.0) -> None:
        self.barriers += 1

    def query(self, template: str, **bindings: Any) -> list[Row]:
        self.queries += 1
        return super().query(template, **bindings)


class _ActivatedBus(InMemoryBus):
    """The in-process bus as a replica's that became its queue's active consumer once."""

    def consumer_activations(self) -> int:
        return 1


@pytest.mark.rabbitmq
def test_a_takeover_waits_for_a_predecessors_writes_once_per_queue_activation(rabbit_url: str,
                                                                             unique: str) -> None:
    """Every system of a queue is covered by one wait: a predecessor queued its writes before this
    replica got the queue's first delivery. A new channel (a reconnection) is a new activation."""
    from arca.bus.rabbitmq import RabbitBus
    from arca.clock import SimClock
    from arca.decider.service import DeciderService
    from arca.service import Deps
    from tests.spine.spine_helpers import bus_settings, wait_for

    settings = ArcaSettings()
    settings.bus = bus_settings(rabbit_url, unique, shards=1)  # one single-active-consumer shard queue
    bus = RabbitBus(settings.bus, service="decider")
    kb = _CountingKb()
    apply(kb)
    decider = DeciderService(Deps(bus, kb, SimClock(at(0)), settings))
    decider.attach()
    bus.start()
    try:
        for wave in range(3):  # systems first seen over more than two seconds, one activation
            for i in range(wave * 4, wave * 4 + 4):
                bus.publish(situation(1, system=f"sys-{i}"))
            wait_for(lambda n=wave * 4 + 4: len(decider._owned) == n, what="the wave taken over")  # type: ignore[misc]
            if wave == 0:
                queries = kb.queries
            time.sleep(1.1)
        assert kb.barriers == bus.consumer_activations() == 1  # one wait covered twelve systems
        assert kb.queries == queries  # and one read of the store after it: none per later system
        bus._threadsafe(lambda: bus._channel.close())  # type: ignore[union-attr]  # the channel dies
        wait_for(lambda: not decider._owned, what="ownership forgotten on the new channel")
        for i in range(4):
            bus.publish(situation(2, system=f"sys-{i}"))
        wait_for(lambda: len(decider._owned) == 4, what="systems taken over again")
        assert kb.barriers == bus.consumer_activations() == 2  # another replica may have had it meanwhile
    finally:
        bus.stop()
