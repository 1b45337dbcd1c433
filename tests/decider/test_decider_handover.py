"""A decider that takes a system over (a replica, or itself restarted) rebuilds the system's incident
and anticipation state from the knowledge base, so its decisions go on where the other's left off."""

from __future__ import annotations

from decider_helpers import at, situation, trained
from test_decider_service import World, apply

from arca.kb import EmbeddedKnowledgeBase
from arca.settings import ArcaSettings
from decider import handover
from decider.anticipator import Anticipator
from decider.fallback import FallbackState
from decider.loop import Anticipation, ArcaState
from decider.samples import store_sample
from decider.velocity import VelocityState


def test_the_state_codec_round_trips_every_field_but_the_anticipator() -> None:
    state = ArcaState(
        anticipator=trained(), current=4,
        anticipations=(Anticipation("inc-1", 3, at(0), at(1), peak=4.5, last=4.0, learned_ids=("a", "b")),),
        expired=frozenset({("inc-0", 2)}), last_load_time=at(5), correction=3, last_scale_out=at(6))
    velocity = VelocityState(current=3, changes=((at(2), 1),))
    text = handover.encode("arca", state, velocity, FallbackState(last_good=2, active=True), None)
    saved = handover.decode(text, at(7))
    restored = handover.load(ArcaState(), saved.state)
    assert restored == ArcaState(**{**state.__dict__, "anticipator": restored.anticipator})
    assert isinstance(restored.anticipator, Anticipator) and len(restored.anticipator) == 0
    assert saved.velocity == velocity and saved.fallback == FallbackState(last_good=2, active=True)
    assert handover.encode("arca", restored, velocity, saved.fallback, None) == text


def _targets(persist: bool) -> tuple[list[int], list[int]]:
    """(targets of a decider that kept the system, targets of one that took it over at 15 s)."""
    kb = EmbeddedKnowledgeBase()
    settings = ArcaSettings()
    settings.decider.persist_state = persist
    first = World(kb, settings)
    apply(kb)
    for s in trained().samples:
        store_sample(kb, "emergency", s)
    kb.flush()
    a = first.start()
    first.bus.publish(situation(0, trigger="event", severity=3, onset=0))
    for t in range(1, 14):
        a.tick(at(t))
    # a telemetry round the load does not confirm while 6 servants are anticipated: the incident's
    # anticipation ends (back to 1, not anticipated again while it is reported)
    quiet = situation(14, severity=3, onset=0, demand=0.5, load=0.2, discard=0.0)
    first.bus.publish(quiet)
    kb.flush()
    second = World(kb, settings)
    b = second.start()
    # then the detector repeats the incident (an event situation, no telemetry round)
    later = situation(15, trigger="event", severity=3, onset=0)
    kept, taken = [], []
    for world, service, out in ((second, b, taken), (first, a, kept)):  # b reads the state first
        world.bus.publish(later.model_copy())
        for t in range(16, 60):
            service.tick(at(t))
        out.extend(d.target_servants for d in world.decisions if d.event_time >= later.event_time)
    return kept, taken


def test_a_decider_taking_a_system_over_decides_as_the_one_that_kept_it() -> None:
    kept, taken = _targets(persist=True)
    assert taken and taken == kept[:len(taken)], (kept, taken)
    assert max(taken) == 1  # the incident the load did not confirm stays ended


def test_without_the_saved_state_the_decisions_jump() -> None:
    """The reference: the same takeover with nothing saved re-anticipates the incident (a jump)."""
    kept, taken = _targets(persist=False)
    assert max(taken) > max(kept), (kept, taken)
