"""The order ``arca demo --jobs N`` hands the strategies to its workers: the longest first."""

from __future__ import annotations

import pytest

from arca.app.demo.runner import longest_first
from arca.testbed.timeline import Timeline

REFERENCE = Timeline(duration_s=1000, seed=1)
TRAINING = Timeline(duration_s=600, seed=1)
SHORT_TRAINING = Timeline(duration_s=100, seed=1)


@pytest.mark.parametrize(("names", "training", "expected"), [
    # learners play training + reference: they go first, the rest keep their order
    (["oracle", "arca", "static", "arca-warm"], TRAINING, ["arca", "arca-warm", "oracle", "static"]),
    (["arca-warm", "oracle", "arca"], TRAINING, ["arca-warm", "arca", "oracle"]),
    # no training: every run is as long, the given order is kept
    (["oracle", "arca", "static"], None, ["oracle", "arca", "static"]),
    # a short training still makes a learner the longest
    (["static", "arca"], SHORT_TRAINING, ["arca", "static"]),
    (["static"], TRAINING, ["static"]),
], ids=["learners-first", "learners-keep-their-order", "no-training-given-order",
        "short-training-still-longer", "one-strategy"])
def test_longest_first(names: list[str], training: Timeline | None, expected: list[str]) -> None:
    assert longest_first(names, REFERENCE, training) == expected
