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

:class:`Refits` runs the refit that follows a learned sample on a thread of its own in ``arca run
decider``, so the delivery thread goes on to the next situation meanwhile (the simulated demo and
the in-memory bus refit at once, as one loop).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)


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


def _exit_with(parent: int, poll_s: float = 1.0) -> None:
    """In the helper process: exit once the decider that started it is gone. A decider killed (kill -9,
    the OOM killer) never shuts its pool down, and the helper's call queue holds both ends of its pipe,
    so it would wait for work forever, holding scikit-learn and SciPy (~100 MB)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-decider", daemon=True).start()


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
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=spawn,
                                                 initializer=_exit_with, initargs=(os.getpid(),))
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


class Refits:
    """Anticipators refitted on one daemon thread of their own, so that a decider's delivery thread
    publishes a decision and goes on to the next situation instead of waiting for the fit of what it
    just learned (the wait for the helper process was the tail of event -> decision at 100 systems:
    an event's situation queued behind the refits of a telemetry round's situations).

    ``submit(key, model)`` keeps the newest model per key (a system): a model learned again before
    its refit ran replaces it, and a refit nobody waits for is not run twice. A prediction asked of
    a model while it is being fitted waits for that fit (``Anticipator._fit`` holds a lock), so what
    is decided is what a synchronous refit would have decided. A fit that fails is logged; the model
    fits again when next asked for a prediction."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[str, Refittable] = {}
        self._running = 0
        self._thread: threading.Thread | None = None
        self.done = 0  # refits run (a figure for tests)

    def submit(self, key: str, model: Refittable) -> None:
        with self._cond:
            self._pending.pop(key, None)  # the newest last: refits run in the order they were asked
            self._pending[key] = model
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="svr-refit", daemon=True)
                self._thread.start()
            self._cond.notify()

    def idle(self, timeout: float) -> bool:
        """True once nothing is pending or running (within ``timeout`` seconds)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._running, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending))
                key = next(iter(self._pending))
                model = self._pending.pop(key)
                self._running += 1
            try:
                model.refit()
            except Exception:
                log.exception("refitting the anticipator of %s failed (it fits again when next asked)", key)
            finally:
                with self._cond:
                    self._running -= 1
                    self.done += 1
                    self._cond.notify_all()


class Refittable(Protocol):
    def refit(self) -> float: ...
