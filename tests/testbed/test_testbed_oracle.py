"""The clairvoyant oracle (exact demand, one boot delay ahead) on the shipped timelines."""

from __future__ import annotations

import pytest

from arca.testbed.demand import Demand
from arca.testbed.model import ModelParams
from arca.testbed.oracle import oracle_target, run_oracle
from arca.testbed.timeline import parse_timeline, reference_timeline, training_timeline


@pytest.mark.parametrize(
    "timeline", [reference_timeline(), training_timeline()], ids=["reference", "training"]
)
def test_oracle_discards_nothing_and_stays_below_the_hard_maximum(timeline: object) -> None:
    model, summary = run_oracle(timeline)  # type: ignore[arg-type]
    assert summary.requests_discarded == 0
    assert summary.peak_servants <= 10  # MSA < 10 (+1 spare for a failure), hard maximum 15
    # always at least what the demand needs in service; the rest is booting time (10 s per new servant)
    assert summary.active_servant_seconds >= summary.oracle_servant_seconds
    assert summary.servant_seconds <= 1.35 * summary.oracle_servant_seconds
    assert len(model.servants) > 1


def test_oracle_target_looks_one_boot_delay_ahead() -> None:
    tl = parse_timeline({"duration_s": 100, "incidents": [{"at_s": 20, "severity": 3, "domain": "hq"}]})
    d = Demand(tl, noise_sd=0.0)
    assert oracle_target(d, 0.0, 10.0) == 1
    assert oracle_target(d, 20.0, 10.0) == 6  # needed at t=30 (elapsed 10): 6
    assert oracle_target(d, 20.0, 42.0) == 7  # the OSM boot delay sees the peak


def test_oracle_prepares_a_spare_for_a_known_failure() -> None:
    tl = parse_timeline({"duration_s": 100, "failures": [{"at_s": 50, "servants": 1}]})
    d = Demand(tl)
    assert oracle_target(d, 39.0, 10.0) == 1
    assert oracle_target(d, 40.0, 10.0) == 2
    _, summary = run_oracle(tl, ModelParams())
    assert summary.requests_discarded == 0
