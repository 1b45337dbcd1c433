"""The clairvoyant oracle: exact demand, provisioning exactly one boot delay ahead (the optimum).

``oracle_target(demand, t, boot_delay_s)`` is how many servants should *exist* at ``t``: enough for
the actual demand now and at every moment until a servant created now would be ACTIVE
(``max required(s) for s in [t, t + boot_delay]``), plus a spare for each servant the timeline kills
within that window. ``run_oracle`` plays a whole timeline with it,
in process, for reference figures (``Summary``).
"""

from __future__ import annotations

import math

from arca.testbed.accounting import Summary, summarize
from arca.testbed.demand import Demand
from arca.testbed.model import ACTIVE, BUILD, ERROR, ModelParams, TestbedModel
from arca.testbed.scenario import DEFAULT_HIGH_THRESHOLD, SERVANT_CAPACITY_RPS
from arca.testbed.timeline import Timeline


def oracle_target(
    demand: Demand,
    t: float,
    boot_delay_s: float,
    high_threshold: float = DEFAULT_HIGH_THRESHOLD,
    capacity_rps: float = SERVANT_CAPACITY_RPS,
) -> int:
    """Servants that must exist at ``t`` so that the actual demand never needs more than are ACTIVE."""
    horizon = math.floor(t + boot_delay_s)
    seconds = range(math.floor(t), horizon + 1)
    need = max(demand.required_servants(float(s), high_threshold, capacity_rps) for s in seconds)
    # clairvoyant about failures too: a spare for each servant that dies before a new one could boot
    dying = sum(f.servants for f in demand.timeline.failures if t - 1e-9 <= f.at_s <= t + boot_delay_s)
    return need + dying


def oracle_step(model: TestbedModel) -> None:
    """One decision of the oracle on ``model`` (create/delete through the model directly)."""
    p = model.params
    for s in model.live_servants():
        if s.status == ERROR:
            model.delete_servant(s.id)
    target = oracle_target(model.demand, model.t, p.boot_delay_s, p.high_threshold, p.capacity_rps)
    live = [s for s in model.live_servants() if s.status in (BUILD, ACTIVE)]
    for i in range(target - len(live)):
        model.create_servant(
            f"oracle-{model.t:g}-{i}", metadata={"arca_system": p.system}, tags=["arca-managed"]
        )
    surplus = len(live) - target
    if surplus > 0:
        # booting ones first (they serve nothing yet), then the youngest active ones
        victims = sorted(live, key=lambda s: (s.status == ACTIVE, -s.created_s))[:surplus]
        for s in victims:
            model.delete_servant(s.id)
    model.flush_events()


def run_oracle(timeline: Timeline, params: ModelParams | None = None) -> tuple[TestbedModel, Summary]:
    model = TestbedModel(timeline, params)
    while not model.finished:
        oracle_step(model)
        model.advance(model.params.step_s)
    return model, summarize(model)
