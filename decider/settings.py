"""Settings of the decider (the ``decider`` group of ``ArcaSettings``; env ``ARCA_DECIDER__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class DeciderSettings(BaseModel):
    """Knobs of the decider; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
