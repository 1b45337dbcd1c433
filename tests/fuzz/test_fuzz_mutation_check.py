"""``scripts/mutation_check.py`` sorts what it is told honestly (issue 25 item 7).

A mutant is *killed* only when a test fails; a run pytest could not judge (a collection error, a
timeout) is an *error*; a mutant whose snippet is no longer in the file is *skipped* and not counted.
Run on a throw-away package of one function and one test.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation_check.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_mutant_is_killed_survived_error_or_skipped(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text("def double(x):\n    return x * 2\n")
    (tmp_path / "test_calc.py").write_text(
        "from calc import double\n\n\ndef test_double():\n    assert double(3) == 6\n")
    mutants = [
        ("calc.py", "return x * 2", "return x + 2", "plus instead of times"),  # 5: killed
        ("calc.py", "return x * 2", "return 2 * x", "operands swapped"),  # equivalent: survives
        ("calc.py", "return x * 2", "return x * (", "syntax error"),  # collection error
        ("calc.py", "return x * 2", "import time; time.sleep(60); return x * 2", "hangs"),  # timeout
        ("calc.py", "return x ** 2", "return x", "snippet gone"),  # skipped
    ]
    out = _script().check(str(tmp_path), ["test_calc.py"], mutants, timeout_s=8)
    whats = {k: [what for _, what in v] for k, v in out.items()}
    assert whats == {"killed": ["plus instead of times"], "survived": ["operands swapped"],
                     "error": ["syntax error", "hangs"], "skipped": ["snippet gone"]}
    assert (tmp_path / "calc.py").read_text() == "def double(x):\n    return x * 2\n"  # restored


def test_every_mutant_of_every_table_applies_to_the_code_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    # a mutant whose snippet moved is skipped silently by a run (six were, found by a helper): each
    # table's snippets must each be in their file exactly once, so a run applies every mutant it names
    monkeypatch.delenv("MUTANTS_SET", raising=False)
    monkeypatch.delenv("ONLY", raising=False)
    script = _script()
    repo = SCRIPT.parents[1]
    tables = {"default": script.MUTANTS, **script.SETS}
    stale = [(name, path, what, (repo / path).read_text().count(old))
             for name, table in tables.items() for path, old, _new, what in table
             if (repo / path).read_text().count(old) != 1]
    assert stale == []
