"""Cold start from the shipped prior (issue 23 item 6): with nothing learned, the demo's learning
strategies start from the prior ``arca kb init --defaults`` seeds live; ``--no-prior`` from nothing.

The runs are replaced by a recorder (what matters is which prior each run is given, not the run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arca.app.demo import runner
from arca.app.demo.harness import RunResult
from arca.app.demo.metrics import RunMetrics
from arca.app.demo.plot import Series


@pytest.fixture
def given(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str | None]]:
    calls: list[tuple[str, str, str | None]] = []

    def fake_run(name: str, timeline: Any, **kw: Any) -> RunResult:
        calls.append((name, timeline, kw.get("prior_file")))
        return RunResult(name, RunMetrics(0.0, 0.0, 0.0, 0.0, 0), Series())

    monkeypatch.setattr(runner, "run", fake_run)
    return calls


@pytest.mark.parametrize(
    ("training", "prior", "expected"),
    [(None, "shipped", [("arca", "ref", "shipped"), ("oracle", "ref", None)]),
     (None, None, [("arca", "ref", None), ("oracle", "ref", None)]),
     ("train", "shipped", [("arca", "train", None), ("arca", "ref", None), ("oracle", "ref", None)])],
    ids=["nothing-learned-the-learning-strategy-starts-from-the-prior", "no-prior-cold",
         "trained-learns-from-nothing-as-before"],
)
def test_which_run_gets_the_prior(given: list[tuple[str, str, str | None]], training: str | None,
                                  prior: str | None, expected: list[tuple[str, str, str | None]]) -> None:
    runner.run_all(["arca", "oracle"], "ref", training, prior_file=prior)
    assert given == expected


def test_the_shipped_prior_is_the_one_kb_init_seeds() -> None:
    from arca.app.cli.core import SHIPPED_PRIORS

    path = Path(runner.shipped_prior())
    assert path.is_file() and path.as_posix().endswith(SHIPPED_PRIORS[0])
    assert "arca:LearnedSample" in path.read_text()
