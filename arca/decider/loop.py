"""The draft's anticipation loop (section 5, with the two sub-algorithms of section 7.4), pure.

One call of ``ArcaStrategy.decide`` is one iteration of::

    event = GetExternalEventInformation()
    if event: amount = Anticipator.Get(event); if IsPolicyCompliant(amount): current = amount ...
    if anticipated_event and NOW - anticipation_time > EXPIRATION_TIME: current = DEFAULT ...
    state = GetSystemState()
    if not IsAcceptable(state, current):
        current = GetResourceAmountForState(state)
        if anticipated_event: Anticipator.Set(anticipated_event, current)

``decide`` composes one pure function per phase, in this order: ``incidents_reported``,
``calibrated_by_source``, ``expiry``, ``confirmed_by_load``, ``assessed_by_load``, ``anticipated_floor``,
``load_correction``, ``learned_from`` (each takes its inputs explicitly, time included, and returns a
frozen result; none mutates what it is given). A policy with a discard objective and no warm pool also
holds servants between incidents (``arca.decider.hold``: ``held`` before the floor, whose new servants
are then only those that serve in time, ``held_amount`` after the correction).

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
* Every incident the situation reports counts (``Situation.incidents``): each is anticipated and
  expires on its own (``expiration_s`` after its onset, so a restarted decider does not anticipate
  an old incident again), their floors combine (``combine``), and a correction is learned for each
  one as its share of what the others do not explain (``attribute``).
* An anticipated incident the load does not confirm ends early: at a telemetry round where the model
  expected at least ``UNCONFIRMED_MARGIN`` servants above the default (at the measured time) and the
  load needs only the default, the incident is treated as a false alarm (back to the default, nothing
  learned from it, not anticipated again): the draft holds it until the expiration.
  An incident no round has confirmed yet also ends at the first quiet round whose window lies after its
  onset and whose demand shows (almost) none of the rise the model expected (``NO_RISE_MARGIN``,
  ``arca.decider.sources.rise_needed``: more is asked of a source with a false-alarm record).
* What the load shows of each detector source is kept in ``ArcaState.sources`` (``SourceRecord``:
  confirmed incidents, false alarms, severities raised or lowered): a source the load corrects in one
  direction has its reported severities calibrated (``calibrated_by_source``).
* The MSA is the floor of every decision while an incident is anticipated: a reactive correction
  may go above it, never below (draft 7.4: the second sub-algorithm "uses the minimum amount
  established by the other sub-algorithm as the basis"), and the correction is held, in either
  direction, until the next telemetry round (a forgotten scale-in correction let the next tick put
  the floor back, and the live loop flapped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from arca import incidents
from arca.decider.anticipator import Anticipator, LearnedSample, floor_amount, to_amount
from arca.decider.hold import held, hold_reason, in_time_floor
from arca.decider.policy import Policy
from arca.decider.sources import (
    Records,
    SourceRecord,
    calibrated,
    record_of,
    rise_needed,
    with_assessment,
    with_confirmed,
    with_false_alarm,
)
from arca.decider.strategy import (
    Outcome,
    bound,
    demand_servants,
    is_acceptable,
    load_round,
    needed_for,
    seconds,
)
from arca.decider.warm import ACTION_S, Ledger, Sizing, pool_size, sizing, warm_floor
from arca.messages import Situation


@dataclass(frozen=True)
class Anticipation:
    """One anticipated event: which incident, its severity and onset, when anticipation began."""

    incident_id: str
    severity: int
    onset: datetime
    since: datetime
    peak: float = 0.0
    """Highest floor anticipated for this incident so far."""
    last: float | None = None
    """Floor anticipated for it at the previous iteration."""
    learned_ids: tuple[str, ...] = ()
    """Ids of the samples learned from this incident (forgotten if the load never confirms it)."""
    assessed: int | None = None
    """The severity the load showed (``assessed_by_load``), or the source's calibration
    (``calibrated_by_source``), when it is not the reported one."""
    source: str = ""
    """The detector that reported it (its ``SourceRecord`` learns from what the load shows)."""
    quiet: float | None = None
    """The demand (servant-equivalents) last measured before it was reported: what a rise is from."""
    confirmed: bool = False
    """A telemetry round since its onset needed more than the default (counted once in its record)."""
    judged: bool = False
    """The load has assessed its severity at least once (counted once in its record)."""
    early: int | None = None
    """The severity it was anticipated as before its first round raised it (``assessed_by_load``),
    until a later round judges it: with a warm pool the raise is a guess served from the pool, the
    servants to boot still follow this severity (``anticipated_floor``)."""

    @property
    def level(self) -> int:
        """The severity the model is asked about: the load's assessment, else the reported one."""
        return self.severity if self.assessed is None else self.assessed

    def settle(self, floor: float) -> tuple[float, Anticipation]:
        """This incident's floor now, unimodal: once it has fallen a whole servant below its peak it
        never rises again (a burst rises and falls once; a later rise is the reactive part's job), so
        the wiggles of the learned curve's tail do not create servants to delete seconds later."""
        if self.last is not None and self.peak - self.last >= 1.0:
            floor = min(floor, self.last)
        return floor, replace(self, peak=max(self.peak, floor), last=floor)


UNCONFIRMED_MARGIN = 2.0
"""Servants above the default the model must expect at the measured time for a quiet telemetry round
(demand the default amount carries) to end an incident's anticipation as not confirmed."""
NO_RISE_MARGIN = 0.1
"""Servants above the default the model must expect at the measured time, in a quiet round whose whole
window lies after the onset, for (almost) none of the expected rise (``sources.rise_needed``) to end an
unconfirmed incident: a false alarm is released at its first such telemetry round (issue 23, item 5).
Small on purpose: at such a first round (5 s after the onset with 10 s windows) the learned curves of
severities 2-4 expect only 0.1-1.5 servants above the default (the burst starts ~5 s after the onset),
while the demand of a real incident has already risen by 0.6-1.6 servant-equivalents and a false
alarm's by nothing."""

Combine = Literal["capped", "sum", "max"]
COMBINE: Combine = "capped"
"""How the floors of overlapping incidents combine (measured on overlapping timelines, decider/README.md):
``sum`` = the largest floor plus the extra servants (above the default) of every other incident;
``capped`` = ``sum``, never above the model's ``ceiling`` (the most one incident was ever predicted
to need) unless one incident alone is above it; ``max`` = the largest floor."""


@dataclass(frozen=True)
class ArcaState:
    """Everything the loop carries from one iteration to the next."""

    anticipator: Anticipator = field(default_factory=Anticipator)
    current: int | None = None
    """current_resource_amount."""
    anticipations: tuple[Anticipation, ...] = ()
    """Every incident anticipated now (each expires on its own)."""
    expired: frozenset[tuple[str, int]] = frozenset()
    """(incident, severity) whose anticipation expired: not restarted while they are still reported."""
    last_load_time: datetime | None = None
    correction: int | None = None
    """Reactive amount (either direction) held until the next telemetry round; the MSA stays its floor."""
    last_scale_out: datetime | None = None
    last_scale_in: datetime | None = None
    ledger: Ledger = field(default_factory=Ledger)
    """Demand offered and discarded so far (what a discard objective is measured against)."""
    sources: tuple[SourceRecord, ...] = ()
    """What the load showed of each event source's incidents (``arca.decider.sources``)."""

    @property
    def records(self) -> dict[str, SourceRecord]:
        return {r.source: r for r in self.sources}

    @property
    def anticipated(self) -> Anticipation | None:
        """The latest anticipated incident (None when none is)."""
        return max(self.anticipations, key=lambda a: (a.onset, a.severity), default=None)


def events_of(situation: Situation) -> list[tuple[str, int, datetime]]:
    """GetExternalEventInformation: every announced incident of the situation (id, severity, onset).

    Incidents detected from load alone carry no severity and are not anticipated. A situation
    without ``incidents`` (an older producer) gives its single ``incident_*`` incident. The rule is
    ``arca.incidents.announced``, which ``arca status`` reads too.
    """
    return [(i.incident_id, i.severity, i.onset) for i in incidents.announced(situation)]


def sources_of(situation: Situation) -> dict[str, str]:
    """The detector of each announced incident of the situation, by incident id."""
    return {i.incident_id: i.source for i in incidents.announced(situation)}


def event_of(situation: Situation) -> tuple[str, int, datetime] | None:
    """The latest announced incident of the situation, if any."""
    events = events_of(situation)
    return max(events, key=lambda e: (e[2], e[1])) if events else None


def measured_elapsed(situation: Situation, onset: datetime) -> float:
    """Seconds after the incident at which the situation's load was measured (window middle)."""
    load_time = getattr(situation, "load_time", None) or situation.event_time
    window = getattr(situation, "load_window_s", None) or 0.0
    return seconds(load_time, onset) - window / 2.0


def combine(values: Sequence[float], default: float, how: Combine = COMBINE,
            ceiling: float | None = None) -> float:
    """The floor of several incidents from their own floors (``values``, non-empty).

    ``capped`` adds the extras as ``sum`` does, but never above ``ceiling`` (``Anticipator.ceiling``)
    unless one incident alone is above it; without a ``ceiling`` (a cold model) it is ``sum``.
    """
    top = max(values)
    if how == "max":
        return top
    rest = sorted(values)[:-1]
    total = top + sum(max(0.0, v - default) for v in rest)
    return total if how == "sum" or ceiling is None else min(total, max(top, ceiling))


def attribute(needed: int, default: int, predicted: Sequence[float],
              severities: Sequence[int], ceiling: float | None = None) -> list[float]:
    """What each active incident needed, given that all of them together needed ``needed``.

    Each incident keeps its predicted extra (above ``default``); the gap between ``needed`` and
    what their combination predicted (``combine`` under ``ceiling``) is shared in proportion to the
    predicted extras, or to the severities when nothing was predicted. With one incident this is
    ``needed`` itself; with several, no incident learns the whole overlap burst as if it had caused
    it alone, and where the combination was capped (the clients' rate saturates), none learns a
    share cut down by the others' extras: its own curve is not what the load showed.
    """
    extras = [max(0.0, p - default) for p in predicted]
    expected = combine([default + e for e in extras], default, "capped", ceiling) if extras else default
    gap = needed - expected
    weights = extras if sum(extras) > 0 else [float(s) for s in severities]
    total = sum(weights)
    return [default + e + gap * w / total for e, w in zip(extras, weights, strict=True)]


# -- the phases of one iteration: each a pure function of explicit inputs ---------------------------
# ``ArcaStrategy.decide`` composes them in this order. None reads a clock, the bus or the store (time
# is an argument) and none mutates its inputs: each returns what it computed as a new frozen value.

Expired = frozenset[tuple[str, int]]
"""(incident, severity) pairs whose anticipation ended: not anticipated again while still reported."""


@dataclass(frozen=True)
class Reported:
    """The anticipations after the incidents reported now (phase 1)."""

    anticipations: tuple[Anticipation, ...]
    """Those still reported, then one per newly reported incident (in the situation's order)."""
    expired: Expired
    """The ended ones that are still reported (what is no longer reported is forgotten)."""
    reasons: tuple[str, ...]
    ended: bool
    """Incidents were anticipated and none of them is reported any more: back to the default."""


def incidents_reported(events: Sequence[tuple[str, int, datetime]], anticipations: Sequence[Anticipation],
                       expired: Expired, now: datetime, *, detected_from_load: bool = False,
                       trained: bool = True, sources: Mapping[str, str] | None = None,
                       quiet: float | None = None) -> Reported:
    """GetExternalEventInformation: anticipate every reported incident not anticipated or ended yet,
    drop the anticipations of incidents no longer reported.

    ``events`` are the situation's announced incidents (``events_of``), ``now`` the decision time (a new
    anticipation's ``since``), ``detected_from_load`` whether the situation's incident was found from
    load alone (only said: such an incident has no severity to anticipate), ``trained`` whether the
    anticipator has any learned sample (if not, a new incident is tracked but nothing is anticipated
    for it: the reason says so), ``sources`` the detector of each incident id, ``quiet`` the demand
    last measured (a new anticipation's ``quiet``).
    """
    reported = {(ident, sev) for ident, sev, _ in events}
    still_expired = frozenset(e for e in expired if e in reported)  # forget what is no longer reported
    reasons = [f"incident {a.incident_id} no longer reported" for a in anticipations
               if (a.incident_id, a.severity) not in reported]
    antics = [a for a in anticipations if (a.incident_id, a.severity) in reported]
    known = {(a.incident_id, a.severity) for a in antics}
    for ident, sev, onset in events:
        if (ident, sev) not in known and (ident, sev) not in still_expired:
            antics.append(Anticipation(ident, sev, onset, since=now, source=(sources or {}).get(ident, ""),
                                       quiet=quiet))
            reasons.append(f"incident {ident} severity {sev} anticipated" if trained else
                           f"incident {ident} severity {sev}: no learned samples: reactive only")
    if detected_from_load:
        reasons.append("incident detected from load alone (no detector, no severity): reactive only")
    return Reported(tuple(antics), still_expired, tuple(reasons),
                    ended=bool(anticipations) and not antics)


@dataclass(frozen=True)
class Expiry:
    """The anticipations after expiry (phase 2)."""

    alive: tuple[Anticipation, ...]
    expired: Expired
    """The given pairs plus those that expired now."""
    reasons: tuple[str, ...]
    ended: bool
    """Incidents were anticipated and all of them expired: back to the default."""


def expiry(anticipations: Sequence[Anticipation], expired: Expired, now: datetime,
           expiration_s: float, default_servants: int) -> Expiry:
    """Each anticipation ends ``expiration_s`` after its incident's onset (counted from the onset, not
    from ``since``: a restarted decider does not anticipate an old incident again); the rule is
    ``arca.incidents.expired``, which ``arca status`` applies with the same policy value."""
    alive: list[Anticipation] = []
    ended: set[tuple[str, int]] = set()
    reasons = []
    for a in anticipations:
        if incidents.expired(a.onset, now, expiration_s):
            reasons.append(f"anticipation of {a.incident_id} expired after {expiration_s:g}s")
            ended.add((a.incident_id, a.severity))
        else:
            alive.append(a)
    all_ended = bool(anticipations) and not alive
    if all_ended:
        reasons.append(f"back to the default {default_servants}")
    return Expiry(tuple(alive), expired | ended, tuple(reasons), all_ended)


@dataclass(frozen=True)
class Confirmation:
    """The anticipations after confirmation by load (phase 3)."""

    kept: tuple[Anticipation, ...]
    expired: Expired
    """The given pairs plus those the load did not confirm."""
    model: Anticipator
    """The anticipator without the samples learned from the unconfirmed incidents."""
    forgotten: tuple[LearnedSample, ...]
    reasons: tuple[str, ...]
    ended: bool
    """Incidents were anticipated and the load confirmed none of them: back to the default."""
    records: tuple[SourceRecord, ...] = ()
    """The source records this round changed (a false alarm, a confirmed incident)."""


def confirmed_by_load(anticipations: Sequence[Anticipation], expired: Expired, model: Anticipator,
                      situation: Situation, policy: Policy, last_load_time: datetime | None,
                      records: Records | None = None) -> Confirmation:
    """A false alarm ends at the first telemetry round that shows none of the burst the model expected
    there, instead of holding its floor until the expiration.

    Only at a new telemetry round (``load_round`` after ``last_load_time``) with a trained ``model``,
    for each incident live over the round (measured after its onset), when the load needs only the
    default: the incident ends if the model expected at least ``UNCONFIRMED_MARGIN`` servants above
    the default at the measured time, or, while no round has confirmed it yet and the round's whole
    window lies after the onset, at least ``NO_RISE_MARGIN`` above it and the demand rose from its
    ``quiet`` level by less than
    ``sources.rise_needed`` (a share that depends on its source's ``records``: more for a source with
    a false-alarm record) of the rise those servants carry (``(expected - default) x highThreshold``).
    The samples learned from it are forgotten (a burst that never came teaches nothing) and its
    source's record counts a false alarm. A round that needs more than the default confirms every
    live incident (counted once each in its source's record).
    """
    if not (anticipations and model.trained and load_round(situation, last_load_time) is not None):
        return Confirmation(tuple(anticipations), expired, model, (), (), False)
    known = dict(records or {})
    changed: dict[str, SourceRecord] = {}
    demand_now = demand_servants(situation)
    needed = needed_for(demand_now, policy) if demand_now is not None else None
    quiet = needed is not None and needed <= policy.default_servants
    kept: list[Anticipation] = []
    unconfirmed: set[tuple[str, int]] = set()
    forgotten: list[LearnedSample] = []
    reasons = []
    for a in anticipations:
        e_m = measured_elapsed(situation, a.onset)
        if e_m < 0 or needed is None:
            kept.append(a)
            continue
        # what this round counts adds up; how much rise it asks for is the record before the round
        record = record_of({**known, **changed}, a.source) if a.source else None
        before = record_of(known, a.source)
        if not quiet:
            if not a.confirmed:
                a = replace(a, confirmed=True)
                if record is not None:
                    changed[a.source] = with_confirmed(record)
            kept.append(a)
            continue
        p = model.predict_one(a.level, e_m)
        why = ""
        if p is not None and p >= policy.default_servants + UNCONFIRMED_MARGIN:
            why = (f"incident {a.incident_id} not confirmed by load: {p:.1f} servants expected {e_m:.0f}s "
                   f"after it, the load measured then needs {policy.default_servants}")
        elif (p is not None and not a.confirmed and p >= policy.default_servants + NO_RISE_MARGIN
              and e_m >= (situation.load_window_s or 0.0) / 2):
            expected_rise = (p - policy.default_servants) * policy.high_threshold
            rise = float(demand_now or 0.0) - (a.quiet or 0.0)
            share = rise_needed(before)
            if rise < share * expected_rise:
                why = (f"incident {a.incident_id} not confirmed by load: no rise {e_m:.0f}s after it "
                       f"(demand {rise:+.2f} servant-equivalents, {share:.0%} of the {expected_rise:.2f} "
                       f"expected with {p:.1f} servants needed" + (f"; source {a.source}: "
                       f"{before.false_alarms} false alarm(s), {before.confirmed} confirmed"
                       if before.false_alarms else "") + ")")
        if not why:
            kept.append(a)
            continue
        reasons.append(why)
        unconfirmed.add((a.incident_id, a.severity))
        if record is not None:
            changed[a.source] = with_false_alarm(record)
        model, removed = model.without(a.learned_ids)
        if removed:
            forgotten.extend(removed)
            reasons.append(f"forgot the {len(removed)} sample(s) learned from it")
    if not kept:
        reasons.append(f"back to the default {policy.default_servants}")
    return Confirmation(tuple(kept), expired | unconfirmed, model, tuple(forgotten), tuple(reasons),
                        ended=not kept, records=tuple(changed.values()))


ASSESS_MARGIN = 1.5
"""Servants by which the reported severity's curve must miss what the load needs, at a telemetry round,
for the load to assess the incident's severity (``assessed_by_load``)."""
FIRST_ROUND_ASSESS_MARGIN = 0.5
"""The same at the incident's first round wholly after its onset, where the load's need is taken
unrounded (``demand / highThreshold``) and the assessment may only raise the severity: there the
curves of severities 1-4 lie within 1.7 servants of one another (0.78, 1.14, 1.81, 2.46 on the trained
reference model, 5 s after the onset), as do the real incidents' unrounded needs (0.37, 1.04, 1.84,
2.41), and waiting for the second round left a severity 4 reported as 2 ten seconds short."""


def assessed_by_load(anticipations: Sequence[Anticipation], model: Anticipator, situation: Situation,
                     policy: Policy, last_load_time: datetime | None,
                     records: Records | None = None) -> tuple[tuple[Anticipation, ...], tuple[str, ...],
                                                               tuple[SourceRecord, ...]]:
    """A detector's severity calibrated by what the load shows (issue 23: wrong severities).

    At a new telemetry round with a trained ``model`` where exactly one anticipated incident was live
    over the window (with several, the load cannot tell whose curve is wrong), if the curve of the
    severity it is anticipated as misses the amount the load needs at the measured time by
    ``ASSESS_MARGIN`` servants or more, and another known severity's curve is nearer, the incident is
    anticipated as that severity from now on: its floor follows that curve (the unimodal rule starts
    again) and what it teaches is learned for that severity, so a wrong report neither holds a
    reactive correction a whole round nor teaches its severity another's burst. The incident's source
    record (from ``records``) counts the move: an incident in the direction of its first move (from the
    severity it was anticipated as), every move's steps (``sources.with_assessment``).
    """
    antics = tuple(anticipations)
    if not (antics and model.trained and load_round(situation, last_load_time) is not None):
        return antics, (), ()
    window = situation.load_window_s or 0.0
    # a first-round raise stays a guess only until the incident's next round
    antics = tuple(replace(x, early=None) if x.early is not None and
                   measured_elapsed(situation, x.onset) >= 1.5 * window else x for x in antics)
    demand = demand_servants(situation)
    live = [a for a in antics if measured_elapsed(situation, a.onset) >= 0]
    if demand is None or len(live) != 1:
        return antics, (), ()
    a = live[0]
    e_m = measured_elapsed(situation, a.onset)
    first = window > 0 and window / 2 <= e_m < 1.5 * window  # the first round wholly after the onset
    needed: float = demand / policy.high_threshold if first else float(needed_for(demand, policy))
    found, shown, e_at = _by_peak(situation, policy, model, a) if first else (None, "", e_m)
    guess = False  # a first-round raise on the mean: a guess the warm pool serves until the next round
    if found is None:
        guess = first
        found = _nearer_severity(model, a.level, e_m, needed,
                                 FIRST_ROUND_ASSESS_MARGIN if first else ASSESS_MARGIN, only_higher=first)
        shown = f"{needed:.2f} (the demand at the first round)" if first else f"{needed:g}"
        e_at = e_m
    if found is None:
        return antics, (), ()
    best, own, theirs = found
    moved = replace(a, assessed=None if best == a.severity else best, peak=0.0, last=None, judged=True,
                    early=a.level if guess and best > a.level else None)
    why = (f"incident {a.incident_id} reported severity {a.severity}: the load needs {shown} "
           f"{e_at:.0f}s after it, severity {a.level}'s curve {own:.1f}, severity {best}'s "
           f"{theirs:.1f}: anticipated as severity {best}")
    changed: tuple[SourceRecord, ...] = ()
    if a.source:
        changed = (with_assessment(record_of(records or {}, a.source), a.level, best, first=not a.judged),)
    return tuple(moved if x is a else x for x in antics), (why,), changed


def _nearer_severity(model: Anticipator, level: int, elapsed: float, needed: float, margin: float, *,
                     only_higher: bool = False) -> tuple[int, float, float] | None:
    """The known severity whose curve at ``elapsed`` is nearest ``needed``, when the curve of ``level``
    misses it by ``margin`` servants or more and that one is nearer: (severity, ``level``'s curve there,
    its curve there); None otherwise (ties go to the severity nearest ``level``)."""
    own = model.predict_one(level, elapsed)
    if own is None or abs(own - needed) < margin:
        return None
    near = {k: model.predict_one(k, elapsed) for k in sorted(model.known_severities()) if k > 0}
    best = min((k for k, p in near.items() if p is not None),
               key=lambda k: (abs(float(near[k] or 0.0) - needed), abs(k - level)), default=level)
    theirs = float(near[best] or 0.0)
    if best == level or abs(theirs - needed) >= abs(own - needed):
        return None
    if only_higher and best < level:
        return None
    return best, own, theirs


PEAK_MARGIN = 1.0
"""Servants by which the anticipated severity's curve must miss what the window's peak needs, at the
peak's time, for the first round to assess the severity from the peak (``assessed_by_load``)."""


def _by_peak(situation: Situation, policy: Policy, model: Anticipator,
             a: Anticipation) -> tuple[tuple[int, float, float] | None, str, float]:
    """At an incident's first round, the severity the window's peak shows (issue 23 item 2).

    The window's mean there is mostly the quiet before the burst, so it may only raise, and only by a
    clear margin; its peak (``demand_peak_servants`` at ``demand_peak_time``, the highest one-second
    rate) is the burst's ramp so far. When the anticipated severity's curve at the peak's time misses
    the peak's need (unrounded: ``peak / highThreshold``) by ``PEAK_MARGIN`` servants or more and
    another severity's curve is nearer, the incident is that severity from now on: an over-reported
    incident keeps its extra servants one round less, an under-reported one gets its own a round
    sooner. A peak at or before the onset says nothing.
    """
    peak, at = situation.demand_peak_servants, situation.demand_peak_time
    if peak is None or at is None:
        return None, "", 0.0
    e_p = seconds(at, a.onset)
    if e_p <= 0:
        return None, "", 0.0
    needed = peak / policy.high_threshold
    found = _nearer_severity(model, a.level, e_p, needed, PEAK_MARGIN)
    return found, f"{needed:.2f} (the window's peak)", e_p


def calibrated_by_source(anticipations: Sequence[Anticipation], model: Anticipator, situation: Situation,
                         policy: Policy, now: datetime,
                         records: Records | None = None) -> tuple[tuple[Anticipation, ...], tuple[str, ...]]:
    """Each incident reported now (``since == now``, not assessed yet) anticipated at its source's
    calibrated severity (``sources.calibrated``, from its record in ``records``): within the severities
    the trained ``model`` knows, and never calibrated down while the situation's demand already needs
    more than the default. Nothing changes with a cold model or without records."""
    antics = tuple(anticipations)
    if not (antics and records and model.trained):
        return antics, ()
    known = model.known_severities()
    highest = max((k for k in known if k > 0), default=0)
    demand = demand_servants(situation)
    rising = demand is not None and needed_for(demand, policy) > policy.default_servants
    out, reasons = [], []
    for a in antics:
        if a.since == now and a.assessed is None and a.source in records:
            level, why = calibrated(a.severity, records[a.source], highest, rising)
            if level != a.severity:
                a = replace(a, assessed=level)
                reasons.append(f"incident {a.incident_id}: {why}")
        out.append(a)
    return tuple(out), tuple(reasons)


@dataclass(frozen=True)
class Floor:
    """The MSA of the incidents anticipated now (phase 4)."""

    anticipations: tuple[Anticipation, ...]
    """The same incidents, each settled at its floor (``Anticipation.settle``)."""
    predicted: float
    """The combined floor before rounding (``Outcome.predicted_msa``)."""
    msa: int
    clipped: bool
    """The rounded floor was not policy-compliant and was clamped into [min, max]."""

    @property
    def rule(self) -> str:
        """The decision's rule when the floor decides it."""
        return "anticipated-clipped" if self.clipped else "anticipated"


def anticipated_floor(anticipations: Sequence[Anticipation], model: Anticipator, policy: Policy,
                      now: datetime, pool: int | None, how: Combine, kept: int | None = None) -> Floor | None:
    """Anticipator.Get + IsPolicyCompliant: every incident's floor over ``[elapsed, elapsed + lead time]``
    at ``now``, combined (``how``), rounded and made compliant; None when nothing is anticipated or the
    model is cold.

    With a warm ``pool`` that covers the incident's burst, its floor is taken over the resume lead
    time, else over the boot lead time (``warm_floor``). With ``kept`` (servants held between
    incidents, ``arca.decider.hold``: the hold's level or the amount decided before, the larger) the
    combined floor starts new servants only for what is needed once they serve (``in_time_floor``).
    """
    if not (anticipations and model.trained):
        return None
    antics = list(anticipations)
    raws = model.floors([(a.level, seconds(now, a.onset)) for a in antics], policy.lead_time_s)
    floors: list[float] = []
    for k, a in enumerate(antics):
        raw = raws[k] if raws is not None else None
        if pool and raw is not None:  # the pool covers `pool` servants at the resume delay
            short = model.floor(a.level, seconds(now, a.onset), policy.resume_lead_time_s)
            raw = warm_floor(short if short is not None else raw, raw, pool, policy.default_servants)
            if a.early is not None:  # a first-round raise: the pool serves it, nothing boots for it
                raw = early_floor(raw, model, a.early, seconds(now, a.onset), policy, pool)
        floors.append(raw if raw is not None else float(policy.default_servants))
        floors[k], antics[k] = a.settle(floors[k])
    predicted = combine(floors, policy.default_servants, how, model.ceiling() if how == "capped" else None)
    if kept is not None:  # a hold: new servants only for what they can serve (arca.decider.hold)
        arrivals = model.floors([(a.level, seconds(now, a.onset) + policy.lead_time_s + ACTION_S)
                                 for a in antics], 0.0)
        if arrivals is not None:
            arrival = combine(arrivals, policy.default_servants, how, model.ceiling())
            predicted = in_time_floor(predicted, arrival, kept)
    amount = floor_amount(predicted, model.config.epsilon)
    if policy.compliant(amount):
        return Floor(tuple(antics), predicted, amount, clipped=False)
    return Floor(tuple(antics), predicted, policy.clamp(amount), clipped=True)


def early_floor(raised: float, model: Anticipator, early: int, elapsed_s: float, policy: Policy,
                pool: int) -> float:
    """The warm floor of an incident its first round raised (``Anticipation.early``: the severity
    before): what the raised severity needs, up to what the default servants and the ``pool`` serve,
    and beyond that only what the severity before the raise needs (``raised``: the raised severity's
    warm floor). The first round sees a burst barely begun (issue 23: a severity 2 needing 1.85
    servants there, a severity 3 1.50): servants booted on it outlive the guess by a boot delay and
    the next round undoes it; resumed ones are stood by again at once."""
    long = model.floor(early, elapsed_s, policy.lead_time_s)
    short = model.floor(early, elapsed_s, policy.resume_lead_time_s)
    if long is None:
        return raised
    before = warm_floor(short if short is not None else long, long, pool, policy.default_servants)
    return max(before, min(raised, float(policy.default_servants + pool)))


@dataclass(frozen=True)
class Lesson:
    """What a reactive correction teaches: the amount the load needed, for the incidents it followed."""

    live: tuple[Anticipation, ...]
    """The anticipated incidents the load was measured after (non-empty)."""
    needed: int
    predicted: tuple[float, ...]
    """What the model predicted for each of ``live`` at the measured time (empty when it is cold)."""
    out: bool
    """The correction scaled out."""
    ceiling: float | None = None
    """The ``ceiling`` the combination of ``predicted`` was capped under (None: not capped)."""
    at: datetime | None = None
    """When ``needed`` was measured, if not the middle of the situation's telemetry window: the time of
    the window's peak demand (``peak_lesson``)."""


@dataclass(frozen=True)
class Correction:
    """The amount after the telemetry round's check (phase 5)."""

    current: int
    correction: int | None
    rule: str
    reasons: tuple[str, ...]
    last_load_time: datetime | None
    last_scale_out: datetime | None
    last_scale_in: datetime | None
    lesson: Lesson | None = None
    """Set when a reactive change was made while incidents were live: what to learn from it."""


def load_correction(situation: Situation, policy: Policy, now: datetime, *, current: int,
                    correction: int | None, rule: str, floor: Floor | None,
                    anticipations: Sequence[Anticipation], model: Anticipator, how: Combine,
                    last_load_time: datetime | None, last_scale_out: datetime | None,
                    last_scale_in: datetime | None) -> Correction:
    """GetSystemState / IsAcceptable / GetResourceAmountForState at a new telemetry round.

    Compares the measured demand with what was expected: the current amount, or, while incidents are
    anticipated (``floor`` given), what the model predicted for the time the load was measured. An
    acceptable state drops the held correction (and goes back to the MSA); otherwise the amount the
    state needs becomes current (never below the MSA, and held as the correction) unless a cool-down
    applies (only when no incident is anticipated). Load measured before every anticipated incident
    does not overrule a trained anticipation. Outside a new telemetry round nothing changes.
    """
    unchanged = Correction(current, correction, rule, (), last_load_time, last_scale_out, last_scale_in)
    round_time = load_round(situation, last_load_time)
    if round_time is None:
        return unchanged
    unchanged = replace(unchanged, last_load_time=round_time)
    demand = demand_servants(situation)
    # load measured before an incident tells nothing about it: never learned from, and load measured
    # before every anticipated incident does not overrule a trained anticipation
    live = tuple(a for a in anticipations if measured_elapsed(situation, a.onset) >= 0)
    if demand is None or (floor is not None and not live):
        return unchanged
    needed = needed_for(demand, policy)
    expected = current
    at_load: list[float] = []
    ceiling = model.ceiling() if how == "capped" else None
    if floor is not None:
        for a in live:
            p = model.predict_one(a.level, measured_elapsed(situation, a.onset))
            at_load.append(p if p is not None else float(policy.default_servants))
        expected = policy.clamp(floor_amount(combine(at_load, policy.default_servants, how, ceiling),
                                             model.config.epsilon))
    if is_acceptable(demand, expected, policy):
        peak = peak_lesson(situation, policy, live, model, ceiling, how) if floor is not None else None
        return replace(unchanged, correction=None, current=floor.msa if floor is not None else current,
                       lesson=peak[0] if peak else None, reasons=(peak[1],) if peak else ())
    cooling = not anticipations and _cooling(needed, current, policy, now, last_scale_out, last_scale_in)
    if cooling:
        return replace(unchanged, rule="cooldown",
                       reasons=(f"needs {needed} (load {demand / max(current, 1):.2f}) but {cooling}",))
    reasons = [f"measured demand {demand:.2f} servant-equivalents needs {needed} (had {expected})"]
    out = needed > expected
    current = needed
    if floor is not None:  # the MSA is the floor of every decision while an incident is anticipated
        correction = needed
        if needed < floor.msa:
            current = floor.msa
            reasons.append(f"held at the MSA {floor.msa}")
    return Correction(current, correction, "reactive-out" if out else "reactive-in", tuple(reasons),
                      round_time, now if out else last_scale_out, last_scale_in if out else now,
                      Lesson(live, needed, tuple(at_load), out, ceiling) if live else None)


PEAK_LEARNING = True
"""Learn the window's peak demand where the learned curve is short of it (``peak_lesson``)."""


def peak_lesson(situation: Situation, policy: Policy, live: Sequence[Anticipation], model: Anticipator,
                ceiling: float | None, how: Combine) -> tuple[Lesson, str] | None:
    """What the top of the telemetry window teaches when its mean did not call for a correction.

    A window's mean hides the top of a short burst (a severity-1 burst needs 3 servants for ~3 s at its
    peak, 2 over the 10 s window around it), so a curve learned from means alone is a servant short at
    the peak, where a stronger incident notified then finds no headroom (issue 23 item 1). When the
    situation carries the window's peak demand (``demand_peak_servants`` at ``demand_peak_time``) and
    the amount it needs exceeds the top of the live incidents' curves (``floor_amount`` of their
    combined ``Anticipator.top``), the peak's need is learned at the peak's elapsed time, as each
    incident's share (``attribute``). Only a burst's top: on its rising and falling edges the peak of
    a window lies at the window's end or start, above the mean-learned curve there, but learning it
    would raise the whole curve 5 s early and late (measured: +4 to +8 % servant-seconds, and a
    severity-4 curve above the load's mean, which the assessment then read as a severity 3). Only
    upwards. None when there is nothing to learn (no peak, no incident live at the peak, cold model).
    """
    peak, at = situation.demand_peak_servants, situation.demand_peak_time
    if not PEAK_LEARNING or peak is None or at is None or not model.trained:
        return None
    here = tuple(a for a in live if seconds(at, a.onset) >= 0)
    if not here:
        return None
    needed = needed_for(peak, policy)
    tops = [model.top(a.level) or float(policy.default_servants) for a in here]
    expected = policy.clamp(floor_amount(combine(tops, policy.default_servants, how, ceiling),
                                         model.config.epsilon))
    if needed <= expected:
        return None
    predicted = []
    for a in here:
        p = model.predict_one(a.level, seconds(at, a.onset))
        predicted.append(p if p is not None else float(policy.default_servants))
    why = (f"peak demand {peak:.2f} servant-equivalents at {seconds(at, here[-1].onset):.1f}s needs {needed} "
           f"(the curve's top {expected})")
    return Lesson(here, needed, tuple(predicted), True, ceiling, at=at), why


@dataclass(frozen=True)
class Learning:
    """What a correction taught the anticipator (phase 6)."""

    model: Anticipator
    anticipations: tuple[Anticipation, ...]
    """The same incidents, each with the ids of the samples it now taught (``learned_ids``)."""
    learned: tuple[LearnedSample, ...]
    """New samples (a sample already known, from a redelivered situation, is not new)."""
    forgotten: tuple[LearnedSample, ...]
    """Samples the anticipator dropped to make room (decimation)."""
    reasons: tuple[str, ...]
    rule: str


def learned_from(lesson: Lesson, anticipations: Sequence[Anticipation], model: Anticipator,
                 policy: Policy, situation: Situation, now: datetime) -> Learning:
    """Anticipator.Set(event, amount): each live incident learns its share of the amount needed
    (``attribute``) at the elapsed time the load was measured, as a sample learned at ``now`` whose id
    is the situation's (so a redelivered situation teaches nothing twice).

    The new model is fitted lazily (the service refits it after publishing): this decision is the
    correction, the next one uses the new floor.
    """
    antics = list(anticipations)
    learned: list[LearnedSample] = []
    forgotten: list[LearnedSample] = []
    reasons = []
    live = lesson.live
    shares = attribute(lesson.needed, policy.default_servants,
                       lesson.predicted or [float(policy.default_servants)] * len(live),
                       [a.level for a in live], lesson.ceiling)
    for k, (a, share) in enumerate(zip(live, shares, strict=True)):
        e_m = measured_elapsed(situation, a.onset) if lesson.at is None else seconds(lesson.at, a.onset)
        amount = policy.clamp(to_amount(share))
        sid = f"{situation.system}-{situation.message_id}" + (f"-{k}" if k else "")
        sample = LearnedSample(a.level, round(e_m, 3), amount, learned_at=now, sample_id=sid,
                               source="learned" if lesson.at is None else "peak")
        before, (model, dropped) = model, model.with_sample(sample)
        if model is not before:  # not learned already (a redelivered situation)
            learned.append(sample)
            i = antics.index(a)
            antics[i] = replace(a, learned_ids=(*a.learned_ids, sid))
        forgotten.extend(dropped)
        reasons.append(f"learned (incident {a.incident_id}, severity {a.level}, {e_m:.1f}s) -> {amount}")
    rule = "learned-peak" if lesson.at is not None else ("learned-out" if lesson.out else "learned-in")
    return Learning(model, tuple(antics), tuple(learned), tuple(forgotten), tuple(reasons), rule)


class ArcaStrategy:
    """``arca`` (anticipation + reactive) or, with ``anticipation=False``, ``arca-reactive``."""

    def __init__(self, anticipation: bool = True, combine: Combine | None = None) -> None:
        self.anticipation = anticipation
        self.combine: Combine = combine or COMBINE
        self.name = "arca" if anticipation else "arca-reactive"

    def initial_state(self, policy: Policy, anticipator: Anticipator | None = None) -> ArcaState:
        return ArcaState(anticipator=anticipator or Anticipator())

    def decide(self, situation: Situation, policy: Policy, state: ArcaState,
               now: datetime) -> tuple[Outcome, ArcaState]:
        """One iteration of the loop: the six phases in order, then the policy's bounds."""
        st = state
        learning = self.anticipation and policy.anticipation
        default = policy.default_servants
        current = policy.clamp(st.current if st.current is not None else default)
        correction, rule = st.correction, "hold"

        records = st.records
        reported = incidents_reported(events_of(situation) if learning else [], st.anticipations, st.expired,
                                      now, detected_from_load=situation.detected_from_load and learning,
                                      trained=st.anticipator.trained, sources=sources_of(situation),
                                      quiet=demand_servants(situation))
        news, calibration = calibrated_by_source(reported.anticipations, st.anticipator, situation, policy,
                                                 now, records)
        alive = expiry(news, reported.expired, now, policy.expiration_s, default)
        confirmed = confirmed_by_load(alive.alive, alive.expired, st.anticipator, situation, policy,
                                      st.last_load_time, records)
        records = {**records, **{r.source: r for r in confirmed.records}}
        for ended, why in ((reported.ended, "incident-ended"), (alive.ended, "expired"),
                           (confirmed.ended, "unconfirmed")):
            if ended:
                current, correction, rule = default, None, why
        model, antics = confirmed.model, confirmed.kept
        antics, assessed, judged = assessed_by_load(antics, model, situation, policy, st.last_load_time,
                                                    records)
        records = {**records, **{r.source: r for r in judged}}
        moved = tuple(r for r in records.values() if st.records.get(r.source) != r)

        ledger = measured(st.ledger, situation, policy, st.last_load_time)
        noticed = [a for a in reported.anticipations if a.since == now]
        if noticed:  # how late incidents are notified: the pool serves from the notification on
            late = seconds(now, max(a.onset for a in noticed))
            ledger = replace(ledger, notice_s=min(policy.lead_time_s, max(0.0, late)),
                             incidents=ledger.incidents + len(noticed))
        pool = pool_size(policy, model, ledger) if self.anticipation else pool_size(policy)
        hold = held(policy, model, ledger) if self.anticipation else None
        kept = max(hold.level(policy), current) if hold is not None else None
        floor = anticipated_floor(antics, model, policy, now, pool, self.combine, kept)
        if floor is not None:
            antics, current, rule = floor.anticipations, max(floor.msa, correction or 0), floor.rule

        corrected = load_correction(situation, policy, now, current=current, correction=correction, rule=rule,
                                    floor=floor, anticipations=antics, model=model, how=self.combine,
                                    last_load_time=st.last_load_time, last_scale_out=st.last_scale_out,
                                    last_scale_in=st.last_scale_in)
        current, correction, rule = corrected.current, corrected.correction, corrected.rule
        reasons = [*reported.reasons, *calibration, *alive.reasons, *confirmed.reasons, *assessed,
                   *corrected.reasons]
        if hold is not None:
            current, rule = held_amount(current, rule, hold.level(policy))
        learned: tuple[LearnedSample, ...] = ()
        forgotten = confirmed.forgotten
        if corrected.lesson is not None:
            taught = learned_from(corrected.lesson, antics, model, policy, situation, now)
            model, antics, rule = taught.model, taught.anticipations, taught.rule
            reasons += taught.reasons
            learned, forgotten = taught.learned, forgotten + taught.forgotten

        target, note = bound(current, policy, situation)
        if note:
            reasons.append(note)
        latest = max(antics, key=lambda a: (a.onset, a.severity), default=None)
        predicted = floor.predicted if floor is not None else None
        if not reasons:
            reasons.append(_hold_reason(rule, target, latest, predicted, len(antics)))
        chosen = sizing(policy, model, ledger) if self.anticipation else None
        if chosen is not None:
            reasons.append(objective_reason(chosen, policy, ledger))
        if hold is not None:
            reasons.append(hold_reason(hold, policy, ledger))
        new_state = replace(st, anticipator=model, current=current, anticipations=antics, ledger=ledger,
                            expired=confirmed.expired, last_load_time=corrected.last_load_time,
                            correction=correction, last_scale_out=corrected.last_scale_out,
                            last_scale_in=corrected.last_scale_in,
                            sources=tuple(sorted(records.values(), key=lambda r: r.source)))
        outcome = Outcome(
            target=target,
            msa=floor.msa if floor is not None else policy.min_servants,
            reason="; ".join(reasons),
            rule=rule,
            predicted_msa=predicted,
            clipped=floor.clipped if floor is not None else False,
            learned_samples=len(model),
            incident_id=latest.incident_id if latest else situation.incident_id,
            learned=learned,
            forgotten=forgotten,
            standby=pool,
            discard_objective=policy.discard_objective,
            discard_measured=ledger.ratio,
            sources=moved,
        )
        return outcome, new_state


def held_amount(current: int, rule: str, level: int) -> tuple[int, str]:
    """The amount and rule once servants are held between incidents (``arca.decider.hold``): never
    below the hold's ``level``; rule ``held`` where the hold lifted it."""
    return (level, "held") if current < level else (current, rule)


def measured(ledger: Ledger, situation: Situation, policy: Policy, last_load_time: datetime | None) -> Ledger:
    """The ledger after the situation's telemetry round (unchanged outside a new round or without
    a demand): its demand over its window (``load_window_s``, else the policy's telemetry period)."""
    if load_round(situation, last_load_time) is None:
        return ledger
    demand = demand_servants(situation)
    if demand is None:
        return ledger
    window = getattr(situation, "load_window_s", None) or policy.telemetry_period_s
    return ledger.add(demand, situation.discard_ratio, float(window))


def objective_reason(chosen: Sizing, policy: Policy, ledger: Ledger) -> str:
    """What the decision says of the discard objective: the pool, the ratio so far and expected."""
    so_far = "none measured yet" if ledger.ratio is None else f"{ledger.ratio * 100:.3f} % so far"
    objective = (policy.discard_objective or 0.0) * 100
    kind = " (a bound: the worst severity next)" if policy.discard_objective_bound else ""
    if not chosen.met:
        return (f"discard objective {objective:.3f} %{kind} out of reach: pool {chosen.pool} (the least "
                f"discard expected) expects {chosen.expected * 100:.3f} % ({so_far})")
    return (f"discard objective {objective:.3f} %{kind}: pool {chosen.pool} expects "
            f"{chosen.expected * 100:.3f} % ({so_far})")


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


def _hold_reason(rule: str, target: int, antic: Anticipation | None, predicted: float | None,
                 count: int = 1) -> str:
    if rule.startswith("anticipated") and antic is not None and predicted is not None:
        more = f" (+{count - 1} more incident{'s' if count > 2 else ''})" if count > 1 else ""
        return (f"incident {antic.incident_id} severity {antic.severity}{more}: predicted MSA "
                f"{predicted:.2f} -> {target}")
    return f"state acceptable with {target} servants"
