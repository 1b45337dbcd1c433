"""The reconciler and the OpenStack driver against the testbed's emulated Nova/Octavia, through the real
openstacksdk over loopback HTTP: lifecycle, idempotency, retries, deadlines, drift, ownership, bounds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.enforcer.drivers.base import PermanentError, TransientError
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.model import Bounds
from arca.enforcer.reconciler import Reconciler
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, Enforcement, ExternalEvent, Message, TopologyChange
from arca.service import Deps
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

SYSTEM = "emergency"
START = datetime(2026, 1, 1, tzinfo=UTC)
QUIET = {"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}


@pytest.fixture
def tb() -> Iterator[Testbed]:
    clock = SimClock(START)
    bed = Testbed(parse_timeline(QUIET), ModelParams(require_pool_membership=True), clock=clock).start()
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture
def conn(tb: Testbed) -> Iterator[Any]:
    c = tb.connect()
    yield c
    c.close()


def settings(**kw: Any) -> EnforcerSettings:
    base: dict[str, Any] = {"boot_timeout_s": 30.0, "resync_interval_s": 5.0, "retry_initial_s": 0.5,
                            "retry_max_s": 2.0, "retry_max_attempts": 6}
    return EnforcerSettings(**{**base, **kw})


class Loop:
    """A reconciler on the testbed, with its published messages and a helper to move time."""

    def __init__(self, tb: Testbed, conn: Any, bounds: Bounds | None = None, skew: timedelta = timedelta(),
                 **kw: Any) -> None:
        self.tb = tb
        self.skew = skew  # the cloud's clock minus the enforcer's
        self.published: list[Message] = []
        self.driver = OpenStackDriver(settings(**kw), conn)
        self.rec = Reconciler(self.driver, settings(**kw), publish=self.published.append,
                              bounds_for=(lambda _s: bounds) if bounds else None)

    @property
    def now(self) -> datetime:
        """The enforcer's clock: the cloud's, ``skew`` off."""
        return self.tb.model.now() - self.skew

    def decide(self, target: int, **kw: Any) -> Decision:
        d = Decision(event_time=self.now, system=SYSTEM, strategy="test", target_servants=target,
                     reason="test", rule="test", **kw)
        if self.rec.set_desired(d):
            self.rec.reconcile(SYSTEM, self.now)
        return d

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.tb.model.advance(1.0)
            self.rec.tick(self.now)

    def servers(self) -> list[Any]:
        return [s for s in self.tb.model.live_servants()]

    def enforcements(self, action: str | None = None) -> list[Enforcement]:
        return [m for m in self.published if isinstance(m, Enforcement)
                and (action is None or m.action == action)]

    def members(self) -> dict[str, int]:
        lb = self.driver.conn.load_balancer
        return {p.name: len(list(lb.members(p.id))) for p in lb.pools()}


def test_scale_out_boots_waits_active_joins_every_pool_and_reports(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn)
    loop.decide(3)
    assert len(loop.servers()) == 3  # created at once (one booting each), nothing waited
    assert not loop.enforcements("create_servant")  # still booting: no outcome yet
    loop.run(12)
    creates = loop.enforcements("create_servant")
    assert [e.outcome for e in creates] == ["succeeded", "succeeded"]
    assert all(s.status == "ACTIVE" for s in loop.servers())
    assert loop.members() == {"pool-building-2": 3, "pool-building-3": 3, "pool-building-4": 3}
    last = creates[-1]
    assert (last.desired_servants, last.active_servants, last.booting_servants) == (3, 3, 0)
    assert last.finished_at is not None and (last.finished_at - last.started_at).total_seconds() >= 10
    names = sorted(s.name for s in loop.servers())
    assert names == ["arca-emergency-1", "arca-emergency-2", "arca-emergency-3"]
    assert all(s.metadata.get("arca_system") == SYSTEM and "arca-managed" in s.tags for s in loop.servers())


def test_duplicated_and_redelivered_decisions_never_create_twice(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn)
    first = loop.decide(4)
    assert loop.rec.set_desired(first) is False  # the same message redelivered
    loop.rec.reconcile(SYSTEM, loop.now)
    loop.run(2)
    loop.decide(4)  # a duplicate decision (new id, same target) while the servers boot
    loop.run(3)
    loop.decide(4)
    # a restarted enforcer (fresh reconciler, nothing in memory) gets the same decision again
    again = Loop(tb, conn)
    again.decide(4)
    loop.run(10)
    again.run(2)
    assert len(loop.servers()) == 4
    assert sum(1 for e in loop.enforcements("create_servant") if e.outcome == "succeeded") == 3


def test_503_burst_is_retried_with_backoff_then_succeeds(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn)
    loop.run(1)
    tb.cloud.faults.inject("compute", 3, 503)  # Nova answers 503 three times in a row
    decision = loop.decide(2)
    assert loop.rec.state(SYSTEM).observe_failures == 1 and not loop.rec.state(SYSTEM).actions
    loop.run(15)
    creates = loop.enforcements("create_servant")
    assert [e.outcome for e in creates] == ["succeeded"]  # exactly one create: no phantom empty list
    assert len(loop.servers()) == 2
    # backoff 0.5 s, 1 s, 2 s between the reads: the create starts only once Nova answers again
    assert (creates[0].started_at - decision.event_time).total_seconds() >= 3.0
    assert loop.rec.state(SYSTEM).observe_failures == 0
    assert tb.cloud.faults.take("compute") is None


def test_503_during_create_counts_attempts_and_recovers(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn)
    loop.decide(1)  # observe once so the next plan starts from a known state
    loop.run(1)
    loop.decide(2)
    create = loop.rec.state(SYSTEM).actions[0]
    tb.cloud.faults.inject("compute", 2, 503)  # the next status polls fail
    loop.run(15)
    assert create.attempts == 2
    assert create.state.value == "succeeded"
    assert len(loop.servers()) == 2


def test_server_never_active_times_out_is_removed_and_replaced(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn, boot_timeout_s=20.0)
    tb.model.never_active_next = 1
    loop.decide(2)
    stuck = next(s for s in loop.servers() if s.name == "arca-emergency-2")
    loop.run(19)
    assert not loop.enforcements("create_servant")
    loop.run(3)  # simulated deadline passes: no wall-clock wait anywhere
    failed = [e for e in loop.enforcements("create_servant") if e.outcome == "failed"]
    assert len(failed) == 1 and failed[0].target == stuck.id and "deadline" in failed[0].detail
    loop.run(15)
    assert tb.model.servants[stuck.id].status == "DELETED"
    removed = loop.enforcements("remove_servant")
    assert removed and removed[0].target == stuck.id and removed[0].outcome == "succeeded"
    live = loop.servers()
    assert len(live) == 2 and all(s.status == "ACTIVE" and s.pools for s in live)


SKEWS = [pytest.param(timedelta(hours=1), id="cloud-hour-ahead"),
         pytest.param(-timedelta(hours=1), id="cloud-hour-behind")]


def servers_ever_created(tb: Testbed) -> list[str]:
    """Names of every server the cloud ever created (deleted ones included), in creation order."""
    return [s.name for s in sorted(tb.model.servants.values(), key=lambda s: s.created_s)]


@pytest.mark.parametrize("skew", SKEWS)
def test_cloud_clock_skew_creates_no_server_twice(tb: Testbed, conn: Any, skew: timedelta) -> None:
    """The cloud's clock an hour off the enforcer's: servers still booting are never condemned for
    their age (the boot is timed by the enforcer's own clock), so each servant is created once."""
    loop = Loop(tb, conn, skew=skew, boot_timeout_s=30.0)
    loop.decide(4)
    loop.run(120)  # many resyncs (every 5 s) while and after the servers boot
    assert servers_ever_created(tb) == [f"arca-emergency-{i}" for i in (1, 2, 3, 4)]
    live = loop.servers()
    assert len(live) == 4 and all(s.status == "ACTIVE" and s.pools for s in live)
    assert not [e for e in loop.enforcements() if e.outcome == "failed"]


@pytest.mark.parametrize("skew", SKEWS)
def test_cloud_clock_skew_still_replaces_a_server_stuck_building(tb: Testbed, conn: Any,
                                                                  skew: timedelta) -> None:
    """A server stuck in BUILD that no create action of this enforcer watches (it was started by a
    previous enforcer process) is replaced once the enforcer has seen it building for the boot
    timeout, whichever way the cloud's clock is off."""
    image = conn.image.find_image("emergency-servant", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.servant")
    tb.model.never_active_next = 1
    stuck = conn.compute.create_server(name="arca-emergency-2", image_id=image.id, flavor_id=flavor.id,
                                       networks="auto", metadata={"arca_system": SYSTEM},
                                       tags=["arca-managed"])
    tb.model.advance(2)
    loop = Loop(tb, conn, skew=skew, boot_timeout_s=30.0)
    loop.decide(2)
    loop.run(25)
    assert tb.model.servants[stuck.id].status == "BUILD"  # not condemned before the enforcer's timeout
    loop.run(40)
    assert tb.model.servants[stuck.id].status == "DELETED"
    assert servers_ever_created(tb) == ["arca-emergency-1", "arca-emergency-2", "arca-emergency-3"]
    live = loop.servers()
    assert len(live) == 2 and all(s.status == "ACTIVE" and s.pools for s in live)


def test_scale_in_drains_from_every_pool_before_deleting(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn, drain_s=2.0)
    loop.decide(3)
    loop.run(12)
    loop.decide(1)
    newest = [s for s in loop.servers() if s.name in ("arca-emergency-2", "arca-emergency-3")]
    assert all(not s.pools for s in newest)  # drained at once
    assert all(s.status == "ACTIVE" for s in newest)  # but not deleted before the drain period
    loop.run(4)
    assert [s.name for s in loop.servers()] == ["arca-emergency-1"]
    assert loop.members() == {"pool-building-2": 1, "pool-building-3": 1, "pool-building-4": 1}


def test_a_released_boot_is_cancelled_and_its_building_server_deleted_at_once(tb: Testbed, conn: Any) -> None:
    # issue 23 item 5 (planning rule 4a): a false alarm released while its servants boot
    loop = Loop(tb, conn)
    loop.decide(1)
    loop.run(12)
    loop.decide(4)
    loop.run(3)
    assert sorted(s.status for s in loop.servers()) == ["ACTIVE", "BUILD", "BUILD", "BUILD"]
    released_at = tb.model.t
    loop.decide(1)
    loop.run(1)
    assert [s.name for s in loop.servers()] == ["arca-emergency-1"]  # deleted before their boot ended
    gone = [s for s in tb.model.servants.values() if s.name != "arca-emergency-1"]
    assert len(gone) == 3 and all(s.deleted_s is not None and s.deleted_s <= released_at + 1 for s in gone)
    creates = loop.enforcements("create_servant")
    assert [e.outcome for e in creates] == ["skipped"] * 3  # cancelled, not failed: nothing condemned
    assert all("cancelled" in e.detail for e in creates)
    assert [e.outcome for e in loop.enforcements("remove_servant")] == ["succeeded"] * 3
    assert not loop.rec.state(SYSTEM).condemned
    loop.run(15)  # nothing comes back, nothing is recreated
    assert [s.name for s in loop.servers()] == ["arca-emergency-1"]
    assert len(loop.enforcements("create_servant")) == 3


def test_a_cancelled_boot_whose_create_did_not_answer_is_reported_on_its_server(tb: Testbed,
                                                                                  conn: Any) -> None:
    # the create's request reached the cloud but its answer was lost (retry pending, the action knows no
    # server yet); a scale-in cancels that boot: the cancellation names the server deleted, as the
    # remove does, so the audit trail says which boot was thrown away and why
    loop = Loop(tb, conn)
    loop.decide(1)
    loop.run(12)
    real_create = loop.driver.create_servant
    lost = []

    def create_answer_lost(system: str, name: str) -> str:
        lost.append(real_create(system, name))
        raise TransientError("create: ReadTimeout (the answer was lost)")

    loop.driver.create_servant = create_answer_lost  # type: ignore[method-assign]
    loop.decide(2)
    loop.driver.create_servant = real_create  # type: ignore[method-assign]
    assert len(lost) == 1 and tb.model.servants[lost[0]].status == "BUILD"
    loop.decide(1)  # before the retry: the listing shows the boot, the create still waits
    loop.run(1)
    assert tb.model.servants[lost[0]].deleted_s is not None
    creates = [e for e in loop.enforcements("create_servant") if e.outcome == "skipped"]
    assert [(e.target, e.detail.startswith("cancelled:")) for e in creates] == [(lost[0], True)]
    removes = loop.enforcements("remove_servant")
    assert [(e.target, e.outcome) for e in removes] == [(lost[0], "succeeded")]


def test_drift_repaired_on_resync(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn)
    loop.decide(3)
    loop.run(12)
    victim = next(s for s in loop.servers() if s.name == "arca-emergency-2")
    conn.compute.delete_server(victim.id)  # behind ARCA's back
    dead = next(s for s in loop.servers() if s.name == "arca-emergency-3")
    tb.model.kill_servant(dead.id)
    loop.run(6)  # resync period (5 s) elapses: the plan sees one missing and one dead
    loop.run(14)
    live = loop.servers()
    assert len(live) == 3 and all(s.status == "ACTIVE" and s.pools for s in live)
    assert tb.model.servants[dead.id].status == "DELETED"


def test_foreign_servers_are_never_touched(tb: Testbed, conn: Any) -> None:
    image = conn.image.find_image("emergency-servant", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.servant")
    foreign = conn.compute.create_server(name="arca-emergency-9", image_id=image.id, flavor_id=flavor.id,
                                         networks="auto")
    loop = Loop(tb, conn)
    tb.model.advance(11)
    loop.decide(1)
    loop.run(5)
    assert tb.model.servants[foreign.id].status == "ACTIVE"
    assert all(s.id != foreign.id for s in loop.driver.list_servants(SYSTEM))
    with pytest.raises(PermanentError, match="not owned"):
        loop.driver.delete_servant(SYSTEM, foreign.id)
    assert tb.model.servants[foreign.id].status == "ACTIVE"


def test_decision_beyond_policy_bounds_is_clipped(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn, bounds=Bounds(2, 4))
    loop.decide(40)
    loop.run(12)
    assert len(loop.servers()) == 4
    loop.decide(0)
    loop.run(3)
    assert len(loop.servers()) == 2


def test_policy_forbidding_scale_out_refuses_and_reports(tb: Testbed, conn: Any) -> None:
    loop = Loop(tb, conn, bounds=Bounds(1, 15, frozenset({"scale-in", "heal"})))
    loop.decide(3)
    loop.run(3)
    assert len(loop.servers()) == 1
    refused = [e for e in loop.enforcements() if "refused by policy" in e.detail]
    assert len(refused) == 2 and all(e.outcome == "skipped" for e in refused)


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_service_on_the_bus_closes_the_loop(tb: Testbed, conn: Any) -> None:
    clock = SimClock(START)
    bus = InMemoryBus()
    s = ArcaSettings(enforcer=settings(systems=[SYSTEM]))
    deps = Deps(bus=bus, kb=EmbeddedKnowledgeBase(), clock=clock, settings=s)
    service = EnforcerService(deps, driver=OpenStackDriver(s.enforcer, conn))
    service.attach()
    seen: list[Message] = []
    bus.subscribe("test.enforcement", ["enforcement.#"], seen.append)
    created = _sample("arca_enforcement_actions_total",
                      {"driver": "openstack", "action": "create_servant", "outcome": "succeeded"})
    reactions = _sample("arca_incident_to_capacity_seconds_count")
    latencies = _sample("arca_decision_to_enforcement_seconds_count")
    service.tick(clock.now())  # watched system: the initial servant is repaired into the pools
    onset = clock.now()
    bus.publish(ExternalEvent(event_time=onset, event_id="quake-1", source="seismometer-hq", onset=onset,
                              payload_kind="seismometer", severity=3))
    bus.publish(Decision(event_time=clock.now(), system=SYSTEM, strategy="test", target_servants=2,
                         reason="test", rule="test", incident_id="quake-1"))
    for _ in range(12):
        tb.model.advance(1.0)
        clock.set(tb.model.now())
        service.tick(clock.now())
    outcomes = sorted((m.action, m.outcome) for m in seen if isinstance(m, Enforcement))
    assert ("create_servant", "succeeded") in outcomes and ("join_pool", "succeeded") in outcomes
    assert all(s.pools for s in tb.model.live_servants())
    assert _sample("arca_enforcement_actions_total", {"driver": "openstack", "action": "create_servant",
                                                       "outcome": "succeeded"}) == created + 1
    assert _sample("arca_incident_to_capacity_seconds_count") == reactions + 1
    assert _sample("arca_decision_to_enforcement_seconds_count") >= latencies + 1
    assert _sample("arca_servants_active", {"system": SYSTEM}) == 2


def test_service_repairs_a_dead_servant_on_its_topology_change(tb: Testbed, conn: Any) -> None:
    clock = SimClock(START)
    bus = InMemoryBus()
    s = ArcaSettings(enforcer=settings(resync_interval_s=600.0))
    deps = Deps(bus=bus, kb=EmbeddedKnowledgeBase(), clock=clock, settings=s)
    service = EnforcerService(deps, driver=OpenStackDriver(s.enforcer, conn))
    service.attach()
    bus.publish(Decision(event_time=clock.now(), system=SYSTEM, strategy="test", target_servants=1,
                         reason="test", rule="test"))
    victim = tb.model.live_servants()[0]
    tb.model.kill_servant(victim.id)
    bus.publish(TopologyChange(event_time=clock.now(), system=SYSTEM, server_id=victim.id, state="error"))
    for _ in range(12):  # far inside the resync period: only the topology change can have told it
        tb.model.advance(1.0)
        clock.set(tb.model.now())
        service.tick(clock.now())
    assert tb.model.servants[victim.id].status == "DELETED"
    live = tb.model.live_servants()
    assert len(live) == 1 and live[0].status == "ACTIVE" and live[0].pools


def test_a_servant_joined_to_the_pool_is_reported_in_service(tb: Testbed, conn: Any) -> None:
    # the testbed starts with one servant outside the pools: the enforcer joins it, and its report
    # must count it (the analyzer takes servant counts from these reports)
    loop = Loop(tb, conn)
    loop.decide(1)
    joins = loop.enforcements("join_pool")
    assert [e.outcome for e in joins] == ["succeeded"]
    assert (joins[0].active_servants, joins[0].booting_servants) == (1, 0)


def test_frequency_guard_limits_creations_and_reports_each_refusal(tb: Testbed, conn: Any) -> None:
    before = _sample("arca_guard_refusals_total", {"system": SYSTEM, "guard": "frequency"})
    loop = Loop(tb, conn, bounds=Bounds(1, 15, frequency_limit=2, frequency_window_s=600))
    loop.decide(6)
    loop.run(15)
    loop.decide(8)  # a new decision: refused again, and reported again
    loop.run(3)
    assert len(loop.servers()) == 3  # the one there + the guard's 2 actions
    refused = [e for e in loop.enforcements() if e.detail.startswith("refused by guard frequency")]
    assert len(refused) == 3 + 5 and all(e.outcome == "skipped" for e in refused)
    after = _sample("arca_guard_refusals_total", {"system": SYSTEM, "guard": "frequency"})
    assert after - before == len(refused)


def test_one_pass_sends_each_read_once_until_the_driver_changes_something(tb: Testbed, conn: Any) -> None:
    """``reads_once``: a server and the pools' members read twice in a pass cost one request each; a
    change (a pool member removed) forgets them, so the next read sees it; outside a pass every read
    is sent."""
    loop = Loop(tb, conn)
    loop.decide(2)
    loop.run(12)
    sid = next(s.id for s in loop.servers())
    served = tb.cloud.requests_served

    def sent(read: Any) -> tuple[int, int]:
        before = (served.get("compute", 0), served.get("load-balancer", 0))
        read()
        return served.get("compute", 0) - before[0], served.get("load-balancer", 0) - before[1]

    driver = loop.driver
    assert sent(lambda: driver.get_servant(SYSTEM, sid)) == (1, 3)  # no pass: the server, three pools
    with driver.reads_once():
        assert sent(lambda: driver.get_servant(SYSTEM, sid)) == (1, 3)
        assert sent(lambda: driver.get_servant(SYSTEM, sid)) == (0, 0)
        assert sent(lambda: driver.list_servants(SYSTEM)) == (1, 0)  # the listing is its own read
        with driver.reads_once():  # nested: the outer pass's answers
            assert sent(lambda: driver.get_servant(SYSTEM, sid)) == (0, 0)
        assert driver.get_servant(SYSTEM, sid).in_pool  # type: ignore[union-attr]
        driver.remove_from_pool(SYSTEM, sid)  # a change: what was read is forgotten
        after = driver.get_servant(SYSTEM, sid)
        assert after is not None and not after.in_pool
        assert sent(lambda: driver.get_servant(SYSTEM, sid)) == (0, 0)
    assert sent(lambda: driver.get_servant(SYSTEM, sid)) == (1, 3)  # the pass is over


class _PassAware(OpenStackDriver):
    """The real driver, noting whether each listing happened inside a ``reads_once`` pass."""

    in_pass: list[bool]

    def list_servants(self, system: str) -> list[Any]:
        self.in_pass.append(self._reads is not None)
        return super().list_servants(system)


def test_a_reconcile_pass_is_one_driver_pass(tb: Testbed, conn: Any) -> None:
    driver = _PassAware(settings(), conn)
    driver.in_pass = []
    rec = Reconciler(driver, settings(), publish=lambda _m: None)
    d = Decision(event_time=tb.model.now(), system=SYSTEM, strategy="test", target_servants=2, reason="test",
                 rule="test")
    assert rec.set_desired(d)
    rec.reconcile(SYSTEM, tb.model.now())
    assert driver.in_pass == [True]
    assert driver._reads is None  # the pass is over with the reconcile


def test_a_tick_over_many_systems_lists_the_servers_once(tb: Testbed, conn: Any) -> None:
    """A tick reconciles every system in one driver pass: when every system's resync is due, Nova's
    server listing and the pools' members are read once for the tick, not once per system (200
    systems on one enforcer made ticks of seconds that held its delivery thread)."""
    loop = Loop(tb, conn, resync_interval_s=10.0)
    systems = [f"sys-{k}" for k in range(4)]
    for system in systems:
        d = Decision(event_time=loop.now, system=system, strategy="test", target_servants=1, reason="test",
                     rule="test")
        assert loop.rec.set_desired(d)
    loop.run(20)  # each system's servant booted and joined; every resync has run once
    owners = sorted((s.metadata or {}).get("arca_system", "") for s in loop.servers() if s.status == "ACTIVE")
    assert [o for o in owners if o.startswith("sys-")] == systems
    served = tb.cloud.requests_served
    tb.model.advance(11.0)  # every system's resync is due at this tick
    before = (served.get("compute", 0), served.get("load-balancer", 0))
    loop.rec.tick(loop.now)
    sent = (served.get("compute", 0) - before[0], served.get("load-balancer", 0) - before[1])
    assert sent == (1, 3), sent  # one listing of the servers, the three pools' members once each
    assert not [e for e in loop.enforcements() if e.outcome == "failed"]


class _CountingOwned(OpenStackDriver):
    """The real driver, counting the ownership checks of listed servers."""

    checks = 0

    @staticmethod
    def owned(server: dict[str, Any], system: str) -> bool:
        _CountingOwned.checks += 1
        return OpenStackDriver.owned(server, system)


def test_a_pass_indexes_the_server_listing_once_for_all_its_systems(tb: Testbed, conn: Any) -> None:
    """Within a pass each listed server's owner is looked at once, however many systems the pass lists
    (it was once per server per system: quadratic); the servants found are the same as outside one."""
    loop = Loop(tb, conn)
    systems = [f"sys-{k}" for k in range(5)]
    for system in systems:
        loop.rec.set_desired(Decision(event_time=loop.now, system=system, strategy="test", target_servants=2,
                                      reason="test", rule="test"))
    loop.run(15)
    driver = _CountingOwned(settings(), conn)
    alone = {system: driver.list_servants(system) for system in systems}  # no pass: each lists anew
    assert all(len(found) == 2 for found in alone.values()), alone
    listed = len([s for s in conn.compute.servers() if "arca-managed" in (s.tags or [])])
    _CountingOwned.checks = 0
    with driver.reads_once():
        in_pass = {system: driver.list_servants(system) for system in systems}
    assert in_pass == alone
    assert _CountingOwned.checks == listed  # each listed server once, not once per system


def test_a_tick_given_systems_reconciles_only_those(tb: Testbed, conn: Any) -> None:
    """A sharded enforcer's tick names the systems it owns: a system the reconciler knows but was not
    given (another replica's now) is left alone."""
    loop = Loop(tb, conn)
    for system in ("mine", "theirs"):
        assert loop.rec.set_desired(Decision(event_time=loop.now, system=system, strategy="test",
                                             target_servants=1, reason="test", rule="test"))
    loop.rec.tick(loop.now, ["mine"])
    owners = {(s.metadata or {}).get("arca_system") for s in loop.servers()}
    assert "mine" in owners and "theirs" not in owners
