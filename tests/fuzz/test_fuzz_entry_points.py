"""Property-based fuzzing of every input entry point (issue 13), bounded so CI stays fast.

The same targets as ``arca fuzz`` (``arca/app/cli/fuzz.py``): each generated input must be accepted or
refused cleanly (``IngestError`` < 500, ``MessageError``, ``PolicyInvalid``); anything else fails
the test and hypothesis shrinks it to a minimal example. ``arca fuzz -n 10000`` runs them long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from arca.app.cli.fuzz import TARGETS, make_check

EXAMPLES = {"event": 30, "cap": 30, "osm": 30, "codec": 40, "policy": 8}


@pytest.fixture(autouse=True)
def _quiet() -> Any:
    logging.disable(logging.WARNING)  # each refusal logs a warning
    yield
    logging.disable(logging.NOTSET)


def fuzz_test(target: str) -> Callable[[], None]:
    check = make_check(target)

    @settings(max_examples=EXAMPLES[target], deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(TARGETS[target]())
    def run(data: bytes) -> None:
        assert check(data) in (True, False)

    return run


@pytest.mark.parametrize("target", sorted(EXAMPLES), ids=sorted(EXAMPLES))
def test_entry_point_never_raises_unexpectedly(target: str) -> None:
    fuzz_test(target)()


def test_fuzz_command_counts_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.cli.main import main

    assert main(["fuzz", "-n", "5", "--seed", "1", "event", "codec"]) == 0
    out = capsys.readouterr().out
    assert "event   inputs=5" in out and "codec   inputs=5" in out and "unexpected=0" in out


def test_fuzz_command_reports_an_unexpected_exception(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The counter can fail: a decoder that crashes is counted and makes the command exit 1."""
    import arca.messages.codec as codec
    from arca.app.cli.main import main

    def broken(data: bytes | str) -> Any:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(codec, "decode", broken)
    assert main(["fuzz", "-n", "3", "--seed", "1", "codec"]) == 1
    out = capsys.readouterr().out
    assert "unexpected=3" in out and "ZeroDivisionError: planted" in out
