"""Settings of the testbed (the ``testbed`` group of ``ArcaSettings``; env ``ARCA_TESTBED__<FIELD>``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TestbedSettings(BaseModel):
    """Knobs of the testbed; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
