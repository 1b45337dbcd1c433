"""Issue 23 item 7: servants held between incidents when new ones come too late (``arca.decider.hold``).

Through OSM a scale operation takes 42 s and a burst is over ~30 s after its incident: what serves it
is capacity already running. The pure rules: how many servants to hold for the admin's discard
objective (``steady_hold``, ``held``), a floor that starts new servants only for what they can serve
(``in_time_floor``), the amount never below the hold (``loop.held_amount``); then the loop: with a
42 s lead time and an objective, a quiet system holds servants, a notification boots none for a burst
they would come after, and a policy without an objective (or with a warm pool) decides as before.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from decider_helpers import policy, situation, trained

from arca.decider.hold import Hold, held, hold_reason, in_time_floor, steady_hold
from arca.decider.loop import ArcaState, ArcaStrategy, held_amount
from arca.decider.warm import Expect, Ledger

ARCA = ArcaStrategy()

BURST = [1.0] * 3 + [4.0] * 10 + [1.0] * 10
"""One severity: 4 servants needed from 3 s to 13 s after the onset (high threshold 1: the demand is
the MSA), the default 1 otherwise. Held ``n``: (3 - n)+ servant-equivalents short for 10 s."""
STRONG = [1.0] * 3 + [8.0] * 10 + [1.0] * 10
"""A stronger one: (7 - n)+ short for 10 s."""
SIZE = {"default": 1, "high": 1.0, "notice_s": 0.0, "lead_s": 43.0}

HOLDS = [
    # id, curves, objective, per incident, most, expect, servants held, met
    # one burst, 100 offered per incident: 30 / 20 / 10 / 0 short -> 30 % / 20 % / 10 % / 0 %
    ("a-generous-objective-holds-nothing", [BURST], 0.3, 100.0, 10, "mean", 0, True),
    ("twenty-percent-holds-one", [BURST], 0.2, 100.0, 10, "mean", 1, True),
    ("ten-percent-holds-two", [BURST], 0.1, 100.0, 10, "mean", 2, True),
    ("nothing-discarded-holds-the-whole-burst", [BURST], 0.0, 100.0, 10, "mean", 3, True),
    # out of reach within the bound: the most allowed, flagged
    ("out-of-reach-holds-the-most-allowed", [BURST], 0.0, 100.0, 2, "mean", 2, False),
    # a longer period per incident (quiet time) dilutes the burst: less held for the same objective
    ("quiet-time-between-incidents-holds-less", [BURST], 0.1, 300.0, 10, "mean", 0, True),
    # before any incident: the volume of one burst (the curve's sum: 3 + 40 + 10 = 53)
    ("no-incident-yet-the-bursts-own-volume", [BURST], 0.2, None, 10, "mean", 2, True),
    # two severities: the mean of 10 x ((3-n)+ + (7-n)+) / 2, or the worst 10 x (7-n)+
    ("the-mean-severity-by-default", [BURST, STRONG], 0.2, 100.0, 10, "mean", 3, True),
    ("a-bound-expects-the-worst-severity", [BURST, STRONG], 0.2, 100.0, 10, "worst", 5, True),
]


@pytest.mark.parametrize("curves,objective,per_incident,most,expect,servants,met", [c[1:] for c in HOLDS],
                         ids=[c[0] for c in HOLDS])
def test_steady_hold_is_the_fewest_servants_meeting_the_objective(
        curves: list[list[float]], objective: float, per_incident: float | None, most: int, expect: Expect,
        servants: int, met: bool) -> None:
    got = steady_hold(curves, objective, per_incident, most=most, expect=expect, **SIZE)  # type: ignore[arg-type]
    assert (got.servants, got.met) == (servants, met)
    if met:
        assert got.expected <= objective


WINDOWS = [
    # id, lead (s after the notification new servants serve), notice, servants held for 5 % of 100
    # offered per incident: (3 - n) short for each second of the burst before new servants serve
    ("new-servants-after-the-burst-hold-for-all-of-it", 43.0, 0.0, 3),  # 10 s: 10 (3 - n) <= 5
    ("new-servants-before-the-burst-hold-nothing", 2.0, 0.0, 0),
    # held servants run: they serve what comes before the notification too (5 s late: 3-6 s after the
    # onset, 4 s: 4 (3 - n) <= 5), new ones only from 2 s after it
    ("held-servants-serve-before-the-notification", 2.0, 5.0, 2),
]


@pytest.mark.parametrize("lead,notice,servants", [c[1:] for c in WINDOWS], ids=[c[0] for c in WINDOWS])
def test_the_hold_covers_the_burst_until_new_servants_serve(lead: float, notice: float,
                                                           servants: int) -> None:
    got = steady_hold([BURST], 0.05, 100.0, most=10, default=1, high=1.0, notice_s=notice, lead_s=lead)
    assert got.servants == servants


def test_held_needs_an_objective_no_pool_and_a_trained_model() -> None:
    model = trained()
    through_osm = policy(lead_time_s=42.0, discard_objective=0.2)
    assert held(policy(lead_time_s=42.0), model, Ledger()) is None  # no objective: nothing held
    assert held(through_osm, None, Ledger()) is None
    assert held(policy(lead_time_s=42.0, discard_objective=0.2, warm_pool_state="stopped"), model,
                Ledger()) is None  # a warm pool answers the objective (arca.decider.warm)
    got = held(through_osm, model, Ledger(offered=500.0, incidents=5))
    assert got is not None and got.servants > 0 and got.met
    tighter = held(through_osm.model_copy(update={"discard_objective": 0.05}), model,
                   Ledger(offered=500.0, incidents=5))
    assert tighter is not None and tighter.servants > got.servants


def test_a_short_lead_time_holds_less_than_a_long_one() -> None:
    """Through OpenStack (10 s) servants asked at the notification serve most of a burst: less held."""
    model, ledger = trained(), Ledger(offered=500.0, incidents=5)
    short = held(policy(lead_time_s=10.0, discard_objective=0.1), model, ledger)
    long = held(policy(lead_time_s=42.0, discard_objective=0.1), model, ledger)
    assert short is not None and long is not None and short.servants < long.servants


def test_the_hold_stays_within_the_policys_maximum() -> None:
    got = held(policy(lead_time_s=42.0, discard_objective=0.0, max_servants=3), trained(),
               Ledger(offered=100.0, incidents=1))
    assert got is not None and got.servants == 2 and not got.met
    assert got.level(policy(max_servants=3)) == 3
    assert Hold(5, 0.0, True).level(policy(max_servants=3)) == 3  # a hold sized for a larger bound


IN_TIME = [
    # id, window floor, floor at arrival, servants kept, floor
    ("a-burst-before-new-servants-serve-is-left-to-the-kept-ones", 8.0, 1.0, 3, 3.0),
    ("what-is-needed-at-arrival-is-started", 8.0, 6.0, 3, 6.0),
    ("kept-servants-above-the-need-are-not-a-floor", 2.0, 1.0, 3, 2.0),
    ("nothing-kept-nothing-needed-at-arrival", 8.0, 1.0, 1, 1.0),
]


@pytest.mark.parametrize("window,arrival,kept,expected", [c[1:] for c in IN_TIME],
                         ids=[c[0] for c in IN_TIME])
def test_in_time_floor_starts_new_servants_only_for_what_they_serve(window: float, arrival: float, kept: int,
                                                                    expected: float) -> None:
    assert in_time_floor(window, arrival, kept) == expected


HELD_AMOUNT = [
    ("a-scale-in-stops-at-the-hold", 1, "reactive-in", 3, (3, "held")),
    ("a-larger-amount-is-kept", 5, "anticipated", 3, (5, "anticipated")),
    ("at-the-hold-the-rule-is-kept", 3, "hold", 3, (3, "hold")),
]


@pytest.mark.parametrize("current,rule,level,expected", [c[1:] for c in HELD_AMOUNT],
                         ids=[c[0] for c in HELD_AMOUNT])
def test_the_amount_is_never_below_the_hold(current: int, rule: str, level: int,
                                            expected: tuple[int, str]) -> None:
    assert held_amount(current, rule, level) == expected


def test_the_reason_names_the_hold_the_objective_and_the_ratio() -> None:
    text = hold_reason(Hold(2, 0.18, True), policy(lead_time_s=42.0, discard_objective=0.2),
                       Ledger(offered=100.0, discarded=15.0))
    assert text == ("discard objective 20.000 % 2 servant(s) held above the default between incidents "
                    "(servants asked at a notification serve 43s later) expect 18.000 % (15.000 % so far)")
    assert "out of reach" in hold_reason(Hold(14, 0.3, False), policy(discard_objective=0.0), Ledger())


# -- the loop -------------------------------------------------------------------------------------------
OSM = {"lead_time_s": 42.0, "discard_objective": 0.2}


def _state() -> ArcaState:
    return ArcaState(anticipator=trained(), ledger=Ledger(offered=500.0, incidents=5))


def test_a_quiet_system_holds_servants_through_a_long_operation() -> None:
    out, st = ARCA.decide(situation(10.0, demand=0.2), policy(**OSM), _state(), situation(10.0).event_time)
    want = held(policy(**OSM), st.anticipator, st.ledger)
    assert want is not None and want.servants > 0
    assert out.target == 1 + want.servants and out.rule == "held"
    assert "held above the default between incidents" in out.reason


def test_without_an_objective_a_quiet_system_goes_back_to_the_default() -> None:
    out, _ = ARCA.decide(situation(10.0, demand=0.2), policy(lead_time_s=42.0), _state(),
                         situation(10.0).event_time)
    assert out.target == 1 and "held" not in out.reason


def test_a_notification_boots_nothing_that_would_come_after_the_burst() -> None:
    """Severity 4 notified 1 s after its onset, 42 s operations: its burst (curve up to 8) is over before
    any new servant serves, so the floor is the hold alone; without a hold it would ask for the peak."""
    pol = policy(**OSM)
    event = situation(11.0, severity=4, onset=10.0, trigger="event")
    out, st = ARCA.decide(event, pol, _state(), event.event_time)
    hold = held(pol, st.anticipator, st.ledger)
    assert hold is not None and out.target == 1 + hold.servants < 7
    plain, _ = ARCA.decide(event, policy(lead_time_s=42.0), _state(), event.event_time)
    assert plain.target >= 7  # the old floor: the burst's peak over the 42 s lead time


def test_with_a_short_operation_the_notification_still_boots_for_the_burst() -> None:
    """10 s operations: servants asked at the notification serve inside the burst, so they are asked."""
    pol = policy(lead_time_s=10.0, discard_objective=0.2)
    event = situation(11.0, severity=4, onset=10.0, trigger="event")
    out, _ = ARCA.decide(event, pol, _state(), event.event_time)
    assert out.target >= 7


def test_servants_asked_before_are_kept_while_the_burst_needs_them() -> None:
    """A correction raised the amount to 6 during a burst: at the next notification-time decision the
    in-time floor keeps them while the incident's curve still needs them (``kept`` is the hold or the
    amount decided before, the larger), instead of falling to the hold mid-burst."""
    pol = policy(**OSM)
    event = situation(11.0, severity=4, onset=10.0, trigger="event")
    _, st = ARCA.decide(event, pol, _state(), event.event_time)
    later = situation(22.0, severity=4, onset=10.0, trigger="event")
    out, _ = ARCA.decide(later, pol, replace(st, current=6), later.event_time)
    assert out.target == 6
