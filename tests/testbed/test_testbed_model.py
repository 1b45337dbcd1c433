"""The simulation core: accounting, determinism per seed, failures, queues, speed of a whole timeline."""

from __future__ import annotations

import pytest

from arca.clock import SimClock
from arca.testbed.accounting import summarize
from arca.testbed.demand import Demand
from arca.testbed.model import ModelParams, TestbedModel
from arca.testbed.timeline import parse_timeline, reference_timeline

ONE_INCIDENT = {
    "duration_s": 120,
    "seed": 2,
    "incidents": [{"at_s": 20, "severity": 3, "domain": "building-2"}],
}


def test_same_seed_same_run_and_different_seed_different_noise() -> None:
    runs = []
    for seed in (1, 1, 2):
        m = TestbedModel(reference_timeline().with_seed(seed))
        m.run()
        runs.append([(r.demand, r.served, r.discarded) for r in m.records])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    a, b = Demand(reference_timeline().with_seed(1)), Demand(reference_timeline().with_seed(2))
    assert a.at(5.0) != b.at(5.0)
    assert all(abs(a.at(t)[k] / b.at(t)[k] - 1) < 0.14 for t in (5.0, 100.0) for k in a.at(t))


def test_accounting_adds_up_per_domain() -> None:
    m = TestbedModel(parse_timeline(ONE_INCIDENT))
    m.run()
    s = summarize(m)
    queued = sum(m.queue.values())
    assert s.requests_total == pytest.approx(s.requests_served + s.requests_discarded + queued)
    assert set(s.discarded_by_domain) == {"building-2", "building-3", "building-4"}
    assert s.requests_discarded > 0  # one servant cannot absorb a severity-3 burst
    assert s.servant_seconds == pytest.approx(120.0)
    assert s.peak_required == 7
    for b, dropped in s.discarded_by_domain.items():  # the LB counters (HAProxy stats) agree
        c = m.lb_counters(b)
        assert c["discarded"] == pytest.approx(dropped)
        assert c["requests"] == pytest.approx(sum(r.demand[b] * r.dt for r in m.records))
        assert c["rate_max"] == pytest.approx(max(r.demand[b] for r in m.records))


def test_enough_servants_in_time_discard_nothing() -> None:
    m = TestbedModel(parse_timeline(ONE_INCIDENT))
    for i in range(9):
        m.create_servant(f"s{i}")
    m.run()
    s = summarize(m)
    assert s.requests_discarded == 0
    assert s.time_to_first_extra_s == [None]  # capacity was already there at the incident
    assert s.peak_servants == 10
    # servant-seconds count booting servants too: 9 x 120 + the initial one
    assert s.servant_seconds == pytest.approx(10 * 120)
    assert s.active_servant_seconds == pytest.approx(120 + 9 * 110)


def test_utilisation_is_served_over_capacity() -> None:
    m = TestbedModel(parse_timeline(ONE_INCIDENT))
    m.advance(10)
    r = m.records[-1]
    assert r.utilisation == pytest.approx(sum(r.served.values()) / (r.eligible * m.params.capacity_rps))
    assert 0.12 < r.utilisation < 0.16  # ~30 req/s on one 210 req/s servant


def test_bounded_queue_discards_the_excess() -> None:
    params = ModelParams(queue_limit=10, initial_servants=0)
    m = TestbedModel(parse_timeline({"duration_s": 10}), params)
    m.advance(3)  # ~10 req/s per building: the queues are full after the first seconds
    r = m.records[-1]
    assert sum(r.served.values()) == 0
    assert all(q == pytest.approx(10) for q in r.queue.values())
    assert all(d == pytest.approx(r.demand[b]) for b, d in r.discarded.items())


def test_time_to_first_extra_servant() -> None:
    m = TestbedModel(parse_timeline(ONE_INCIDENT))
    m.advance(25)  # incident at 20; react at 25
    m.create_servant("extra")
    m.run()
    assert summarize(m).time_to_first_extra_s == [15.0]  # boots 25 -> 35, in service from t=35


def test_failures_kill_active_servants_at_the_given_time() -> None:
    tl = parse_timeline({"duration_s": 100, "failures": [{"at_s": 30, "servants": 2}]})
    m = TestbedModel(tl, ModelParams(initial_servants=3))
    events: list[str] = []
    m.subscribe(lambda ev: events.append(ev.kind))
    m.advance(29)
    assert len(m.eligible_servants()) == 3
    m.advance(2)
    assert len(m.eligible_servants()) == 1
    assert events.count("servant.died") == 2 and "failure" in events
    assert sum(1 for s in m.live_servants() if s.status == "ERROR") == 2


def test_sim_clock_follows_the_model() -> None:
    clock = SimClock()
    start = clock.now()
    m = TestbedModel(parse_timeline({"duration_s": 100}), clock=clock)
    m.advance(12.5)
    assert (clock.now() - start).total_seconds() == pytest.approx(12.5)
    m.sync(m.time_of(20))
    assert m.t == pytest.approx(20)


def test_fine_steps_give_the_same_totals() -> None:
    coarse = TestbedModel(parse_timeline(ONE_INCIDENT))
    fine = TestbedModel(parse_timeline(ONE_INCIDENT), ModelParams(step_s=0.25))
    coarse.run()
    fine.run()
    assert summarize(fine).requests_total == pytest.approx(summarize(coarse).requests_total, rel=0.01)


def test_oracle_requirement_matches_the_calibration_without_noise() -> None:
    tl = parse_timeline({"duration_s": 100, "incidents": [{"at_s": 0, "severity": 3, "domain": "hq"}]})
    d = Demand(tl, noise_sd=0.0)
    assert d.required_servants(10.0) == 6
    m = TestbedModel(tl, ModelParams(noise_sd=0.0))
    assert m.required_servants(10.0) == 6 and m.required_servants() == 1
    m.advance(11)
    assert m.records[10].required == 6
