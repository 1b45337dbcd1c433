"""The order ``arca demo --jobs N`` hands the strategies to its workers (the longest first), and
``scripts/demo_same.py``, which says whether two demo runs have the same results."""

from __future__ import annotations

from typing import Any

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


def _demo_same() -> Any:
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "demo_same.py"
    spec = importlib.util.spec_from_file_location("demo_same", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DOC = {"strategies": {"oracle": {"discard_ratio": 0.0, "servant_seconds": 1854.0, "wall_s": 9.2},
                      "arca": {"discard_ratio": 0.077715, "servant_seconds": 1851.0, "wall_s": 9.0}},
       "enforcement": {"arca": {"create_servant:succeeded": 73}}}


@pytest.mark.parametrize(("change", "expected"), [
    ({"strategies": {"arca": {"wall_s": 48.0}}}, []),
    ({"strategies": {"arca": {"servant_seconds": 1852.0}}}, ["arca.servant_seconds: 1851.0 != 1852.0"]),
    ({"strategies": {"oracle": {"discard_ratio": 1e-6}}}, ["oracle.discard_ratio: 0.0 != 1e-06"]),
    ({"enforcement": {"arca": {"create_servant:succeeded": 74}}}, ["enforcement outcomes differ"]),
], ids=["wall-time-aside", "servant-seconds", "discard", "enforcement-outcomes"])
def test_demo_same_compares_every_figure_but_the_wall_time(change: dict[str, Any],
                                                           expected: list[str]) -> None:
    import copy

    other = copy.deepcopy(DOC)
    for name, figures in change.get("strategies", {}).items():
        other["strategies"][name].update(figures)
    if "enforcement" in change:
        other["enforcement"] = change["enforcement"]
    assert _demo_same().differences(DOC, other) == expected


def test_demo_same_names_a_missing_strategy() -> None:
    other = {"strategies": {"oracle": DOC["strategies"]["oracle"]}, "enforcement": DOC["enforcement"]}
    assert _demo_same().differences(DOC, other) == ["arca: only in the first"]
