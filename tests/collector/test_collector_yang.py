"""Every YANG module in yang/ passes pyang (errors and warnings both fail); the YANG library loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from arca.collector.yang_model import MODULE, data_model
from arca.namespace import YANG_DIR

MODULES = sorted(YANG_DIR.glob("*.yang"))
PYANG = str(Path(sys.executable).parent / "pyang")


def test_yang_dir_holds_the_draft_module() -> None:
    assert any(p.name.startswith(MODULE + "@") for p in MODULES)


@pytest.mark.parametrize("module", MODULES, ids=[p.name for p in MODULES])
def test_pyang_accepts_module_without_errors_or_warnings(module: Path) -> None:
    out = subprocess.run(
        [PYANG, "--lint", "-p", str(YANG_DIR), str(module)] if module.name.startswith(MODULE)
        else [PYANG, "-p", str(YANG_DIR), str(module)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0 and not out.stderr.strip() and not out.stdout.strip(), out.stderr + out.stdout


def test_draft_module_has_the_statements_the_draft_lacks() -> None:
    text = next(p for p in MODULES if p.name.startswith(MODULE)).read_text()
    for stmt in ("organization", "contact", "description", "revision 2018-06-28", "yang-version 1.1"):
        assert stmt in text


def test_yangson_builds_the_data_model_from_the_shipped_yang_library() -> None:
    dm = data_model()
    assert dm.get_schema_node(f"/{MODULE}:event") is not None
    assert dm.get_schema_node(f"/{MODULE}:events/event-payloads/event-payloads-seismometer") is not None
