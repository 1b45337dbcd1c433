"""Standby servants in the testbed's accounting: not in servant-seconds, in standby-seconds, billed
by their status's weight (documented defaults, overridable)."""

from __future__ import annotations

import pytest

from arca.testbed import lifecycle
from arca.testbed.accounting import summarize
from arca.testbed.model import ModelParams, TestbedModel
from arca.testbed.timeline import parse_timeline

QUIET = {"duration_s": 100, "seed": 1, "incidents": [], "failures": []}


def model(**kw: object) -> TestbedModel:
    return TestbedModel(parse_timeline(QUIET), ModelParams(**kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(("stop", "start", "status", "weight"), [
    ("os-stop", "os-start", "SHUTOFF", 0.1),
    ("suspend", "resume", "SUSPENDED", 0.11),
    ("pause", "unpause", "PAUSED", 1.0),
], ids=["stopped", "suspended", "paused"])
def test_standby_counted_apart_and_weighted(stop: str, start: str, status: str, weight: float) -> None:
    m = model()
    s = m.create_servant("arca-emergency-2", boot_delay_s=0.0)
    m.advance(1)  # ACTIVE
    m.server_action(s.id, stop)
    going = lifecycle.DEFAULT_DURATIONS_S[stop]
    m.advance(going)  # the transition: still running (billed in full)
    assert s.status == status
    m.advance(20)
    m.server_action(s.id, start)
    m.advance(lifecycle.DEFAULT_DURATIONS_S[start])
    assert s.status == "ACTIVE"
    sm = summarize(m)
    # the initial servant runs all along; s runs 1 s + the stop transition, stands by 20 s + the start one
    total = 1 + going + 20 + lifecycle.DEFAULT_DURATIONS_S[start]
    standby = 20 + lifecycle.DEFAULT_DURATIONS_S[start]
    assert sm.standby_seconds == pytest.approx(standby)
    assert sm.servant_seconds == pytest.approx(2 * total - standby)
    assert sm.weighted_cost == pytest.approx(2 * total - standby + weight * standby)
    assert max(r.standby for r in m.records) == 1
    assert max(r.existing for r in m.records) == 2


def test_billing_weights_overridable_and_shelved_offloaded_cheapest() -> None:
    m = model(billing_weights=(("SHUTOFF", 1.0),))
    s = m.create_servant("arca-emergency-2", boot_delay_s=0.0)
    m.advance(1)
    m.server_action(s.id, "os-stop")
    m.advance(10)
    last = m.records[-1]
    assert (last.standby, last.existing, last.weighted) == (1, 1, 2.0)  # a cloud that bills SHUTOFF in full
    w = lifecycle.DEFAULT_BILLING_WEIGHTS
    assert w["SHELVED_OFFLOADED"] < w["SHUTOFF"] < w["SUSPENDED"] < w["PAUSED"] == w["ACTIVE"] == 1.0
    assert set(lifecycle.STANDBY_STATUSES) <= set(w)
