"""Kubernetes HPA's replica calculation for a CPU target, with missing and unready servants, pure.

This is ``ReplicaCalculator.GetResourceReplicas`` (kubernetes ``pkg/controller/podautoscaler``) in
ARCA's terms: a pod is a servant, its CPU request is one servant's capacity (load 1.0), the target
utilisation is the policy's ``arca:targetLoad``.

* **ready** servants (``Situation.servants_active``) of which **reporting** ones have a CPU figure in
  the telemetry window (``Situation.servants_reporting``); the others are **missing**;
* **unready** servants (``Situation.servants_booting``) are left out of the average;
* ``ratio = average load of the reporting servants / target``. With nothing missing and nothing
  unready to rebalance: keep the current amount within ``tolerance``, else ``ceil(ratio x ready)``.
* Otherwise HPA fills in the unknowns, conservatively for the direction the ratio points to:
  missing servants count as **0 % when scaling out** (``ratio > 1``) and **100 %** (load 1.0, the
  whole request) **when scaling in** (``ratio < 1``); on a scale-out unready servants count as 0 %.
  The ratio is recomputed over every servant counted; if it is within tolerance, or it points the
  other way, the current amount stays; the new amount is ``ceil(new ratio x servants counted)``,
  unless that moves against the new ratio's direction.
* No reporting servant at all: HPA gives up for the round (``did not receive metrics for any ready
  pods``); so does this function (``None``), and the strategy keeps its amount.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Replicas:
    """What the calculation concluded, and why (the decision's reason)."""

    desired: int | None
    """Servants wanted, or ``None`` when no ready servant reported (keep the current amount)."""
    why: str


def hpa_replicas(current: int, *, ready: int, reporting: int, unready: int, average_load: float,
                 target_load: float, tolerance: float) -> Replicas:
    """HPA's desired replicas (see the module docstring); ``average_load`` is over ``reporting``."""
    reporting = min(reporting, ready)
    missing = ready - reporting
    if reporting <= 0:
        return Replicas(None, f"no CPU figure from any of the {ready} ready servant(s)")
    ratio = average_load / target_load
    rebalance_unready = unready > 0 and ratio > 1.0
    if not rebalance_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return Replicas(current, f"ratio {ratio:.2f} within tolerance {tolerance:g}")
        desired = math.ceil(ratio * reporting - 1e-9)
        return Replicas(desired, f"ceil({reporting} x {average_load:.2f} / {target_load:g}) = {desired}")
    total, counted, notes = average_load * reporting, reporting, []
    if missing and ratio < 1.0:
        total, counted = total + missing * 1.0, counted + missing
        notes.append(f"{missing} without CPU taken at 100 % (scaling in)")
    elif missing and ratio > 1.0:
        counted += missing
        notes.append(f"{missing} without CPU taken at 0 % (scaling out)")
    if rebalance_unready:
        counted += unready
        notes.append(f"{unready} booting taken at 0 % (scaling out)")
    new_ratio = total / counted / target_load
    filled = "; ".join(notes) or f"{missing} without CPU left out"
    if abs(1.0 - new_ratio) <= tolerance:
        return Replicas(current, f"{filled}: ratio {new_ratio:.2f} within tolerance {tolerance:g}")
    if (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return Replicas(current, f"{filled}: ratio {ratio:.2f} becomes {new_ratio:.2f}, the other "
                                 f"direction: keeping {current}")
    desired = math.ceil(new_ratio * counted - 1e-9)
    if (new_ratio < 1.0 and desired > current) or (new_ratio > 1.0 and desired < current):
        return Replicas(current, f"{filled}: {desired} would move against ratio {new_ratio:.2f}: "
                                 f"keeping {current}")
    return Replicas(desired, f"{filled}: ceil({counted} x {new_ratio:.2f}) = {desired}")
