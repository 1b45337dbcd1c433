"""Typed settings (pydantic-settings): ``ARCA_*`` environment variables and an optional TOML file.

Groups are nested with ``__``: ``ARCA_BUS__URL``, ``ARCA_KB__QUERY_URL``, ``ARCA_DECIDER__...``.
A TOML file named by ``ARCA_CONFIG_FILE`` (tables ``[bus]``, ``[kb]``...) is read too; environment
variables win over the file, the file over the defaults.

Secrets come from files (Docker secrets, the ``*_FILE`` convention): ``ARCA_<GROUP>__<FIELD>_FILE``
names a file whose content (trailing newline stripped; JSON for dict/list settings) is the value of
``ARCA_<GROUP>__<FIELD>``, e.g. ``ARCA_KB__PASSWORD_FILE=/run/secrets/fuseki_password`` or
``ARCA_COLLECTOR__TOKENS_FILE=/run/secrets/collector_tokens``. A plain variable wins over the file.
"""

from __future__ import annotations

import json
import os
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from analyzer.settings import AnalyzerSettings
from collector.settings import CollectorSettings
from decider.settings import DeciderSettings
from enforcer.settings import EnforcerSettings
from testbed.settings import TestbedSettings


class BusSettings(BaseModel):
    """The message bus."""

    kind: Literal["memory", "rabbitmq"] = Field(
        default="memory", description="'memory' (in-process, embedded default) or 'rabbitmq'."
    )
    url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        description="AMQP URL of the broker (credentials and vhost included).",
    )
    exchange: str = Field(default="arca", description="Durable topic exchange of the loop.")
    dead_letter_exchange: str = Field(
        default="arca.dlx", description="Exchange receiving refused/poison messages."
    )
    dead_letter_queue: str = Field(
        default="arca.dead-letter", description="Durable queue bound to the dead-letter exchange."
    )
    queue_prefix: str = Field(default="arca.", description="Prefix of each service's queue name.")
    prefetch: int = Field(default=100, ge=1, description="Unacknowledged deliveries per consumer.")
    delivery_limit: int = Field(
        default=5, ge=1, description="Deliveries of a failing message before it is dead-lettered."
    )
    reconnect_initial_s: float = Field(default=0.5, gt=0, description="First reconnect backoff.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Longest reconnect backoff.")
    confirm_timeout_s: float = Field(
        default=30.0, gt=0, description="How long flush() waits for publisher confirms."
    )


class KbSettings(BaseModel):
    """The knowledge base (SPARQL store)."""

    kind: Literal["embedded", "sparql"] = Field(
        default="embedded", description="'embedded' (pyoxigraph in process) or 'sparql' (HTTP)."
    )
    path: str | None = Field(
        default=None, description="Directory of the embedded store (in memory when unset)."
    )
    query_url: str = Field(
        default="http://127.0.0.1:3030/arca/query",
        description="SPARQL 1.1 query endpoint (Fuseki /<ds>/query, Oxigraph /query).",
    )
    update_url: str = Field(
        default="http://127.0.0.1:3030/arca/update",
        description="SPARQL 1.1 update endpoint (Fuseki /<ds>/update, Oxigraph /update).",
    )
    store_url: str = Field(
        default="http://127.0.0.1:3030/arca/data",
        description="Graph Store Protocol endpoint (Fuseki /<ds>/data, Oxigraph /store).",
    )
    username: str | None = Field(default=None, description="HTTP basic-auth user, if any.")
    password: str | None = Field(
        default=None, description="HTTP basic-auth password (prefer password_file for secrets)."
    )
    password_file: str | None = Field(
        default=None,
        description="File holding the basic-auth password (a Docker secret); read when password is unset.",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="HTTP timeout per request.")
    write_batch_max: int = Field(
        default=500, ge=1, description="Most buffered updates sent in one request."
    )
    write_flush_interval_s: float = Field(
        default=0.2, gt=0, description="Longest time a buffered write waits before being sent."
    )


    def secret(self) -> str | None:
        """The basic-auth password: ``password``, else the stripped content of ``password_file``."""
        if self.password is not None:
            return self.password
        if self.password_file:
            try:
                return Path(self.password_file).read_text().strip()
            except OSError as exc:
                raise ValueError(f"kb.password_file {self.password_file!r}: {exc.strerror}") from exc
        return None


class OpsSettings(BaseModel):
    """Observability."""

    metrics_port: int | None = Field(
        default=None, description="Port of the Prometheus /metrics endpoint (off when unset)."
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address /metrics listens on (loopback unless configured, e.g. 0.0.0.0 in a container).",
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    log_json: bool = Field(default=True, description="One JSON object per log line.")


class ArcaSettings(BaseSettings):
    """Every knob of ARCA, grouped by part."""

    model_config = SettingsConfigDict(
        env_prefix="ARCA_", env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    bus: BusSettings = Field(default_factory=BusSettings)
    kb: KbSettings = Field(default_factory=KbSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    collector: CollectorSettings = Field(default_factory=CollectorSettings)
    analyzer: AnalyzerSettings = Field(default_factory=AnalyzerSettings)
    decider: DeciderSettings = Field(default_factory=DeciderSettings)
    enforcer: EnforcerSettings = Field(default_factory=EnforcerSettings)
    testbed: TestbedSettings = Field(default_factory=TestbedSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, SecretFiles(settings_cls)]
        path = os.environ.get("ARCA_CONFIG_FILE")
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)


class SecretFileError(ValueError):
    """A ``*_FILE`` variable that names no known setting or an unreadable file."""


class SecretFiles(PydanticBaseSettingsSource):
    """``ARCA_<GROUP>__<FIELD>_FILE=/path``: the setting's value is read from that file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ builds the whole dict

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for key, path in os.environ.items():
            upper = key.upper()
            if not (upper.startswith("ARCA_") and upper.endswith("_FILE")) or upper == "ARCA_CONFIG_FILE":
                continue
            group, sep, name = upper[len("ARCA_"):-len("_FILE")].lower().partition("__")
            group_field = ArcaSettings.model_fields.get(group)
            model = group_field.annotation if group_field is not None else None
            if not sep or not (isinstance(model, type) and issubclass(model, BaseModel)) \
                    or name not in model.model_fields:
                raise SecretFileError(f"{key}: no setting {group}.{name} to read from a file")
            if f"ARCA_{group.upper()}__{name.upper()}" in {k.upper() for k in os.environ}:
                continue  # the plain variable wins
            try:
                text = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SecretFileError(f"{key}: cannot read {path}: {exc.strerror}") from None
            annotation = model.model_fields[name].annotation
            complex_ = typing.get_origin(annotation) in (dict, list) or annotation in (dict, list)
            try:
                out.setdefault(group, {})[name] = json.loads(text) if complex_ else text
            except json.JSONDecodeError as exc:
                raise SecretFileError(f"{key}: {path} is not JSON: {exc}") from None
        return out


def env_names(model: type[BaseModel] = ArcaSettings, prefix: str = "ARCA_") -> set[str]:
    """Every environment variable name the settings understand (checked against compose.yaml)."""
    names: set[str] = {"ARCA_CONFIG_FILE"} if model is ArcaSettings else set()
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            names |= env_names(ann, f"{prefix}{name.upper()}__")
        else:
            names.add(f"{prefix}{name.upper()}")
    return names
