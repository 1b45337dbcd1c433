"""Cost of the anticipator's SVR: fit and floor prediction at several sample-set sizes.

Samples are synthetic (a burst per severity plus noise) but shaped like learned ones; the fit is
what ``Anticipator.refit`` does (anchors included), the floor is one decision's prediction
(11 points over the lead time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from arca.decider.anticipator import Anticipator, AnticipatorConfig, LearnedSample


@dataclass(frozen=True)
class BenchRow:
    samples: int
    fit_s: float
    floor_s: float
    support: int


def synthetic_samples(n: int, seed: int = 1) -> list[LearnedSample]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        sev = int(rng.integers(1, 5))
        e = float(rng.uniform(0, 45))
        burst = math.exp(-((e - 15) / 7) ** 2) * 2 * sev
        out.append(LearnedSample(sev, round(e, 3), max(1, round(1 + burst + rng.normal(0, 0.5))),
                                 sample_id=f"bench-{i}"))
    return out


def bench_svr(sizes: Iterable[int], repeat: int = 3) -> list[BenchRow]:
    """Best-of-``repeat`` fit and floor cost for each sample count (no decimation: raw cost)."""
    rows = []
    config = AnticipatorConfig(max_samples=10**9, per_bucket=10**9)
    for n in sizes:
        samples = synthetic_samples(n)
        fit = floor = math.inf
        support = 0
        for _ in range(max(1, repeat)):
            model = Anticipator(samples, config)
            t0 = time.perf_counter()
            model.refit()
            fit = min(fit, time.perf_counter() - t0)
            t0 = time.perf_counter()
            for k in range(20):
                model.floor(1 + k % 4, float(k), 10.0)
            floor = min(floor, (time.perf_counter() - t0) / 20)
            assert model._model is not None
            support = len(model._model.support_vectors)
        rows.append(BenchRow(n, fit, floor, support))
    return rows
