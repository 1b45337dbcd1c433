"""The warm pool on the real RabbitMQ broker against the testbed (real openstacksdk over HTTP): a
duplicated or redelivered decision never resumes nor creates twice, an enforcer restarted while a
servant is resuming converges without asking again, and a servant that never leaves standby is
condemned, removed and replaced."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from arca.app.settings import ArcaSettings, BusSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, Enforcement, Message
from arca.namespace import ARCA_NS
from arca.policy import policy_graph
from arca.service import Deps
from arca.testbed import model as tbm
from arca.testbed.model import ACTIVE, ModelParams, Servant
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

pytestmark = pytest.mark.rabbitmq

START = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM = "emergency"
POLICY = f"""@prefix arca: <{ARCA_NS}> .
<{ARCA_NS}policy/{SYSTEM}> a arca:Policy ; arca:system "{SYSTEM}" ; arca:minServants 1 ;
    arca:maxServants 10 ; arca:defaultServants 1 ; arca:warmPoolState "stopped" ;
    arca:warmPoolMinSize 0 ; arca:warmPoolMaxSize 2 .
"""


class CountingDriver(OpenStackDriver):
    """The real driver, counting the infrastructure calls that change something."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.calls: list[tuple[str, str]] = []

    def create_servant(self, system: str, name: str) -> str:
        self.calls.append(("create", name))
        return super().create_servant(system, name)

    def resume_servant(self, system: str, server_id: str) -> None:
        self.calls.append(("resume", server_id))
        super().resume_servant(system, server_id)


@pytest.fixture
def tb() -> Iterator[Testbed]:
    bed = Testbed(parse_timeline({"duration_s": 3600, "seed": 2, "incidents": [], "failures": []}),
                  ModelParams(require_pool_membership=True), clock=SimClock(START)).start()
    try:
        yield bed
    finally:
        bed.stop()


def standby_pair(tb: Testbed) -> list[Servant]:
    """Two ARCA-owned servers, booted then stopped (os-stop): the warm pool."""
    model = tb.model
    made = [model.create_servant(f"arca-{SYSTEM}-{n}", metadata={"arca_system": SYSTEM},
                                 tags=["arca-managed"]) for n in (2, 3)]
    model.advance(model.params.boot_delay_s + 1)
    for s in made:
        model.server_action(s.id, "os-stop")
    model.advance(6)
    assert [s.status for s in made] == ["SHUTOFF", "SHUTOFF"]
    return made


def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


class Harness:
    def __init__(self, tb: Testbed, rabbit_url: str, unique: str, **enforcer: Any) -> None:
        self.tb = tb
        self.clock = SimClock(tb.model.now())
        self.settings = ArcaSettings(
            bus=BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                            queue_prefix=f"arca-{unique}.", dead_letter_exchange=f"arca-{unique}.dlx",
                            dead_letter_queue=f"arca-{unique}.dead"),
            enforcer=EnforcerSettings(boot_timeout_s=60.0, resync_interval_s=2.0, **enforcer),
        )
        self.conn = tb.connect()
        self.kb = EmbeddedKnowledgeBase()
        self.kb.replace_graph(POLICY, policy_graph(SYSTEM))
        self.stops: list[Callable[[], None]] = []
        self.drivers: list[CountingDriver] = []
        self.seen: list[Message] = []
        self.decider = RabbitBus(self.settings.bus, service="decider")
        self.decider.subscribe(f"arca-{unique}.watch", ["enforcement.#"], self.seen.append)
        self.decider.start()
        self.stops.append(self.decider.stop)

    def enforcer(self) -> tuple[EnforcerService, RabbitBus]:
        bus = RabbitBus(self.settings.bus, service="enforcer")
        driver = CountingDriver(self.settings.enforcer, self.conn)
        self.drivers.append(driver)
        service = EnforcerService(Deps(bus, self.kb, self.clock, self.settings), driver=driver)
        service.attach()
        bus.start()
        self.stops.append(bus.stop)
        return service, bus

    def decide(self, target: int, reason: str = "r") -> Decision:
        d = Decision(event_time=self.clock.now(), system=SYSTEM, strategy="test", target_servants=target,
                     reason=reason, rule="r", standby_servants=0)
        self.decider.publish(d)
        self.decider.flush()
        return d

    def advance(self, service: EnforcerService, bus: RabbitBus, seconds: int) -> None:
        for _ in range(seconds):
            self.tb.model.advance(1.0)
            self.clock.set(self.tb.model.now())
            bus.call_soon_threadsafe(lambda: service.tick(self.clock.now()))
            time.sleep(0.05)

    def close(self) -> None:
        for stop in reversed(self.stops):
            stop()
        self.conn.close()


def in_service(tb: Testbed) -> list[Servant]:
    return [s for s in tb.model.live_servants() if s.status == ACTIVE and s.pools and s.task_state is None]


def test_duplicates_and_restart_while_resuming_never_resume_nor_create_twice(
        tb: Testbed, rabbit_url: str, unique: str) -> None:
    pool = standby_pair(tb)
    starts: list[str] = []
    tb.model.subscribe(lambda ev: starts.extend([ev.servant.id] if ev.servant and _is_start(ev) else []))
    h = Harness(tb, rabbit_url, unique)
    try:
        service, bus = h.enforcer()
        d = h.decide(3)
        h.decider.publish(d)  # the very same message again (a redelivery)
        h.decide(3, "again")  # and a duplicate decision
        wait_for("both resumes asked", lambda: all(s.task_state == "powering-on" for s in pool))
        time.sleep(0.5)  # time for any (wrong) second resume or create
        bus.stop()  # the enforcer dies while both servants resume: its in-flight actions are lost
        first = h.drivers[0].calls
        assert sorted(first) == sorted(("resume", s.id) for s in pool)

        service, bus = h.enforcer()  # a fresh one, nothing in memory
        h.decide(3, "after restart")
        h.advance(service, bus, 8)

        def converged() -> bool:
            bus.call_soon_threadsafe(lambda: service.tick(h.clock.now()))
            return len(in_service(tb)) == 3

        wait_for("3 servants in service", converged)
        assert h.drivers[1].calls == []  # the restarted enforcer waited on the transition, asked nothing
        assert sorted(starts) == sorted(s.id for s in pool)  # each os-start exactly once
        assert sorted(s.name for s in tb.model.servants.values()) == [f"arca-{SYSTEM}-{n}" for n in (1, 2, 3)]
        wait_for("resume reports", lambda: sum(1 for m in h.seen if isinstance(m, Enforcement)
                                               and m.action == "resume_servant"
                                               and m.outcome == "succeeded") == 2)
    finally:
        h.close()


def test_servant_that_never_leaves_standby_is_replaced(tb: Testbed, rabbit_url: str, unique: str) -> None:
    pool = standby_pair(tb)
    stuck = pool[0]
    durations = tb.model.action_duration

    def never_for_stuck(action: str, s: Servant) -> float:
        tb.model.action_delay = None
        try:
            return 1e9 if action == "os-start" and s.id == stuck.id else durations(action, s)
        finally:
            tb.model.action_delay = never_for_stuck

    tb.model.action_delay = never_for_stuck
    h = Harness(tb, rabbit_url, unique, resume_timeout_s=20.0)
    try:
        service, bus = h.enforcer()
        h.decide(3)
        wait_for("both resumes asked", lambda: all(s.task_state == "powering-on" for s in pool))
        h.advance(service, bus, 35)  # past the resume deadline: the stuck one is condemned

        def replaced() -> bool:
            bus.call_soon_threadsafe(lambda: service.tick(h.clock.now()))
            h.tb.model.advance(1.0)
            h.clock.set(h.tb.model.now())
            return stuck.status == "DELETED" and len(in_service(tb)) == 3

        wait_for("the stuck servant replaced", replaced, timeout_s=60.0)
        assert pool[1] in in_service(tb)
        created = [c for d in h.drivers for c in d.calls if c[0] == "create"]
        assert len(created) == 1  # one replacement, no more
        wait_for("failed resume reported", lambda: any(
            isinstance(m, Enforcement) and m.action == "resume_servant" and m.outcome == "failed"
            and m.target == stuck.id for m in h.seen))
    finally:
        h.close()


def _is_start(ev: tbm.TestbedEvent) -> bool:
    return (ev.kind == "servant.action" and ev.data.get("action") == "os-start"
            and ev.data.get("phase") == "start" and ev.servant is not None)
