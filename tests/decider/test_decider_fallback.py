"""Telemetry fallback against KEDA's ``fallback`` semantics (failureThreshold, replicas)."""

from __future__ import annotations

from datetime import datetime

import pytest
from decider_helpers import at, policy, situation

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.fallback import FallbackState, fallback, missed_rounds
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, Message
from arca.policy import policy_graph
from arca.service import Deps

# KEDA: after failureThreshold consecutive failed reads the ScaledObject scales to fallback.replicas
# id, fallback servants (None: last good), threshold, [(t, telemetry?, strategy target, expected, active)]
CASES = [
    ("keda-below-threshold-keeps-target", 6, 3, [(0, True, 2, 2, False), (30, False, 4, 4, False)]),
    ("keda-at-threshold-holds-replicas", 6, 3, [(0, True, 2, 2, False), (40, False, 2, 6, True)]),
    ("keda-read-succeeds-again-ends-it", 6, 3,
     [(0, True, 2, 2, False), (40, False, 2, 6, True), (45, True, 3, 3, False)]),
    ("last-good-amount-when-none-declared", None, 2,
     [(0, True, 5, 5, False), (30, False, 1, 5, True), (90, False, 1, 5, True)]),
    ("declared-amount-clamped-to-max", 40, 1, [(0, True, 2, 2, False), (20, False, 2, 15, True)]),
    ("event-situations-are-not-telemetry", 6, 2,
     [(0, True, 2, 2, False), (30, None, 2, 6, True)]),
    ("anticipated-floor-above-fallback-wins", 3, 1,
     [(0, True, 2, 2, False), (20, None, 9, 9, True)]),
]


@pytest.mark.parametrize(("amount", "threshold", "steps"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fallback(amount: int | None, threshold: int,
                  steps: list[tuple[float, bool | None, int, int, bool]]) -> None:
    p = policy(fallback_after_rounds=threshold, fallback_servants=amount, telemetry_period_s=10.0)
    state = FallbackState()
    last = situation(0)
    for t, telemetry, target, expected, active in steps:
        if telemetry is True:
            last = situation(t)
        elif telemetry is None:  # an event-triggered situation: no load window
            last = situation(t, trigger="event", severity=3, onset=t - 1)
        rule = "anticipated" if telemetry is None and target > 2 else "hold"
        got, state, note = fallback(target, rule, last, p, state, at(t))
        assert (got, state.active) == (expected, active), f"at {t}s"
        assert (note != "") == active


@pytest.mark.parametrize(("elapsed", "missed"), [(0, 0), (10, 0), (19.9, 0), (20, 1), (40, 3)],
                         ids=["none", "next-due", "next-late", "one", "three"])
def test_missed_rounds(elapsed: float, missed: int) -> None:
    assert missed_rounds(at(0), at(elapsed), 10.0) == missed


def test_no_fallback_term_means_no_fallback() -> None:
    got, state, note = fallback(2, "hold", situation(0), policy(), FallbackState(at(-100), 7), at(1000))
    assert (got, state.active, note) == (2, False, "")


def test_decider_ticks_drive_the_fallback_and_new_telemetry_ends_it() -> None:
    bus, kb = InMemoryBus(), EmbeddedKnowledgeBase()
    kb.replace_graph("@prefix arca: <https://w3id.org/arca/ns#> .\n<urn:p> a arca:Policy ; "
                     'arca:system "emergency" ; arca:fallbackAfterRounds 3 ; arca:fallbackServants 4 .',
                     policy_graph("emergency"))
    got: list[Decision] = []

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            got.append(m)

    bus.subscribe("t.d", ["decision.#"], keep)
    clock = SimClock(at(0))
    from arca.decider.service import DeciderService

    service = DeciderService(Deps(bus, kb, clock, ArcaSettings()))
    service.attach()
    bus.publish(situation(10, demand=0.5))
    assert got[-1].target_servants == 1

    def tick(t: float) -> datetime:
        clock.set(at(t))
        service.tick(at(t))
        return at(t)

    tick(30)
    assert got[-1].target_servants == 1
    tick(50)  # 4 rounds due since 10 s, 3 missed
    assert (got[-1].target_servants, got[-1].rule) == (4, "fallback")
    assert "3 telemetry rounds missed" in got[-1].reason
    bus.publish(situation(55, demand=0.5))
    assert (got[-1].target_servants, got[-1].rule) == (1, "hold")
