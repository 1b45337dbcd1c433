"""Issue 23 (items 3-4): the warm pool sized for a discard objective (``arca:discardObjective``).

The pure rule (``arca.decider.warm``): ``shortfall`` of one incident's learned curve with a pool,
``objective_pool`` (the smallest pool whose expected discard meets the objective, given what was
offered and discarded so far, expecting the strongest severity next, or the mean of them), the
``Ledger`` of telemetry rounds; then the loop: the decision
carries the objective, the measured ratio and a reason, and the pool follows the ledger.
"""

from __future__ import annotations

import pytest
from decider_helpers import at, policy, situation, trained

from arca.decider.loop import ArcaState, ArcaStrategy
from arca.decider.warm import (
    ACTION_S,
    EXPECT,
    Expect,
    Ledger,
    Sizing,
    objective_pool,
    pool_size,
    severity_curves,
    shortfall,
    sizing,
)
from arca.namespace import ARCA_NS
from arca.policy import PolicyError, policy_from_pairs

ARCA = ArcaStrategy()
RAMP = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 8.0, 8.0, 8.0, 8.0]
"""An MSA curve one step per second: 8 servants at the high threshold from 7 s on."""

SHORTFALL = [
    # id, curve, pool, resume, lead, high threshold, expected servant-equivalent seconds short
    ("no-pool-counts-demand-above-the-default", RAMP, 0, 0.0, 3.0, 0.7, 0.4 + 1.1),
    ("pool-serves-from-the-resume-delay", RAMP, 1, 0.0, 3.0, 0.7, 0.1),
    ("before-the-resume-delay-nothing-counted", RAMP, 0, 2.0, 3.0, 0.7, 1.1),
    ("from-the-lead-time-new-servants-serve", RAMP, 0, 0.0, 1.0, 0.7, 0.0),
    ("a-pool-as-large-as-the-burst-loses-nothing", RAMP, 7, 0.0, 10.0, 0.7, 0.0),
    ("a-pool-one-short-of-the-burst", RAMP, 6, 5.0, 10.0, 1.0, 3.0),
]
NOTICED = [
    # id, notice delay, expected: RAMP at high 1.0, no pool, resume 0, lead 2 after the notification
    ("notified-at-the-onset", 0.0, 0.0 + 1.0),
    ("notified-2s-late-the-window-moves-up-the-ramp", 2.0, 2.0 + 3.0),
]


@pytest.mark.parametrize("notice,expected", [c[1:] for c in NOTICED], ids=[c[0] for c in NOTICED])
def test_shortfall_counts_from_the_notification(notice: float, expected: float) -> None:
    assert shortfall(RAMP, 0, default=1, high=1.0, resume_s=0.0, lead_s=2.0, notice_s=notice) == expected


@pytest.mark.parametrize("curve,pool,resume,lead,high,expected", [c[1:] for c in SHORTFALL],
                         ids=[c[0] for c in SHORTFALL])
def test_shortfall_is_the_demand_above_default_and_pool_between_resume_and_lead(
        curve: list[float], pool: int, resume: float, lead: float, high: float, expected: float) -> None:
    got = shortfall(curve, pool, default=1, high=high, resume_s=resume, lead_s=lead)
    assert got == pytest.approx(expected, abs=1e-9)


CURVES = [[1.0] * 3 + [5.0] * 20, [1.0] * 3 + [9.0] * 20]
"""Two severities: 5 and 9 servants from 3 s after the onset, for 20 s."""
SIZE = {"low": 0, "high_pool": 10, "default": 1, "high": 1.0, "resume_s": 0.0, "lead_s": 10.0}

OBJECTIVES = [
    # id, objective, ledger, pool expecting the mean severity, pool expecting the worst one, met.
    # Shortfall with pool P: 7 x (4-P)+ and 7 x (8-P)+ servant-equivalent seconds (7 s short each);
    # the mean is 3.5 x ((4-P)+ + (8-P)+), the worst 7 x (8-P)+; mean volume of one incident: 143
    ("generous-objective-needs-no-pool", 0.5, Ledger(), 0, 0, True),
    ("zero-objective-covers-the-strongest-burst", 0.0, Ledger(), 8, 8, True),
    ("one-percent-still-covers-the-strongest", 0.01, Ledger(), 8, 8, True),
    ("ten-percent-covers-the-mildest-or-most-of-the-strongest", 0.1, Ledger(), 4, 6, True),
    ("budget-left-from-quiet-hours-shrinks-the-pool", 0.01, Ledger(offered=1000.0), 5, 7, True),
    # one incident per 1000 offered so far: the next one's period brings 1000, not only its 143
    ("quiet-time-per-incident-dilutes-the-next-burst", 0.01, Ledger(offered=1000.0, incidents=1), 4, 6, True),
    ("overspent-budget-grows-the-pool", 0.1, Ledger(offered=100.0, discarded=20.0), 7, 8, True),
    # out of reach: the smallest pool with the least discard expected (8: a larger one saves nothing)
    ("unreachable-objective-asks-for-the-least-discard", 0.01, Ledger(offered=100.0, discarded=20.0), 8, 8,
     False),
]
EXPECTING = [("mean", 3), ("worst", 4)]
"""Each way of expecting the next incident, and the column of its pool in ``OBJECTIVES``."""


@pytest.mark.parametrize("expect,column", EXPECTING, ids=[e[0] for e in EXPECTING])
@pytest.mark.parametrize("case", OBJECTIVES, ids=[c[0] for c in OBJECTIVES])
def test_objective_pool_is_the_smallest_pool_meeting_the_objective(case: tuple, expect: Expect,  # type: ignore[type-arg]
                                                                   column: int) -> None:
    objective, ledger, pool, met = case[1], case[2], case[column], case[5]
    chosen = objective_pool(CURVES, objective, ledger, **SIZE, expect=expect)  # type: ignore[arg-type]
    assert (chosen.pool, chosen.met) == (pool, met)
    if met:
        assert chosen.expected <= objective
        if chosen.pool > SIZE["low"]:  # one servant less would not meet it: the least cost
            smaller = objective_pool(CURVES, objective, ledger, **{**SIZE, "high_pool": chosen.pool - 1},  # type: ignore[arg-type]
                                     expect=expect)
            assert not smaller.met


def test_the_mean_severity_is_expected_by_default() -> None:
    """Issue 23 (warm23b): the objective stays a target met on average (item 4: within +-20 % of what
    is asked); expecting the worst severity would make it a bound (measured: 0.01-0.42x of it)."""
    assert EXPECT == "mean"
    default = objective_pool(CURVES, 0.1, Ledger(), **SIZE)  # type: ignore[arg-type]
    assert default == objective_pool(CURVES, 0.1, Ledger(), **SIZE, expect="mean")  # type: ignore[arg-type]
    assert default != objective_pool(CURVES, 0.1, Ledger(), **SIZE, expect="worst")  # type: ignore[arg-type]
    # pool 4: 3.5 x (0 + 4) = 14 servant-equivalent seconds of 143 expected
    assert (default.pool, default.expected) == (4, pytest.approx(14 / 143))


def test_objective_pool_stays_within_the_policy_bounds() -> None:
    chosen = objective_pool(CURVES, 0.5, Ledger(), **{**SIZE, "low": 2})  # type: ignore[arg-type]
    assert chosen == Sizing(2, chosen.expected, True)
    capped = objective_pool(CURVES, 0.0, Ledger(), **{**SIZE, "high_pool": 3})  # type: ignore[arg-type]
    assert (capped.pool, capped.met) == (3, False) and capped.expected > 0


LEDGER = [
    ("a-round-adds-its-demand-and-discard", Ledger(), (2.0, 0.25, 10.0), Ledger(20.0, 5.0)),
    ("no-demand-adds-nothing", Ledger(1.0, 0.5), (0.0, 0.5, 10.0), Ledger(1.0, 0.5)),
    ("a-ratio-above-one-is-clamped", Ledger(), (1.0, 1.5, 10.0), Ledger(10.0, 10.0)),
    ("a-negative-ratio-is-clamped", Ledger(), (1.0, -0.5, 10.0), Ledger(10.0, 0.0)),
    ("a-negative-window-adds-nothing", Ledger(1.0, 0.5), (2.0, 0.5, -10.0), Ledger(1.0, 0.5)),
    ("a-negative-demand-adds-nothing", Ledger(1.0, 0.5), (-2.0, 0.5, 10.0), Ledger(1.0, 0.5)),
]


@pytest.mark.parametrize("before,round_,after", [c[1:] for c in LEDGER], ids=[c[0] for c in LEDGER])
def test_ledger_adds_telemetry_rounds(before: Ledger, round_: tuple[float, float, float],
                                      after: Ledger) -> None:
    assert before.add(*round_) == after


def test_ledger_ratio_is_unknown_before_any_demand() -> None:
    assert Ledger().ratio is None and Ledger(200.0, 1.0).ratio == 0.005


WARM = {"lead_time_s": 10.0, "warm_pool_state": "stopped", "warm_pool_min": 0, "warm_pool_max": 10,
        "warm_pool_auto": True}


def test_the_objective_overrides_auto_sizing_and_a_tighter_one_asks_for_more() -> None:
    model = trained()
    auto = pool_size(policy(**WARM), model)
    loose = pool_size(policy(**WARM, discard_objective=0.05), model)
    tight = pool_size(policy(**WARM, discard_objective=0.0), model)
    assert loose is not None and tight is not None and auto is not None
    assert loose < tight
    assert sizing(policy(**WARM), model, Ledger()) is None  # no objective: the auto size
    assert sizing(policy(**WARM, discard_objective=0.01), None, Ledger()) is None  # cold: no curves


def test_the_decision_reports_the_objective_and_the_ratio_measured() -> None:
    pol = policy(**WARM, discard_objective=0.005)
    state = ArcaState(anticipator=trained())
    first, state = ARCA.decide(situation(10, demand=0.5, discard=0.0), pol, state, at(10))
    assert first.discard_objective == 0.005 and first.discard_measured == 0.0
    assert "discard objective 0.500 %" in first.reason
    second, state = ARCA.decide(situation(20, demand=0.5, discard=0.1), pol, state, at(20))
    assert second.discard_measured == pytest.approx(0.05)  # 0.5 of 10 s lost of 10 s twice
    assert state.ledger == Ledger(10.0, 0.5)
    _, state = ARCA.decide(situation(20, trigger="event", demand=0.5, discard=0.1), pol, state, at(21))
    assert state.ledger == Ledger(10.0, 0.5)  # not a new telemetry round: nothing counted twice
    # 5 % discarded vs 0.5 % asked: out of reach, the pool with the least discard expected
    assert "out of reach" in second.reason
    assert second.standby == pool_size(policy(**WARM, discard_objective=0.0), trained())


def test_the_notification_delay_is_measured_from_the_incidents_anticipated() -> None:
    pol = policy(**WARM, discard_objective=0.005)
    _, state = ARCA.decide(situation(10, trigger="event", severity=4, onset=7.0), pol,
                           ArcaState(anticipator=trained()), at(10))
    assert (state.ledger.notice_s, state.ledger.incidents) == (3.0, 1)
    _, later = ARCA.decide(situation(12, trigger="event", severity=4, onset=7.0), pol, state, at(12))
    assert (later.ledger.notice_s, later.ledger.incidents) == (3.0, 1)  # the same incident: not again


def test_without_an_objective_the_decision_says_nothing_of_it() -> None:
    out, _ = ARCA.decide(situation(10, demand=0.5), policy(**WARM), ArcaState(anticipator=trained()), at(10))
    assert out.discard_objective is None and "objective" not in out.reason


@pytest.mark.parametrize("value", ["-0.1", "1.5"], ids=["negative", "above-one"])
def test_the_policy_refuses_an_objective_outside_zero_one(value: str) -> None:
    with pytest.raises(PolicyError):
        policy_from_pairs("urn:p:s", [(ARCA_NS + "system", "s"),
                                      (ARCA_NS + "discardObjective", float(value))])


def test_sizing_asks_from_the_policys_horizons_plus_the_enforcers_second() -> None:
    """The pool serves one resume delay + ACTION_S after the notification, new servants one boot delay
    + ACTION_S after it: a rising burst is short of more than the bare horizons say."""
    model, pol = trained(), policy(**WARM, discard_objective=0.001)
    ledger = Ledger(offered=500.0, notice_s=1.0, incidents=2)
    got = sizing(pol, model, ledger)
    curves = severity_curves(model, 60.0)
    common = {"low": 0, "high_pool": 10, "default": 1, "high": 0.7}
    shifted = objective_pool(curves, 0.001, ledger, resume_s=pol.resume_lead_time_s + ACTION_S,
                             lead_s=pol.lead_time_s + ACTION_S, **common)  # type: ignore[arg-type]
    bare = objective_pool(curves, 0.001, ledger, resume_s=pol.resume_lead_time_s, lead_s=pol.lead_time_s,
                          **common)  # type: ignore[arg-type]
    assert got is not None and (got.pool, got.met) == (shifted.pool, shifted.met)
    assert got.expected == pytest.approx(shifted.expected) and got.expected != pytest.approx(bare.expected)
    # with no pool at all, every second from the resume delay on counts: the resume horizon too
    none = sizing(policy(**{**WARM, "warm_pool_max": 0}, discard_objective=0.001), model, ledger)
    no_pool = {**common, "high_pool": 0}
    at_none = objective_pool(curves, 0.001, ledger, resume_s=pol.resume_lead_time_s + ACTION_S,
                             lead_s=pol.lead_time_s + ACTION_S, **no_pool)  # type: ignore[arg-type]
    early = objective_pool(curves, 0.001, ledger, resume_s=pol.resume_lead_time_s,
                           lead_s=pol.lead_time_s + ACTION_S, **no_pool)  # type: ignore[arg-type]
    assert none is not None and none.expected == pytest.approx(at_none.expected)
    assert at_none.expected != pytest.approx(early.expected)
