"""Property-based fuzzing of every input entry point (issue 13), bounded so CI stays fast.

The same targets as ``arca fuzz`` (``arca/app/cli/fuzz.py``): each generated input must be accepted or
refused cleanly (``IngestError`` < 500, ``MessageError``, ``PolicyInvalid``); anything else fails
the test and hypothesis shrinks it to a minimal example. ``arca fuzz -n 10000`` runs them long.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from arca.app.cli import fuzz
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


def test_fuzz_command_counts_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.cli.main import main

    assert main(["fuzz", "-n", "5", "--seed", "1", "--database", str(tmp_path), "event", "codec"]) == 0
    out = capsys.readouterr().out
    assert "event   inputs=5" in out and "codec   inputs=5" in out and "unexpected=0" in out


def test_fuzz_command_reports_an_unexpected_exception(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The counter can fail: a decoder that crashes is reported and makes the command exit 1."""
    import arca.messages.codec as codec
    from arca.app.cli.main import main

    def broken(data: bytes | str) -> Any:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(codec, "decode", broken)
    assert main(["fuzz", "-n", "3", "--seed", "1", "--database", str(tmp_path), "codec"]) == 1
    out = capsys.readouterr().out
    assert "unexpected=1" in out and "ZeroDivisionError: planted" in out


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    """A target ``planted`` whose entry point crashes on every integer from 1000 on (and refuses
    the negative ones cleanly): its smallest failing input is 1000."""
    from hypothesis import strategies as st

    def check(data: Any) -> bool:
        if data >= 1000:
            raise ZeroDivisionError(f"planted at {data}")
        return bool(data >= 0)

    real = fuzz.make_check
    monkeypatch.setitem(fuzz.TARGETS, "planted", lambda: st.integers())
    monkeypatch.setattr(fuzz, "make_check", lambda t: check if t == "planted" else real(t))


@pytest.mark.usefixtures("planted")
def test_a_failure_is_shrunk_to_its_smallest_input_and_printed_with_a_reproducer(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.cli.main import main

    assert main(["fuzz", "-n", "300", "--database", str(tmp_path), "planted"]) == 1
    out = capsys.readouterr().out
    assert "unexpected=1" in out
    assert "ZeroDivisionError: planted at 1000" in out  # shrunk: the smallest input, not the first found
    assert "data=1000," in out
    assert "@reproduce_failure(" in out
    assert any((tmp_path / "planted").iterdir())  # kept for the next run


@pytest.mark.usefixtures("planted")
def test_the_next_run_replays_the_kept_failure_first(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """One generated input (hypothesis's simplest, 0) cannot find the failure; the database does."""
    from arca.app.cli.main import main

    assert main(["fuzz", "-n", "1", "--no-database", "planted"]) == 0
    assert main(["fuzz", "-n", "300", "--database", str(tmp_path), "planted"]) == 1
    capsys.readouterr()
    assert main(["fuzz", "-n", "1", "--database", str(tmp_path), "planted"]) == 1
    assert "data=1000," in capsys.readouterr().out
