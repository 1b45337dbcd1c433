"""Timelines: what happens during a run (incidents, servant failures), as validated JSON.

Schema (unknown fields are refused)::

    {"duration_s": 600, "seed": 1, "description": "optional text",
     "incidents": [{"at_s": 60, "severity": 3, "domain": "building-2",
                    "detector": {"missed": false, "severity_error": 0, "delay_s": 0}}],
     "false_alarms": [{"at_s": 200, "severity": 4, "domain": "building-3"}],
     "failures": [{"at_s": 300, "servants": 1}]}

``at_s`` is seconds from the start of the run (``0 <= at_s < duration_s``); ``severity`` 1..4;
``domain`` one of the scenario's domains (where the detector that notices the incident sits);
``servants`` how many ACTIVE servants die at that moment. Errors name the offending field,
e.g. ``incidents[2].severity: Input should be less than or equal to 4``.

Imperfect detectors (all optional; the default is a perfect detector): an incident's ``detector``
says what its detector reports — ``missed`` (a burst with no event), ``severity_error`` (the event
reports ``severity + severity_error``, which must stay within 1..4), ``delay_s`` (the event comes
that much later than the detector's usual delay). A ``false_alarms`` entry is an event with no
burst: the detector of ``domain`` reports ``severity`` at ``at_s`` (plus the usual delay).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arca.testbed.scenario import DOMAINS

TIMELINE_DIR = Path(__file__).resolve().parent / "timelines"
"""Shipped timelines: ``reference.json``, ``training.json`` and the others of ``docs/testbed.md`` §3."""


class TimelineError(ValueError):
    """A timeline was refused; the message names the field."""


class DetectorReport(BaseModel):
    """How the detector reports an incident (default: on time, exact severity)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    missed: bool = Field(default=False, description="No event at all (the burst still comes).")
    severity_error: int = Field(default=0, ge=-3, le=3,
                                description="Reported severity minus the true one.")
    delay_s: float = Field(default=0.0, ge=0, le=600,
                           description="Extra notification delay on top of the detector's usual one.")


PERFECT = DetectorReport()


class FalseAlarm(BaseModel):
    """An event with no burst: the detector of ``domain`` reports ``severity`` at ``at_s``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0, description="Seconds from the start of the run.")
    severity: int = Field(ge=1, le=4, description="Reported severity 1..4.")
    domain: str = Field(description="Domain whose detector raises the alarm.")

    @model_validator(mode="after")
    def _known_domain(self) -> FalseAlarm:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {self.domain!r}")
        return self


@dataclass(frozen=True)
class Notification:
    """One detector event of a run: when it is sent, what it reports, the incident behind it (if any)."""

    at_s: float
    """When the detector sends it (seconds from the start of the run)."""
    onset_s: float
    """When the reported incident happened (the event's timestamp)."""
    severity: int
    """Reported severity."""
    domain: str
    incident: int | None
    """Index of the real incident in ``Timeline.incidents``; ``None`` for a false alarm."""


class Incident(BaseModel):
    """An incident noticed by a detector in ``domain``; every client of the organisation reacts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0, description="Seconds from the start of the run.")
    severity: int = Field(ge=1, le=4, description="Severity 1 (weakest) .. 4 (strongest).")
    domain: str = Field(description="Domain whose detector notices the incident.")
    detector: DetectorReport = Field(default=PERFECT, description="What the detector reports.")

    @model_validator(mode="after")
    def _known_domain(self) -> Incident:
        if self.domain not in DOMAINS:
            raise ValueError(f"domain must be one of {', '.join(DOMAINS)}; got {self.domain!r}")
        return self

    @property
    def reported_severity(self) -> int:
        return self.severity + self.detector.severity_error


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
    false_alarms: tuple[FalseAlarm, ...] = Field(default=(), description="Events with no burst.")

    @model_validator(mode="after")
    def _inside_run(self) -> Timeline:
        times = [("incidents", i, x.at_s) for i, x in enumerate(self.incidents)]
        times += [("failures", i, x.at_s) for i, x in enumerate(self.failures)]
        times += [("false_alarms", i, x.at_s) for i, x in enumerate(self.false_alarms)]
        for name, i, at_s in times:
            if at_s >= self.duration_s:
                raise ValueError(f"{name}[{i}].at_s: {at_s} is not before duration_s {self.duration_s}")
        for i, inc in enumerate(self.incidents):
            reported = inc.reported_severity
            if not 1 <= reported <= 4:
                raise ValueError(f"incidents[{i}].detector.severity_error: {inc.detector.severity_error:+d} "
                                 f"reports severity {reported}, outside 1..4")
        object.__setattr__(self, "incidents", tuple(sorted(self.incidents, key=lambda x: x.at_s)))
        object.__setattr__(self, "failures", tuple(sorted(self.failures, key=lambda x: x.at_s)))
        object.__setattr__(self, "false_alarms", tuple(sorted(self.false_alarms, key=lambda x: x.at_s)))
        return self

    def notifications(self, delay_s: float) -> list[Notification]:
        """Every detector event of the run, in sending order; ``delay_s`` is the detector's usual delay.

        A missed incident sends nothing; a false alarm is sent like a real event but has no incident.
        """
        out = [Notification(inc.at_s + delay_s + inc.detector.delay_s, inc.at_s, inc.reported_severity,
                            inc.domain, i)
               for i, inc in enumerate(self.incidents) if not inc.detector.missed]
        out += [Notification(fa.at_s + delay_s, fa.at_s, fa.severity, fa.domain, None)
                for fa in self.false_alarms]
        return sorted(out, key=lambda n: (n.at_s, n.onset_s))

    @property
    def imperfect(self) -> bool:
        """Whether any detector is imperfect (false alarm, missed incident, severity error, delay)."""
        return bool(self.false_alarms) or any(inc.detector != PERFECT for inc in self.incidents)

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
