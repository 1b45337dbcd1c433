"""Durability of the spine: knowledge-base writes buffered on the broker through a store outage,
unroutable messages kept and counted, the topology declared before the first publish, idempotent
effects (keep-first message storage, sample learning), readiness and store credentials."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import requests
from conftest import free_port
from spine_helpers import bus_settings, queue_depth, wait_for

from arca import metrics
from arca.app.runtime import SERVICES, SHARDING, TOPOLOGY, service_class
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.decider.anticipator import Anticipator, LearnedSample
from arca.decider.service import DeciderService
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBaseError
from arca.kb.durable import BrokerBufferedKnowledgeBase, writer_queue
from arca.kb.messages import load_messages, store_message
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Observation, Situation
from arca.service import Deps
from tests.storekit import STORE_PARAMS, SparqlEndpoints, make_server

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def kb_settings(endpoints: SparqlEndpoints, **kw: Any) -> KbSettings:
    return KbSettings.model_validate(endpoints.kb_fields(timeout_s=2.0, **kw))




@pytest.fixture
def buses() -> Iterator[list[Any]]:
    made: list[Any] = []
    yield made
    for b in reversed(made):
        b.stop() if isinstance(b, RabbitBus) else b.close()


class Durable(NamedTuple):
    """A service's bus and its broker-buffered knowledge base on a store (``durable_kb``)."""

    bus: RabbitBus
    kb: BrokerBufferedKnowledgeBase
    settings: BusSettings


@pytest.fixture
def durable_kb(buses: list[Any], rabbit_url: str, unique: str) -> Callable[..., Durable]:
    """``durable_kb(service, endpoints, **kb_settings)``: a started bus of its own topology and the
    service's knowledge base on ``endpoints`` whose writes go through the broker; both stopped after."""
    def make(service: str, endpoints: SparqlEndpoints, **kw: Any) -> Durable:
        settings = bus_settings(rabbit_url, unique)
        bus = RabbitBus(settings, service=service)
        buses.append(bus)
        kb = BrokerBufferedKnowledgeBase(SparqlKnowledgeBase(kb_settings(endpoints, **kw)), bus, settings,
                                         service)
        buses.append(kb)
        bus.start()
        return Durable(bus, kb, settings)
    return make


@pytest.mark.rabbitmq
@pytest.mark.parametrize("store_kind", STORE_PARAMS)
def test_writes_wait_on_the_broker_while_the_store_is_down_and_land_when_it_returns(
        durable_kb: Callable[..., Durable], rabbit_url: str, tmp_path: Path, store_kind: str) -> None:
    server = make_server(store_kind, tmp_path, free_port())  # not started yet: the store is down
    bus, kb, settings = durable_kb("analyzer", server.endpoints, write_flush_interval_s=0.05)
    sent = [Situation(event_time=T0, system="emergency", servants_active=i, average_load=0.5)
            for i in range(30)]
    for s in sent:
        store_message(kb, s)
    bus.flush()  # confirmed: on the broker's disk
    wait_for(lambda: not kb.ready, what="the writer to notice the store is down")
    with pytest.raises(KnowledgeBaseError, match="not applied"):
        kb.flush(1.0)
    time.sleep(1.0)  # the writer keeps retrying: nothing is given up
    server.start()
    try:
        kb.flush(60)
        assert kb.ready
        stored = load_messages(kb, Situation, "emergency", limit=100)
        assert sorted(m.message_id for m in stored) == sorted(m.message_id for m in sent)
        assert queue_depth(rabbit_url, writer_queue(settings, "analyzer")) == 0
    finally:
        server.stop()


@pytest.mark.rabbitmq
@pytest.mark.slow
@pytest.mark.parametrize("store_kind", STORE_PARAMS)
def test_writes_go_on_through_a_30_s_outage_of_a_running_store_and_none_is_lost(
        durable_kb: Callable[..., Durable], rabbit_url: str, tmp_path: Path, store_kind: str) -> None:
    """A store killed (-9) under a steady stream of writes, away 30 s, back on the same data: every
    write submitted before, during and after lands exactly once, in order of submission."""
    server = make_server(store_kind, tmp_path, free_port()).start()
    bus, kb, settings = durable_kb("analyzer", server.endpoints, write_flush_interval_s=0.05)
    sent: list[Situation] = []

    def write(n: int) -> None:
        for _ in range(n):
            s = Situation(event_time=T0, system="emergency", servants_active=len(sent), average_load=0.5)
            store_message(kb, s)
            sent.append(s)
        bus.flush()  # confirmed: on the broker's disk

    try:
        write(20)
        kb.flush(60)
        server.kill()
        down = time.monotonic()
        while time.monotonic() - down < 30:  # writes keep coming while the store is away
            write(5)
            time.sleep(1.0)
        assert not kb.ready
        server.start()
        write(20)
        kb.flush(120)
        assert kb.ready
        stored = load_messages(kb, Situation, "emergency", limit=1000)
        assert len(stored) == len(sent) > 170
        assert sorted(m.message_id for m in stored) == sorted(m.message_id for m in sent)
        assert queue_depth(rabbit_url, writer_queue(settings, "analyzer")) == 0
        assert bus.dead_letters() == []
    finally:
        server.stop()


@pytest.mark.rabbitmq
def test_a_barrier_is_sent_at_once_not_after_the_flush_interval(
        durable_kb: Callable[..., Durable], sparql_store: SparqlEndpoints) -> None:
    """Someone waits for a barrier (a decider taking a system over): the writer sends the batch that
    holds it at once. While writes keep the queue busy, a batch is otherwise sent only when full or
    after the flush interval (60 s here): the barrier would time out."""
    kb = durable_kb("decider", sparql_store, write_flush_interval_s=60.0, write_batch_max=5000).kb
    stop = threading.Event()

    def busy() -> None:  # the analyzer's steady stream of writes
        i = 0
        while not stop.is_set():
            store_message(kb, Situation(event_time=T0, system="busy", servants_active=i, average_load=0.5))
            i += 1
            time.sleep(0.01)

    writer = threading.Thread(target=busy)
    writer.start()
    try:
        time.sleep(0.5)
        mine = Situation(event_time=T0, system="emergency", servants_active=1, average_load=0.5)
        store_message(kb, mine)
        kb.barrier(5.0)  # raises KnowledgeBaseError after 5 s if the batch waited for its interval
        assert [m.message_id for m in load_messages(kb.inner, Situation, "emergency")] == [mine.message_id]
    finally:
        stop.set()
        writer.join()


@pytest.mark.rabbitmq
def test_an_update_the_store_refuses_is_dead_lettered_and_spares_the_others(
        durable_kb: Callable[..., Durable], sparql_store: SparqlEndpoints) -> None:
    bus, kb, _ = durable_kb("decider", sparql_store)
    kb.submit("INSERT DATA { GRAPH <urn:g> { <urn:a> <urn:p> 1 } }")
    kb.submit("INSERT DATA { GRAPH <urn:g> { <urn:b> <urn:p> 2 } } BROKEN")
    kb.submit("INSERT DATA { GRAPH <urn:g> { <urn:c> <urn:p> 3 } }")
    kb.flush(30)
    assert {str(r["s"]) for r in kb.query("SELECT ?s WHERE { GRAPH <urn:g> { ?s ?p ?o } }")} == \
        {"urn:a", "urn:c"}
    (dead,) = bus.dead_letters()
    assert "BROKEN" in dead.body.decode() and dead.reason.startswith("rejected by the store")


@pytest.mark.rabbitmq
def test_an_unroutable_message_is_dead_lettered_and_counted(buses: list[Any], rabbit_url: str,
                                                            unique: str) -> None:
    bus = RabbitBus(bus_settings(rabbit_url, unique), service="collector")
    buses.append(bus)
    bus.start()
    before = metrics.MESSAGES_REJECTED.labels("collector", "unroutable")._value.get()
    bus.publish(Observation(event_time=T0, system="nobody-listens", metric="cpu_util", value=1.0))
    bus.flush()
    wait_for(lambda: bus.stats.unroutable == 1, what="the return")
    bus.flush()
    (dead,) = bus.dead_letters()
    assert dead.reason.startswith("unroutable: no queue bound for 'observation.nobody-listens'")
    assert metrics.MESSAGES_REJECTED.labels("collector", "unroutable")._value.get() == before + 1


@pytest.mark.rabbitmq
def test_queues_declared_with_the_topology_keep_what_is_published_before_their_consumer_starts(
        buses: list[Any], rabbit_url: str, unique: str) -> None:
    settings = bus_settings(rabbit_url, unique)
    producer = RabbitBus(settings, service="collector")
    buses.append(producer)
    producer.declare(f"t-{unique}.analyzer", ["observation.#"])
    producer.start()
    sent = Observation(event_time=T0, system="emergency", metric="cpu_util", value=0.5)
    producer.publish(sent)
    producer.flush()
    assert producer.stats.unroutable == 0
    got: list[Any] = []
    consumer = RabbitBus(settings, service="analyzer")
    buses.append(consumer)
    consumer.subscribe(f"t-{unique}.analyzer", ["observation.#"], got.append)
    consumer.start()
    wait_for(lambda: [m.message_id for m in got] == [sent.message_id], what="the early message")


def test_a_message_stored_twice_keeps_its_first_copy() -> None:
    kb = EmbeddedKnowledgeBase()
    first = Situation(event_time=T0, system="emergency", servants_active=2, average_load=0.5)
    again = first.model_copy(update={"servants_active": 3})  # re-handled after a crash: same id
    store_message(kb, first, sync=True)
    store_message(kb, again, sync=True)
    (stored,) = load_messages(kb, Situation, "emergency", limit=10)
    assert stored == first


def test_learning_the_same_sample_twice_is_a_no_op() -> None:
    sample = LearnedSample(3, 10.0, 4, sample_id="emergency-situation-1")
    model, _ = Anticipator().with_sample(sample)
    again, dropped = model.with_sample(LearnedSample(3, 10.0, 4, sample_id="emergency-situation-1"))
    assert again is model and dropped == [] and len(again) == 1


def test_readyz_reports_not_ready_with_503_and_healthz_stays_200() -> None:
    state = {"ready": False, "knowledge_base": False}
    server, port = metrics.serve(0, "127.0.0.1", health=lambda: dict(state))
    try:
        base = f"http://127.0.0.1:{port}"
        r = requests.get(base + "/readyz", timeout=5)
        assert (r.status_code, r.json()["knowledge_base"]) == (503, False)
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        state.update(ready=True, knowledge_base=True)
        assert requests.get(base + "/readyz", timeout=5).status_code == 200
        assert "arca_service_info" in requests.get(base + "/metrics", timeout=5).text
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("store_kind", STORE_PARAMS)
def test_a_service_starts_with_the_store_down_runs_on_defaults_and_catches_up(tmp_path: Path,
                                                                             store_kind: str) -> None:
    server = make_server(store_kind, tmp_path, free_port())  # not started yet: the store is down
    port = server.port
    kb = SparqlKnowledgeBase(kb_settings(server.endpoints))
    try:
        decider = DeciderService(Deps(bus=_NullBus(), kb=kb, clock=SimClock(T0), settings=ArcaSettings()))
        assert not decider.kb_ready and f"127.0.0.1:{port}" in (decider.kb_error or "")
        situation = Situation(event_time=T0, system="emergency", servants_active=1, average_load=0.5)
        decision = decider.decide(situation, T0, force=True)  # the settings' default policy
        assert decision is not None and decision.system == "emergency"
        server.start()
        wait_for(decider.load_knowledge, what="the decider to reload from the store")
        assert decider.kb_ready and decider.kb_error is None
    finally:
        with contextlib.suppress(KnowledgeBaseError):  # the plain client's buffer (no broker here)
            kb.close()
        server.stop()


class _NullBus:
    """Publishes nowhere (the decider's output is not what this test looks at)."""

    def publish(self, message: Any, routing_key: str | None = None) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def test_the_store_password_comes_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "fuseki-password"
    secret.write_text("s3cret\n")
    settings = KbSettings(username="arca", password_file=str(secret))
    assert settings.secret() == "s3cret"
    assert SparqlKnowledgeBase(settings).session.auth == ("arca", "s3cret")
    with pytest.raises(ValueError, match=r"kb\.password_file"):
        KbSettings(username="arca", password_file=str(tmp_path / "missing")).secret()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_the_declared_topology_is_each_services_own_bindings(service: str) -> None:
    assert TOPOLOGY[service] == tuple(service_class(service).patterns)
    assert set(TOPOLOGY) == set(SERVICES)
    cls = service_class(service)
    assert SHARDING[service] == (cls.sharding, tuple(cls.broadcast))
    assert set(cls.broadcast) <= set(cls.patterns)
