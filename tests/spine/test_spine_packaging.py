"""ARCA as a user installs it: one import namespace (``arca.``), the ontology and the YANG modules
inside the wheel, a wheel that works from any directory, and the command line's common options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from arca.app.cli.main import main, version

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_package_list_is_the_tree() -> None:
    """pyproject.toml lists every package under arca/ (and the two data packages), nothing else."""
    tree = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "arca").rglob("__init__.py")}
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == tree | {"arca.ontology", "arca.yang"}
    mapped = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert mapped == {"arca.ontology": "ontology", "arca.yang": "yang"}


def test_no_top_level_package_but_arca() -> None:
    top = {p.parent.name for p in REPO.glob("*/__init__.py")}
    assert top == {"arca", "ontology", "yang"}  # the last two are arca.ontology and arca.yang
    for name in ("collector", "analyzer", "decider", "enforcer", "testbed"):
        assert (REPO / "arca" / name / "__init__.py").exists()


def test_the_ontology_and_yang_are_read_from_the_package() -> None:
    from importlib.resources import files

    from arca.namespace import ONTOLOGY_DIR, YANG_DIR

    assert Path(str(files("arca.ontology"))) == ONTOLOGY_DIR
    assert (ONTOLOGY_DIR / "arca.ttl").is_file() and (ONTOLOGY_DIR / "policies" / "emergency.ttl").is_file()
    assert any(YANG_DIR.glob("ietf-nmrg-nict-resource-anticipation@*.yang"))


def test_arca_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"arca {version()}" == f"arca {PYPROJECT['project']['version']}"


@pytest.mark.slow
def test_the_built_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    """The issue's acceptance: the wheel (not an editable checkout) and its dependencies in a fresh
    venv, run from a directory outside the checkout: the demo, a shipped policy and a shipped example
    event; ``import collector`` fails (one namespace)."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
                   check=True, timeout=600, capture_output=True)
    (wheel,) = wheels.glob("arca-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    out = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARCA_", "PYTHON"))}
    arca = str(env_dir / "bin" / "arca")

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=timeout)

    listing = run(str(py), "-m", "pip", "show", "-f", "arca").stdout
    assert "arca/ontology/arca.ttl" in listing and "arca/yang/yang-library.json" in listing
    assert "arca/testbed/timelines/reference.json" in listing
    policy = run(arca, "policy", "validate", str(REPO / "ontology" / "policies" / "emergency.ttl"))
    assert policy.returncode == 0, policy.stderr
    event = run(arca, "event", "validate", str(REPO / "examples" / "events" / "seismometer.json"))
    assert event.returncode == 0, event.stderr
    demo = run(arca, "demo", "--strategy", "arca", "--quiet", "--json", timeout=900)
    assert demo.returncode == 0, demo.stderr[-3000:]
    doc = json.loads(demo.stdout)  # --json: stdout is the document alone
    assert "arca" in json.dumps(doc)
    for name in ("collector", "analyzer", "decider", "enforcer", "testbed"):
        assert run(str(py), "-c", f"import {name}").returncode != 0, name
    assert run(str(py), "-c", "import arca.collector, arca.app.cli.main").returncode == 0
    assert run(arca, "--version").stdout.strip() == f"arca {PYPROJECT['project']['version']}"
