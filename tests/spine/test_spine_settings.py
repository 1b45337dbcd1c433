"""Settings: ARCA_* environment variables, the ARCA_CONFIG_FILE TOML file, and who wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from arca.app.settings import ArcaSettings, env_names

TOML = """
[bus]
kind = "rabbitmq"
url = "amqp://file:secret@broker:5672/%2F"
prefetch = 7

[kb]
kind = "sparql"
query_url = "http://fuseki:3030/arca/query"
write_batch_max = 42
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("ARCA_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_setup() -> None:
    s = ArcaSettings()
    assert (s.bus.kind, s.kb.kind) == ("memory", "embedded")


def test_environment_variables_set_nested_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCA_BUS__KIND", "rabbitmq")
    monkeypatch.setenv("ARCA_BUS__PREFETCH", "250")
    monkeypatch.setenv("ARCA_KB__STORE_URL", "http://fuseki:3030/arca/data")
    monkeypatch.setenv("ARCA_OPS__METRICS_PORT", "9100")
    s = ArcaSettings()
    assert s.bus.kind == "rabbitmq" and s.bus.prefetch == 250
    assert s.kb.store_url == "http://fuseki:3030/arca/data"
    assert s.ops.metrics_port == 9100


def test_config_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "arca.toml"
    path.write_text(TOML)
    monkeypatch.setenv("ARCA_CONFIG_FILE", str(path))
    monkeypatch.setenv("ARCA_BUS__PREFETCH", "11")
    s = ArcaSettings()
    assert s.bus.kind == "rabbitmq" and s.bus.url.startswith("amqp://file:")  # from the file
    assert s.kb.write_batch_max == 42 and s.kb.query_url == "http://fuseki:3030/arca/query"
    assert s.bus.prefetch == 11  # the environment beats the file
    assert s.kb.update_url == "http://127.0.0.1:3030/arca/update"  # default where neither says


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [("ARCA_BUS__PREFETCH", "0", "prefetch"), ("ARCA_BUS__KIND", "kafka", "kind"),
     ("ARCA_KB__TIMEOUT_S", "-1", "timeout_s")],
    ids=["prefetch-zero", "unknown-bus-kind", "negative-timeout"],
)
def test_invalid_values_are_refused_naming_the_field(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                     field: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=field):
        ArcaSettings()


def test_env_names_lists_every_knob() -> None:
    names = env_names()
    assert {"ARCA_BUS__URL", "ARCA_KB__QUERY_URL", "ARCA_KB__PASSWORD", "ARCA_OPS__METRICS_PORT",
            "ARCA_CONFIG_FILE"} <= names
    assert all(n == n.upper() and n.startswith("ARCA_") for n in names)


def test_secrets_from_files_with_the_file_convention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: ``ARCA_<GROUP>__<FIELD>_FILE`` (Docker secrets); a plain variable wins; a bad name
    or file is a clear error."""
    import json

    from arca.app.cli.main import main
    from arca.app.settings import SecretFileError

    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "tokens").write_text(json.dumps({"seismo-hq": "abc"}))
    monkeypatch.setenv("ARCA_KB__PASSWORD_FILE", str(tmp_path / "pw"))
    monkeypatch.setenv("ARCA_COLLECTOR__TOKENS_FILE", str(tmp_path / "tokens"))
    s = ArcaSettings()
    assert s.kb.password == "s3cret" and s.collector.tokens == {"seismo-hq": "abc"}
    monkeypatch.setenv("ARCA_KB__PASSWORD", "plain-wins")
    assert ArcaSettings().kb.password == "plain-wins"
    monkeypatch.setenv("ARCA_COLLECTOR__TOKENS_FILE", str(tmp_path / "missing"))
    with pytest.raises(SecretFileError, match="ARCA_COLLECTOR__TOKENS_FILE: cannot read"):
        ArcaSettings()
    monkeypatch.setenv("ARCA_COLLECTOR__TOKENS_FILE", str(tmp_path / "pw"))
    with pytest.raises(SecretFileError, match="not JSON"):
        ArcaSettings()
    monkeypatch.delenv("ARCA_COLLECTOR__TOKENS_FILE")
    monkeypatch.setenv("ARCA_KB__PASSWRD_FILE", str(tmp_path / "pw"))
    with pytest.raises(SecretFileError, match=r"no setting kb\.passwrd"):
        ArcaSettings()
    assert main(["event", "validate", str(tmp_path / "pw")]) == 1  # a one-line CLI error, no traceback
