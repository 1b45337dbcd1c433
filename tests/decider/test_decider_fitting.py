"""The SVR fitted in the helper process is the one fitted in the decider's, and a decider that fits
there holds neither scikit-learn nor SciPy (``arca.decider.fitting``)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import rdflib

from arca.decider.anticipator import Anticipator, AnticipatorConfig, LearnedSample
from arca.decider.fitting import InlineFitter, ProcessFitter
from arca.namespace import ARCA_NS, ONTOLOGY_DIR
from tests.prockit import alive


def prior_samples() -> list[LearnedSample]:
    g = rdflib.Graph().parse(ONTOLOGY_DIR / "priors" / "emergency.ttl")
    ns = rdflib.Namespace(ARCA_NS)
    return [LearnedSample(int(g.value(s, ns.severity)), float(g.value(s, ns.elapsedSeconds)),
                          int(g.value(s, ns.servants)), source="prior")
            for s in g.subjects(rdflib.RDF.type, ns.LearnedSample)]


def test_the_helper_process_fits_the_same_model() -> None:
    samples = prior_samples()
    assert len(samples) >= 10
    x, y = Anticipator(samples).training_set(samples)
    fitter = ProcessFitter(idle_s=60)
    try:
        remote = fitter.fit(x, y, 20.0, 0.2, 0.5)
        assert fitter.started == 1 and fitter.running
        again = fitter.fit(x, y, 20.0, 0.2, 0.5)
        assert fitter.started == 1  # the helper is reused
    finally:
        fitter.close()
    local = InlineFitter().fit(x, y, 20.0, 0.2, 0.5)
    assert np.array_equal(remote.support_vectors, local.support_vectors)
    assert np.max(np.abs(remote.dual_coef - local.dual_coef)) <= 1e-12
    assert abs(remote.intercept - local.intercept) <= 1e-12
    assert np.array_equal(again.dual_coef, remote.dual_coef)
    grid = np.array([[sev, el] for sev in range(5) for el in range(0, 60, 3)], dtype=float)
    inline = Anticipator(samples, AnticipatorConfig(fit_in_process=True))
    process = Anticipator(samples, AnticipatorConfig(fit_in_process=False))
    for sev in range(5):
        a, b = inline.predict(sev, grid[:, 1]), process.predict(sev, grid[:, 1])
        assert a is not None and b is not None
        assert np.max(np.abs(a - b)) <= 1e-6


def test_an_idle_helper_exits() -> None:
    samples = prior_samples()
    x, y = Anticipator(samples).training_set(samples)
    fitter = ProcessFitter(idle_s=0.5)
    try:
        fitter.fit(x, y, 20.0, 0.2, 0.5)
        deadline = time.monotonic() + 15
        while fitter.running:
            assert time.monotonic() < deadline, "the idle helper did not exit"
            time.sleep(0.1)
        fitter.fit(x, y, 20.0, 0.2, 0.5)  # and a later fit starts another
        assert fitter.started == 2
    finally:
        fitter.close()


@pytest.mark.parametrize(("fit_in_process", "holds"), [(False, False), (True, True)],
                         ids=["helper-process-decider-holds-no-sklearn", "inline-holds-sklearn"])
def test_what_a_fitting_process_holds(fit_in_process: bool, holds: bool) -> None:
    code = textwrap.dedent(f"""
        import json, sys
        from arca.decider.anticipator import Anticipator, AnticipatorConfig, LearnedSample
        samples = [LearnedSample(s, float(e), 2 + s) for s in (1, 2, 3) for e in range(0, 40, 4)]
        model = Anticipator(samples, AnticipatorConfig(fit_in_process={fit_in_process}))
        model.refit()
        predicted = model.predict_one(3, 10.0)
        rss = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
        print(json.dumps({{"sklearn": "sklearn" in sys.modules, "scipy": "scipy" in sys.modules,
                          "predicted": predicted, "rss_kb": rss}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["sklearn"] is holds and got["scipy"] is holds
    assert got["predicted"] is not None and 3.0 < got["predicted"] < 7.0
    print(f"fit_in_process={fit_in_process}: resident {got['rss_kb'] / 1024:.0f} MB")


def test_the_helper_exits_when_its_decider_is_killed() -> None:
    # a decider killed with -9 never shuts its pool down: its helper (scikit-learn and SciPy, ~100 MB)
    # must not outlive it (found: four helpers of the resilience tests' killed deciders left running)
    code = textwrap.dedent("""
        import os, signal
        from arca.decider.anticipator import Anticipator, LearnedSample
        from arca.decider.fitting import ProcessFitter
        samples = [LearnedSample(s, float(e), 2 + s) for s in (1, 2, 3) for e in range(0, 40, 4)]
        x, y = Anticipator(samples).training_set(samples)
        fitter = ProcessFitter()
        fitter.fit(x, y, 20.0, 0.2, 0.5)
        print(*fitter._pool._processes, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    decider = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert decider.stdout is not None
    helpers = [int(p) for p in decider.stdout.readline().split()]  # the helper holds the pipe: no EOF
    assert decider.wait(60) == -9
    assert len(helpers) == 1

    deadline = time.monotonic() + 30
    while alive(helpers[0]):
        assert time.monotonic() < deadline, f"the helper {helpers[0]} outlived its killed decider"
        time.sleep(0.2)
