"""Settings of the enforcer (the ``enforcer`` group of ``ArcaSettings``; env ``ARCA_ENFORCER__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EnforcerSettings(BaseModel):
    """Knobs of the enforcer; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
