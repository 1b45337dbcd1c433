"""The enforcer service on the real RabbitMQ broker against the testbed: duplicated and redelivered
decisions never create twice, and an enforcer stopped mid-boot and restarted (nothing in memory)
finishes the job without creating again."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from arca.app.settings import ArcaSettings, BusSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, Enforcement, Message
from arca.service import Deps
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

pytestmark = pytest.mark.rabbitmq

START = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM = "emergency"


@pytest.fixture
def tb() -> Iterator[Testbed]:
    bed = Testbed(parse_timeline({"duration_s": 3600, "seed": 2, "incidents": [], "failures": []}),
                  ModelParams(require_pool_membership=True), clock=SimClock(START)).start()
    try:
        yield bed
    finally:
        bed.stop()


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_duplicates_and_restart_never_create_twice(tb: Testbed, rabbit_url: str, unique: str) -> None:
    settings = ArcaSettings(
        bus=BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                        queue_prefix=f"arca-{unique}.", dead_letter_exchange=f"arca-{unique}.dlx",
                        dead_letter_queue=f"arca-{unique}.dead"),
        enforcer=EnforcerSettings(boot_timeout_s=60.0, resync_interval_s=2.0),
    )
    clock = SimClock(START)
    conn = tb.connect()
    stops: list[Callable[[], None]] = []

    def enforcer() -> tuple[EnforcerService, RabbitBus]:
        bus = RabbitBus(settings.bus, service="enforcer")
        service = EnforcerService(Deps(bus, EmbeddedKnowledgeBase(), clock, settings),
                                  driver=OpenStackDriver(settings.enforcer, conn))
        service.attach()
        bus.start()
        stops.append(bus.stop)
        return service, bus

    decider = RabbitBus(settings.bus, service="decider")
    seen: list[Message] = []
    decider.subscribe(f"arca-{unique}.watch", ["enforcement.#"], seen.append)
    decider.start()
    stops.append(decider.stop)
    try:
        service, bus = enforcer()
        d = Decision(event_time=clock.now(), system=SYSTEM, strategy="test", target_servants=3, reason="r",
                     rule="r")
        decider.publish(d)
        decider.publish(d)  # the very same message twice (a redelivery)
        decider.publish(Decision(event_time=clock.now(), system=SYSTEM, strategy="test", target_servants=3,
                                 reason="again", rule="r"))  # a duplicate decision
        decider.flush()
        wait_for("3 servers", lambda: len(tb.model.live_servants()) == 3)
        time.sleep(0.5)  # give any (wrong) extra create the time to happen
        assert len(tb.model.live_servants()) == 3
        bus.stop()  # the enforcer dies while its servers boot: its in-flight actions are lost

        service, bus = enforcer()  # a fresh one, nothing in memory
        decider.publish(Decision(event_time=clock.now(), system=SYSTEM, strategy="test", target_servants=3,
                                 reason="after restart", rule="r"))
        decider.flush()
        for _ in range(12):
            tb.model.advance(1.0)
            clock.set(tb.model.now())
            bus.call_soon_threadsafe(lambda: service.tick(clock.now()))
            time.sleep(0.05)

        def pooled() -> bool:
            bus.call_soon_threadsafe(lambda: service.tick(clock.now()))
            live = tb.model.live_servants()
            return len(live) == 3 and all(s.status == "ACTIVE" and s.pools for s in live)

        wait_for("3 servers in service", pooled)
        names = sorted(s.name for s in tb.model.servants.values())
        assert names == ["arca-emergency-1", "arca-emergency-2", "arca-emergency-3"]  # never a 4th
        wait_for("join reports", lambda: sum(1 for m in seen if isinstance(m, Enforcement)
                                             and m.action == "join_pool" and m.outcome == "succeeded") == 3)
        assert not any(isinstance(m, Enforcement) and m.action == "create_servant" and m.outcome == "failed"
                       for m in seen)
    finally:
        for stop in reversed(stops):
            stop()
        conn.close()
