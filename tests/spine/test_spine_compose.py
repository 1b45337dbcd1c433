"""compose.yaml: every ARCA_* name is a setting the code reads; the production wiring is complete."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arca.namespace import ROOT
from arca.settings import ArcaSettings, env_names

COMPOSE = ROOT / "compose.yaml"
ARCA_SERVICES = ("collector", "analyzer", "decider", "enforcer")


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def test_every_arca_name_in_compose_is_a_known_setting() -> None:
    known = env_names()
    used = {name for svc in compose()["services"].values() for name in environment(svc)
            if name.startswith("ARCA_")}
    assert used, "compose.yaml sets no ARCA_* variable"
    assert used <= known, f"unknown settings in compose.yaml: {sorted(used - known)}"


@pytest.mark.parametrize("name", ARCA_SERVICES)
def test_each_service_runs_from_the_repo_image_on_rabbitmq_and_fuseki(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = compose()["services"][name]
    assert svc["build"] == "." and (ROOT / "Dockerfile").exists()
    assert svc["command"] == ["run", name]
    env = environment(svc)
    assert env["ARCA_OPS__METRICS_PORT"] == "9100"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = ArcaSettings()  # the values parse, too
    assert settings.bus.kind == "rabbitmq" and settings.kb.kind == "sparql"
    assert settings.kb.query_url.startswith("http://fuseki:3030/arca/")
    assert settings.ops.metrics_port == 9100


def test_infrastructure_services_and_ops_mounts() -> None:
    services = compose()["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3-management")
    assert "--update" in services["fuseki"]["command"] and "/arca" in services["fuseki"]["command"]
    assert "arca kb load --replace" in " ".join(services["kb-init"]["command"])
    mounts = " ".join(services["prometheus"]["volumes"] + services["grafana"]["volumes"])
    for path in ("./ops/prometheus/prometheus.yml", "./ops/grafana/provisioning", "./ops/grafana/dashboards"):
        assert path in mounts


def test_dockerfile_installs_the_package_with_its_data_files() -> None:
    text = Path(ROOT / "Dockerfile").read_text()
    assert "pip install --no-deps -e ." in text  # ontology/ stays next to the package
    assert 'ENTRYPOINT ["arca"]' in text
