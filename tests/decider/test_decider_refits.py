"""Refits on a thread of their own (``arca.decider.fitting.Refits``): the caller goes on, a prediction
asked meanwhile waits for the fit and gets the model a synchronous refit gives, the newest model of a
system is the one refitted, and a fit that failed is made again when next asked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from arca.decider.anticipator import Anticipator
from arca.decider.fitting import Refits
from tests.decider.test_decider_fitting import prior_samples

ELAPSED = [2.0, 8.0, 15.0, 30.0]


class Gate:
    """Holds the fits of the models it wraps until released; says on which thread each ran."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.threads: list[str] = []

    def hold(self, model: Anticipator, monkeypatch: pytest.MonkeyPatch, *, fail_once: bool = False) -> None:
        real = model._svr
        failed: list[bool] = []

        def held(samples: Any) -> Any:
            self.threads.append(threading.current_thread().name)
            self.entered.set()
            assert self.release.wait(30)
            if fail_once and not failed:
                failed.append(True)
                raise RuntimeError("the helper process died")
            return real(samples)

        monkeypatch.setattr(model, "_svr", held)


@pytest.fixture
def gate() -> Iterator[Gate]:
    g = Gate()
    yield g
    g.release.set()


def test_a_prediction_during_a_refit_waits_for_it_and_gets_the_fitted_model(
        gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = Anticipator(prior_samples()).predict(3, ELAPSED)
    model = Anticipator(prior_samples())
    gate.hold(model, monkeypatch)
    refits = Refits()
    refits.submit("emergency", model)  # returns while the fit is held: the caller is not waiting
    assert gate.entered.wait(30)
    got: dict[str, Any] = {}
    asking = threading.Thread(target=lambda: got.setdefault("p", model.predict(3, ELAPSED)))
    asking.start()
    asking.join(0.3)
    assert asking.is_alive() and "p" not in got  # it waits for the fit under way, not cold
    gate.release.set()
    asking.join(30)
    assert reference is not None and got["p"] is not None
    assert np.array_equal(got["p"], reference)
    assert refits.idle(30) and refits.done == 1
    assert gate.threads == ["svr-refit"]  # fitted once, on the refit thread


def test_the_newest_model_of_a_system_is_the_one_refitted(gate: Gate,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    blocker, older, newer = (Anticipator(prior_samples()) for _ in range(3))
    gate.hold(blocker, monkeypatch)
    refits = Refits()
    refits.submit("other", blocker)
    assert gate.entered.wait(30)
    refits.submit("emergency", older)
    refits.submit("emergency", newer)  # learned again before the refit ran: it replaces the older
    gate.release.set()
    assert refits.idle(30)
    assert refits.done == 2
    assert newer._fitted and not older._fitted


def test_a_failed_refit_is_logged_and_the_model_fits_when_next_asked(
        gate: Gate, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    model = Anticipator(prior_samples())
    gate.hold(model, monkeypatch, fail_once=True)
    gate.release.set()
    refits = Refits()
    refits.submit("emergency", model)
    assert refits.idle(30) and refits.done == 1
    assert "refitting the anticipator of emergency failed" in caplog.text
    assert not model._fitted  # not left fitted with no model: that would predict nothing ever after
    again = model.predict(3, ELAPSED)
    assert again is not None
    assert np.array_equal(again, Anticipator(prior_samples()).predict(3, ELAPSED))  # type: ignore[arg-type]


def test_refits_run_in_the_order_they_were_last_asked(gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = Anticipator(prior_samples())
    gate.hold(blocker, monkeypatch)
    refits = Refits()
    refits.submit("blocker", blocker)
    assert gate.entered.wait(30)
    order: list[str] = []
    for key in ("first", "second", "first"):  # "first" asked again, last: it is refitted after "second"
        model = Anticipator(prior_samples())
        monkeypatch.setattr(model, "refit", lambda key=key: order.append(key) or 0.0)
        refits.submit(key, model)
    gate.release.set()
    assert refits.idle(30)
    assert order == ["second", "first"]
