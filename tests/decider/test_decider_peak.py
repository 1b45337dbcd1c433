"""The window's peak demand (issue 23 item 1): what a burst's top teaches, and what it does not.

A window's mean hides the top of a short burst: a severity-1 burst needs its third servant for ~3 s
around its peak, two over the 10 s window around it, so a curve learned from means alone left a
stronger incident notified then without headroom. Tables with readable ids; each learning case fails
on the code before (no peak was read, nothing was learned in an acceptable round).
"""

from __future__ import annotations

import pytest
from decider_helpers import at, policy, situation

from arca.decider.anticipator import PEAK_REACH_S, Anticipator, LearnedSample, floor_amount
from arca.decider.loop import Anticipation, ArcaState, ArcaStrategy, learned_from, peak_lesson
from arca.messages import Situation


def burst(severity: int, peak: int, start: int = 5, until: int = 25) -> list[LearnedSample]:
    """A burst learned from window means: ``peak`` servants from ``start`` to ``until`` s, 1 elsewhere."""
    return [LearnedSample(severity, float(e), peak if start <= e <= until else 1,
                          sample_id=f"b{severity}-{e}") for e in range(0, 40)]


SEV1 = Anticipator(burst(1, 2))
"""A severity-1 curve learned from means: 2 servants at its top."""


def with_peak(sit: Situation, peak: float | None, when: float | None) -> Situation:
    return sit.model_copy(update={"demand_peak_servants": peak,
                                  "demand_peak_time": at(when) if when is not None else None})


def antic(ident: str, severity: int, onset: float) -> Anticipation:
    return Anticipation(ident, severity, at(onset), at(onset))


CASES = [
    # id, model, incidents (id, severity, onset), mean demand, peak, peak time, learned (needed, elapsed)
    ("top-short-by-a-servant-learned", SEV1, [("a", 1, 0.0)], 1.3, 1.6, 15.0, (3, 15.0)),
    ("no-peak-nothing", SEV1, [("a", 1, 0.0)], 1.3, None, None, None),
    ("peak-within-the-top-nothing", SEV1, [("a", 1, 0.0)], 1.3, 1.35, 15.0, None),
    ("rising-edge-above-the-curve-but-not-its-top", SEV1, [("a", 1, 0.0)], 0.6, 1.3, 1.0, None),
    ("falling-edge-above-the-curve-but-not-its-top", SEV1, [("a", 1, 0.0)], 0.6, 1.3, 28.0, None),
    ("peak-before-every-incident-nothing", SEV1, [("a", 1, 12.0)], 1.3, 1.6, 11.0, None),
    ("cold-model-nothing", Anticipator(), [("a", 1, 0.0)], 1.3, 1.6, 15.0, None),
    ("only-the-incidents-live-at-the-peak", Anticipator([*burst(1, 2), *burst(2, 4)]),
     [("a", 1, 0.0), ("b", 2, 16.0)], 1.3, 1.6, 15.0, (3, 15.0)),
    ("two-live-incidents-above-their-combined-top", Anticipator([*burst(1, 2), *burst(2, 4)]),
     [("a", 1, 0.0), ("b", 2, 5.0)], 3.0, 4.0, 15.0, (6, 15.0)),
    ("two-live-incidents-within-their-combined-top", Anticipator([*burst(1, 2), *burst(2, 4)]),
     [("a", 1, 0.0), ("b", 2, 5.0)], 3.0, 3.4, 15.0, None),
]


@pytest.mark.parametrize(("model", "incidents", "demand", "peak", "when", "learned"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_peak_lesson(model: Anticipator, incidents: list[tuple[str, int, float]], demand: float,
                     peak: float | None, when: float | None, learned: tuple[int, float] | None) -> None:
    sit = with_peak(situation(20, demand=demand, incidents=tuple(incidents)), peak, when)
    live = [antic(*i) for i in incidents if i[2] <= 15.0]  # measured at the window's middle (15 s)
    got = peak_lesson(sit, policy(), live, model, model.ceiling(), "capped")
    if learned is None:
        assert got is None
        return
    assert got is not None
    lesson, why = got
    assert (lesson.needed, lesson.at) == (learned[0], at(learned[1]))
    assert [a.incident_id for a in lesson.live] == [i[0] for i in incidents if i[2] <= learned[1]]
    assert "peak demand" in why


def test_a_peak_lesson_teaches_a_peak_sample_at_the_peak_time() -> None:
    a = antic("a", 1, 0.0)
    sit = with_peak(situation(20, demand=1.3, incidents=(("a", 1, 0.0),)), 1.6, 15.2)
    lesson, _ = peak_lesson(sit, policy(), [a], SEV1, SEV1.ceiling(), "capped") or (None, "")
    assert lesson is not None
    taught = learned_from(lesson, [a], SEV1, policy(), sit, at(20))
    assert [(s.severity, s.elapsed_s, s.amount, s.source) for s in taught.learned] == [(1, 15.2, 3, "peak")]
    assert taught.rule == "learned-peak"
    assert taught.anticipations[0].learned_ids == (taught.learned[0].sample_id,)


@pytest.mark.parametrize(
    ("elapsed", "at_least"),
    [(15.2, 3.0), (15.2 - PEAK_REACH_S, 3.0), (15.2 + PEAK_REACH_S, 3.0), (15.2 - PEAK_REACH_S - 0.5, None),
     (15.2 + PEAK_REACH_S + 0.5, None)],
    ids=["at-the-peak", "reach-before", "reach-after", "beyond-before-the-curve", "beyond-after-the-curve"],
)
def test_a_peak_sample_floors_its_severity_near_it_and_is_never_fitted(elapsed: float,
                                                                       at_least: float | None) -> None:
    peak = LearnedSample(1, 15.2, 3, sample_id="pk", source="peak")
    model, _ = SEV1.with_sample(peak)
    got = model.predict_floor(1, [elapsed])
    plain = SEV1.predict_one(1, elapsed)
    assert got is not None and plain is not None
    assert float(got[0]) == pytest.approx(max(plain, at_least if at_least is not None else plain))
    assert model.predict_one(1, elapsed) == pytest.approx(plain)  # the curve of the means: unchanged
    assert model.floor(1, 5.0, 10.0) == pytest.approx(3.0)  # the floor over the lead time reaches it
    assert (SEV1.floor(1, 5.0, 10.0) or 0.0) < 2.2 + 0.01
    peaks2 = model.predict_floor(2, [15.2])
    assert peaks2 is not None and float(peaks2[0]) == pytest.approx(SEV1.predict_one(2, 15.2))  # never lent
    assert floor_amount(float(model.top(1) or 0), model.config.epsilon) == 3
    assert floor_amount(float(SEV1.top(1) or 0), SEV1.config.epsilon) == 2


def test_peak_samples_are_decimated_apart_from_learned_ones() -> None:
    model = SEV1
    for k in range(4):
        model, _ = model.with_sample(LearnedSample(1, 15.0 + k / 10, 3, sample_id=f"pk{k}", source="peak"))
    assert sum(1 for s in model.samples if s.source == "peak") == model.config.per_bucket
    assert sum(1 for s in model.samples if s.source != "peak" and s.bucket[:2] == (1, 15)) == 1  # kept


def test_only_peak_samples_left_is_cold() -> None:
    model = Anticipator([LearnedSample(1, 15.0, 3, sample_id="pk", source="peak")])
    assert model.predict_one(1, 15.0) is None


def test_the_loop_learns_a_peak_and_floors_the_next_incident_at_it() -> None:
    strategy = ArcaStrategy()
    pol = policy()
    state = ArcaState(anticipator=SEV1)
    rounds: list[tuple[float, Situation]] = [
        (0.5, situation(0.5, demand=0.2, incidents=(("a", 1, 0.0),), trigger="event")),
        (10, situation(10, demand=0.6, incidents=(("a", 1, 0.0),))),
        (20, with_peak(situation(20, demand=1.3, incidents=(("a", 1, 0.0),)), 1.6, 15.2)),
    ]
    outcome = None
    for t, sit in rounds:
        outcome, state = strategy.decide(sit, pol, state, at(t))
    assert outcome is not None and outcome.rule == "learned-peak"
    assert [s.source for s in outcome.learned] == ["peak"]
    nxt = (100.5, situation(100.5, demand=0.2, incidents=(("b", 1, 95.0),), trigger="event"))
    outcome, _ = strategy.decide(nxt[1], pol, state, at(nxt[0]))
    assert outcome.target == 3  # 5.5 s after it: the floor over the lead time reaches the peak's 3
