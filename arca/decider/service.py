"""The decider micro-service: situations in, decisions out, through each system's policy strategy.

Wiring only: the decision logic is the pure strategies (``arca.decider.loop``, ``arca.decider.baselines``).
Policies come from the knowledge base (reloaded on ``PolicyUpdated``); learned samples are kept in
the knowledge base and the anticipator is rebuilt from them on start. Ticks re-evaluate the last
situation of every system at the clock's time, so anticipation and expiration move with time even
when telemetry is silent; a tick publishes only when the decision changed (or ``republish_s``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from arca import metrics
from arca.bus.order import DeliveryOrder, waiting
from arca.decider import handover
from arca.decider.anticipator import Anticipator, AnticipatorConfig, LearnedSample
from arca.decider.fallback import FallbackState, fallback
from arca.decider.fitting import Refits
from arca.decider.loop import ArcaState
from arca.decider.policy import Policy, PolicyError, load_policies
from arca.decider.samples import (
    LEARNED_GRAPH,
    forget_sample,
    load_all_samples,
    load_samples,
    store_sample,
    systems_with_samples,
)
from arca.decider.sources import CALIBRATE_AFTER, SourceRecord, load_all_records, load_records, store_record
from arca.decider.strategies import make_strategy
from arca.decider.strategy import Outcome, Strategy, seconds
from arca.decider.velocity import VelocityState, directions, limit
from arca.decider.warm import pool_size
from arca.kb import KnowledgeBaseError
from arca.kb.messages import store_message
from arca.messages import Decision, Message, PolicyUpdated, Situation
from arca.messages.ids import derived_id
from arca.service import TICK_CHUNK, Deps, Service

log = logging.getLogger(__name__)


def urgency(message: Message) -> int:
    """Policy changes first, then the situations of detector events, then telemetry situations."""
    if isinstance(message, PolicyUpdated):
        return -1
    return 0 if isinstance(message, Situation) and message.trigger == "event" else 1


def folds_under(message: Message) -> tuple[str, str] | None:
    """A telemetry situation is superseded by any newer situation of its system, an event's
    situation only by a newer event's (the decision of an event is not folded into telemetry)."""
    if not isinstance(message, Situation):
        return None
    return ("event" if message.trigger == "event" else "any", message.system)


def covers(message: Message) -> tuple[tuple[str, str], ...]:
    """What a situation supersedes among the older ones queued: it carries its system's latest
    state and every incident still active."""
    if not isinstance(message, Situation):
        return ()
    if message.trigger == "event":
        return (("any", message.system), ("event", message.system))
    return (("any", message.system),)


@dataclass(frozen=True)
class _Snapshot:
    """What the store held right after a take-over barrier: every system's samples and saved state."""

    samples: dict[str, list[LearnedSample]]
    states: dict[str, tuple[str, Any]]
    records: dict[str, dict[str, SourceRecord]]


class DeciderService(Service):
    """Decides the servants of every controlled system."""

    name = "decider"
    patterns = ("situation.#", "policy.#")
    delivery_order = DeliveryOrder(urgency=urgency, folds_under=folds_under, covers=covers)
    sharding = "shards"
    broadcast = ("policy.#",)

    def __init__(self, deps: Deps, strategies: Mapping[str, Strategy] | None = None) -> None:
        super().__init__(deps)
        self.custom_strategies = dict(strategies or {})
        cfg = self.settings.decider
        inline = cfg.svr_fit == "inline" or (cfg.svr_fit == "auto" and self.settings.bus.kind != "rabbitmq")
        self.config = AnticipatorConfig(c=cfg.svr_c, epsilon=cfg.svr_epsilon, gamma=cfg.svr_gamma,
                                        per_bucket=cfg.samples_per_bucket, max_samples=cfg.max_samples,
                                        fit_in_process=inline)
        self.refits = Refits() if self.settings.bus.kind == "rabbitmq" else None
        """Live (``arca run``), what a decision learned is refitted on a thread of its own; on the
        in-memory bus (the simulated demo, tests) at once, after publishing, as one loop."""
        self.policies: dict[str, Policy] = {}
        self.states: dict[str, tuple[str, Any]] = {}
        self.anticipators: dict[str, Anticipator] = {}
        self.last_situation: dict[str, Situation] = {}
        self.last_decision: dict[str, Decision] = {}
        self._strategies: dict[str, Strategy] = {}
        self._loaded: dict[str, bool] = {}  # system -> anticipator built from the store's samples
        self.velocity: dict[str, VelocityState] = {}
        self.fallbacks: dict[str, FallbackState] = {}
        self._owned: set[str] = set()  # systems whose saved state was looked for (take_over)
        self._saved: dict[str, str] = {}  # system -> state text last saved
        self._saved_core: dict[str, tuple[Any, datetime]] = {}  # system -> (what matters, when saved)
        self._barrier_activations: int | None = None  # bus.consumer_activations() at the last barrier
        self._taken: _Snapshot | None = None  # the store read once after the last barrier (take_over)
        self.source_records: dict[str, tuple[SourceRecord, ...]] = {}  # system -> as loaded from the store
        if cfg.strategy_override:
            self.strategy(cfg.strategy_override)  # an unknown name fails at start, not per message
        self.load_knowledge()

    # -- knowledge ---------------------------------------------------------------------------------
    def refresh_knowledge(self) -> None:
        """Policies, prior samples and every anticipator from the store (after an outage: merged
        with what was learned meanwhile, by sample id)."""
        self._taken = None  # later take-overs read the store again
        self.reload_policies()
        if self.settings.decider.prior_file:
            self.seed_prior(self.settings.decider.prior_file)
        stale = [system for system, known in self._loaded.items() if not known]
        if stale:
            # the writes queued while the store was away land first (a predecessor's queued before
            # ours, the queue is FIFO): merged before them, its samples would reach the store and
            # never this model
            try:
                self.kb.flush(10.0)
            except KnowledgeBaseError as exc:  # merged now, the rest would never reach this model:
                # stay not ready (running on what it knows) and merge on a later try (every 2 s)
                raise KnowledgeBaseError(f"learned samples not merged yet: the writes queued while the "
                                         f"store was away have not all landed ({exc})") from exc
        for system in stale:  # learned while the store was away: add what the store has
            model = self.anticipators.pop(system)
            stored = load_samples(self.kb, system)
            ids = {s.sample_id for s in stored}
            merged = Anticipator([*stored, *(s for s in model.samples if s.sample_id not in ids)],
                                 model.config)
            merged.refit()
            self.anticipators[system] = merged
            self._loaded[system] = True
            metrics.LEARNED_SAMPLES.labels(system).set(len(merged))
        for system in sorted(set(self.policies) | set(systems_with_samples(self.kb))):
            self.anticipator(system)  # rebuilt and fitted now, not on the first (event) decision

    def reload_policies(self) -> None:
        try:
            self.policies = load_policies(self.kb)
        except PolicyError as exc:  # a bad policy in the store: keep the previous ones
            log.error("policies not reloaded: %s", exc)
            return
        for system, policy in self.policies.items():
            entry = self.states.get(system)
            if entry is not None and entry[0] != policy.strategy:
                del self.states[system]  # strategy switched: start it fresh (the anticipator stays)
        log.info("policies loaded: %s", ", ".join(f"{s}={p.strategy}" for s, p in self.policies.items()))

    def seed_prior(self, path: str) -> None:
        """Load prior samples from a Turtle file unless the store already has samples."""
        if systems_with_samples(self.kb):
            return
        self.kb.load_turtle(Path(path).read_bytes(), LEARNED_GRAPH)
        self.kb.flush()
        self.anticipators.clear()

    def reload_samples(self, system: str) -> None:
        """Samples of ``system`` were added to the store (``arca anticipation seed`` into a running
        loop): rebuild its anticipator from the store at once, merged (by sample id) with what this
        process learned and the store may not have yet; the next decision uses it."""
        before = self.anticipators.get(system)
        try:
            stored = load_samples(self.kb, system)
        except KnowledgeBaseError as exc:
            self.knowledge_unavailable(exc)
            return
        ids = {s.sample_id for s in stored}
        own = [s for s in (before.samples if before is not None else []) if s.sample_id not in ids]
        model = self._fit(system, [*stored, *own])
        log.info("learned samples of system %s reloaded: %d (was %d)", system, len(model),
                 len(before) if before is not None else 0,
                 extra={"system": system, "samples": len(model)})

    def policy(self, system: str) -> Policy:
        policy = self.policies.get(system)
        if policy is None:
            log.warning("no policy for system %s: using defaults", system)
            policy = self.policies[system] = Policy(system=system)
        override = self.settings.decider.strategy_override
        if override and override != policy.strategy:
            policy = policy.model_copy(update={"strategy": override})
        return policy

    def anticipator(self, system: str) -> Anticipator:
        """The system's anticipator (rebuilt from the knowledge base the first time)."""
        model = self.anticipators.get(system)
        if model is None:
            try:
                samples, self._loaded[system] = load_samples(self.kb, system), True
            except KnowledgeBaseError as exc:  # store away: start cold, merge its samples later
                self.knowledge_unavailable(exc)
                samples, self._loaded[system] = [], False
            model = self._fit(system, samples, loaded=self._loaded[system])
        return model

    def _fit(self, system: str, samples: list[LearnedSample], *, loaded: bool = True) -> Anticipator:
        """The system's anticipator built and fitted from ``samples`` (as read from the store)."""
        self._loaded[system] = loaded
        model = Anticipator(samples, self._config(system))
        model.refit()
        self.anticipators[system] = model
        metrics.LEARNED_SAMPLES.labels(system).set(len(model))
        return model

    def _config(self, system: str) -> AnticipatorConfig:
        policy = self.policies.get(system)
        base = policy.default_servants if policy else 1
        return AnticipatorConfig(c=self.config.c, epsilon=self.config.epsilon, gamma=self.config.gamma,
                                 per_bucket=self.config.per_bucket, max_samples=self.config.max_samples,
                                 baseline=base, fit_in_process=self.config.fit_in_process)

    def records(self, system: str) -> tuple[SourceRecord, ...]:
        """The system's source records as stored (read once; the store away: none, read again later)."""
        known = self.source_records.get(system)
        if known is None:
            try:
                loaded = load_records(self.kb, system)
            except KnowledgeBaseError as exc:
                self.knowledge_unavailable(exc)
                return ()
            known = self._take_records(system, loaded)
        return known

    def _take_records(self, system: str, loaded: Mapping[str, SourceRecord]) -> tuple[SourceRecord, ...]:
        known = self.source_records[system] = tuple(sorted(loaded.values(), key=lambda r: r.source))
        for record in known:
            report_record(system, record)
        return known

    def strategy(self, name: str) -> Strategy:
        if name not in self._strategies:
            self._strategies[name] = self.custom_strategies.get(name) or make_strategy(name)
        return self._strategies[name]

    # -- messages ----------------------------------------------------------------------------------
    def take_over(self, system: str) -> None:
        """First situation of ``system`` in this process (or since the bus reconnected): once every
        write a predecessor queued has landed, rebuild its anticipator from the stored samples and its
        state from the knowledge base (``arca.decider.handover``).

        The wait is a marker through the same FIFO write queue. A predecessor's writes were all queued
        before this replica became the active consumer of the queue the situation came from, so one
        wait per activation covers every system of that queue (``bus.consumer_activations()``: one per
        queue per channel; on a TDB2 store a wait costs a commit)."""
        self._owned.add(system)
        started = time.monotonic()
        barrier = getattr(self.kb, "barrier", None)
        if callable(barrier) and self.kb_ready and getattr(self.kb, "ready", True):
            activations = self.bus.consumer_activations()
            if activations != self._barrier_activations:
                self._barrier_activations = activations
                self._taken = None
                try:
                    barrier(5.0)
                    # what the store holds once the predecessors' writes landed: the systems taken
                    # over under this activation are read from it (two queries, not two each)
                    self._taken = _Snapshot(load_all_samples(self.kb), handover.fetch_all(self.kb)
                                            if self.settings.decider.persist_state else {},
                                            load_all_records(self.kb))
                except KnowledgeBaseError as exc:
                    log.warning("taking %s over before every queued write landed: %s", system, exc)
            # the samples as the store has them now (a predecessor's last ones included)
            self.source_records.pop(system, None)
            if self._taken is not None:
                self._take_records(system, self._taken.records.get(system, {}))
            model = self.anticipators.pop(system, None)
            try:
                if self._taken is not None:
                    self._fit(system, self._taken.samples.get(system, []))
                else:
                    self.anticipator(system)
            except KnowledgeBaseError:
                if model is not None:
                    self.anticipators[system] = model
        if not self.settings.decider.persist_state:
            log.info("system %s taken over: no state saved, started fresh", system, extra={"system": system})
            return
        try:
            if self._taken is not None and callable(barrier) and self.kb_ready:
                raw = self._taken.states.get(system)
                saved = handover.parse(system, *raw) if raw is not None else None
            else:
                saved = handover.fetch(self.kb, system)
        except KnowledgeBaseError as exc:
            self.knowledge_unavailable(exc)
            return
        if saved is not None and saved.saved_at > self.clock.now() + timedelta(seconds=30):
            # saved in this clock's future: another timeline (a replayed simulation on the same store)
            log.info("system %s: saved state of %s ignored (after the clock's now)", system,
                     saved.saved_at.isoformat())
            saved = None
        if saved is None:
            log.info("system %s taken over: no state saved, started fresh", system, extra={"system": system})
            return
        policy = self.policy(system)
        if saved.strategy == policy.strategy:
            fresh = self.strategy(policy.strategy).initial_state(policy)
            self.states[system] = (policy.strategy, handover.load(fresh, saved.state))
        if saved.velocity is not None:
            self.velocity[system] = saved.velocity
        if saved.fallback is not None:
            self.fallbacks[system] = saved.fallback
        if saved.decision is not None:
            self.last_decision[system] = saved.decision
        log.info("system %s taken over: state saved at %s rebuilt in %.0f ms", system,
                 saved.saved_at.isoformat(), (time.monotonic() - started) * 1000,
                 extra={"system": system})

    def ownership_changed(self) -> None:
        """The bus reconnected: its shards may have gone to another replica meanwhile, so forget
        every system's state; each is rebuilt from the store on its next situation here."""
        for table in (self.states, self.last_situation, self.last_decision, self.velocity,
                      self.fallbacks, self._saved, self._saved_core, self.source_records):
            table.clear()
        self._owned.clear()

    def _save_state(self, system: str, now: datetime) -> None:
        """Save the system's state (``arca.decider.handover``): at once when what a successor decides
        from changed (strategy, the decision, the incidents anticipated or ended, the held amounts),
        otherwise (floors moving, timestamps) at most every ``state_save_interval_s``."""
        if not self.settings.decider.persist_state:
            return
        entry = self.states.get(system)
        state = entry[1] if entry else None
        last = self.last_decision.get(system)
        core = (entry[0] if entry else "", (last.target_servants, last.rule) if last else None,
                tuple(a.incident_id for a in getattr(state, "anticipations", ())),
                getattr(state, "expired", None), getattr(state, "current", None),
                getattr(state, "correction", None))
        previous = self._saved_core.get(system)
        if previous is not None and previous[0] == core and \
                seconds(now, previous[1]) < self.settings.decider.state_save_interval_s:
            return
        text = handover.encode(entry[0] if entry else "", state, self.velocity.get(system),
                               self.fallbacks.get(system), last)
        self._saved_core[system] = (core, now)
        if self._saved.get(system) != text:
            self._saved[system] = text
            handover.save(self.kb, system, text, now)

    def handle(self, message: Message) -> None:
        if isinstance(message, Situation):
            if message.system not in self._owned:
                self.take_over(message.system)
            self.last_situation[message.system] = message
            self.decide(message, message.event_time, force=True)
        elif isinstance(message, PolicyUpdated):
            if message.policy == str(LEARNED_GRAPH):  # samples seeded (``arca anticipation seed``)
                self.reload_samples(message.system)
                return
            if not self.load_knowledge():
                return
            for system, model in list(self.anticipators.items()):
                updated = model.with_config(self._config(system))
                if updated is not model:
                    updated.refit()
                    self.anticipators[system] = updated

    def tick(self, now: datetime) -> None:
        self.tick_systems(now, list(self.last_situation))

    def tick_systems(self, now: datetime, systems: list[str]) -> None:
        """Decide again on the last situation of each of ``systems``, ``TICK_CHUNK`` at a time: the
        rest is left to a call the delivery thread runs once it has handled what arrived meanwhile,
        so an event's situation does not wait behind a hundred routine decisions (at 100 systems a
        whole tick held the delivery thread long enough to be the tail of event -> decision). The
        in-memory bus runs the call at once: the same order as one loop. A system with a situation
        waiting in the backlog is left to it (decided on it next, on a newer state)."""
        newer = {m.system for m in waiting() if isinstance(m, Situation)}
        for i, system in enumerate(systems):
            if i == TICK_CHUNK:
                self.call_soon(partial(self.tick_systems, now, systems[i:]))
                return
            if system in newer:
                continue
            situation = self.last_situation.get(system)
            if situation is not None:
                self.decide(situation, max(now, situation.event_time), force=False)

    def decide(self, situation: Situation, now: datetime, *, force: bool) -> Decision | None:
        """Run the system's strategy once; publish the decision (on ticks only if it changed)."""
        system = situation.system
        policy = self.policy(system)
        strategy = self.strategy(policy.strategy)
        entry = self.states.get(system)
        if entry is None or entry[0] != policy.strategy:
            state: Any = strategy.initial_state(policy)
        else:
            state = entry[1]
        if isinstance(state, ArcaState):
            state = ArcaState(**{**state.__dict__, "anticipator": self.anticipator(system)})
            if not state.sources:  # what the load taught of the sources, as the store has it
                state = replace(state, sources=self.records(system))
        last = self.last_decision.get(system)
        if last is not None and now < last.event_time:
            now = last.event_time
        outcome, new_state = strategy.decide(situation, policy, state, now)
        self.states[system] = (policy.strategy, new_state)
        if isinstance(new_state, ArcaState):
            self.anticipators[system] = new_state.anticipator
            self.source_records[system] = new_state.sources
        self._persist(system, outcome)
        for record in outcome.sources:
            store_record(self.kb, system, record)
            report_record(system, record)
        if outcome.discard_objective is not None:  # how the system stands against its objective
            metrics.DISCARD_OBJECTIVE.labels(system).set(outcome.discard_objective)
            if outcome.discard_measured is not None:
                metrics.DISCARD_MEASURED.labels(system).set(outcome.discard_measured)
        outcome = self._fallback(situation, policy, outcome, now)
        outcome = self._limit_velocity(situation, policy, outcome, now)
        decision = self._decision(situation, policy, outcome, now)
        if force:  # the decision on a situation: the same id when that situation is handled again
            decision = decision.model_copy(
                update={"message_id": derived_id(situation.message_id, "decision")})
        if not force and last is not None and _same(last, decision) and \
                seconds(now, last.event_time) < self.settings.decider.republish_s:
            self._save_state(system, now)
            return None
        self.last_decision[system] = decision
        self.bus.publish(decision)
        self._save_state(system, now)
        if outcome.learned and isinstance(new_state, ArcaState):
            if self.refits is not None:  # on the refit thread: the next situation does not wait for it
                self.refits.submit(system, new_state.anticipator)
            else:
                new_state.anticipator.refit()  # after publishing: off this decision's path
        store_message(self.kb, decision)
        metrics.SERVANTS_DESIRED.labels(system).set(decision.target_servants)
        metrics.MSA.labels(system).set(decision.msa)
        metrics.LEARNED_SAMPLES.labels(system).set(decision.learned_samples)
        metrics.DECISIONS.labels(system, decision.rule).inc()
        return decision

    def _fallback(self, situation: Situation, policy: Policy, outcome: Outcome, now: datetime) -> Outcome:
        """The policy's telemetry fallback (``arca.decider.fallback``) applied to the strategy's target."""
        system = situation.system
        target, state, note = fallback(outcome.target, outcome.rule, situation, policy,
                                       self.fallbacks.get(system, FallbackState()), now)
        self.fallbacks[system] = state
        metrics.FALLBACK_ACTIVE.labels(system).set(1 if state.active else 0)
        if not note:
            return outcome
        return replace(outcome, target=target, rule="fallback", reason=f"{outcome.reason}; {note}")

    def _limit_velocity(self, situation: Situation, policy: Policy, outcome: Outcome,
                        now: datetime) -> Outcome:
        """The policy's scale velocity limits (``arca.decider.velocity``) applied to the strategy's target."""
        system = situation.system
        if not policy.velocity_limits:
            self.velocity.pop(system, None)
            return outcome
        state = self.velocity.get(system) or VelocityState(
            current=situation.servants_active + situation.servants_booting)
        up, down = directions(policy)
        exempt = outcome.rule.startswith("anticipated") and not policy.velocity_limits_anticipation
        target, self.velocity[system], note = limit(
            outcome.target, state, up, down, now, min_servants=policy.min_servants,
            max_servants=policy.max_servants, exempt=exempt)
        if not note:
            return outcome
        metrics.VELOCITY_LIMITED.labels(system, "up" if target < outcome.target else "down").inc()
        return replace(outcome, target=target, reason=f"{outcome.reason}; {note}")

    def _persist(self, system: str, outcome: Outcome) -> None:
        # a sample learned and decimated in the same decision (two incidents sharing one bucket)
        # never reaches the store: storing it after the delete would leave it there for good
        gone = {id(s) for s in outcome.forgotten}
        for sample in outcome.forgotten:
            forget_sample(self.kb, sample)
        for sample in outcome.learned:
            if id(sample) not in gone:
                store_sample(self.kb, system, sample)

    def _decision(self, situation: Situation, policy: Policy, outcome: Outcome, now: datetime) -> Decision:
        return Decision(
            event_time=now, producer=self.name, **situation.follow(),
            system=situation.system, strategy=policy.strategy, target_servants=outcome.target,
            msa=outcome.msa, reason=outcome.reason, rule=outcome.rule,
            predicted_msa=outcome.predicted_msa, clipped=outcome.clipped,
            learned_samples=outcome.learned_samples, situation_id=situation.message_id,
            incident_id=outcome.incident_id,
            standby_servants=outcome.standby if outcome.standby is not None else pool_size(policy),
            discard_objective=outcome.discard_objective, discard_measured=outcome.discard_measured,
        )


def report_record(system: str, record: SourceRecord) -> None:
    """The gauges of one source record (``arca_source_*``): false alarms, confirmed, calibration."""
    metrics.SOURCE_FALSE_ALARMS.labels(system, record.source).set(record.false_alarms)
    metrics.SOURCE_CONFIRMED.labels(system, record.source).set(record.confirmed)
    net = record.raised - record.lowered
    metrics.SOURCE_CALIBRATION.labels(system, record.source, "up").set(
        record.up if net >= CALIBRATE_AFTER else 0)
    metrics.SOURCE_CALIBRATION.labels(system, record.source, "down").set(
        record.down if -net >= CALIBRATE_AFTER else 0)


def _same(a: Decision, b: Decision) -> bool:
    return ((a.target_servants, a.msa, a.rule, a.clipped, a.standby_servants)
            == (b.target_servants, b.msa, b.rule, b.clipped, b.standby_servants))
