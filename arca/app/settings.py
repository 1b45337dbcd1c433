"""Typed settings of the whole of ARCA (pydantic-settings): ``ARCA_*`` variables and an optional TOML file.

This is the composition root's view: it aggregates the spine's groups (``arca.config``) and every
service's own, so only the top floor (CLI, demo, bench, runtime) imports it; a service is given it.

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
from typing import Any

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from arca.analyzer.settings import AnalyzerSettings
from arca.config import BusSettings, KbSettings, OpsSettings

__all__ = ["ArcaSettings", "BusSettings", "KbSettings", "OpsSettings", "SecretFileError", "env_names"]
from arca.collector.settings import CollectorSettings
from arca.decider.settings import DeciderSettings
from arca.enforcer.settings import EnforcerSettings
from arca.testbed.settings import TestbedSettings


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

    @model_validator(mode="after")
    def _http_workers_need_a_broker(self) -> ArcaSettings:
        """Several HTTP worker processes each publish on their own broker connection: the in-process
        bus cannot be shared between processes."""
        if self.collector.http_workers > 1 and self.bus.kind != "rabbitmq":
            raise ValueError(f"collector.http_workers = {self.collector.http_workers} needs bus.kind = "
                             f"'rabbitmq' (the workers are processes; bus.kind is {self.bus.kind!r})")
        return self

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
