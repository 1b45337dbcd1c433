"""Runs the demo's strategies: training first for those that learn, then the reference timeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arca.app.demo.harness import LEARNING, RunResult, run
from arca.app.demo.progress import Progress, Task
from arca.kb import EmbeddedKnowledgeBase

SURFACE_ELAPSED: list[float] = [float(t) for t in range(0, 41)]
"""Seconds since the incident at which the learned MSA surface is drawn."""


def truth_table(elapsed: Sequence[float]) -> list[list[float]]:
    """Servants the noise-free demand needs per severity 1-4 (what a perfect anticipator learns)."""
    from arca.testbed.scenario import servants_needed

    return [[float(servants_needed(sev, t)) for t in elapsed] for sev in (1, 2, 3, 4)]


DRIVERS = ("openstack", "osm")


def model_params(boot_delay_s: float | None = None, driver: str = "openstack",
                 osm_aspects: Sequence[int] = ()) -> Any:
    """The testbed parameters of the demo.

    ``openstack``: Nova servers that serve only once in an Octavia pool (boot 10 s unless given);
    ``osm``: the relay VDUs of the OSM NS (boot ``osm_boot_delay_s``, 42 s unless given), scaled by
    the relay VNFD's one-VDU aspect ``relay-scaling`` (Ukko's) plus, for each N of ``osm_aspects``,
    an aspect ``relay-scaling-N`` adding N relays per operation.
    """
    from arca.testbed.model import ModelParams

    if driver == "osm":
        boot = ModelParams().osm_boot_delay_s if boot_delay_s is None else boot_delay_s
        extra = sorted(set(osm_aspects) - {1})
        aspects = (("relay-scaling", 1), *((f"relay-scaling-{n}", n) for n in extra))
        return ModelParams(initial_owner="osm", boot_delay_s=boot, osm_boot_delay_s=boot,
                           osm_scaling_aspects=aspects)
    if osm_aspects:
        raise ValueError("OSM scaling aspects need the osm driver")
    if driver != "openstack":
        raise ValueError(f"no demo driver {driver!r} (known: {', '.join(DRIVERS)})")
    params = ModelParams(require_pool_membership=True)
    if boot_delay_s is not None:
        params = ModelParams(require_pool_membership=True, boot_delay_s=boot_delay_s)
    return params


def plan(names: Sequence[str], reference: Any, training: Any | None,
         reference_name: str = "reference", training_name: str = "training") -> list[Task]:
    """The runs ``run_all`` will make, with their simulated length (the progress display's plan)."""
    tasks = []
    for name in names:
        if training is not None and name in LEARNING:
            tasks.append(Task(name, "training", training_name, float(training.duration_s)))
        tasks.append(Task(name, "reference", reference_name, float(reference.duration_s)))
    return tasks


def longest_first(names: Sequence[str], reference: Any, training: Any | None) -> list[str]:
    """The order the workers take the strategies in: the most simulated seconds first (a learning
    strategy plays the training timeline too), ties in the given order. With two workers and the
    longest runs started last, one worker would run alone at the end."""
    work: dict[str, float] = {}
    for task in plan(names, reference, training):
        work[task.strategy] = work.get(task.strategy, 0.0) + task.work_s
    rank = {name: i for i, name in enumerate(names)}
    return sorted(work, key=lambda name: (-work[name], rank[name]))


def shipped_prior() -> str:
    """The shipped prior (``arca kb init --defaults`` seeds it): a learning strategy's knowledge when
    nothing is learned."""
    from arca.app.cli.core import SHIPPED_PRIORS
    from arca.namespace import ONTOLOGY_DIR

    return str(ONTOLOGY_DIR / SHIPPED_PRIORS[0])


def run_one(name: str, reference: Any, training: Any | None, params: Any = None,
            progress: Progress | None = None, prior_file: str | None = None) -> RunResult:
    """One strategy: the training timeline (if it learns), then the reference one with what it learned.

    ``prior_file`` is seeded into a store that has learned nothing (no training), as the live loop's
    ``arca kb init --defaults`` does; with training, the strategy learns from nothing as before."""
    progress = progress or Progress(enabled=False)
    kb = EmbeddedKnowledgeBase()
    surface = None
    if training is not None and name in LEARNING:
        progress.start(name, "training")
        trained = run(name, training, kb=kb, params=params, surface_elapsed=SURFACE_ELAPSED,
                      on_step=progress.step)
        surface = trained.surface
        progress.done(f"trained, wall {trained.metrics.wall_s:.1f} s")
    progress.start(name, "reference")
    cold_prior = prior_file if training is None and name in LEARNING else None
    result = run(name, reference, kb=kb, params=params,
                 surface_elapsed=SURFACE_ELAPSED if name in LEARNING else None, on_step=progress.step,
                 prior_file=cold_prior)
    if surface is not None:
        result.surface = surface
    m = result.metrics
    progress.done(f"discard {m.discard_ratio * 100:.3f} %, servant-s {m.servant_seconds:.0f}, "
                  f"wall {m.wall_s:.1f} s")
    return result


def run_all(names: Sequence[str], reference: Any, training: Any | None,
            progress: Progress | None = None, params: Any = None, jobs: int = 1,
            prior_file: str | None = None) -> dict[str, RunResult]:
    """Every strategy (``progress`` must have been given ``plan(...)`` to show an ETA): in turn, or
    with ``jobs`` > 1 in that many worker processes at once, the longest first (``longest_first``).
    Each strategy's runs share nothing with another's (its own store, testbed and clock), so the
    results do not depend on ``jobs``."""
    if jobs <= 1 or len(names) <= 1:
        return {name: run_one(name, reference, training, params, progress, prior_file) for name in names}
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    progress = progress or Progress(enabled=False)
    results: dict[str, RunResult] = {}
    spawn = multiprocessing.get_context("spawn")  # nothing of this process's threads or state inherited
    with ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=spawn) as pool:
        futures = {pool.submit(run_one, name, reference, training, params, None, prior_file): name
                   for name in longest_first(names, reference, training)}
        for future in as_completed(futures):
            name = futures[future]
            result = results[name] = future.result()
            m = result.metrics
            progress.finished(name, f"discard {m.discard_ratio * 100:.3f} %, servant-s "
                                    f"{m.servant_seconds:.0f}, wall {m.wall_s:.1f} s")
    return {name: results[name] for name in names}
