"""Settings of the analyzer (the ``analyzer`` group of ``ArcaSettings``; env ``ARCA_ANALYZER__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AnalyzerSettings(BaseModel):
    """Knobs of the analyzer; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
    window_s: float = Field(
        default=10.0, gt=0, description="Telemetry window (s, event time) the load is averaged over."
    )
    cpu_timestamp_at: Literal["start", "end"] = Field(
        default="start",
        description="Which end of its window a cpu_util measure is stamped with (Gnocchi: 'start').",
    )
    cpu_max_age_s: float = Field(
        default=25.0, gt=0,
        description="The newest CPU window must have ended at most this long before the telemetry round "
        "(the load balancers' poll) for the servants' CPU figures to count (one window for Gnocchi to "
        "close it, one poll interval, a margin); older, the load is unknown, never 0.",
    )
    incident_ttl_s: float = Field(
        default=120.0, gt=0, description="An announced incident is forgotten this long after its onset."
    )
    jump_factor: float = Field(
        default=3.0, gt=1, description="Demand above this multiple of its quiet baseline is a load jump."
    )
    jump_min: float = Field(
        default=0.5, ge=0, description="A load jump must also exceed the baseline by this many servants."
    )
    jump_rounds: int = Field(
        default=2, ge=1, description="Telemetry rounds a jump must last to be detected as an incident."
    )
    coalesce_max_events: int = Field(
        default=100, ge=1,
        description="How many times in a row a system's situation may be left to its next event waiting in "
        "the backlog before one is published anyway (1: never left). A flood for one system from a "
        "source with no rate limit still gives that system a situation every this many events, so a "
        "genuine event among them is not held until the flood is handled.",
    )
