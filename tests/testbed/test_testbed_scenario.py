"""Calibration of the reference scenario (draft 7.4) and the shape of the incident bursts."""

from __future__ import annotations

import itertools

import pytest

from arca.testbed.scenario import (
    BASE_CLIENT_RATE,
    CLIENTS_PER_BUILDING,
    MAX_CLIENT_RATE,
    envelope,
    mean_demand,
    msa_table,
    servants_for,
    servants_needed,
)


def test_severity_3_ten_seconds_after_needs_six_servants_at_the_high_threshold() -> None:
    assert servants_needed(3, 10.0, 0.7) == 6


@pytest.mark.parametrize("severity", [1, 2, 3, 4], ids=lambda s: f"severity-{s}")
def test_msa_stays_below_ten_and_the_burst_needs_more_than_the_default(severity: int) -> None:
    needs = [servants_needed(severity, t / 4) for t in range(0, 60 * 4)]
    assert max(needs) < 10  # draft 7.4: the MSA stays below 10 (the hard maximum 15 is then implied)
    assert max(needs) >= 1 + severity  # every severity's burst needs extra servants, more when stronger


def test_higher_severities_need_more_at_their_peak() -> None:
    peaks = [max(row) for s, row in sorted(msa_table().items())]
    assert peaks == sorted(peaks) and len(set(peaks)) == 5


@pytest.mark.parametrize("severity", [1, 2, 3, 4], ids=lambda s: f"severity-{s}")
def test_nothing_for_the_first_five_seconds_and_over_by_thirty_five(severity: int) -> None:
    assert all(envelope(severity, t / 10) == 0.0 for t in range(0, 51))
    assert all(envelope(severity, 35 + t) == 0.0 for t in range(0, 30))
    assert servants_needed(severity, 4.9) == 1 and servants_needed(severity, 36) == 1


@pytest.mark.parametrize("severity", [1, 2, 3, 4], ids=lambda s: f"severity-{s}")
def test_peak_near_fifteen_seconds(severity: int) -> None:
    times = [t / 10 for t in range(0, 400)]
    peak = max(times, key=lambda t: (envelope(severity, t), -t))
    assert 14.0 <= peak <= 16.0


def test_bursts_last_longer_at_higher_severity_and_fluctuate_at_the_highest() -> None:
    def busy(s: int) -> float:
        return sum(0.1 for t in range(400) if envelope(s, t / 10) > 0.5)

    durations = [busy(s) for s in (1, 2, 3, 4)]
    assert durations == sorted(durations)
    sev4 = [envelope(4, 15 + t / 10) for t in range(0, 70)]  # plateau of severity 4
    rises = sum(1 for a, b in itertools.pairwise(sev4) if b > a + 1e-6)
    assert rises > 0 and min(sev4) < 0.95  # dips and recovers
    sev3 = [envelope(3, 15 + t / 10) for t in range(0, 40)]
    assert min(sev3) == 1.0  # steady plateau below the highest severity


def test_traffic_bounds_of_the_scenario() -> None:
    assert mean_demand(0, 0) == pytest.approx(30.0)
    assert max(mean_demand(4, t / 10) for t in range(400)) == pytest.approx(
        MAX_CLIENT_RATE * CLIENTS_PER_BUILDING * 3
    )
    assert BASE_CLIENT_RATE == 0.1


@pytest.mark.parametrize(
    ("demand", "threshold", "expected"),
    [(0.0, 0.7, 1), (147.0, 0.7, 1), (147.1, 0.7, 2), (294.0, 0.7, 2), (1200.0, 0.7, 9), (1200.0, 0.5, 12)],
    ids=["idle", "exactly-one", "just-over-one", "exactly-two", "max-demand", "max-demand-at-50pc"],
)
def test_servants_for_demand(demand: float, threshold: float, expected: int) -> None:
    assert servants_for(demand, threshold) == expected


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5], ids=["zero", "negative", "above-one"])
def test_servants_for_refuses_a_bad_threshold(bad: float) -> None:
    with pytest.raises(ValueError, match="high_threshold"):
        servants_for(100.0, bad)


def test_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        servants_needed(5, 10.0)
