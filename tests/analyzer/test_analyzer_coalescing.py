"""A burst of events for one system becomes one situation on the latest state (issue 15, item 1).

On a real RabbitMQ backlog: while another event for the same system waits in the analyzer's
window, the system's situation is left to that later event; every event is still stored and
counted, other systems are not held back, and a later event that is refused does not swallow the
situation of the one before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from arca.analyzer.service import AnalyzerService
from arca.analyzer.settings import AnalyzerSettings
from arca.app.settings import ArcaSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.kb import EmbeddedKnowledgeBase
from arca.kb.messages import load_messages
from arca.kb.terms import arca_iri
from arca.messages import ExternalEvent, Message, Observation, Situation
from arca.policy import policy_graph
from arca.service import Deps
from tests.spine.spine_helpers import bus_settings, delivered, wait_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def event(i: int, *, system: str | None = None, source: str = "seismo-1") -> ExternalEvent:
    t = T0 + timedelta(seconds=i)
    return ExternalEvent(event_time=t, event_id=f"e{i}", source=source, onset=t, payload_kind="basic",
                         severity=1 + i % 4, domain="building-2", system=system)


def coalesced(system: str) -> float:
    return REGISTRY.get_sample_value("arca_event_situations_coalesced_total", {"system": system}) or 0.0


def run_backlog(rabbit_url: str, unique: str, backlog: list[ExternalEvent], trust: str = "",
                want: int = 1, trusted: str = "seismo-1",
                analyzer: AnalyzerSettings | None = None) -> tuple[list[Situation], EmbeddedKnowledgeBase]:
    """Queue ``backlog`` for the analyzer before it consumes; the event situations it publishes."""
    bus = bus_settings(rabbit_url, unique)
    settings = ArcaSettings(bus=bus, analyzer=analyzer or AnalyzerSettings())
    kb = EmbeddedKnowledgeBase()
    for system in ("emergency", "other"):
        kb.replace_graph(HEAD + f'<urn:p-{system}> a arca:Policy ; arca:system "{system}" ; '
                         'arca:listensToSource "seismo-1" .', policy_graph(system))
    if trust:
        kb.load_turtle(HEAD + trust, arca_iri("graph/trust", trusted))
    queue = f"{bus.queue_prefix}analyzer"
    producer = RabbitBus(bus, service="test")
    producer.declare(queue, list(AnalyzerService.patterns))
    producer.start()
    for m in backlog:
        producer.publish(m)
    producer.flush()
    producer.stop()

    out: list[Situation] = []
    got = threading.Event()

    def collect(m: Message) -> None:
        assert isinstance(m, Situation)
        out.append(m)
        if len(out) >= want:
            got.set()

    listener = RabbitBus(bus, service="test-listener")
    listener.subscribe(f"{bus.queue_prefix}out", ["situation.#"], collect)
    listener.start()
    consumer = RabbitBus(bus, service="analyzer")
    analyzer = AnalyzerService(Deps(consumer, kb, SimClock(T0), settings))
    analyzer.attach()
    consumer.call_soon_threadsafe(lambda: time.sleep(0.8))  # the whole backlog is in the window
    consumer.start()
    try:
        assert got.wait(30), f"{len(out)} situations of {want}"
        time.sleep(0.5)  # anything published beyond what was expected arrives too
    finally:
        consumer.stop()
        listener.stop()
    return out, kb


@dataclass
class Live:
    """An analyzer consuming its queue on the real broker (not started: the test starts it), a
    producer on that queue, and the situations it published."""

    analyzer: AnalyzerService
    consumer: RabbitBus
    producer: RabbitBus
    queue: str
    out: list[Situation]


@contextmanager
def live_analyzer(rabbit_url: str, unique: str, systems: Sequence[str], trust: str = "") -> Iterator[Live]:
    """``Live`` for a policy per system of ``systems`` (and a ``SourceTrust`` in Turtle); every bus
    stopped on leaving."""
    bus = bus_settings(rabbit_url, unique)
    kb = EmbeddedKnowledgeBase()
    for system in systems:
        kb.replace_graph(HEAD + f'<urn:p-{system}> a arca:Policy ; arca:system "{system}" .',
                         policy_graph(system))
    if trust:
        kb.load_turtle(HEAD + trust, arca_iri("graph/trust", "test"))
    out: list[Situation] = []
    listener = RabbitBus(bus, service="test-listener")
    listener.subscribe(f"{bus.queue_prefix}out", ["situation.#"], lambda m: out.append(m))  # type: ignore[arg-type]
    listener.start()
    consumer = RabbitBus(bus, service="analyzer")
    analyzer = AnalyzerService(Deps(consumer, kb, SimClock(T0), ArcaSettings(bus=bus)))
    analyzer.attach()
    producer = RabbitBus(bus, service="test")
    queue = f"{bus.queue_prefix}analyzer"
    producer.declare(queue, list(AnalyzerService.patterns))
    producer.start()
    try:
        yield Live(analyzer, consumer, producer, queue, out)
    finally:
        for b in (producer, consumer, listener):
            b.stop()


@pytest.mark.rabbitmq
def test_a_burst_for_one_system_is_one_situation_with_every_incident(rabbit_url: str, unique: str) -> None:
    burst = [event(i, system="emergency") for i in range(20)]
    lone = event(100, system="other")
    before = coalesced("emergency")
    out, kb = run_backlog(rabbit_url, unique, [*burst[:10], lone, *burst[10:]], want=2)
    mine = [s for s in out if s.system == "emergency"]
    assert len(mine) == 1, [s.correlation_id for s in mine]
    (situation,) = mine
    assert situation.trigger == "event"
    assert situation.correlation_id == burst[-1].correlation_id  # the latest event's
    assert sorted(i.incident_id for i in situation.incidents) == sorted(e.event_id for e in burst)
    assert [s.correlation_id for s in out if s.system == "other"] == [lone.correlation_id]
    assert coalesced("emergency") - before == 19
    stored = {e.event_id for e in load_messages(kb, ExternalEvent, limit=100)}
    assert stored == {e.event_id for e in [*burst, lone]}, "every event is recorded"


@pytest.mark.rabbitmq
def test_round_robin_events_are_one_situation_per_system_even_when_the_last_is_refused(
        rabbit_url: str, unique: str) -> None:
    """Each system's situation is left to its next event in the window, and published on its last
    one; when that next event is refused, the situation is published on the event before it."""
    trust = ('[] a arca:SourceTrust ; arca:forSource "flood-1" ; arca:eventLimit 1 ; '
             'arca:eventWindowSeconds 60 .')
    rr = [event(i, system=("emergency", "other")[i % 2]) for i in range(16)]
    taken = event(20, system="other", source="flood-1")
    refused = event(21, system="emergency", source="flood-1")
    out, kb = run_backlog(rabbit_url, unique, [*rr, taken, refused], trust=trust, want=2,
                          trusted="flood-1")
    assert sorted((s.system, s.correlation_id) for s in out) == [
        ("emergency", rr[14].correlation_id), ("other", taken.correlation_id)]
    by_system = {s.system: sorted(i.incident_id for i in s.incidents) for s in out}
    assert by_system == {"emergency": sorted(f"e{i}" for i in range(0, 16, 2)),
                         "other": sorted([*(f"e{i}" for i in range(1, 16, 2)), "e20"])}
    stored = {e.event_id for e in load_messages(kb, ExternalEvent, limit=100)}
    assert stored == {e.event_id for e in [*rr, taken]}, "every accepted event is recorded"


@pytest.mark.rabbitmq
def test_a_refused_later_event_does_not_swallow_the_situation_before_it(rabbit_url: str,
                                                                         unique: str) -> None:
    # the source may have one event per minute: e1 is taken, e2 (waiting behind it) is refused
    trust = ('[] a arca:SourceTrust ; arca:forSource "seismo-1" ; arca:eventLimit 1 ; '
             'arca:eventWindowSeconds 60 .')
    first, refused = event(1), event(2)
    out, _kb = run_backlog(rabbit_url, unique, [first, refused], trust=trust, want=2)
    assert sorted((s.system, s.correlation_id) for s in out) == [
        ("emergency", first.correlation_id), ("other", first.correlation_id)]
    assert [[i.incident_id for i in s.incidents] for s in out] == [["e1"], ["e1"]]


@pytest.mark.rabbitmq
def test_without_a_backlog_every_event_gets_its_situation(rabbit_url: str, unique: str) -> None:
    """Events apart in time (nothing waiting behind them) are not held back."""
    bus = bus_settings(rabbit_url, unique)
    kb = EmbeddedKnowledgeBase()
    kb.replace_graph(HEAD + '<urn:p> a arca:Policy ; arca:system "emergency" .', policy_graph("emergency"))
    out: list[Situation] = []
    listener = RabbitBus(bus, service="test-listener")
    listener.subscribe(f"{bus.queue_prefix}out", ["situation.#"], lambda m: out.append(m))  # type: ignore[arg-type]
    listener.start()
    consumer = RabbitBus(bus, service="analyzer")
    AnalyzerService(Deps(consumer, kb, SimClock(T0), ArcaSettings(bus=bus))).attach()
    consumer.start()
    producer = RabbitBus(bus, service="test")
    producer.start()
    try:
        for i in range(3):
            producer.publish(event(i, system="emergency"))
            producer.flush()
            wait_for(lambda n=i: len(out) == n + 1, what=f"situation {i + 1}")
    finally:
        for b in (producer, consumer, listener):
            b.stop()
    assert [len(s.incidents) for s in out] == [1, 2, 3]


@pytest.mark.rabbitmq
def test_an_event_does_not_wait_behind_a_whole_tick_of_routine_situations(rabbit_url: str,
                                                                         unique: str) -> None:
    """A tick with 30 new telemetry rounds publishes them TICK_CHUNK at a time; an event that
    arrived meanwhile gets its situation after the first chunk, not after all 30."""
    from arca.analyzer.service import TICK_CHUNK

    systems = [f"s{k:02d}" for k in range(30)]
    with live_analyzer(rabbit_url, unique, systems) as live:
        gate = threading.Event()
        live.consumer.call_soon_threadsafe(lambda: gate.wait(60) and None)  # what follows queues up meanwhile
        live.consumer.start()
        for system in systems:
            live.producer.publish(Observation(event_time=T0, system=system, metric="cpu_util", value=0.5,
                                              resource=f"{system}-a"))
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        live.consumer.call_soon_threadsafe(lambda: live.analyzer.run_tick(T0 + timedelta(seconds=10)))
        live.producer.publish(event(50, system="s29"))
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        gate.set()
        wait_for(lambda: len(live.out) == len(systems) + 1, what="30 telemetry situations and the event's")
    out = live.out
    triggers = [s.trigger for s in out]
    assert triggers.index("event") == TICK_CHUNK, triggers
    assert sorted(s.system for s in out if s.trigger == "telemetry") == systems  # each round once


@pytest.mark.rabbitmq
def test_a_burst_of_events_naming_no_system_is_one_situation_per_listening_system(rabbit_url: str,
                                                                                  unique: str) -> None:
    """Events that name no system concern every system whose policy listens to their source: the
    later ones waiting in the window are matched by that rule, not only by a named system."""
    burst = [event(i) for i in range(10)]
    before = coalesced("emergency"), coalesced("other")
    out, _kb = run_backlog(rabbit_url, unique, burst, want=2)
    assert sorted((s.system, s.correlation_id) for s in out) == [
        ("emergency", burst[-1].correlation_id), ("other", burst[-1].correlation_id)]
    assert (coalesced("emergency") - before[0], coalesced("other") - before[1]) == (9, 9)


@pytest.mark.rabbitmq
def test_a_tick_inside_a_burst_leaves_each_system_to_its_waiting_events(rabbit_url: str, unique: str) -> None:
    """A tick that runs while later events of a system wait in the window publishes neither that
    system's event situation nor its telemetry round early (it published both, on every tick of a
    burst); the round is published on a later tick."""
    at_tick: list[set[str]] = []
    first = [event(i, system="emergency") for i in range(5)]
    lone = event(30, system="other")
    later = [event(i, system="emergency") for i in range(5, 10)]
    with live_analyzer(rabbit_url, unique, ("emergency", "other")) as live:
        analyzer, out = live.analyzer, live.out

        def tick(seconds: float) -> None:
            at_tick.append(set(analyzer.unpublished))
            analyzer.run_tick(T0 + timedelta(seconds=seconds))

        gate = threading.Event()
        live.consumer.call_soon_threadsafe(lambda: gate.wait(60) and None)  # what follows queues up meanwhile
        live.consumer.start()
        live.producer.publish(Observation(event_time=T0, system="emergency", metric="cpu_util", value=0.5,
                                          resource="emergency-a"))
        for m in [*first, lone]:
            live.producer.publish(m)
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        live.consumer.call_soon_threadsafe(lambda: tick(10))  # runs once the first part is handled
        for m in later:
            live.producer.publish(m)
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        gate.set()
        wait_for(lambda: {s.system for s in out} == {"emergency", "other"}, what="both situations")
        time.sleep(0.5)  # anything published beyond them arrives too
        burst = list(out)
        live.consumer.call_soon_threadsafe(lambda: tick(20))  # nothing waits now: the round goes out
        wait_for(lambda: any(s.trigger == "telemetry" for s in out), what="the deferred round")
    assert "emergency" in at_tick[0], "the tick ran with the first part handled and the rest waiting"
    mine = [(s.trigger, s.correlation_id) for s in burst if s.system == "emergency"]
    assert mine == [("event", later[-1].correlation_id)], mine
    assert [s.correlation_id for s in burst if s.system == "other"] == [lone.correlation_id]
    assert len(burst[[s.system for s in burst].index("emergency")].incidents) == 10
    assert [(s.system, s.trigger) for s in out[len(burst):]] == [("emergency", "telemetry")]


@pytest.mark.rabbitmq
def test_in_a_burst_a_system_waits_for_the_end_of_the_batch_for_its_next_event(rabbit_url: str,
                                                                                unique: str) -> None:
    """At a burst's start a system's next event may not have arrived yet while other events wait: its
    situation is looked at again once the deliveries received so far are handled, and left to the
    next event that came meanwhile (it was published at once: one situation more per system)."""
    first, others, nxt = event(0, system="emergency"), [event(1, system="other"), event(2, system="other")], \
        event(3, system="emergency")
    with live_analyzer(rabbit_url, unique, ("emergency", "other")) as live:
        out = live.out
        start, pause = threading.Event(), threading.Event()
        live.consumer.call_soon_threadsafe(lambda: start.wait(60) and None)  # the rest queues up meanwhile
        live.consumer.start()
        live.producer.publish(first)
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        live.consumer.call_soon_threadsafe(lambda: pause.wait(60) and None)  # runs once `first` is handled
        for m in others:
            live.producer.publish(m)
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        start.set()  # `first` is handled with the others waiting, then the delivery thread pauses
        time.sleep(0.5)
        assert out == [], "nothing published while the batch is not over"
        live.producer.publish(nxt)  # emergency's next event comes while the batch is not over
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        pause.set()
        wait_for(lambda: {s.system for s in out} == {"emergency", "other"}, what="both situations")
        time.sleep(0.5)  # anything published beyond them arrives too
    # the batch's end publishes what nothing waiting will, before the next event is handled
    assert [(s.system, s.correlation_id) for s in out] == [
        ("other", others[-1].correlation_id), ("emergency", nxt.correlation_id)]
    mine = next(s for s in out if s.system == "emergency")
    assert sorted(i.incident_id for i in mine.incidents) == ["e0", "e3"]


@pytest.mark.rabbitmq
def test_a_refused_flood_waiting_behind_an_event_does_not_make_it_wait_for_the_batch(
        rabbit_url: str, unique: str) -> None:
    """Events the rate limit will refuse are no burst to wait for: an event followed only by them
    gets its situation at once, not once they are handled."""
    trust = ('[] a arca:SourceTrust ; arca:forSource "flood-1" ; arca:eventLimit 1 ; '
             'arca:eventWindowSeconds 60 .')
    taken = event(0, system="other", source="flood-1")
    genuine = event(1, system="emergency")
    flood = [event(i, system="other", source="flood-1") for i in range(2, 6)]
    with live_analyzer(rabbit_url, unique, ("emergency", "other"), trust) as live:
        start, pause = threading.Event(), threading.Event()
        live.consumer.call_soon_threadsafe(lambda: start.wait(60) and None)  # the rest queues up meanwhile
        live.consumer.start()
        for m in (taken, genuine):
            live.producer.publish(m)
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        live.consumer.call_soon_threadsafe(lambda: pause.wait(60) and None)  # runs once both are handled
        for m in flood:
            live.producer.publish(m)
        live.producer.flush()
        delivered(rabbit_url, live.queue)
        start.set()  # `genuine` is handled with the refused flood waiting, then the thread pauses
        try:
            wait_for(lambda: any(s.system == "emergency" for s in live.out), timeout=5,
                     what="the genuine event's situation while the flood still waits")
        finally:
            pause.set()
    assert [s.correlation_id for s in live.out if s.system == "emergency"] == [genuine.correlation_id]


@pytest.mark.rabbitmq
def test_a_flood_for_one_system_still_gives_it_a_situation_every_coalesce_max_events(
        rabbit_url: str, unique: str) -> None:
    """A source with no rate limit floods one system: its situation is left to the next event at most
    ``coalesce_max_events`` (100) times in a row, so a genuine event inside the flood (the 51st) is in
    the situation of the 100th event, not held until the 250th. Without the bound: one situation."""
    flood = [event(i, system="emergency", source="flood") for i in range(250)]
    genuine = event(50, system="emergency")
    backlog = [*flood[:50], genuine, *flood[50:]]
    out, _ = run_backlog(rabbit_url, unique, backlog, want=3)
    mine = [s for s in out if s.system == "emergency"]
    # the situation of every 100th look (events 100 and 200 of the backlog), then the last event's
    assert [s.correlation_id for s in mine] == [backlog[99].correlation_id, backlog[199].correlation_id,
                                                backlog[-1].correlation_id]
    assert genuine.event_id in {i.incident_id for i in mine[0].incidents}


@pytest.mark.rabbitmq
def test_coalesce_max_events_1_leaves_no_situation_to_a_later_event(rabbit_url: str, unique: str) -> None:
    burst = [event(i, system="emergency") for i in range(5)]
    out, _ = run_backlog(rabbit_url, unique, burst, want=5, analyzer=AnalyzerSettings(coalesce_max_events=1))
    assert [s.correlation_id for s in out if s.system == "emergency"] == [e.correlation_id for e in burst]
