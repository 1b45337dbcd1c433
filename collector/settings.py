"""Settings of the collector (group ``collector`` of ``ArcaSettings``: ``ARCA_COLLECTOR__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CollectorSettings(BaseModel):
    """Knobs of the collector; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
