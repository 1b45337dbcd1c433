"""Runs the demo's strategies: training first for those that learn, then the reference timeline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from arca.demo.harness import LEARNING, RunResult, run
from arca.kb import EmbeddedKnowledgeBase

SURFACE_ELAPSED: list[float] = [float(t) for t in range(0, 41)]
"""Seconds since the incident at which the learned MSA surface is drawn."""


def truth_table(elapsed: Sequence[float]) -> list[list[float]]:
    """Servants the noise-free demand needs per severity 1-4 (what a perfect anticipator learns)."""
    from testbed.scenario import servants_needed

    return [[float(servants_needed(sev, t)) for t in elapsed] for sev in (1, 2, 3, 4)]


def model_params(boot_delay_s: float | None = None) -> Any:
    """The testbed parameters of the demo (servants serve only once in a pool)."""
    from testbed.model import ModelParams

    params = ModelParams(require_pool_membership=True)
    if boot_delay_s is not None:
        params = ModelParams(require_pool_membership=True, boot_delay_s=boot_delay_s)
    return params


def run_one(name: str, reference: Any, training: Any | None, params: Any = None) -> RunResult:
    """One strategy: the training timeline (if it learns), then the reference one with what it learned."""
    kb = EmbeddedKnowledgeBase()
    surface = None
    if training is not None and name in LEARNING:
        trained = run(name, training, kb=kb, params=params, surface_elapsed=SURFACE_ELAPSED)
        surface = trained.surface
    result = run(name, reference, kb=kb, params=params,
                 surface_elapsed=SURFACE_ELAPSED if name in LEARNING else None)
    if surface is not None:
        result.surface = surface
    return result


def run_all(names: Sequence[str], reference: Any, training: Any | None,
            progress: Callable[[str], None] = lambda _m: None, params: Any = None) -> dict[str, RunResult]:
    results: dict[str, RunResult] = {}
    for name in names:
        results[name] = run_one(name, reference, training, params)
        m = results[name].metrics
        progress(f"{name}: discard {m.discard_ratio * 100:.3f} %, servant-s {m.servant_seconds:.0f}, "
                 f"wall {m.wall_s:.1f}s")
    return results
