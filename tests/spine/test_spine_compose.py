"""compose.yaml: every ARCA_* name is a setting the code reads; the production wiring is complete."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from arca.app.settings import ArcaSettings, env_names

ROOT = Path(__file__).resolve().parents[2]  # the checkout

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
    known |= {f"{name}_FILE" for name in known}  # secrets read from files (arca.app.settings.SecretFiles)
    used = {name for svc in compose()["services"].values() for name in environment(svc)
            if name.startswith("ARCA_")}
    assert used, "compose.yaml sets no ARCA_* variable"
    assert used <= known, f"unknown settings in compose.yaml: {sorted(used - known)}"


@pytest.mark.parametrize("name", ARCA_SERVICES)
def test_each_service_runs_from_the_repo_image_on_rabbitmq_and_fuseki(
        name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    svc = compose()["services"][name]
    assert svc["build"] == "." and (ROOT / "Dockerfile").exists()
    assert svc["command"] == ["run", name]
    env = environment(svc)
    assert env["ARCA_OPS__METRICS_PORT"] == "9100"
    for key, value in env.items():
        if key.endswith("_FILE"):  # a Docker secret: the test provides the file
            secret = tmp_path / Path(value).name
            secret.write_text('{"seismo-hq": "t"}\n' if "TOKENS" in key else "s3cret\n")
            value = str(secret)
        monkeypatch.setenv(key, re.sub(r"\$\{RABBITMQ_PASSWORD:\?[^}]*\}", "from-the-environment", value))
    settings = ArcaSettings()  # the values parse, too
    assert settings.bus.kind == "rabbitmq" and settings.kb.kind == "sparql"
    assert settings.kb.query_url.startswith("http://fuseki:3030/arca/")
    assert settings.ops.metrics_port == 9100
    assert settings.kb.username == "arca" and settings.kb.password == "s3cret"  # Fuseki basic auth
    assert settings.bus.url == "amqp://arca:from-the-environment@rabbitmq:5672/%2F"
    if name == "collector":
        assert settings.collector.tokens == {"seismo-hq": "t"}
        assert not settings.collector.allow_unauthenticated


@pytest.mark.rabbitmq
def test_every_image_is_pinned_to_the_version_the_tests_run() -> None:
    """No third-party image floats (``:latest``, a bare major): each names the version the tests run
    here, read from the tools themselves."""
    import re
    import subprocess

    services = compose()["services"]
    for name, svc in services.items():
        if "build" not in svc:
            image = svc["image"]
            assert not image.endswith(":latest") and re.search(r":v?\d+\.\d+\.\d+", image), (name, image)
    promtool = subprocess.run(["promtool", "--version"], capture_output=True, text=True).stdout
    assert f"version {services['prometheus']['image'].split(':v')[1]}" in promtool
    rabbit = subprocess.run(["rabbitmqctl", "-q", "version"], capture_output=True, text=True).stdout.strip()
    assert services["rabbitmq"]["image"] == f"rabbitmq:{rabbit}-management"


def test_infrastructure_services_and_ops_mounts() -> None:
    services = compose()["services"]
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3.10.8-management")
    assert services["fuseki"]["command"] == ["--conf", "/fuseki/config.ttl"]
    # the ontology from the installed package; the shipped policies and prior on a new store
    assert services["kb-init"]["command"] == ["kb", "init", "--defaults"]
    assert "rabbitmq" in services["kb-init"]["depends_on"]  # the policy notes are published
    mounts = " ".join(services["prometheus"]["volumes"] + services["grafana"]["volumes"])
    for path in ("./ops/prometheus/prometheus.yml", "./ops/grafana/provisioning", "./ops/grafana/dashboards"):
        assert path in mounts


def test_dockerfile_installs_the_wheel_from_the_lock_file() -> None:
    """The image installs as a user does: the locked dependencies by hash, then the built wheel (the
    ontology and YANG inside it), never an editable checkout; and it says when it is ready."""
    text = Path(ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes -r /tmp/requirements.lock" in text
    assert "COPY requirements.lock" in text and (ROOT / "requirements.lock").exists()
    assert "pip wheel --no-deps" in text and "pip install --no-deps /wheels/*.whl" in text
    assert " -e " not in text
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert 'ENTRYPOINT ["arca"]' in text
    lock = (ROOT / "requirements.lock").read_text()
    for dep in ("pika", "pyoxigraph", "SPARQLWrapper", "openstacksdk", "scikit-learn", "waitress"):
        assert re.search(rf"(?im)^{dep}==\S+ \\$", lock), dep  # pinned, with its hashes below
    for not_runtime in ("matplotlib", "pytest", "pyang", "ruff"):
        assert not re.search(rf"(?im)^{not_runtime}==", lock), not_runtime


SECRET_WORDS = re.compile(r"PASS|TOKEN|SECRET", re.I)


def test_no_default_or_fixed_password_in_compose() -> None:
    """Issue 13: RabbitMQ and Grafana had fixed default passwords (``${RABBITMQ_PASSWORD:-arca}``)."""
    text = COMPOSE.read_text()
    assert not re.search(r"\$\{[A-Z_]*(PASS|TOKEN|SECRET)[A-Z_]*:-", text), "a secret with a default value"
    for name, svc in compose()["services"].items():
        for key, value in environment(svc).items():
            if not SECRET_WORDS.search(key):
                continue
            if key.endswith("_FILE") or key.endswith("__FILE"):
                secret = Path(value).name
                assert value == f"/run/secrets/{secret}", (name, key)
                assert secret in svc.get("secrets", []), f"{name} reads {key} but does not mount {secret}"
                assert secret in compose()["secrets"]
            else:
                required = re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value)
                assert required, f"{name}: {key} is not a required variable"
        url = environment(svc).get("ARCA_BUS__URL")
        if url is not None:
            assert "${RABBITMQ_PASSWORD:?" in url, "the bus URL must take the required password"


def test_fuseki_requires_authentication_for_update_and_the_services_send_it() -> None:
    import rdflib

    fuseki = compose()["services"]["fuseki"]
    assert "--update" not in fuseki["command"]  # no open update endpoint: the config file decides
    assert "./ops/fuseki/config.ttl:/fuseki/config.ttl:ro" in fuseki["volumes"]
    f = rdflib.Namespace("http://jena.apache.org/fuseki#")
    g = rdflib.Graph().parse(ROOT / "ops" / "fuseki" / "config.ttl")
    server = g.value(None, rdflib.RDF.type, f.Server)
    passwd = str(g.value(server, f.passwd))
    assert passwd == "/run/secrets/fuseki_passwd" and "fuseki_passwd" in fuseki["secrets"]
    assert str(g.value(server, f.auth)) == "basic"  # what requests' session.auth sends
    service = g.value(None, f.name, rdflib.Literal("arca"))
    assert {str(u) for u in g.objects(service, f.allowedUsers)} == {"arca"}  # every endpoint
    ops = {str(g.value(ep, f.name)): g.value(ep, f.operation) for ep in g.objects(service, f.endpoint)}
    assert ops == {"query": f.query, "update": f.update, "data": f["gsp-rw"]}
    for ep in g.objects(service, f.endpoint):
        if g.value(ep, f.operation) != f.query:
            assert {str(u) for u in g.objects(ep, f.allowedUsers)} == {"arca"}
    for name in (*ARCA_SERVICES, "kb-init"):
        env = environment(compose()["services"][name])
        assert env["ARCA_KB__USERNAME"] == "arca"
        assert env["ARCA_KB__PASSWORD_FILE"].startswith("/run/secrets/")


def test_metrics_on_loopback_unless_configured_and_not_published() -> None:
    assert ArcaSettings().ops.metrics_host == "127.0.0.1"
    for name in ARCA_SERVICES:
        svc = compose()["services"][name]
        assert environment(svc)["ARCA_OPS__METRICS_HOST"] == "0.0.0.0"  # set explicitly for Prometheus
        assert not any("9100" in str(p) for p in svc.get("ports", []))
    for name in ("rabbitmq", "fuseki", "prometheus", "grafana"):
        for port in compose()["services"][name].get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"


def test_the_image_runs_as_a_non_root_user() -> None:
    lines = [line.strip() for line in Path(ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split(None, 1)[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    last_user = max(i for i, line in enumerate(lines) if line.startswith("USER "))
    assert not any(line.startswith("RUN ") for line in lines[last_user:]), "a RUN after USER runs as the user"
    assert "useradd --system --uid 10001" in " ".join(lines)


def test_secrets_are_not_in_the_build_context_or_git() -> None:
    assert "secrets/" in (ROOT / ".dockerignore").read_text().split()
    assert "secrets/" in (ROOT / ".gitignore").read_text().split()
