"""Issue 23 item 3: a severity raised at an incident's first round is served from the warm pool only.

The first round wholly after an onset may raise the severity (``assessed_by_load``, item 5); on the
reference timeline it raised a real severity 2 (need 1.85 there) to 3, booted two servants beyond
the pool and the next round undid it (arca-warm 1.135 -> 1.165 weighted vs the oracle). The raise is
remembered as ``Anticipation.early`` (the severity before) until the incident's next round; while
it is, the pool-aware floor serves the raise up to the default servants plus the pool and boots
only what the severity before needs (``early_floor``). Without a pool nothing changes.
"""

from __future__ import annotations

import pytest
from decider_helpers import at, policy, situation
from test_decider_detectors import first_curves, quiet_ant
from test_decider_phases import Curve, ant

from arca.decider.anticipator import LearnedSample
from arca.decider.loop import Anticipation, anticipated_floor, assessed_by_load, early_floor

WARM = {"warm_pool_state": "stopped", "warm_pool_min": 1, "warm_pool_max": 10}

# -- the raise is remembered until the incident's next round ------------------------------------------

EARLY = [
    # id, reported severity, onset s, demand at the round at 20 s, what `early` becomes
    ("a-first-round-raise-remembers-the-severity-before", 2, 10.0, 1.3, 2),
    ("a-first-round-raise-by-two-steps-too", 2, 10.0, 1.75, 2),
    ("no-raise-nothing-remembered", 2, 10.0, 1.1, None),
    ("a-later-round-move-is-no-guess", 2, 0.0, 3.2, None),
]


@pytest.mark.parametrize("severity,onset,demand,early", [c[1:] for c in EARLY], ids=[c[0] for c in EARLY])
def test_a_first_round_raise_is_remembered_as_early(severity: int, onset: float, demand: float,
                                                    early: int | None) -> None:
    got, _, _ = assessed_by_load((quiet_ant(severity=severity, onset=onset),), first_curves(),
                                 situation(20, demand=demand), policy(), None, {})
    assert got[0].early == early


CLEARED = [
    # id, onset s, round at s, early kept
    ("kept-until-the-next-round", 10.0, 20.0, True),
    ("cleared-at-the-next-round-15s-after", 10.0, 30.0, False),
    ("cleared-even-when-the-round-moves-nothing", 0.0, 20.0, False),
    ("kept-at-a-round-14s-after", 1.0, 20.0, True),
]


@pytest.mark.parametrize("onset,now,kept", [c[1:] for c in CLEARED], ids=[c[0] for c in CLEARED])
def test_early_is_forgotten_at_the_incidents_next_round(onset: float, now: float, kept: bool) -> None:
    """A severity-3 incident raised from 2 whose curve (1.8, flat) the load confirms (no move)."""
    a = quiet_ant(severity=2, onset=onset, assessed=3, early=2, judged=True)
    got, reasons, _ = assessed_by_load((a,), first_curves(), situation(now, demand=1.26), policy(), None, {})
    assert reasons == ()
    assert (got[0].early == 2) is kept
    assert got[0].level == 3


def test_early_is_forgotten_even_beside_another_incident() -> None:
    """Two live incidents: no assessment, but the first round's guess still ends at the next round."""
    a = quiet_ant("a", severity=2, onset=0.0, assessed=3, early=2, judged=True)
    b = quiet_ant("b", severity=1, onset=2.0)
    got, _, _ = assessed_by_load((a, b), first_curves(), situation(20, demand=3.0), policy(), None, {})
    assert [x.early for x in got] == [None, None]


# -- the floor of a raise: the pool serves it, nothing boots for it -----------------------------------

RAMPS = {2: 5.0, 3: 7.0}
"""Peak need by severity (servants), reached 10 s after the onset: the boot horizon sees it, the resume
horizon (7 s at the onset) sees ``0.7`` of it."""


def ramps() -> Curve:
    return Curve(lambda s, e: 1.0 + (RAMPS[s] - 1.0) * min(1.0, e / 10.0),
                 samples=[LearnedSample(k, 0.0, 1, sample_id=f"k{k}") for k in RAMPS])


FLOORS = [
    # id, raised warm floor, early severity, pool, expected
    ("raise-within-the-pool-kept", 4.0, 2, 4, 4.0),
    ("raise-beyond-the-pool-cut-at-default-plus-pool", 7.0, 2, 4, 5.0),
    ("the-severity-before-needs-more-than-the-pool-covers", 7.0, 2, 2, 5.0),
    ("a-pool-of-one-serves-one", 7.0, 2, 1, 5.0),
]


@pytest.mark.parametrize("raised,early,pool,expected", [c[1:] for c in FLOORS], ids=[c[0] for c in FLOORS])
def test_early_floor(raised: float, early: int, pool: int, expected: float) -> None:
    """At the onset with the stopped pool's resume delay (6 s): severity 2 needs 5 within the boot
    delay, 1 + 4 x 0.6 = 3.4 within the resume delay."""
    p = policy(**WARM)
    assert early_floor(raised, ramps(), early, 0.0, p, pool) == pytest.approx(expected)


def test_early_floor_of_a_cold_severity_is_the_raised_one() -> None:
    cold = Curve(lambda _s, _e: 1.0, samples=[LearnedSample(3, 0.0, 1, sample_id="k")])
    cold.predict = lambda severity, elapsed: None  # type: ignore[method-assign]
    assert early_floor(7.0, cold, 2, 0.0, policy(**WARM), 4) == 7.0


def raised(early: int | None) -> Anticipation:
    return ant("a", 2, 0.0, assessed=3, early=early, judged=True)


FLOOR_CASES = [
    # id, early, pool, policy extras, expected MSA at the onset
    ("warm-first-round-raise-served-from-the-pool", 2, 4, WARM, 5),
    ("warm-a-confirmed-raise-boots-its-whole-need", None, 4, WARM, 7),
    ("no-pool-the-raise-boots-its-whole-need", 2, None, {}, 7),
]


@pytest.mark.parametrize("early,pool,extra,msa", [c[1:] for c in FLOOR_CASES],
                         ids=[c[0] for c in FLOOR_CASES])
def test_anticipated_floor_of_a_first_round_raise(early: int | None, pool: int | None,
                                                  extra: dict[str, object], msa: int) -> None:
    floor = anticipated_floor((raised(early),), ramps(), policy(**extra), at(0.0), pool, "capped")
    assert floor is not None
    assert floor.msa == msa
