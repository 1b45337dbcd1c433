"""Acceptance: observation -> situation -> decision -> enforcement through four stub services.

The same test runs on the in-process bus with the embedded store and on the real RabbitMQ broker
with the real Oxigraph server (SPARQL 1.1 Protocol client); every hop keeps the correlation id and
stores what it received in the knowledge base.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from spine_helpers import bus_settings, wait_for

from arca.app.settings import ArcaSettings, KbSettings
from arca.bus import Bus, InMemoryBus
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.kb.messages import load_messages, store_message
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Decision, Enforcement, Message, Observation, Situation
from arca.service import Deps, Service

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Analyzer(Service):
    name = "analyzer"
    patterns = ("observation.#", "enforcement.#")

    def handle(self, message: Message) -> None:
        store_message(self.kb, message)
        if isinstance(message, Observation):
            self.bus.publish(Situation(event_time=message.event_time, **message.follow(),
                                       system=message.system, servants_active=2,
                                       average_load=message.value, trigger=message.message_id))


class Decider(Service):
    name = "decider"
    patterns = ("situation.#",)

    def handle(self, message: Message) -> None:
        store_message(self.kb, message)
        assert isinstance(message, Situation)
        self.bus.publish(Decision(event_time=message.event_time, **message.follow(), system=message.system,
                                  strategy="stub", target_servants=3, reason="load above 70 %",
                                  rule="reactive", situation_id=message.message_id))


class Enforcer(Service):
    name = "enforcer"
    patterns = ("decision.#",)

    def handle(self, message: Message) -> None:
        store_message(self.kb, message)
        assert isinstance(message, Decision)
        self.bus.publish(Enforcement(
            event_time=message.event_time + timedelta(seconds=10), **message.follow(),
            system=message.system, action="scale_out", driver="stub", outcome="succeeded",
            desired_servants=message.target_servants, active_servants=message.target_servants,
            started_at=message.event_time, decision_id=message.message_id))


@dataclass
class World:
    """Buses and stores of the four parties, and how to read the shared store."""

    make_deps: Callable[[], Deps]
    collector_bus: Bus
    reader: KnowledgeBase
    cleanup: list[Callable[[], None]]


@pytest.fixture(params=["memory+embedded", pytest.param("rabbitmq+oxigraph",
                                                        marks=[pytest.mark.rabbitmq, pytest.mark.oxigraph])])
def world(request: pytest.FixtureRequest, unique: str) -> Iterator[World]:
    clock = SimClock(T0)
    cleanup: list[Callable[[], None]] = []
    if request.param == "memory+embedded":
        settings = ArcaSettings()
        bus = InMemoryBus()
        kb = EmbeddedKnowledgeBase()
        yield World(lambda: Deps(bus, kb, clock, settings), bus, kb, cleanup)
        return
    rabbit_url = request.getfixturevalue("rabbit_url")
    ox = request.getfixturevalue("oxigraph")
    kb_settings = KbSettings(kind="sparql", query_url=ox.query_url, update_url=ox.update_url,
                             store_url=ox.store_url)
    settings = ArcaSettings(bus=bus_settings(rabbit_url, unique), kb=kb_settings)

    def deps() -> Deps:
        b = RabbitBus(settings.bus)
        k = SparqlKnowledgeBase(settings.kb)
        cleanup.extend([b.stop, k.close])
        return Deps(b, k, clock, settings)

    collector = RabbitBus(settings.bus, service="collector")
    reader = SparqlKnowledgeBase(settings.kb)
    cleanup.extend([collector.stop, reader.close])
    yield World(deps, collector, reader, cleanup)
    for fn in reversed(cleanup):
        fn()


def test_a_stimulus_travels_the_loop_with_its_correlation_id(world: World) -> None:
    services = [cls(world.make_deps()) for cls in (Analyzer, Decider, Enforcer)]
    for s in services:
        s.attach()
    for s in services:
        s.bus.start()
    world.collector_bus.start()

    stimulus = Observation(event_time=T0, producer="collector", system="emergency", metric="cpu_util",
                           value=0.93, resource="srv-1")
    world.collector_bus.publish(stimulus)
    world.collector_bus.flush()

    def closed() -> bool:
        for s in services:
            s.bus.flush()
            s.kb.flush()
        return bool(load_messages(world.reader, Enforcement, "emergency"))

    wait_for(closed, timeout=30, what="the enforcement to come back to the analyzer")
    obs = load_messages(world.reader, Observation, "emergency")
    sit = load_messages(world.reader, Situation, "emergency")
    dec = load_messages(world.reader, Decision, "emergency")
    enf = load_messages(world.reader, Enforcement, "emergency")
    assert obs == [stimulus]
    assert [m.correlation_id for m in (*sit, *dec, *enf)] == [stimulus.correlation_id] * 3
    assert sit[0].trigger == stimulus.message_id
    assert dec[0].situation_id == sit[0].message_id
    assert enf[0].decision_id == dec[0].message_id and enf[0].desired_servants == 3
    assert len({stimulus.message_id, sit[0].message_id, dec[0].message_id, enf[0].message_id}) == 4
    assert world.reader.ask(
        "ASK { GRAPH ?g { ?m arca:correlationId $c ; a arca:Enforcement } }", c=stimulus.correlation_id)
