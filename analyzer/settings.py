"""Settings of the analyzer (the ``analyzer`` group of ``ArcaSettings``; env ``ARCA_ANALYZER__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AnalyzerSettings(BaseModel):
    """Knobs of the analyzer; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
