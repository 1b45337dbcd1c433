"""RabbitBus on the real broker: dead-lettering with reasons, poison messages, dedup, reconnect."""

from __future__ import annotations

import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from spine_helpers import bus_settings, wait_for

from arca import metrics
from arca.bus import REASON_HEADER, Reject
from arca.bus.rabbitmq import RabbitBus
from arca.messages import Message, Observation, encode
from arca.namespace import ARCA_NS

pytestmark = pytest.mark.rabbitmq
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
XSD = "http://www.w3.org/2001/XMLSchema#"


def obs(value: float = 0.5, metric: str = "cpu_util") -> Observation:
    return Observation(event_time=T0, system="emergency", metric=metric, value=value)


@pytest.fixture
def buses(rabbit_url: str, unique: str) -> Iterator[list[RabbitBus]]:
    made: list[RabbitBus] = []
    yield made
    for b in made:
        b.stop()


def make(buses: list[RabbitBus], rabbit_url: str, unique: str, **kw: object) -> RabbitBus:
    b = RabbitBus(bus_settings(rabbit_url, unique, **kw))
    buses.append(b)
    return b


def test_malformed_messages_are_dead_lettered_with_a_reason_and_service_keeps_going(
        buses: list[RabbitBus], rabbit_url: str, unique: str) -> None:
    bus = make(buses, rabbit_url, unique)
    got: list[Message] = []

    def handler(m: Message) -> None:
        if isinstance(m, Observation) and m.metric == "refuse-me":
            raise Reject("metric refuse-me is not allowed")
        got.append(m)

    q = f"t-{unique}.analyzer"
    bus.subscribe(q, ["observation.#"], handler)
    bus.start()
    good = obs()
    body = encode(good).decode()
    missing = "".join(line + "\n" for line in body.splitlines() if "#metric>" not in line)
    wrong_type = body.replace(f'"0.5"^^<{XSD}double>', f'"lots"^^<{XSD}string>')
    unknown = body.replace(f"{ARCA_NS}Observation", f"{ARCA_NS}Telepathy")
    rejected_before = metrics.MESSAGES_REJECTED.labels("analyzer", "syntax")._value.get()
    bus.publish_raw("observation.emergency", b"\x00\xffthis is not RDF")
    bus.publish_raw("observation.emergency", missing.encode())
    bus.publish_raw("observation.emergency", wrong_type.encode())
    bus.publish_raw("observation.emergency", unknown.encode())
    bus.publish(obs(metric="refuse-me"))
    bus.publish(good)
    bus.flush()
    wait_for(lambda: len(got) == 1, what="the good message")
    wait_for(lambda: len(bus.dead_letters(q)) == 5, what="five dead letters")
    dead = bus.dead_letters(q)
    reasons = [d.reason for d in dead]
    assert reasons[0].startswith("not N-Triples") or reasons[0].startswith("unreadable"), reasons[0]
    assert "arca:metric" in reasons[1] and "Observation" in reasons[1], reasons[1]
    assert "arca:value" in reasons[2] and "double" in reasons[2], reasons[2]
    assert "unknown message type" in reasons[3] and "Telepathy" in reasons[3], reasons[3]
    assert reasons[4] == "rejected: metric refuse-me is not allowed"
    assert dead[1].body == missing.encode()  # the original payload is kept
    assert all(d.queue == q and d.routing_key == "observation.emergency" for d in dead)
    assert got == [good]
    assert bus.dead_letters(q) == dead  # peeking is non-destructive
    assert bus.stats.dead_lettered == {"syntax": 1, "invalid": 2, "unknown_type": 1, "rejected": 1}
    assert metrics.MESSAGES_REJECTED.labels("analyzer", "syntax")._value.get() == rejected_before + 1
    # the service is still consuming
    later = obs(0.9)
    bus.publish(later)
    wait_for(lambda: later in got, what="a message after the bad ones")


def test_poison_message_is_dead_lettered_after_the_delivery_limit(
        buses: list[RabbitBus], rabbit_url: str, unique: str) -> None:
    bus = make(buses, rabbit_url, unique, delivery_limit=3)
    calls: list[str] = []
    fine: list[Message] = []

    def handler(m: Message) -> None:
        if isinstance(m, Observation) and m.metric == "poison":
            calls.append(m.message_id)
            raise RuntimeError("handler bug")
        fine.append(m)

    q = f"t-{unique}.decider"
    bus.subscribe(q, ["observation.*"], handler)
    bus.start()
    poison = obs(metric="poison")
    bus.publish(poison)
    bus.publish(obs(1.0))
    bus.flush()
    wait_for(lambda: len(bus.dead_letters(q)) == 1, what="the poison message in the DLQ")
    (dead,) = bus.dead_letters(q)
    assert dead.reason.startswith("handler failed 3 times: RuntimeError('handler bug')"), dead.reason
    assert calls == [poison.message_id] * 3
    wait_for(lambda: len(fine) == 1, what="the healthy message")


def test_redelivered_message_ids_are_handled_once(buses: list[RabbitBus], rabbit_url: str,
                                                  unique: str) -> None:
    bus = make(buses, rabbit_url, unique)
    got: list[str] = []
    bus.subscribe(f"t-{unique}.a", ["observation.#"], lambda m: got.append(m.message_id))
    bus.start()
    m = obs()
    bus.publish(m)
    bus.publish(m)  # same message id, e.g. republished after a reconnect
    marker = obs(2.0)
    bus.publish(marker)
    bus.flush()
    wait_for(lambda: marker.message_id in got, what="the marker")
    assert got == [m.message_id, marker.message_id]
    assert bus.stats.duplicates == 1


def test_handler_crash_is_retried_then_succeeds(buses: list[RabbitBus], rabbit_url: str, unique: str) -> None:
    bus = make(buses, rabbit_url, unique)
    attempts: list[int] = []

    def flaky(m: Message) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("store briefly down")

    bus.subscribe(f"t-{unique}.a", ["observation.#"], flaky)
    bus.start()
    bus.publish(obs())
    bus.flush()
    wait_for(lambda: bus.stats.delivered >= 3 and len(attempts) == 3, what="three attempts")
    assert bus.dead_letters() == []


def test_messages_carry_amqp_properties(rabbit_url: str, unique: str, buses: list[RabbitBus]) -> None:
    import pika

    bus = make(buses, rabbit_url, unique)
    bus.start()
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    ch = conn.channel()
    ch.queue_declare(f"peek-{unique}", exclusive=True)
    ch.queue_bind(f"peek-{unique}", f"arca-{unique}", "#")
    m = obs()
    bus.publish(m)
    bus.flush()
    method = None
    for _ in range(100):
        method, props, body = ch.basic_get(f"peek-{unique}", auto_ack=True)
        if method:
            break
        conn.sleep(0.05)
    assert method is not None
    assert method.routing_key == "observation.emergency"
    assert props.delivery_mode == 2
    assert props.content_type == "application/n-triples"
    assert props.message_id == m.message_id and props.correlation_id == m.correlation_id
    assert body == encode(m)
    conn.close()


def _close_connections(rabbit_url: str) -> None:
    vhost = urllib.parse.unquote(urllib.parse.urlparse(rabbit_url).path.lstrip("/"))
    subprocess.run(["rabbitmqctl", "-q", "close_all_connections", "-p", vhost, "arca test kill"],
                   check=True, capture_output=True, timeout=60)


def test_killing_the_broker_connections_loses_no_confirmed_message(
        buses: list[RabbitBus], rabbit_url: str, unique: str) -> None:
    publisher = make(buses, rabbit_url, unique)
    consumer = make(buses, rabbit_url, unique)
    received: set[str] = set()
    lock = threading.Lock()

    def handler(m: Message) -> None:
        with lock:
            received.add(m.message_id)

    consumer.subscribe(f"t-{unique}.sink", ["observation.#"], handler)
    consumer.start()
    publisher.start()
    sent: list[str] = []
    n = 3000
    for i in range(n):
        m = obs(float(i))
        publisher.publish(m)
        sent.append(m.message_id)
        if i == n // 2:
            publisher.flush()
            _close_connections(rabbit_url)
    publisher.flush(60)  # every message published is now confirmed (republished after the drop)
    wait_for(lambda: len(received) == n, timeout=60, what=f"all {n} messages (have {len(received)})")
    assert received == set(sent)
    assert publisher.connections >= 2 and consumer.connections >= 2  # both reconnected by themselves
    after = obs(-1.0)
    publisher.publish(after)
    publisher.flush()
    wait_for(lambda: after.message_id in received, what="a message after the reconnect")
    assert REASON_HEADER == "x-arca-reason"


def test_late_subscription_and_calls_run_on_the_delivery_thread(
        buses: list[RabbitBus], rabbit_url: str, unique: str) -> None:
    bus = make(buses, rabbit_url, unique)
    bus.start()
    threads: list[str] = []
    bus.subscribe(f"t-{unique}.late", ["observation.#"],
                  lambda m: threads.append(threading.current_thread().name))
    wait_for(lambda: _queue_exists(rabbit_url, unique), what="the late queue to be declared")

    def delivered() -> bool:  # the binding follows the declaration: publish until one arrives
        bus.publish(obs())
        bus.flush()
        return wait_quietly(lambda: bool(threads), 0.5)

    wait_for(delivered, what="a delivery on the late queue")
    called: list[str] = []
    bus.call_soon_threadsafe(lambda: called.append(threading.current_thread().name))
    wait_for(lambda: bool(called), what="the scheduled call")
    assert set(threads) | set(called) == {"arca-bus-delivery"}
    assert metrics.MESSAGES_PUBLISHED.labels("late", "observation")._value.get() >= 1


def wait_quietly(predicate: Callable[[], bool], timeout: float) -> bool:
    try:
        wait_for(predicate, timeout)
        return True
    except AssertionError:
        return False


def _queue_exists(rabbit_url: str, unique: str) -> bool:
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    try:
        conn.channel().queue_declare(f"t-{unique}.late", passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if conn.is_open:
            conn.close()


def test_unreachable_broker_buffers_and_flush_reports_it(unique: str) -> None:
    from arca.app.settings import BusSettings
    from arca.bus.rabbitmq import BusError

    bus = RabbitBus(BusSettings(kind="rabbitmq", url="amqp://guest:guest@127.0.0.1:9/%2F",
                                reconnect_initial_s=0.1, reconnect_max_s=0.2))
    bus.start(wait_s=0.5)  # does not raise: a service waits for its broker
    bus.publish(obs())
    with pytest.raises(BusError, match=r"1 message\(s\) not confirmed by amqp://127\.0\.0\.1:9/"):
        bus.flush(0.5)
    bus.stop()
    assert bus.connections == 0
