"""Servants held between incidents when new ones come too late for a burst (pure; issue 23 item 7).

Through OSM a scale operation takes 42 s (Ukko's measurement) and the reference bursts are over
25-35 s after their incident: a servant asked for on the notification serves after the burst it was
asked for, whatever the scaling aspect (``docs/enforcer.md``). What serves a burst there is capacity
already running when it comes. OSM cannot keep a warm pool (``docs/enforcer.md``, "No warm pool
through OSM"), so that capacity is running servants, held above the default between incidents, and
they cost like servants. Two rules, both only for a policy that states a discard objective
(``arca:discardObjective``) and has no warm pool (with a pool, ``arca.decider.warm`` answers the
objective):

* **How many to hold** (``held``): the smallest number of servants above the default whose expected
  discard meets the objective, by the warm pool's expectation (``warm.objective_pool``: what the
  ledger measured so far plus one more incident's shortfall, mean over the severities or the worst
  with ``arca:discardObjectiveBound``), where held servants serve from the incident's onset (they
  run: no resume delay) until servants asked for at its notification serve (the notice, the
  provisioning lead time ``leadTimeSeconds`` and the enforcer's tick). With a lead time short
  against the bursts (10 s through OpenStack) that window is a burst's first seconds and little is
  held; with 42 s it is the whole burst.
* **Only what serves in time is started** (``in_time_floor``): while a hold is kept, an incident's
  anticipated floor starts new servants only for what is needed once they can serve (the need at the
  notice-free arrival time, ``lead + ACTION_S`` from now); what is needed before then is met only by
  servants already asked for (the hold, the amount decided before), never by new ones that would come
  after it. Without it, a severity-4 notification asked for 8 relays through OSM that served after
  the burst and blocked the NS's one-operation-at-a-time queue.

Both are pure functions of explicit values (the policy, the learned model, the ledger, the amount
decided before); ``ArcaStrategy.decide`` (``arca.decider.loop``) applies them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from arca.decider.anticipator import Anticipator
from arca.decider.policy import Policy
from arca.decider.warm import ACTION_S, Expect, Ledger, expectation, severity_curves, shortfall


@dataclass(frozen=True)
class Hold:
    """Servants held above the default between incidents, and the discard ratio expected with them."""

    servants: int
    """Held above ``defaultServants`` (0: none)."""
    expected: float
    met: bool
    """False when even the most servants the policy allows are expected to miss the objective (the
    hold is then the smallest with the least expected discard)."""

    def level(self, policy: Policy) -> int:
        """The servant amount the hold keeps (the default plus the held servants, within the bounds)."""
        return policy.clamp(policy.default_servants + self.servants)


def held(policy: Policy, model: Anticipator | None, ledger: Ledger) -> Hold | None:
    """The servants to hold for ``policy`` (None without a discard objective, with a warm pool, or with
    a cold ``model``): ``steady_hold`` over the learned curve of every severity, up to
    ``maxServants - defaultServants``, the incidents' notice and period as the ``ledger`` measured them."""
    if policy.warm or policy.discard_objective is None or model is None or not model.trained:
        return None
    lead = policy.lead_time_s + ACTION_S
    curves = severity_curves(model, max(policy.expiration_s, ledger.notice_s + lead))
    return steady_hold(curves, policy.discard_objective, ledger.per_incident,
                       most=max(0, policy.max_servants - policy.default_servants),
                       default=policy.default_servants, high=policy.high_threshold,
                       notice_s=ledger.notice_s, lead_s=lead, expect=expectation(policy))


def steady_hold(curves: Sequence[Sequence[float]], objective: float, per_incident: float | None, *,
                most: int, default: int, high: float, notice_s: float, lead_s: float,
                expect: Expect = "mean", step_s: float = 1.0) -> Hold:
    """The fewest servants in ``[0, most]`` held above ``default`` whose expected discard ratio meets
    ``objective``; out of reach, the fewest with the least expected ratio.

    Expected ratio with ``n`` held: one incident's shortfall (``warm.shortfall`` with the held servants
    as a pool that serves from the onset: they run; the mean over the severities' ``curves``, or the
    worst with ``expect="worst"``) over the demand of one incident's period (``per_incident``: what was
    offered per incident so far, at least the mean demand of one burst). Not the warm pool's
    "discarded so far" feedback: a pool stands by at a tenth of the price, while held servants cost
    in full every second, and a hold that swings with the discard measured so far (2 servants after a
    quiet stretch, 6 after a severity-4 burst) costs more for the same discard than a steady one
    (measured on the reference timeline through OSM: objective 20 %, 21.8 % discarded at 2711
    servant-s with the feedback).
    """
    burst = float(np.mean([sum(c) * high * step_s for c in curves])) if curves else 0.0
    volume = max(burst, per_incident or 0.0)
    best: Hold | None = None
    for n in range(0, max(0, most) + 1):
        shorts = [shortfall(c, n, default, high, -notice_s, lead_s, step_s, notice_s) for c in curves]
        short = (float(max(shorts)) if expect == "worst" else float(np.mean(shorts))) if shorts else 0.0
        expected = short / volume if volume > 0 else 0.0
        if expected <= objective:
            return Hold(n, expected, True)
        if best is None or expected < best.expected:
            best = Hold(n, expected, False)
    return best if best is not None else Hold(0, 0.0, False)


def in_time_floor(window: float, arrival: float, kept: int) -> float:
    """An anticipated floor while a hold is kept: what is needed when servants asked now can serve
    (``arrival``: the combined floor at ``lead + ACTION_S`` from now), and, of what is needed before
    (``window``: the combined floor over the lead time), only as much as the servants already asked
    for (``kept``: the hold's level, the amount decided before) can serve."""
    return max(arrival, min(window, float(kept)))


def hold_reason(hold: Hold, policy: Policy, ledger: Ledger) -> str:
    """What the decision says of the hold: servants held, the objective, expected and measured."""
    so_far = "none measured yet" if ledger.ratio is None else f"{ledger.ratio * 100:.3f} % so far"
    objective = (policy.discard_objective or 0.0) * 100
    kind = " (a bound: the worst severity next)" if policy.discard_objective_bound else ""
    reach = "" if hold.met else " out of reach:"
    return (f"discard objective {objective:.3f} %{kind}{reach} {hold.servants} servant(s) held above the "
            f"default between incidents (servants asked at a notification serve "
            f"{policy.lead_time_s + ACTION_S:g}s later) expect {hold.expected * 100:.3f} % ({so_far})")
