"""Invariants of every strategy, property-tested with hypothesis.

Whatever the prediction or the load: a decision never goes below the policy's minimum nor above its
maximum; a non-compliant anticipated amount is clipped and flagged, never passed as is; every
decision carries a reason, a rule and, when anticipating, the prediction it came from.
"""

from __future__ import annotations

from decider_helpers import at, policy, situation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arca.decider.anticipator import Anticipator, LearnedSample
from arca.decider.loop import ArcaState, ArcaStrategy
from arca.decider.strategies import make_strategy

bounds = st.tuples(st.integers(0, 5), st.integers(0, 20)).map(lambda b: (b[0], b[0] + max(1, b[1])))
samples = st.lists(
    st.tuples(st.integers(1, 4), st.floats(0, 60), st.integers(0, 60)), min_size=1, max_size=25
)
rounds = st.lists(
    st.tuples(st.floats(0, 80, allow_nan=False), st.integers(0, 20), st.floats(0, 1), st.floats(0, 1),
              st.integers(0, 4)),
    min_size=1, max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bounds=bounds, learned=samples, script=rounds)
def test_arca_stays_within_bounds_and_flags_clipping(
        bounds: tuple[int, int], learned: list[tuple[int, float, int]],
        script: list[tuple[float, int, float, float, int]]) -> None:
    lo, hi = bounds
    pol = policy(min_servants=lo, max_servants=hi, default_servants=lo)
    model = Anticipator([LearnedSample(s, e, n, sample_id=str(i)) for i, (s, e, n) in enumerate(learned)])
    strategy = ArcaStrategy()
    state = ArcaState(anticipator=model)
    t = 0.0
    for dt, active, load, discard, severity in script:
        t += dt + 1.0
        sit = situation(t, active=active, load=load, discard=discard, severity=severity, onset=0.0,
                        demand=active * load / max(0.05, 1 - discard))
        outcome, state = strategy.decide(sit, pol, state, at(t))
        assert lo <= outcome.target <= hi
        assert lo <= outcome.msa <= hi
        assert outcome.reason and outcome.rule
        if outcome.predicted_msa is not None:
            raw = round(outcome.predicted_msa)
            if raw > hi or raw < lo:
                assert outcome.clipped, "a non-compliant prediction must be flagged"
                assert outcome.rule == "anticipated-clipped" or outcome.rule.startswith("learned")
        if outcome.clipped:
            assert outcome.predicted_msa is not None
        if outcome.learned:
            assert outcome.learned_samples == len(state.anticipator)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["threshold", "proportional", "static", "arca-reactive"]),
       bounds=bounds, script=rounds)
def test_baselines_stay_within_bounds(name: str, bounds: tuple[int, int],
                                      script: list[tuple[float, int, float, float, int]]) -> None:
    lo, hi = bounds
    pol = policy(min_servants=lo, max_servants=hi, default_servants=lo, static_amount=hi + 3,
                 sync_period_s=0.0)
    strategy = make_strategy(name)
    state = strategy.initial_state(pol)
    t = 0.0
    for dt, active, load, discard, severity in script:
        t += dt + 1.0
        sit = situation(t, active=active, load=load, discard=discard, severity=severity, onset=0.0,
                        demand=active * load)
        outcome, state = strategy.decide(sit, pol, state, at(t))
        assert lo <= outcome.target <= hi
        assert outcome.reason and outcome.rule
