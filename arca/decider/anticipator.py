"""The anticipator: an SVR (RBF) mapping (incident severity, seconds since the incident) -> MSA.

Immutable value object: ``with_sample`` returns a new anticipator holding one more learned sample
(the sample set is decimated so the SVR fit stays cheap), and the SVR is fitted lazily, once per
sample set, the first time a prediction is asked for. The same samples always give the same
predictions, so a decider restarted from the samples kept in the knowledge base predicts exactly
what the old one did.

Section 7.4 of the draft: the prediction is the minimum servant amount (MSA), the floor the
reactive part builds on. Beyond the draft, ``floor`` anticipates the provisioning lead time: the
floor at ``elapsed`` is the largest MSA predicted over ``[elapsed, elapsed + lead]``.

Severity is a feature, and burst sizes scale with it: where a severity has no sample (none within
``SAMPLE_REACH_S`` of the elapsed time asked), it borrows the prediction of the nearest severity
that has one there (of two equally near, the stronger: scaled down, its rounding error shrinks; the
milder one's baseline servant hides most of a servant of its burst, which scaling up doubles), extra
servants (above the baseline) scaled by the ratio of the severities, so
a decider that has seen one incident anticipates the first incident of every other severity, and
the rest of a burst it has seen only the start of, instead of paying the full reactive price.
Where no severity has a sample (beyond every burst's last learned point), the prediction is the
baseline: the RBF fit drifts there (up to half a servant above it, 35-45 s after an incident), which
kept a servant idle until the expiration.
Prior samples (``source="prior"``, seeded knowledge) yield to learned ones: a prior sample within
``SAMPLE_REACH_S`` of a learned sample of its severity is ignored, so a model trained over the
whole of every burst predicts what it predicted without the prior.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from arca.metrics import MODEL_FIT_SECONDS

ELAPSED_SCALE_S = 8.0
"""Seconds of elapsed time worth one unit of severity in the RBF kernel's distance."""


@dataclass(frozen=True, order=True)
class LearnedSample:
    """One correlation vector: an incident of ``severity``, ``elapsed_s`` after it, needed ``amount``."""

    severity: int
    elapsed_s: float
    amount: int
    learned_at: datetime | None = field(default=None, compare=False)
    sample_id: str = field(default="", compare=False)
    source: str = field(default="learned", compare=False)
    """``learned`` (a correction), ``prior`` (seeded knowledge) or ``peak`` (a window's peak demand above
    the curve's top: a floor near its elapsed time, never fitted; ``PEAK_REACH_S``)."""

    @property
    def bucket(self) -> tuple[int, int, bool]:
        return (self.severity, math.floor(self.elapsed_s), self.source == "peak")


@dataclass(frozen=True)
class AnticipatorConfig:
    """Hyper-parameters and the bounds of the learning cost."""

    c: float = 20.0
    epsilon: float = 0.2
    gamma: float = 0.5
    per_bucket: int = 3
    """Samples kept per (severity, whole second of elapsed time): older ones are dropped."""
    max_samples: int = 2000
    """Hard cap of the sample set (oldest dropped first)."""
    baseline: int = 1
    """MSA when nothing happens: severity-0 anchors and the value far from any sample."""
    fit_in_process: bool = True
    """Fit the SVR in this process; False: in the helper process that holds scikit-learn and SciPy
    (``arca.decider.fitting``), so this one stays small."""


SAMPLE_REACH_S = 5.0
"""Seconds around a sample where it informs its severity's curve: half a telemetry round. Beyond it
a severity borrows from the nearest severity that has a sample there, and a prior sample this near
a learned one of its severity is ignored."""

PEAK_REACH_S = 1.5
"""Seconds around a ``peak`` sample where its severity's floor is at least its amount (issue 23 item 1;
``predict_floor``: ``floor``, ``floors``, ``top``). A window's peak is the highest 1 s request
rate of the window, at that second's middle (averaged over the load balancers); the top of a severity-1
burst needs its third servant for ~3 s. Peak samples are not fitted: a single one among the window
means' samples made the RBF fit a hump 9 s wide at the top (a servant more from 1 to 19 s after a
severity 1, +3.8 % servant-seconds on the reference), and a severity-4 curve above the load's mean,
which the severity assessment then read as a severity 3. Nor are they in the curve a round's mean is
judged against and learned from (``predict``): there they stopped the corrections
that shape a burst's plateau (a severity-4 plateau learned at 8 where the load needs 9)."""

SEVERITY_SCALE = 0.5
"""Kernel distance of one severity step."""


def _features(severity: np.ndarray, elapsed: np.ndarray) -> np.ndarray:
    return np.column_stack([severity.astype(float) * SEVERITY_SCALE, elapsed.astype(float) / ELAPSED_SCALE_S])


@dataclass(frozen=True)
class RbfModel:
    """A fitted RBF SVR's decision function, evaluated in numpy.

    ``sum_i dual_i * exp(-gamma * |sv_i - x|^2) + intercept`` is what scikit-learn's
    ``SVR.predict`` computes (through libsvm), without its per-call input validation, which is most
    of the cost of predicting a handful of points (190-290 µs vs ~20 µs).
    """

    support_vectors: np.ndarray
    dual_coef: np.ndarray
    intercept: float
    gamma: float

    @classmethod
    def of(cls, svr: Any) -> RbfModel:
        """The decision function of a fitted ``sklearn.svm.SVR(kernel="rbf")``."""
        return cls(np.asarray(svr.support_vectors_, dtype=float), np.asarray(svr.dual_coef_[0], dtype=float),
                   float(svr.intercept_[0]), float(svr._gamma))

    def predict(self, x: np.ndarray) -> np.ndarray:
        sq = np.zeros((x.shape[0], self.support_vectors.shape[0]))
        for k in range(x.shape[1]):  # two features: squared distances without a 3-d temporary
            d = x[:, k, None] - self.support_vectors[None, :, k]
            sq += d * d
        kernel = np.exp(-self.gamma * sq)
        out: np.ndarray = kernel @ self.dual_coef + self.intercept
        return out


class Anticipator:
    """A decimated sample set and the SVR fitted on it (lazily, once)."""

    def __init__(self, samples: Iterable[LearnedSample] = (),
                 config: AnticipatorConfig | None = None) -> None:
        self.config = config or AnticipatorConfig()
        self.samples: tuple[LearnedSample, ...] = tuple(samples)
        self._model: RbfModel | None = None
        self._fitted = False
        self._known: frozenset[int] = frozenset()
        self._coverage: dict[int, np.ndarray] = {}
        self._ceiling: float | None = None
        self._tops: dict[int, float] = {}
        self._peaks: dict[int, list[tuple[float, float]]] = {}
        self.fit_seconds: float | None = None
        self._lock = threading.Lock()
        """Held while fitting: a refit on the decider's refit thread (``arca.decider.fitting.Refits``)
        and a prediction on its delivery thread fit this object once, and the prediction waits for it."""

    # -- learning ---------------------------------------------------------------------------------
    def with_sample(self, sample: LearnedSample) -> tuple[Anticipator, list[LearnedSample]]:
        """A new anticipator that also knows ``sample``; returns it and the samples it dropped.

        A sample whose id is already known (the same correction learned again from a situation
        redelivered after a crash) changes nothing: learning is idempotent.
        """
        if sample.sample_id and any(s.sample_id == sample.sample_id for s in self.samples):
            return self, []
        kept = [*self.samples, sample]
        dropped: list[LearnedSample] = []
        same = [s for s in kept if s.bucket == sample.bucket]
        if len(same) > self.config.per_bucket:
            excess = set(map(id, same[: len(same) - self.config.per_bucket]))
            dropped = [s for s in kept if id(s) in excess]
            kept = [s for s in kept if id(s) not in excess]
        if len(kept) > self.config.max_samples:
            dropped.extend(kept[: len(kept) - self.config.max_samples])
            kept = kept[len(kept) - self.config.max_samples:]
        return Anticipator(kept, self.config), dropped

    def without(self, sample_ids: Iterable[str]) -> tuple[Anticipator, list[LearnedSample]]:
        """A new anticipator without the samples of these ids; returns it and the samples removed."""
        ids = {i for i in sample_ids if i}
        removed = [s for s in self.samples if s.sample_id in ids]
        if not removed:
            return self, []
        return Anticipator([s for s in self.samples if s.sample_id not in ids], self.config), removed

    def with_config(self, config: AnticipatorConfig) -> Anticipator:
        return self if config == self.config else Anticipator(self.samples, config)

    @property
    def trained(self) -> bool:
        """True once at least one sample is known (a cold anticipator predicts nothing)."""
        return bool(self.samples)

    def __len__(self) -> int:
        return len(self.samples)

    # -- prediction -------------------------------------------------------------------------------
    def _fit(self) -> RbfModel | None:
        with self._lock:
            if self._fitted:
                return self._model
            try:
                return self._fit_now()
            except BaseException:
                self._fitted = False  # a failed fit (its helper process gone) is tried again next time
                raise

    def _fit_now(self) -> RbfModel | None:
        self._fitted = True
        if not self.samples:
            return None
        started = time.perf_counter()
        learned = [s for s in self.samples if s.source not in ("prior", "peak")]
        self._peaks = {}
        for s in self.samples:
            if s.source == "peak":
                self._peaks.setdefault(s.severity, []).append((s.elapsed_s, float(s.amount)))
        reach: dict[int, list[float]] = {}
        for s in learned:
            reach.setdefault(s.severity, []).append(s.elapsed_s)
        # a prior sample yields to what was learned near it (same severity, within SAMPLE_REACH_S)
        priors = [s for s in self.samples if s.source == "prior"
                  and not any(abs(e - s.elapsed_s) <= SAMPLE_REACH_S for e in reach.get(s.severity, ()))]
        kept = [*learned, *priors]
        if not kept:  # only peak samples left (the rest forgotten): nothing to fit a curve on
            return None
        self._known = frozenset(s.severity for s in kept)
        self._coverage = {sev: np.array(sorted(s.elapsed_s for s in kept if s.severity == sev))
                          for sev in self._known}
        self._model = self._svr(kept)
        self.fit_seconds = time.perf_counter() - started
        MODEL_FIT_SECONDS.observe(self.fit_seconds)
        return self._model

    def _svr(self, samples: Sequence[LearnedSample]) -> RbfModel:
        from arca.decider.fitting import InlineFitter, shared_process_fitter

        fitter = InlineFitter() if self.config.fit_in_process else shared_process_fitter()
        x, y = self.training_set(samples)
        fit = fitter.fit(x, y, self.config.c, self.config.epsilon, self.config.gamma)
        return RbfModel(fit.support_vectors, fit.dual_coef, fit.intercept, fit.gamma)

    def fit_svr(self, samples: Sequence[LearnedSample]) -> Any:
        """scikit-learn's ``SVR`` fitted here on ``samples`` and the severity-0 anchors (imported
        here: only a process that fits pays for scikit-learn)."""
        from sklearn.svm import SVR

        x, y = self.training_set(samples)
        model = SVR(kernel="rbf", C=self.config.c, epsilon=self.config.epsilon, gamma=self.config.gamma)
        model.fit(x, y)
        return model

    def training_set(self, samples: Sequence[LearnedSample]) -> tuple[np.ndarray, np.ndarray]:
        """The SVR's features and targets: ``samples`` and the severity-0 anchors."""
        ordered = sorted(samples)  # the fit does not depend on the order samples came in
        sev = np.array([s.severity for s in ordered])
        ela = np.array([s.elapsed_s for s in ordered])
        y = np.array([float(s.amount) for s in ordered]) - self.config.baseline
        # anchors: no incident (severity 0) needs the baseline whatever the elapsed time
        span = np.linspace(0.0, max(60.0, float(ela.max())), 16)
        sev = np.concatenate([sev, np.zeros_like(span)])
        ela = np.concatenate([ela, span])
        y = np.concatenate([y, np.zeros_like(span)])
        return _features(sev, ela), y

    def refit(self) -> float:
        """Fit now (off the decision path, e.g. right after learning); returns the seconds it took."""
        self._fit()
        return self.fit_seconds or 0.0

    def predict(self, severity: int, elapsed: Sequence[float] | np.ndarray) -> np.ndarray | None:
        """Predicted MSA at each elapsed time (None when cold).

        Where the severity has no sample within ``SAMPLE_REACH_S``, the nearest severity that has
        one there lends its prediction, extra servants scaled by ``severity / lender`` (the stronger
        when two are equally near); where none has, the baseline. The curve of the window means:
        what a telemetry round's mean is judged against and learned from (``peak`` samples are in
        ``predict_floor``).
        """
        model = self._fit()
        if model is None:
            return None
        ela = np.asarray(elapsed, dtype=float)
        out = self._raw(model, severity, ela)
        if severity <= 0:
            return out
        return self._borrowed(model, severity, ela, out)

    def predict_floor(self, severity: int, elapsed: Sequence[float] | np.ndarray) -> np.ndarray | None:
        """``predict``, and within ``PEAK_REACH_S`` of one of the severity's ``peak`` samples at least
        that sample's amount (a burst's top, seen in a window's peak): what floors are made of."""
        out = self.predict(severity, elapsed)
        if out is None:
            return None
        ela = np.asarray(elapsed, dtype=float)
        for at, amount in self._peaks.get(severity, ()):
            near = np.abs(ela - at) <= PEAK_REACH_S
            out[near] = np.maximum(out[near], amount)
        return out

    def _borrowed(self, model: RbfModel, severity: int, ela: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out`` where ``severity`` has a sample near; elsewhere the nearest severity's, scaled."""
        todo = ~self._covered(severity, ela)
        base = self.config.baseline
        for k in sorted((k for k in self._known if 0 < k != severity), key=lambda k: (abs(k - severity), -k)):
            if not todo.any():
                break
            here = todo & self._covered(k, ela)
            if here.any():
                out[here] = base + (self._raw(model, k, ela[here]) - base) * (severity / k)
                todo &= ~here
        out[todo] = base  # no severity has a sample there: nothing is known of a burst, the baseline
        return out

    def _covered(self, severity: int, ela: np.ndarray) -> np.ndarray:
        """Which elapsed times have a sample of ``severity`` within ``SAMPLE_REACH_S``."""
        known = self._coverage.get(severity)
        if known is None or not len(known):
            return np.zeros(ela.shape, dtype=bool)
        covered: np.ndarray = np.abs(ela[:, None] - known[None, :]).min(axis=1) <= SAMPLE_REACH_S
        return covered

    def _raw(self, model: RbfModel, severity: int, ela: np.ndarray) -> np.ndarray:
        sev = np.full_like(ela, float(severity))
        out: np.ndarray = model.predict(_features(sev, ela)) + self.config.baseline
        return out

    def ceiling(self) -> float | None:
        """The most servants any one incident is predicted to need: the highest point of every
        known severity's curve, from its first to its last sample (None when cold).

        Overlapping incidents combine under it (``loop.combine``): the load of several incidents at
        once has so far never been seen to need more than the strongest alone (the clients' rate
        saturates); where it does, the reactive part corrects above the floor.
        """
        if self._ceiling is not None or self._fit() is None:
            return self._ceiling
        tops = []
        for sev in sorted(k for k in self._known if k > 0):
            known = self._coverage[sev]
            grid = np.arange(float(known[0]), float(known[-1]) + 1.0, 1.0)
            out = self.predict(sev, grid)
            if out is not None and len(out):
                tops.append(float(out.max()))
        self._ceiling = max(tops, default=float(self.config.baseline))
        return self._ceiling

    def top(self, severity: int) -> float | None:
        """The highest point of ``severity``'s curve (borrowed where it has no sample), over every
        elapsed time any sample covers, whole seconds (None when cold)."""
        if self._fit() is None:
            return None
        if severity not in self._tops:
            ends = [float(c[-1]) for c in self._coverage.values() if len(c)]
            grid = np.arange(0.0, max(ends, default=0.0) + 1.0, 1.0)
            out = self.predict_floor(severity, grid)
            top = float(out.max()) if out is not None and len(out) else float(self.config.baseline)
            self._tops[severity] = top
        return self._tops[severity]

    def known_severities(self) -> frozenset[int]:
        """Severities the fitted model has samples of (others borrow from the nearest)."""
        self._fit()
        return self._known

    def predict_one(self, severity: int, elapsed_s: float) -> float | None:
        out = self.predict(severity, [elapsed_s])
        return None if out is None else float(out[0])

    def floor(self, severity: int, elapsed_s: float, lead_s: float, step_s: float = 1.0) -> float | None:
        """Largest MSA predicted over ``[elapsed, elapsed + lead]`` (None when cold)."""
        n = max(1, math.ceil(max(0.0, lead_s) / step_s) + 1)
        grid = np.linspace(elapsed_s, elapsed_s + max(0.0, lead_s), n)
        out = self.predict_floor(severity, grid)
        return None if out is None else float(out.max())

    def floors(self, incidents: Sequence[tuple[int, float]], lead_s: float,
               step_s: float = 1.0) -> list[float] | None:
        """``floor`` of each (severity, elapsed) at once: one prediction per severity, not per
        incident (a flood of incidents is one decision's worth of numpy calls, not thousands)."""
        if not self.trained:
            return None
        n = max(1, math.ceil(max(0.0, lead_s) / step_s) + 1)
        out = [0.0] * len(incidents)
        by_severity: dict[int, list[int]] = {}
        for k, (severity, _) in enumerate(incidents):
            by_severity.setdefault(severity, []).append(k)
        for severity, ks in by_severity.items():
            start = np.array([incidents[k][1] for k in ks], dtype=float)
            grid = np.linspace(start, start + max(0.0, lead_s), n, axis=1)  # one row per incident
            predicted = self.predict_floor(severity, grid.ravel())
            if predicted is None:
                return None
            for k, top in zip(ks, predicted.reshape(len(ks), n).max(axis=1), strict=True):
                out[k] = float(top)
        return out


def to_amount(prediction: float) -> int:
    """Whole servants for a prediction (rounded half up)."""
    return math.floor(prediction + 0.5)


FIT_SLACK = 0.01
"""How far past its ε-tube a fitted SVR may sit (libsvm stops within 1e-3 of the optimum): a fit of
4.2003 over samples of 4 is 4 at ε = 0.2."""


def floor_amount(prediction: float, tolerance: float) -> int:
    """Whole servants an anticipated floor needs: the fewest not below ``prediction - tolerance``.

    The SVR's ``epsilon`` is the tolerance: a prediction within it above a whole amount is that
    amount (the fit is no more precise), anything beyond needs one more servant. Rounding half up
    instead left a burst's peak one servant short (a fit of 2.38 where the load needed 3 for a few
    seconds), which the reactive part covers alone but not when a stronger incident arrives then.
    """
    return math.ceil(prediction - tolerance - FIT_SLACK)
