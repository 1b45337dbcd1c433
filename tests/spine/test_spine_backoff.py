"""``arca.backoff.Backoff``: the one reconnect and retry policy (exponential, equal jitter)."""

from __future__ import annotations

import random

import pytest

from arca.backoff import Backoff
from arca.config import BusSettings


@pytest.mark.parametrize(
    ("initial", "maximum", "factor", "ceilings"),
    [
        (0.5, 30.0, 2.0, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]),
        (0.1, 1.6, 4.0, [0.1, 0.4, 1.6, 1.6]),
        (1.0, 1.0, 2.0, [1.0, 1.0, 1.0]),
    ],
    ids=["bus-default-like", "store-client", "flat"],
)
def test_each_wait_lies_in_the_upper_half_of_a_doubling_ceiling(initial: float, maximum: float, factor: float,
                                                                ceilings: list[float]) -> None:
    b = Backoff(initial, maximum, factor=factor, rng=random.Random(7))
    for cap in ceilings:
        assert b.ceiling() == pytest.approx(cap)
        assert cap / 2 <= b.next() <= cap


def test_reset_starts_over_and_replicas_do_not_wait_in_lockstep() -> None:
    b = Backoff(0.2, 10.0, rng=random.Random(1))
    for _ in range(5):
        b.next()
    b.reset()
    assert b.ceiling() == 0.2 and 0.1 <= b.next() <= 0.2
    # ten replicas reconnecting after the same broker restart: their third waits are spread out
    thirds = []
    for seed in range(10):
        r = Backoff(0.5, 30.0, rng=random.Random(seed))
        thirds.append([r.next() for _ in range(3)][-1])
    assert len({round(w, 3) for w in thirds}) == 10 and max(thirds) - min(thirds) > 0.3


def test_the_bus_settings_give_the_policy() -> None:
    b = Backoff.for_bus(BusSettings(reconnect_initial_s=0.3, reconnect_max_s=5.0))
    assert (b.initial_s, b.max_s) == (0.3, 5.0)


@pytest.mark.parametrize(("initial", "maximum", "factor"), [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)],
                         ids=["zero-initial", "initial-above-max", "shrinking"])
def test_nonsense_is_refused(initial: float, maximum: float, factor: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(initial, maximum, factor=factor)
