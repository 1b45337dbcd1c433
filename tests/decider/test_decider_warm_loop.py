"""The warm pool in the draft's loop: the anticipated floor takes the resume delay for the servants
the pool covers and the boot delay for the rest; every decision carries the pool size."""

from __future__ import annotations

from decider_helpers import at, policy, situation, trained

from arca.decider.loop import ArcaState, ArcaStrategy
from arca.decider.warm import warm_floor

ARCA = ArcaStrategy()


def test_floor_with_a_pool_is_the_short_horizon_plus_what_the_pool_cannot_cover() -> None:
    model = trained()
    event = situation(0, trigger="event", severity=3, onset=0, demand=0.2)
    cold = policy(lead_time_s=10.0)
    big = policy(lead_time_s=10.0, warm_pool_state="stopped", warm_pool_min=8, warm_pool_max=8)
    small = policy(lead_time_s=10.0, warm_pool_state="stopped", warm_pool_min=1, warm_pool_max=1)
    long, short = model.floor(3, 0.0, 10.0), model.floor(3, 0.0, 5.0)
    assert long is not None and short is not None and long > short + 1  # the burst rises within 10 s
    out_cold, _ = ARCA.decide(event, cold, ArcaState(anticipator=model), at(0))
    out_big, _ = ARCA.decide(event, big, ArcaState(anticipator=model), at(0))
    out_small, _ = ARCA.decide(event, small, ArcaState(anticipator=model), at(0))
    assert out_cold.predicted_msa == long and out_cold.standby is None
    assert out_big.predicted_msa == short and out_big.standby == 8  # the pool covers all: resume lead
    # a pool of 1 cannot cover a severity-3 burst: the boot horizon now (the pool resumes, the rest boots)
    assert out_small.predicted_msa == warm_floor(short, long, 1, 1) == long and out_small.standby == 1
    assert out_big.target < out_small.target == out_cold.target


def test_auto_pool_size_follows_the_model_and_the_reactive_variant_keeps_the_minimum() -> None:
    auto = policy(lead_time_s=10.0, warm_pool_state="stopped", warm_pool_min=1, warm_pool_max=9,
                  warm_pool_auto=True)
    quiet = situation(0, demand=0.2)
    out, _ = ARCA.decide(quiet, auto, ArcaState(anticipator=trained()), at(0))
    assert out.standby is not None and 1 < out.standby <= 9
    reactive, _ = ArcaStrategy(anticipation=False).decide(quiet, auto, ArcaState(anticipator=trained()),
                                                          at(0))
    assert reactive.standby == 1
