"""Timelines: what happens during a run (incidents, servant failures), as validated JSON.

Schema (unknown fields are refused)::

    {"duration_s": 600, "seed": 1, "description": "optional text",
     "incidents": [{"at_s": 60, "severity": 3, "domain": "building-2"}],
     "failures": [{"at_s": 300, "servants": 1}]}

``at_s`` is seconds from the start of the run (``0 <= at_s < duration_s``); ``severity`` 1..4;
``domain`` one of the scenario's domains (where the detector that notices the incident sits);
``servants`` how many ACTIVE servants die at that moment. Errors name the offending field,
e.g. ``incidents[2].severity: Input should be less than or equal to 4``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from testbed.scenario import DOMAINS

TIMELINE_DIR = Path(__file__).resolve().parent / "timelines"
"""Shipped timelines: ``reference.json`` and ``training.json``."""


class TimelineError(ValueError):
    """A timeline was refused; the message names the field."""


class Incident(BaseModel):
    """An incident noticed by a detector in ``domain``; every client of the organisation reacts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0, description="Seconds from the start of the run.")
    severity: int = Field(ge=1, le=4, description="Severity 1 (weakest) .. 4 (strongest).")
    domain: str = Field(description="Domain whose detector notices the incident.")

    @model_validator(mode="after")
    def _known_domain(self) -> Incident:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {self.domain!r}")
        return self


class Failure(BaseModel):
    """``servants`` ACTIVE servants die at ``at_s`` (oldest first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0, description="Seconds from the start of the run.")
    servants: int = Field(default=1, ge=1, le=15, description="How many ACTIVE servants die.")


class Timeline(BaseModel):
    """A whole run: its length, its noise seed, its incidents and failures (sorted by time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    duration_s: float = Field(gt=0, le=86400, description="Length of the run in seconds.")
    seed: int = Field(default=1, ge=0, description="Seed of the demand noise.")
    description: str = Field(default="", description="Free text.")
    incidents: tuple[Incident, ...] = Field(default=(), description="Incidents, any order.")
    failures: tuple[Failure, ...] = Field(default=(), description="Servant failures, any order.")

    @model_validator(mode="after")
    def _inside_run(self) -> Timeline:
        times = [("incidents", i, x.at_s) for i, x in enumerate(self.incidents)]
        times += [("failures", i, x.at_s) for i, x in enumerate(self.failures)]
        for name, i, at_s in times:
            if at_s >= self.duration_s:
                raise ValueError(f"{name}[{i}].at_s: {at_s} is not before duration_s {self.duration_s}")
        object.__setattr__(self, "incidents", tuple(sorted(self.incidents, key=lambda x: x.at_s)))
        object.__setattr__(self, "failures", tuple(sorted(self.failures, key=lambda x: x.at_s)))
        return self

    def with_seed(self, seed: int) -> Timeline:
        return self.model_copy(update={"seed": seed})


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "timeline"


def parse_timeline(data: Any) -> Timeline:
    """Validate a decoded JSON document; raise ``TimelineError`` naming every bad field."""
    try:
        return Timeline.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise TimelineError(problems) from None


def loads_timeline(text: str | bytes) -> Timeline:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TimelineError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return parse_timeline(data)


def load_timeline(path: str | Path) -> Timeline:
    """Read and validate a timeline file; a bare name (``reference``) means a shipped timeline."""
    p = Path(path)
    if not p.exists() and (TIMELINE_DIR / f"{path}.json").exists():
        p = TIMELINE_DIR / f"{path}.json"
    try:
        text = p.read_text()
    except OSError as exc:
        raise TimelineError(f"cannot read {p}: {exc.strerror}") from None
    try:
        return loads_timeline(text)
    except TimelineError as exc:
        raise TimelineError(f"{p}: {exc}") from None


def reference_timeline() -> Timeline:
    return load_timeline(TIMELINE_DIR / "reference.json")


def training_timeline() -> Timeline:
    return load_timeline(TIMELINE_DIR / "training.json")
