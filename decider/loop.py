"""The draft's anticipation loop (section 5, with the two sub-algorithms of section 7.4), pure.

One call of ``ArcaStrategy.decide`` is one iteration of::

    event = GetExternalEventInformation()
    if event: amount = Anticipator.Get(event); if IsPolicyCompliant(amount): current = amount ...
    if anticipated_event and NOW - anticipation_time > EXPIRATION_TIME: current = DEFAULT ...
    state = GetSystemState()
    if not IsAcceptable(state, current):
        current = GetResourceAmountForState(state)
        if anticipated_event: Anticipator.Set(anticipated_event, current)

Interpretation choices (each documented where it is made):

* ``Anticipator.Get`` is the SVR floor over ``[elapsed, elapsed + lead time]`` re-evaluated at every
  iteration while the event is anticipated, so the floor follows the learned curve in time.
* A non-compliant anticipated amount is clipped into [min, max] and flagged, never used as is.
* ``IsAcceptable`` of a trained anticipation compares the measured state with the amount the
  anticipator predicted *for the time the load was measured* (the middle of the telemetry window),
  so a model that was right is not "corrected" by stale telemetry, and a model that was wrong
  learns the amount the state needed at the elapsed time it was needed.
* Learning happens after *every* correction while the event is anticipated (the issue's reading of
  7.4); the draft's ``anticipated_event = NONE`` after a Set would learn one point per incident.
* Cool-downs apply to reactive corrections made while no event is anticipated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from arca.messages import Situation
from decider.anticipator import Anticipator, LearnedSample, to_amount
from decider.policy import Policy
from decider.strategy import (
    Outcome,
    bound,
    demand_servants,
    is_acceptable,
    load_round,
    needed_for,
    seconds,
)


@dataclass(frozen=True)
class Anticipation:
    """The anticipated event: which incident, its severity and onset, when anticipation began."""

    incident_id: str
    severity: int
    onset: datetime
    since: datetime


@dataclass(frozen=True)
class ArcaState:
    """Everything the loop carries from one iteration to the next."""

    anticipator: Anticipator = field(default_factory=Anticipator)
    current: int | None = None
    """current_resource_amount."""
    anticipated: Anticipation | None = None
    expired: tuple[str, int] | None = None
    """(incident, severity) whose anticipation expired: not restarted by later situations."""
    last_load_time: datetime | None = None
    correction: int | None = None
    """Reactive amount above the anticipated floor, held until the next telemetry round."""
    last_scale_out: datetime | None = None
    last_scale_in: datetime | None = None


def event_of(situation: Situation) -> tuple[str, int, datetime] | None:
    """GetExternalEventInformation: the announced incident of the situation, if any."""
    if (situation.incident_id is None or situation.incident_severity <= 0
            or situation.incident_onset is None or situation.detected_from_load):
        return None
    return situation.incident_id, situation.incident_severity, situation.incident_onset


def measured_elapsed(situation: Situation, onset: datetime) -> float:
    """Seconds after the incident at which the situation's load was measured (window middle)."""
    load_time = getattr(situation, "load_time", None) or situation.event_time
    window = getattr(situation, "load_window_s", None) or 0.0
    return seconds(load_time, onset) - window / 2.0


class ArcaStrategy:
    """``arca`` (anticipation + reactive) or, with ``anticipation=False``, ``arca-reactive``."""

    def __init__(self, anticipation: bool = True) -> None:
        self.anticipation = anticipation
        self.name = "arca" if anticipation else "arca-reactive"

    def initial_state(self, policy: Policy, anticipator: Anticipator | None = None) -> ArcaState:
        return ArcaState(anticipator=anticipator or Anticipator())

    def decide(self, situation: Situation, policy: Policy, state: ArcaState,
               now: datetime) -> tuple[Outcome, ArcaState]:
        st = state
        learning = self.anticipation and policy.anticipation
        model = st.anticipator
        current = policy.clamp(st.current if st.current is not None else policy.default_servants)
        rule, reasons = "hold", []
        clipped = False
        predicted: float | None = None
        msa: int | None = None
        learned: list[LearnedSample] = []
        forgotten: list[LearnedSample] = []

        # -- external event --------------------------------------------------------------------
        event = event_of(situation) if learning else None
        antic = st.anticipated
        expired = st.expired
        correction = st.correction
        if event is None and antic is not None:
            reasons.append(f"incident {antic.incident_id} no longer reported")
            antic, current, correction, rule = None, policy.default_servants, None, "incident-ended"
        elif (event is not None and (antic is None or (antic.incident_id, antic.severity) != event[:2])
              and expired != event[:2]):
            antic = Anticipation(event[0], event[1], event[2], since=now)
            correction = None
            reasons.append(f"incident {event[0]} severity {event[1]} anticipated")

        if situation.detected_from_load and learning:
            reasons.append("incident detected from load alone (no detector, no severity): reactive only")

        # -- expiration ------------------------------------------------------------------------
        if antic is not None and seconds(now, antic.since) > policy.expiration_s:
            reasons.append(f"anticipation of {antic.incident_id} expired after {policy.expiration_s:g}s; "
                           f"back to the default {policy.default_servants}")
            expired = (antic.incident_id, antic.severity)
            antic, current, correction, rule = None, policy.default_servants, None, "expired"

        # -- Anticipator.Get + IsPolicyCompliant -------------------------------------------------
        def anticipate() -> None:
            nonlocal current, predicted, msa, clipped, rule
            assert antic is not None
            elapsed = seconds(now, antic.onset)
            predicted = model.floor(antic.severity, elapsed, policy.lead_time_s)
            if predicted is None:
                return
            amount = to_amount(predicted)
            if policy.compliant(amount):
                msa, clipped = amount, False
            else:
                msa, clipped = policy.clamp(amount), True
            current = max(msa, correction or 0)
            rule = "anticipated-clipped" if clipped else "anticipated"

        if antic is not None and model.trained:
            anticipate()

        # -- GetSystemState / IsAcceptable / GetResourceAmountForState / Anticipator.Set ---------------
        last_load_time = st.last_load_time
        last_out, last_in = st.last_scale_out, st.last_scale_in
        round_time = load_round(situation, st.last_load_time)
        if round_time is not None:
            last_load_time = round_time
            demand = demand_servants(situation)
            # load measured before the incident tells nothing about it: never learned from, and it
            # does not overrule a trained anticipation
            before_onset = antic is not None and measured_elapsed(situation, antic.onset) < 0
            anticipating = antic is not None and model.trained
            if demand is not None and not (anticipating and before_onset):
                needed = needed_for(demand, policy)
                expected = current
                if anticipating:
                    assert antic is not None
                    at = model.predict_one(antic.severity, measured_elapsed(situation, antic.onset))
                    expected = policy.clamp(to_amount(at if at is not None else current))
                if is_acceptable(demand, expected, policy):
                    correction = None
                    if anticipating:
                        current = msa if msa is not None else current
                else:
                    cooling = antic is None and _cooling(needed, current, policy, now, last_out, last_in)
                    if cooling:
                        rule = "cooldown"
                        reasons.append(f"needs {needed} (load {demand / max(current, 1):.2f}) but "
                                       f"{cooling}")
                    else:
                        reasons.append(f"measured demand {demand:.2f} servant-equivalents needs {needed} "
                                       f"(had {expected})")
                        rule = "reactive-out" if needed > expected else "reactive-in"
                        current = needed
                        correction = None
                        if antic is not None and not before_onset:  # Anticipator.Set(event, amount)
                            e_m = measured_elapsed(situation, antic.onset)
                            sample = LearnedSample(antic.severity, round(e_m, 3), needed, learned_at=now,
                                                   sample_id=f"{situation.system}-{situation.message_id}")
                            # the new model is fitted lazily (the service refits it after publishing):
                            # this decision is the correction itself, the next one uses the new floor
                            before, (model, dropped) = model, model.with_sample(sample)
                            if model is not before:  # not learned already (a redelivered situation)
                                learned.append(sample)
                            forgotten.extend(dropped)
                            reasons.append(f"learned (severity {antic.severity}, {e_m:.1f}s) -> {needed}")
                            correction = needed if needed > expected else None
                            rule = "learned-out" if needed > expected else "learned-in"
                        if rule.endswith("out"):
                            last_out = now
                        else:
                            last_in = now

        target, note = bound(current, policy, situation)
        if note:
            reasons.append(note)
        if not reasons:
            reasons.append(_hold_reason(rule, target, antic, predicted))
        new_state = replace(st, anticipator=model, current=current, anticipated=antic, expired=expired,
                            last_load_time=last_load_time, correction=correction,
                            last_scale_out=last_out, last_scale_in=last_in)
        outcome = Outcome(
            target=target,
            msa=msa if msa is not None else policy.min_servants,
            reason="; ".join(reasons),
            rule=rule,
            predicted_msa=predicted,
            clipped=clipped,
            learned_samples=len(model),
            incident_id=antic.incident_id if antic else situation.incident_id,
            learned=tuple(learned),
            forgotten=tuple(forgotten),
        )
        return outcome, new_state


def _cooling(needed: int, current: int, policy: Policy, now: datetime,
             last_out: datetime | None, last_in: datetime | None) -> str:
    """Why a reactive change must wait (empty when it may happen now).

    Each direction's cool-down counts from the last reactive change in either direction.
    """
    changes = [t for t in (last_out, last_in) if t is not None]
    if not changes:
        return ""
    since = seconds(now, max(changes))
    if needed > current and policy.scale_out_cooldown_s - since > 0:
        return f"scale-out cool-down for {policy.scale_out_cooldown_s - since:.0f}s more"
    if needed < current and policy.scale_in_cooldown_s - since > 0:
        return f"scale-in cool-down for {policy.scale_in_cooldown_s - since:.0f}s more"
    return ""


def _hold_reason(rule: str, target: int, antic: Anticipation | None, predicted: float | None) -> str:
    if rule.startswith("anticipated") and antic is not None and predicted is not None:
        return (f"incident {antic.incident_id} severity {antic.severity}: predicted MSA {predicted:.2f} "
                f"-> {target}")
    return f"state acceptable with {target} servants"
