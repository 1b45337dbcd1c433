"""Where the anticipator's SVR is fitted: in this process, or in a helper process that holds
scikit-learn and SciPy so the decider does not.

scikit-learn and SciPy are ~100 MB resident once imported; a decider only needs what a fit returns
(the support vectors, their dual coefficients, the intercept), which ``RbfModel`` evaluates in numpy.
:class:`ProcessFitter` runs the fit in one spawned helper process, started at the first fit and
stopped after ``idle_s`` (10 minutes) without one: an incident's fits, a telemetry round apart, reuse
it; a decider quiet for longer holds no helper. The fit is libsvm's in both places, so the two give
the same model (``tests/decider/test_decider_fitting.py`` compares them).

Measured here (2 cores): a fit of the shipped prior's size takes 1.9 ms in a running helper against
1.1 ms inline; the first fit of a helper, 1.55 s (spawn and the scikit-learn import), against 2.2 s for
the first inline fit (the import). A decider that fitted in the helper is 63 MB resident, one that
fitted inline 150 MB (``test_what_a_fitting_process_holds`` prints both).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class RbfFit:
    """What a fitted RBF ``SVR`` predicts with."""

    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    gamma: float


def fit_rbf_svr(x: np.ndarray, y: np.ndarray, c: float, epsilon: float, gamma: float) -> RbfFit:
    """scikit-learn's ``SVR(kernel="rbf")`` fitted on ``x``, ``y`` (imported here, in whichever
    process runs the fit)."""
    from sklearn.svm import SVR

    model = SVR(kernel="rbf", C=c, epsilon=epsilon, gamma=gamma)
    model.fit(x, y)
    return RbfFit(np.asarray(model.support_vectors_, dtype=float),
                  np.asarray(model.dual_coef_[0], dtype=float), float(model.intercept_[0]),
                  float(model._gamma))


class Fitter(Protocol):
    def fit(self, x: np.ndarray, y: np.ndarray, c: float, epsilon: float, gamma: float) -> RbfFit: ...


class InlineFitter:
    """Fits in this process (the simulated demo, tests, tools)."""

    def fit(self, x: np.ndarray, y: np.ndarray, c: float, epsilon: float, gamma: float) -> RbfFit:
        return fit_rbf_svr(x, y, c, epsilon, gamma)


class ProcessFitter:
    """Fits in one helper process (spawned: it shares nothing with the decider but the arrays),
    started on demand and stopped after ``idle_s`` seconds without a fit."""

    def __init__(self, idle_s: float = 600.0) -> None:
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._last = 0.0
        self._reaper: threading.Thread | None = None
        self.started = 0  # helper processes started (a figure for tests and logs)

    def fit(self, x: np.ndarray, y: np.ndarray, c: float, epsilon: float, gamma: float) -> RbfFit:
        with self._lock:
            if self._pool is None:
                spawn = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn)
                self.started += 1
                if self._reaper is None:
                    self._reaper = threading.Thread(target=self._reap, name="svr-fitter-reaper", daemon=True)
                    self._reaper.start()
            pool = self._pool
            self._last = time.monotonic()
        result: RbfFit = pool.submit(fit_rbf_svr, x, y, c, epsilon, gamma).result()
        with self._lock:
            self._last = time.monotonic()
        return result

    @property
    def running(self) -> bool:
        with self._lock:
            return self._pool is not None

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _reap(self) -> None:
        while True:
            time.sleep(min(self.idle_s / 4, 5.0))
            with self._lock:
                idle = self._pool is not None and time.monotonic() - self._last > self.idle_s
                pool = self._pool if idle else None
                if idle:
                    self._pool = None
            if pool is not None:
                pool.shutdown(wait=True)


_SHARED: dict[str, ProcessFitter] = {}


def shared_process_fitter(idle_s: float = 600.0) -> ProcessFitter:
    """The process-wide helper (one per decider process, whatever number of systems it serves)."""
    fitter = _SHARED.get("process")
    if fitter is None:
        fitter = _SHARED["process"] = ProcessFitter(idle_s)
    return fitter
