"""The anticipator's numpy RBF decision function predicts exactly what scikit-learn's SVR does."""

from __future__ import annotations

import numpy as np
import pytest

from arca.decider.anticipator import (
    Anticipator,
    AnticipatorConfig,
    LearnedSample,
    RbfModel,
    _features,
    to_amount,
)
from arca.decider.bench import synthetic_samples

CASES = {
    "one-sample": [LearnedSample(2, 10.0, 4)],
    "one-burst": [LearnedSample(3, float(e), 2 + (e % 5)) for e in range(0, 40, 3)],
    "synthetic-40": synthetic_samples(40, seed=3),
    "synthetic-400": synthetic_samples(400, seed=7),
}


@pytest.mark.parametrize("samples", CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("gamma", [0.1, 0.5, 2.0], ids=["gamma-0.1", "gamma-0.5", "gamma-2"])
def test_numpy_rbf_equals_sklearn_predict(samples: list[LearnedSample], gamma: float) -> None:
    anticipator = Anticipator(samples, AnticipatorConfig(gamma=gamma))
    svr = anticipator.fit_svr(samples)
    model = RbfModel.of(svr)
    rng = np.random.default_rng(11)
    sev = rng.integers(0, 7, 500).astype(float)
    ela = rng.uniform(-10, 120, 500)
    x = _features(sev, ela)
    ours, theirs = model.predict(x), svr.predict(x)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    assert [to_amount(v) for v in ours] == [to_amount(v) for v in theirs]


def test_anticipator_floors_equal_sklearn_floors() -> None:
    samples = synthetic_samples(120, seed=5)
    anticipator = Anticipator(samples)
    svr = anticipator.fit_svr(samples)
    base = anticipator.config.baseline
    for severity in (1, 2, 3, 4):
        for elapsed in (0.0, 7.5, 20.0, 35.0):
            grid = np.linspace(elapsed, elapsed + 10.0, 11)
            # every severity 1-4 has samples near 0-45 s: no borrowing, the raw SVR is the floor (past
            # every sample, 5 s beyond the last, the prediction is the baseline: not compared here)
            want = float((svr.predict(_features(np.full_like(grid, severity), grid)) + base).max())
            got = anticipator.floor(severity, elapsed, 10.0)
            assert got == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("lead", [0.0, 2.5, 10.0], ids=["no-lead", "lead-2.5", "lead-10"])
def test_floors_of_many_incidents_equal_one_floor_each(lead: float) -> None:
    anticipator = Anticipator(synthetic_samples(150, seed=9))
    rng = np.random.default_rng(4)
    incidents = [(int(s), float(e)) for s, e in zip(rng.integers(1, 7, 60), rng.uniform(0, 80, 60),
                                                      strict=True)]
    got = anticipator.floors(incidents, lead)
    want = [anticipator.floor(s, e, lead) for s, e in incidents]
    assert got is not None and len(got) == len(incidents)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)  # severities 5 and 6 borrow: covered too
    assert [to_amount(v) for v in got] == [to_amount(v) for v in want]  # type: ignore[arg-type]


def test_a_cold_anticipator_has_no_floors() -> None:
    assert Anticipator().floors([(3, 1.0)], 10.0) is None
