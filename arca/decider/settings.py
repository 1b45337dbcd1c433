"""Settings of the decider (the ``decider`` group of ``ArcaSettings``; env ``ARCA_DECIDER__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class DeciderSettings(BaseModel):
    """Knobs of the decider; each field documents itself."""

    tick_interval_s: float = Field(
        default=1.0, gt=0, description="Seconds between self-dispatched ticks of the service."
    )
    prior_file: str | None = Field(
        default=None,
        description="Turtle file of arca:LearnedSample prior knowledge, loaded on start for every "
        "system that has no sample in the knowledge base yet.",
    )
    svr_c: float = Field(default=20.0, gt=0, description="SVR regularisation C of the anticipator.")
    svr_epsilon: float = Field(default=0.2, ge=0, description="SVR epsilon-tube width (servants).")
    svr_gamma: float = Field(
        default=0.5, gt=0, description="RBF kernel gamma on the features (severity / 2, elapsed / 8 s)."
    )
    svr_fit: Literal["auto", "inline", "process"] = Field(
        default="auto",
        description="Where the SVR is fitted: 'inline' in the decider's process; 'process' in a helper "
        "process that holds scikit-learn and SciPy (~90 MB) and exits after 10 idle minutes, so the "
        "decider stays small; 'auto': 'process' on RabbitMQ (arca run decider), 'inline' otherwise "
        "(the simulated demo).",
    )
    samples_per_bucket: int = Field(
        default=3, ge=1, description="Learned samples kept per (severity, second of elapsed time)."
    )
    max_samples: int = Field(default=2000, ge=10, description="Hard cap of learned samples per system.")
    strategy_override: str | None = Field(
        default=None,
        description="When set, every system uses this strategy (arca, arca-reactive, threshold, "
        "proportional, static) whatever its policy says: for side-by-side comparisons.",
    )
    republish_s: float = Field(
        default=30.0, gt=0,
        description="On ticks, a decision is republished when its target changed or after this long.",
    )
    persist_state: bool = Field(
        default=True,
        description="Save each system's incident/anticipation state in the knowledge base when it "
        "changes, and rebuild it from there when a replica takes the system over or restarts.",
    )
    state_save_interval_s: float = Field(
        default=5.0, ge=0,
        description="A system's saved state is rewritten at once when its decision or incidents "
        "change, otherwise (anticipated floors moving) at most this often.",
    )
