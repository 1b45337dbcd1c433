"""Events first, superseded deliveries folded: the choice (pure, table-tested) and the RabbitMQ bus
applying it to a real backlog while still acknowledging every delivery."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pika
import pytest
from hypothesis import given
from hypothesis import strategies as st

from arca.analyzer.service import urgency as analyzer_urgency
from arca.bus.order import FIFO, DeliveryOrder, Planner, Slot, plan
from arca.bus.rabbitmq import RabbitBus
from arca.decider.service import DeciderService
from arca.messages import ExternalEvent, Message, Observation, PolicyUpdated, Situation
from tests.spine.spine_helpers import bus_settings, wait_for

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DECIDER = DeciderService.delivery_order


def sit(system: str, trigger: str, second: int) -> Situation:
    return Situation(event_time=T0 + timedelta(seconds=second), producer="analyzer", system=system,
                     servants_active=2, average_load=0.5, trigger=trigger)


def policy() -> PolicyUpdated:
    return PolicyUpdated(event_time=T0, producer="arca-cli", system="a", policy="urn:p")


def slots(*items: tuple[Message | None, bool]) -> list[Slot]:
    return [Slot(m, done) for m, done in items]


A1, A2, A3 = (sit("a", "telemetry", s) for s in (1, 2, 3))
B1 = sit("b", "telemetry", 1)
EA1, EA2, EA3 = (sit("a", "event", s) for s in (1, 2, 3))
EC = sit("c", "event", 3)

PLANS = {  # window (message, done) in arrival order -> (next, superseded)
    "fifo-without-order": (FIFO, [(A1, False), (EC, False)], (0, [])),
    "fifo-skips-done": (FIFO, [(A1, True), (A2, False), (EC, False)], (1, [])),
    "fifo-undecodable-later-first": (FIFO, [(A1, False), (A2, False), (None, False), (None, False)], (2, [])),
    "fifo-undecodable-done-ignored": (FIFO, [(A1, True), (None, True), (A2, False)], (2, [])),
    "fifo-undecodable-ahead": (FIFO, [(None, False), (A1, False)], (0, [])),
    "fifo-all-done": (FIFO, [(A1, True), (None, True)], (None, [])),
    "fifo-empty": (FIFO, [], (None, [])),
    "fifo-never-folds": (FIFO, [(EA1, False), (EA2, False)], (0, [])),
    "event-situation-jumps-telemetry": (DECIDER, [(A1, False), (B1, False), (EC, False)], (2, [])),
    "telemetry-folds-into-newer-telemetry": (DECIDER, [(A1, False), (A2, False)], (1, [0])),
    "telemetry-folds-into-newer-event": (DECIDER, [(A1, False), (EA2, False)], (1, [0])),
    "event-not-folded-into-newer-telemetry": (DECIDER, [(EA1, False), (A2, False)], (0, [])),
    "event-burst-folds-to-the-latest-event": (
        DECIDER, [(EA1, False), (EA2, False), (EA3, False)], (2, [0, 1])),
    "other-systems-not-folded": (DECIDER, [(A1, False), (B1, False)], (0, [])),
    "older-telemetry-after-its-newer-one-was-handled": (DECIDER, [(A1, False), (EA2, True)], (None, [0])),
    "handled-older-does-not-cover-newer": (DECIDER, [(A1, True), (A2, False)], (1, [])),
    "undecodable-first": (DECIDER, [(EC, False), (None, False)], (1, [])),
    "undecodable-before-an-event": (DECIDER, [(None, False), (EC, False)], (0, [])),
    "policy-before-events": (DECIDER, [(EC, False), (policy(), False)], (1, [])),
    "nothing-left": (DECIDER, [(A1, True), (EC, True)], (None, [])),
    "empty-window": (DECIDER, [], (None, [])),
}


@pytest.mark.parametrize(("order", "window", "want"), PLANS.values(), ids=PLANS.keys())
def test_plan(order: object, window: list[tuple[Message | None, bool]], want: object) -> None:
    assert plan(slots(*window), order) == want  # type: ignore[arg-type]


def _event() -> ExternalEvent:
    return ExternalEvent(event_time=T0, producer="collector", event_id="e1", source="seismo",
                         onset=T0, payload_kind="bigdata", severity=3)


def _obs() -> Observation:
    return Observation(event_time=T0, producer="collector", system="a", metric="cpu_util", value=0.5)


ANALYZER = {"policy": (policy(), -1), "event": (_event(), 0), "observation": (_obs(), 1),
            "situation": (A1, 1)}


@pytest.mark.parametrize(("message", "want"), ANALYZER.values(), ids=ANALYZER.keys())
def test_analyzer_urgency(message: Message, want: int) -> None:
    assert analyzer_urgency(message) == want


@pytest.mark.rabbitmq
def test_rabbit_backlog_is_handled_event_first_and_folded_and_every_delivery_acked(
        rabbit_url: str, unique: str) -> None:
    settings = bus_settings(rabbit_url, unique)
    queue = f"{settings.queue_prefix}decider"
    backlog = [A1, B1, A2, sit("b", "telemetry", 2), A3, EC]  # the analyzer's ticks, then an event
    producer = RabbitBus(settings, service="test")
    producer.declare(queue, ["situation.#"])
    producer.start()
    for m in backlog:
        producer.publish(m)
    producer.flush()
    producer.stop()

    handled: list[Situation] = []
    done = threading.Event()

    def handler(m: Message) -> None:
        assert isinstance(m, Situation)
        handled.append(m)
        if len(handled) == 3:
            done.set()

    consumer = RabbitBus(settings, service="decider")
    consumer.subscribe(queue, ["situation.#"], handler)
    consumer.set_order(queue, DECIDER)
    consumer.call_soon_threadsafe(lambda: time.sleep(0.8))  # the backlog arrives meanwhile
    consumer.start()
    try:
        assert done.wait(30)
        wait_for(lambda: consumer.stats.superseded == 3, what="three superseded deliveries")
        time.sleep(0.3)
        assert [(m.system, m.trigger, m.event_time) for m in handled] == [
            ("c", "event", EC.event_time),  # the event first
            ("b", "telemetry", T0 + timedelta(seconds=2)),  # then the latest state of each system
            ("a", "telemetry", A3.event_time),
        ]
    finally:
        consumer.stop()
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    try:
        left = conn.channel().queue_declare(queue, passive=True).method.message_count
        conn.channel().queue_delete(queue)
    finally:
        conn.close()
    assert left == 0, "every delivery, handled or superseded, was acknowledged"


def test_plan_asks_the_order_once_per_message_however_often_it_runs() -> None:
    calls: list[str] = []

    def urgency(m: Message) -> int:
        calls.append(m.message_id)
        return DECIDER.urgency(m)

    order = DeliveryOrder(urgency=urgency, folds_under=DECIDER.folds_under, covers=DECIDER.covers)
    window = slots((A1, False), (B1, False), (EC, False), (A2, False))
    handled = []
    for _ in range(4):  # as the bus does: plan, handle the pick, plan again on the same window
        nxt, superseded = plan(window, order)
        for i in superseded:
            window[i].done = True
        if nxt is None:
            break
        handled.append(window[nxt].message)
        window[nxt].done = True
    assert handled == [EC, B1, A2]  # the same choice as without the cache
    assert sorted(calls) == sorted(m.message_id for m in (A1, B1, EC, A2))
    calls.clear()
    other = DeliveryOrder(urgency=urgency)
    plan(window, other)  # another order is asked afresh, not served the first one's answers
    assert sorted(calls) == sorted(m.message_id for m in (A1, B1, EC, A2))


@given(st.lists(st.tuples(st.sampled_from([A1, A2, B1, EA1, EC, None]), st.booleans()), max_size=12))
def test_fifo_fast_path_chooses_as_the_general_plan(window: list[tuple[Message | None, bool]]) -> None:
    """``plan`` answers ``FIFO`` without walking the window from its end: the same answer as the
    general walk gives for an order that is FIFO by value but not the ``FIFO`` object."""
    assert plan(slots(*window), FIFO) == plan(slots(*window), DeliveryOrder())


ANALYZER_ORDER = DeliveryOrder(urgency=analyzer_urgency)
MESSAGES = [A1, A2, A3, B1, EA1, EA2, EA3, EC, policy(), _event(), _obs(), None]
ORDERS = {"decider": DECIDER, "analyzer": ANALYZER_ORDER, "fifo": FIFO}


@pytest.mark.parametrize("compact_every", [1024, 2], ids=["compaction-rare", "compaction-every-other"])
@pytest.mark.parametrize("order_name", ORDERS)
@given(script=st.lists(st.one_of(st.sampled_from(MESSAGES).map(lambda m: ("arrive", m)),
                                 st.just(("handle", None))), max_size=40))
def test_planner_chooses_as_plan_does(order_name: str, compact_every: int,
                                      script: list[tuple[str, Message | None]]) -> None:
    """The consumer's incremental planner against the pure ``plan`` over the same window, step by
    step: the same delivery handled next and the same ones superseded, whatever arrives when (an
    undecodable one, a covering one, a backlog), with its indexes compacted often or rarely."""
    order = ORDERS[order_name]
    reference: list[Slot] = []  # the window ``plan`` sees (nothing removed: settled ones are done)
    mine: list[Slot] = []
    planner = Planner(order, start=0)
    planner.COMPACT_EVERY = compact_every
    for op, message in script:
        if op == "arrive":
            reference.append(Slot(message))
            mine.append(Slot(message))
            continue
        want_next, want_superseded = plan(reference, order)
        superseded: list[int] = []
        while planner.next_arrival < len(mine):
            superseded += planner.add(mine[planner.next_arrival])
        for i in superseded:
            mine[i].done = True
        chosen = planner.choose()
        assert (chosen, sorted(superseded)) == (want_next, want_superseded)
        for i in want_superseded:
            reference[i].done = True
        if chosen is not None:
            reference[chosen].done = mine[chosen].done = True


def test_planner_holds_what_the_window_holds() -> None:
    """A long-lived consumer's planner does not keep every delivery it ever saw: after 5,000
    deliveries of ten systems handled as they come, its heap and fold index hold at most the pending
    ones plus one compaction period (keys no delivery covers would otherwise stay indexed forever)."""
    never_covered = DeliveryOrder(folds_under=lambda m: getattr(m, "system", None))  # keys no one covers
    planner = Planner(never_covered, start=0)
    slots_seen: list[Slot] = []
    for n in range(5000):
        slot = Slot(sit(f"s{n % 10}", "telemetry", n % 50))
        slots_seen.append(slot)
        for i in planner.add(slot):
            slots_seen[i].done = True
        chosen = planner.choose()
        assert chosen == n  # each handled as it comes: nothing waits
        slots_seen[chosen].done = True
    held = len(planner._heap) + sum(len(v) for v in planner._folded.values())
    assert held <= 2 * Planner.COMPACT_EVERY
    assert planner.choose() is None
