"""The OSM NBI client (requests) and the Ukko-style fault manager against the testbed's emulated OSM:
token, scale out/in polled to COMPLETED, a 503 burst retried, a dead VNF's alarm webhook -> heal or
replacement, with the operation polled tick by tick in simulated time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from arca.clock import SimClock
from arca.collector.osm import parse_webhook, to_alarm
from arca.enforcer.actions import ActionState, OsmScale, OsmScaleParams, RetryPolicy
from arca.enforcer.drivers.base import PermanentError
from arca.enforcer.drivers.osm import OsmClient
from arca.enforcer.faults import FaultManager
from arca.enforcer.settings import EnforcerSettings
from arca.messages import Alarm, Enforcement, Message
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

START = datetime(2026, 1, 1, tzinfo=UTC)
QUIET = {"duration_s": 3600, "seed": 5, "incidents": [], "failures": []}


@pytest.fixture
def tb() -> Iterator[Testbed]:
    bed = Testbed(parse_timeline(QUIET), ModelParams(), clock=SimClock(START)).start()
    try:
        yield bed
    finally:
        bed.stop()


def client(tb: Testbed, **kw: Any) -> OsmClient:
    return OsmClient(EnforcerSettings(osm_url=tb.served["osm"].url, **kw))


def ns_id(c: OsmClient) -> str:
    return str(c.ns_instances()[0]["_id"])


def managing(c: OsmClient) -> EnforcerSettings:
    """The client's settings with the testbed's NS instance as the one ARCA manages."""
    return c.settings.model_copy(update={"osm_ns_id": ns_id(c)})


def scale(c: OsmClient, direction: str, **kw: Any) -> OsmScale:
    return OsmScale(OsmScaleParams(system="emergency", ns_id=ns_id(c), scaling_group="relay-scaling",
                                   member_vnf_index="2", direction=direction), c, action_id="t",
                    retry=RetryPolicy(deadline_s=120.0, initial_s=1.0, max_attempts=5, **kw))


def relays(tb: Testbed) -> list[Any]:
    return [s for s in tb.model.live_servants() if s.owner == "osm"]


def drive(tb: Testbed, action: Any, seconds: int) -> None:
    for _ in range(seconds):
        tb.model.advance(1.0)
        action.step(tb.model.now())
        if action.done:
            return


def test_scale_out_then_in_polled_to_completed(tb: Testbed) -> None:
    c = client(tb)
    out = scale(c, "SCALE_OUT")
    out.step(tb.model.now())
    assert out.state is ActionState.VERIFYING and out.op_id  # submitted, not waited for
    assert c.token is not None
    drive(tb, out, 41)
    assert out.state is ActionState.VERIFYING  # OSM boots a VDU in 42 s
    drive(tb, out, 5)
    assert out.state is ActionState.SUCCEEDED
    assert [s.status for s in relays(tb)] == ["ACTIVE"]
    inn = scale(c, "SCALE_IN")
    inn.step(tb.model.now())
    drive(tb, inn, 10)
    assert inn.state is ActionState.SUCCEEDED and relays(tb) == []
    assert c.operation(inn.op_id or "")["operationState"] == "COMPLETED"


def test_refused_scale_fails_without_retrying(tb: Testbed) -> None:
    c = client(tb)
    inn = scale(c, "SCALE_IN")  # nothing to scale in: OSM's operation ends FAILED
    inn.step(tb.model.now())
    drive(tb, inn, 5)
    assert inn.state is ActionState.FAILED and "FAILED" in inn.detail
    with pytest.raises(PermanentError, match="422"):
        c.scale(ns_id(c), "no-such-group", "2", "SCALE_OUT")


def test_503_burst_is_retried_then_succeeds(tb: Testbed) -> None:
    c = client(tb)
    nid = ns_id(c)
    tb.cloud.faults.inject("osm", 2, 503)
    out = OsmScale(OsmScaleParams(system="emergency", ns_id=nid, scaling_group="relay-scaling",
                                  member_vnf_index="2", direction="SCALE_OUT"), c, action_id="t",
                   retry=RetryPolicy(deadline_s=120.0, initial_s=1.0, max_attempts=5))
    out.step(tb.model.now())
    assert out.state is ActionState.RUNNING and out.attempts == 1 and "503" in out.detail
    drive(tb, out, 60)
    assert out.state is ActionState.SUCCEEDED and out.attempts == 2
    assert len(relays(tb)) == 1  # retried, never submitted twice


def test_bad_password_is_refused(tb: Testbed) -> None:
    c = client(tb, osm_password="wrong")
    with pytest.raises(PermanentError, match="401"):
        c.ns_instances()


def _alarm_from_webhook(tb: Testbed, now: datetime) -> Alarm:
    body = tb.alarm_sink.sent[-1].body  # type: ignore[attr-defined]
    return to_alarm(parse_webhook(body), now, default_system="emergency")


@pytest.mark.parametrize("mode,expected_action", [("heal", "osm_heal"), ("replace", "osm_scale")],
                         ids=["heal-the-dead-vnf", "replace-by-scale-out"])
def test_dead_vnf_alarm_leads_to_heal_or_replacement(tb: Testbed, mode: str, expected_action: str) -> None:
    c = client(tb, osm_fault_mode=mode)
    out = scale(c, "SCALE_OUT")
    out.step(tb.model.now())
    drive(tb, out, 50)
    assert out.state is ActionState.SUCCEEDED
    dead = relays(tb)[0]
    tb.model.kill_servant(dead.id)
    tb.model.advance(31)  # MON evaluates VM status every 30 s, then POL posts the webhook
    alarm = _alarm_from_webhook(tb, tb.model.now())
    assert alarm.status == "insufficient-data" and alarm.vnf_member_index == "2"
    published: list[Message] = []
    fm = FaultManager(c, managing(c), publish=published.append)
    fm.on_alarm(alarm, tb.model.now())
    fm.on_alarm(alarm, tb.model.now())  # a repeated alarm does not start a second operation
    for _ in range(60):
        tb.model.advance(1.0)
        fm.tick(tb.model.now())
    reports = [m for m in published if isinstance(m, Enforcement)]
    assert [(r.action, r.outcome) for r in reports] == [(expected_action, "succeeded")]
    assert reports[0].correlation_id == alarm.correlation_id
    live = [s for s in relays(tb) if s.status == "ACTIVE"]
    assert len(live) == 1 if mode == "heal" else len(live) == 1 and dead.status == "ERROR"
    assert not fm.faults


def test_alarm_for_an_ns_arca_does_not_manage_is_ignored_and_counted(tb: Testbed) -> None:
    from arca.metrics import MESSAGES_REJECTED

    c = client(tb)
    before = MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:unmanaged")._value.get()
    fm = FaultManager(c, managing(c), publish=lambda _m: None)
    foreign = Alarm(event_time=tb.model.now(), system="emergency", alarm_id="a2", metric="vm_status",
                    status="insufficient-data", ns_id="someone-elses-ns", vnf_member_index="2")
    fm.on_alarm(foreign, tb.model.now())
    unconfigured = FaultManager(c, c.settings, publish=lambda _m: None)  # no NS configured: none managed
    unconfigured.on_alarm(foreign.model_copy(update={"ns_id": ns_id(c)}), tb.model.now())
    assert fm.faults == {} and unconfigured.faults == {}
    assert MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:unmanaged")._value.get() == before + 2


def test_failed_heal_backs_off_before_retrying(tb: Testbed) -> None:
    c = client(tb)
    alarm = Alarm(event_time=tb.model.now(), system="emergency", alarm_id="a1", metric="vm_status",
                  status="insufficient-data", ns_id=ns_id(c), vnf_member_index="9")
    fm = FaultManager(c, managing(c), publish=lambda _m: None)
    fm.on_alarm(alarm, tb.model.now())  # no VNF with member index 9: cannot even start
    fault = next(iter(fm.faults.values()))
    assert fault.attempts == 1 and fault.not_before is not None
    first = fault.not_before
    tb.model.advance((first - tb.model.now()).total_seconds() + 0.1)
    fm.tick(tb.model.now())
    assert fault.attempts == 2 and fault.not_before is not None
    assert (fault.not_before - tb.model.now()) > (first - alarm.event_time)  # exponential


def _decision(tb: Testbed, target: int) -> Any:
    from arca.messages import Decision

    return Decision(event_time=tb.model.now(), system="emergency", strategy="test", target_servants=target,
                    reason="test", rule="test")


def test_osm_reconciler_scales_one_step_at_a_time_to_the_target_and_back(tb: Testbed) -> None:
    from arca.enforcer.osm_reconciler import OsmReconciler

    c = client(tb)
    published: list[Message] = []
    rec = OsmReconciler(c, c.settings, publish=published.append)
    first = _decision(tb, 2)
    assert rec.set_desired(first) and not rec.set_desired(first)  # redelivery changes nothing
    rec.reconcile("emergency", tb.model.now())
    rec.reconcile("emergency", tb.model.now())  # a duplicate reconcile does not queue a second operation
    ops = c._send("GET", "/osm/nslcm/v1/ns_lcm_op_occs")
    assert len(ops) == 1
    for _ in range(100):
        tb.model.advance(1.0)
        rec.tick(tb.model.now())
    outs = [m for m in published if isinstance(m, Enforcement)]
    assert [(m.action, m.outcome) for m in outs] == [("osm_scale", "succeeded")] * 2
    assert [s.status for s in relays(tb)] == ["ACTIVE", "ACTIVE"]
    assert outs[-1].correlation_id == first.correlation_id and outs[-1].active_servants >= 1
    rec.set_desired(_decision(tb, 40))  # beyond the policy maximum: clipped, never enforced as is
    rec.set_desired(_decision(tb, 1))
    for _ in range(15):
        tb.model.advance(1.0)
        rec.tick(tb.model.now())
    assert len(relays(tb)) == 1
    assert "SCALE_IN" in [m for m in published if isinstance(m, Enforcement)][-1].detail


def test_osm_reconciler_respects_the_policy_maximum(tb: Testbed) -> None:
    from arca.enforcer.model import Bounds
    from arca.enforcer.osm_reconciler import OsmReconciler

    c = client(tb)
    rec = OsmReconciler(c, c.settings, publish=lambda _m: None, bounds_for=lambda _s: Bounds(0, 1))
    rec.set_desired(_decision(tb, 5))
    for _ in range(140):
        tb.model.advance(1.0)
        rec.tick(tb.model.now())
    assert len(relays(tb)) == 1


def test_osm_reconciler_applies_the_frequency_guard(tb: Testbed) -> None:
    from arca.enforcer.model import Bounds
    from arca.enforcer.osm_reconciler import OsmReconciler

    c = client(tb)
    published: list[Message] = []
    rec = OsmReconciler(c, c.settings, publish=published.append,
                        bounds_for=lambda _s: Bounds(0, 10, frequency_limit=2, frequency_window_s=3600))
    before = len(relays(tb))
    rec.set_desired(_decision(tb, before + 4))
    for _ in range(300):
        tb.model.advance(1.0)
        rec.tick(tb.model.now())
    assert len(relays(tb)) == before + 2  # two scale operations, then the guard refuses
    refused = [m for m in published if isinstance(m, Enforcement) and m.outcome == "skipped"]
    assert len(refused) == 1 and refused[0].detail.startswith("refused by guard frequency")


@pytest.fixture
def burst_tb() -> Iterator[Testbed]:
    """The Ukko NS whose relay VNFD has a second scaling aspect: four relays per operation."""
    aspects = (("relay-scaling", 1), ("relay-scaling-4", 4))
    params = ModelParams(initial_owner="osm", osm_scaling_aspects=aspects)
    bed = Testbed(parse_timeline(QUIET), params, clock=SimClock(START)).start()
    try:
        yield bed
    finally:
        bed.stop()


def _drive(tb: Testbed, rec: Any, seconds: int) -> None:
    for _ in range(seconds):
        tb.model.advance(1.0)
        rec.tick(tb.model.now())


@pytest.mark.parametrize(("allowed", "out_plan", "in_plan"), [
    ([], ["relay-scaling-4", "relay-scaling", "relay-scaling", "relay-scaling"],
     ["relay-scaling-4", "relay-scaling", "relay-scaling", "relay-scaling"]),
    (["relay-scaling"], ["relay-scaling"] * 7, ["relay-scaling"] * 7),
], ids=["every-aspect-of-the-vnfd", "restricted-to-ukkos-aspect"])
def test_osm_reconciler_reads_the_vnfd_aspects_and_applies_the_largest_that_fits(
        burst_tb: Testbed, allowed: list[str], out_plan: list[str], in_plan: list[str]) -> None:
    from arca.enforcer.osm_reconciler import OsmReconciler

    c = client(burst_tb, osm_scaling_aspects=allowed)
    published: list[Message] = []
    rec = OsmReconciler(c, c.settings, publish=published.append)
    rec.set_desired(_decision(burst_tb, 8))
    _drive(burst_tb, rec, 45 * len(out_plan))
    assert len(relays(burst_tb)) == 8 and all(s.status == "ACTIVE" for s in relays(burst_tb))
    done = [m for m in published if isinstance(m, Enforcement)]
    assert [m.outcome for m in done] == ["succeeded"] * len(out_plan)
    assert [m.detail.split()[1] for m in done] == out_plan
    rec.set_desired(_decision(burst_tb, 1))
    _drive(burst_tb, rec, 7 * len(in_plan))
    assert len(relays(burst_tb)) == 1
    back = [m for m in published if isinstance(m, Enforcement)][len(out_plan):]
    assert [m.detail.split()[1] for m in back] == in_plan  # OSM takes back by the aspect that added


def test_osm_reconciler_boots_an_aspects_vdus_together(burst_tb: Testbed) -> None:
    """Five relays wanted from one: a single four-relay operation, its VDUs in service after 42 s."""
    from arca.enforcer.osm_reconciler import OsmReconciler

    c = client(burst_tb)
    published: list[Message] = []
    rec = OsmReconciler(c, c.settings, publish=published.append)
    rec.set_desired(_decision(burst_tb, 5))
    rec.reconcile("emergency", burst_tb.model.now())
    _drive(burst_tb, rec, 44)
    assert [s.status for s in relays(burst_tb)] == ["ACTIVE"] * 5
    assert len(c._send("GET", "/osm/nslcm/v1/ns_lcm_op_occs")) == 1
    [done] = [m for m in published if isinstance(m, Enforcement)]
    assert (done.outcome, done.active_servants, done.booting_servants) == ("succeeded", 5, 0)
    assert "(4 VDU, plan +4 relay-scaling-4)" in done.detail
