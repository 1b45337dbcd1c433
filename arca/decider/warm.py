"""Warm pool sizing and the pool-aware lead time of the anticipated floor (pure functions).

A warm pool (``Policy.warm_pool_state``) keeps servants standing by that serve again after the
*resume* delay (``Policy.resume_lead_time_s``, seconds) instead of the *boot* delay
(``Policy.lead_time_s``). The anticipated floor of an incident is therefore taken over two horizons:

* the servants needed within the resume delay must be running now (``short``);
* the servants needed within the boot delay that the pool cannot supply (``long - pool``) must be
  started now too, since new servants take the whole boot delay.

``floor = max(short, long - pool)`` while the pool covers the burst (``long`` beyond the servants
running), else ``long`` (``warm_floor``: the pool resumes first, so what it cannot cover must be asked
for at once). Without a warm pool it is the plain floor over the boot delay.

``auto`` sizing (``Policy.warm_pool_auto``): the most servants any severity needs within one boot
lead time of its notification beyond the default amount (those no new servant can serve in time),
from the learned model, clamped into the policy's [warmPoolMinSize, warmPoolMaxSize].

Objective sizing (``Policy.discard_objective``, issue 23): the smallest pool whose expected discard
meets the admin's objective, so the pool costs no more than the objective asks for. For a pool of
``P`` servants, an incident of severity ``s`` discards, from the resume delay until new servants
boot (one lead time after its onset), the demand its learned curve shows above the default servants
and the pool (``shortfall``; demand = MSA x the high threshold, a servant carrying 1 at 100 % CPU).
Its volume is its curve's demand until the expiration. The expected ratio is the discard so far
plus the shortfall of one more incident (``EXPECT``: the mean over the severities, each equally likely;
or the severity that loses most), over the demand
offered so far plus that of one more incident's period (what was offered per incident so far, at
least the mean volume of a burst) (``Ledger``: what the decider measured at every telemetry
round): a run that discarded less than its objective spends the budget on a smaller pool, one
that discarded more grows it back (``objective_pool``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from arca.decider.anticipator import Anticipator, to_amount
from arca.decider.policy import Policy

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4)

Expect = Literal["mean", "worst"]
"""How ``objective_pool`` expects the next incident: its shortfall averaged over the severities (each
equally likely), or the shortfall of the severity that loses most."""
EXPECT: Expect = "mean"
"""A target's expectation (issue 23 warm23b, measured on 19 timelines): expecting the worst severity
keeps 0.1 % on 4 more timelines (the reference 0.127 -> 0.001 %, overlap-stronger-after 0.311 ->
0.080 %, detectors-false-alarms 0.127 -> 0.001 %, unseen-quiet-then-severe 0.303 -> 0.000 %) at
-0.011 to +0.031 weighted cost vs the oracle, but it turns the objective into a bound: asked 0.15 /
0.3 / 1 % on the reference it discarded 0.001 / 0.127 / 0.293 % (0.01-0.42x of what was asked; item 4
wants +-20 %). An admin who wants a bound says so (``Policy.discard_objective_bound``, ``expectation``)."""


def expectation(policy: Policy) -> Expect:
    """How the objective's sizing expects the next incident: the severity that would lose most when the
    policy states its objective as a bound (``arca:discardObjectiveBound``), else ``EXPECT``."""
    return "worst" if policy.discard_objective_bound else EXPECT


def auto_pool_size(model: Anticipator, policy: Policy) -> int | None:
    """Servants any severity needs within one lead time of its notification beyond the default."""
    needs = []
    for severity in SEVERITIES:
        need = model.floor(severity, 0.0, policy.lead_time_s)
        if need is not None:
            needs.append(to_amount(need) - policy.default_servants)
    return max(0, *needs) if needs else None


@dataclass(frozen=True)
class Ledger:
    """Demand offered and discarded so far, in servant-equivalent seconds (telemetry rounds)."""

    offered: float = 0.0
    discarded: float = 0.0
    notice_s: float = 0.0
    """Seconds from an incident's onset to its notification, as last measured (the pool and the new
    servants are asked for from then on)."""
    incidents: int = 0
    """Incidents anticipated so far: ``offered / incidents`` is the demand one incident's period
    brings (its burst and the quiet time around it)."""

    @property
    def ratio(self) -> float | None:
        """Share of the offered demand discarded so far (None before any demand)."""
        return self.discarded / self.offered if self.offered > 0 else None

    def add(self, demand: float, discard_ratio: float, seconds: float) -> Ledger:
        """The ledger after a telemetry round of ``seconds`` that offered ``demand`` (servant-equivalents)
        and discarded ``discard_ratio`` of it."""
        if demand <= 0 or seconds <= 0:
            return self
        share = min(1.0, max(0.0, discard_ratio))
        return Ledger(self.offered + demand * seconds, self.discarded + demand * share * seconds,
                      self.notice_s, self.incidents)

    @property
    def per_incident(self) -> float | None:
        """Demand offered per incident so far (None before the first incident)."""
        return self.offered / self.incidents if self.incidents else None


def shortfall(curve: Sequence[float], pool: int, default: int, high: float, resume_s: float,
              lead_s: float, step_s: float = 1.0, notice_s: float = 0.0) -> float:
    """Demand (servant-equivalent seconds) an incident finds no servant for while only the pool can help.

    ``curve[k]`` is the MSA predicted ``k * step_s`` seconds after the onset (at least up to
    ``notice_s + lead_s``); its demand is ``MSA * high``. The incident is notified ``notice_s`` after
    its onset; from ``resume_s`` after that to ``lead_s`` after it, the ``default`` servants and the
    ``pool`` serve; from then on new servants do (nothing is short). Before ``resume_s`` no pool can
    serve: that part is the same for every pool and is not counted (measured on the reference
    timeline, it is far smaller than the learned curves' start suggests: the anticipation of the
    previous incident is still running, and the ledger counts what it is).
    """
    lost = 0.0
    for k, msa in enumerate(curve):
        t = k * step_s - notice_s
        if t >= lead_s:
            break
        if t >= resume_s:
            lost += max(0.0, msa * high - (default + pool)) * step_s
    return lost


@dataclass(frozen=True)
class Sizing:
    """The pool an objective asks for, and the discard ratio it expects with it."""

    pool: int
    expected: float
    met: bool
    """False when even the largest pool allowed is expected to discard more than the objective (the pool
    is then the smallest with the least expected discard)."""


def objective_pool(curves: Sequence[Sequence[float]], objective: float, ledger: Ledger, *, low: int,
                   high_pool: int, default: int, high: float, resume_s: float, lead_s: float,
                   step_s: float = 1.0, expect: Expect = EXPECT) -> Sizing:
    """The smallest pool in ``[low, high_pool]`` whose expected discard ratio meets ``objective``; out of
    reach, the smallest pool with the least expected ratio (a larger one would cost and save nothing).

    ``curves``: one learned MSA curve per severity, from the onset to the expiration in ``step_s``
    steps. Expected ratio with pool ``P``: (discarded so far + the ``shortfall`` of one incident: the
    largest of the severities' with ``expect="worst"``, their mean with ``"mean"``) / (offered so far +
    the demand of one incident's period: what was offered per incident so far, at least the mean demand
    of one burst).
    """
    burst = float(np.mean([sum(c) * high * step_s for c in curves])) if curves else 0.0
    volume = max(burst, ledger.per_incident or 0.0)
    expected = 0.0
    best: Sizing | None = None
    for pool in range(low, max(low, high_pool) + 1):
        shorts = [shortfall(c, pool, default, high, resume_s, lead_s, step_s, ledger.notice_s)
                  for c in curves]
        short = (float(max(shorts)) if expect == "worst" else float(np.mean(shorts))) if shorts else 0.0
        total = ledger.offered + volume
        expected = (ledger.discarded + short) / total if total > 0 else 0.0
        if expected <= objective:
            return Sizing(pool, expected, True)
        if best is None or expected < best.expected:
            best = Sizing(pool, expected, False)
    return best if best is not None else Sizing(low, expected, False)


ACTION_S = 1.0
"""Seconds between the decision and the servants' start, and from their start to serving: the
enforcer's tick and the join to the load balancers (what the demo's ``oracle-warm`` adds to a resume
too). Added to both horizons of ``shortfall`` when sizing for an objective."""


def severity_curves(model: Anticipator, horizon_s: float, step_s: float = 1.0) -> list[list[float]]:
    """The learned MSA curve of every severity over ``[0, horizon_s]`` (empty when the model is cold)."""
    grid = np.arange(0.0, max(0.0, horizon_s) + step_s / 2, step_s)
    out = []
    for severity in SEVERITIES:
        pred = model.predict(severity, grid)
        if pred is not None:
            out.append([float(v) for v in pred])
    return out


def sizing(policy: Policy, model: Anticipator | None, ledger: Ledger) -> Sizing | None:
    """The objective's pool for ``policy`` (None without a warm pool, an objective or a trained model)."""
    if not policy.warm or policy.discard_objective is None or model is None or not model.trained:
        return None
    curves = severity_curves(model, max(policy.expiration_s, ledger.notice_s + policy.lead_time_s + ACTION_S))
    return objective_pool(curves, policy.discard_objective, ledger, low=policy.warm_pool_min,
                          high_pool=policy.pool_max, default=policy.default_servants,
                          high=policy.high_threshold, resume_s=policy.resume_lead_time_s + ACTION_S,
                          lead_s=policy.lead_time_s + ACTION_S, expect=expectation(policy))


def pool_size(policy: Policy, model: Anticipator | None = None, ledger: Ledger | None = None) -> int | None:
    """The pool the decision asks for: None without a warm pool; else the objective's size (a
    ``discardObjective`` and a trained model), the auto size, or the min."""
    if not policy.warm:
        return None
    chosen = sizing(policy, model, ledger or Ledger())
    if chosen is not None:
        return policy.clamp_pool(chosen.pool)
    size = policy.warm_pool_min
    if policy.warm_pool_auto and model is not None and model.trained:
        auto = auto_pool_size(model, policy)
        if auto is not None:
            size = auto
    return policy.clamp_pool(size)


def warm_floor(short: float, long: float, pool: int, base: float) -> float:
    """The floor now: the needs within the resume delay when the pool covers the needs within the boot
    delay beyond the ``base`` servants running, else the needs within the boot delay.

    The enforcer resumes the pool's servants before it creates any (``enforcer.planning``), so asking
    for ``long - pool`` now (the needs beyond the pool) resumes the pool now and boots nothing: the
    servants beyond the pool would be created only once the short horizon asks for them, a boot delay
    too late (measured: a pool of 3 for severity-4 bursts discarded 0.58 % of the reference timeline).
    When the pool cannot cover the burst, the boot horizon is asked now: the pool resumes and the rest
    boots at once, each serving from its own delay.
    """
    if long - base <= pool:
        return max(short, long - pool)
    return max(short, long)
