"""Scale velocity limits against the Kubernetes HPA ``behavior`` semantics and the docs' examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from decider_helpers import situation

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.decider.service import DeciderService
from arca.decider.velocity import Direction, VelocityState, directions, limit
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Decision, Message
from arca.policy import Policy, policy_graph
from arca.service import Deps

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HPA_UP, HPA_DOWN = directions(Policy(system="x"))


def d(*rules: str, select: str = "max", window: float = 0.0) -> Direction:
    from arca.policy import parse_scaling_rule

    return Direction(tuple(parse_scaling_rule(r) for r in rules), select, window)


NO_DOWN = d("100 percent per 15s")
# id, up, down, start amount, [(seconds, proposed, expected target)]
CASES = [
    ("hpa-default-up-1-to-10-is-5-then-10", HPA_UP, NO_DOWN, 1, [(0, 10, 5), (15, 10, 10)]),
    ("hpa-default-up-within-period-holds", HPA_UP, NO_DOWN, 1, [(0, 10, 5), (10, 10, 5), (15, 10, 10)]),
    ("hpa-default-up-percent-wins-above-4", HPA_UP, NO_DOWN, 8, [(0, 40, 16)]),
    ("hpa-default-down-window-300-holds-highest", HPA_UP, HPA_DOWN, 10,
     [(0, 10, 10), (60, 2, 10), (299, 2, 10), (301, 2, 2)]),
    # docs: "scaleDown: Pods 4 per 60s, Percent 10 per 60s": 80 -> 72 (8 = 10 %), 72 -> 64 (7.2 -> 8)
    ("docs-down-pods4-percent10-max-change", HPA_UP, d("4 servants per 60s", "10 percent per 60s"), 80,
     [(0, 1, 72), (60, 1, 64)]),
    ("docs-down-pods4-percent10-at-40-both-4", HPA_UP, d("4 servants per 60s", "10 percent per 60s"), 40,
     [(0, 1, 36)]),
    ("docs-down-select-min-smallest-change", HPA_UP,
     d("4 servants per 60s", "10 percent per 60s", select="min"), 80, [(0, 1, 76)]),
    ("docs-down-10-percent-per-minute", HPA_UP, d("10 percent per 60s"), 10,
     [(0, 1, 9), (30, 1, 9), (60, 1, 8)]),
    ("docs-down-5-pods-per-minute", HPA_UP, d("5 servants per 60s"), 12, [(0, 1, 7), (60, 1, 2)]),
    ("docs-down-disabled", HPA_UP, d("100 percent per 15s", select="disabled"), 6,
     [(0, 1, 6), (600, 1, 6)]),
    ("docs-up-900-percent-per-minute", d("900 percent per 60s"), NO_DOWN, 1,
     [(0, 1000, 10), (60, 1000, 100)]),
    ("up-4-per-60-counts-the-period", d("4 servants per 60s"), NO_DOWN, 1,
     [(0, 12, 5), (30, 12, 5), (61, 12, 9)]),
    ("up-disabled", d("4 servants per 15s", select="disabled"), NO_DOWN, 3, [(0, 9, 3)]),
    ("up-window-takes-lowest-proposal", d("100 servants per 15s", window=60), NO_DOWN, 2,
     [(0, 2, 2), (30, 12, 2), (61, 12, 12)]),
    ("max-servants-wins", HPA_UP, NO_DOWN, 14, [(0, 40, 15)]),
    ("no-change-no-limit", HPA_UP, HPA_DOWN, 5, [(0, 5, 5)]),
]


@pytest.mark.parametrize(("up", "down", "start", "steps"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hpa_behavior(up: Direction, down: Direction, start: int,
                      steps: list[tuple[float, int, int]]) -> None:
    state = VelocityState(current=start)
    for t, proposed, expected in steps:
        target, state, note = limit(proposed, state, up, down, T0 + timedelta(seconds=t),
                                    min_servants=1, max_servants=15 if start == 14 else 100)
        assert target == expected, f"at {t}s proposed {proposed}"
        assert (note != "") == (target != proposed)


def test_hpa_defaults_when_the_policy_says_nothing() -> None:
    assert Direction((("percent", 100, 15), ("servants", 4, 15)), "max", 0.0) == HPA_UP
    assert Direction((("percent", 100, 15),), "max", 300.0) == HPA_DOWN


def test_exempt_targets_pass_but_are_recorded() -> None:
    target, state, note = limit(9, VelocityState(current=1), HPA_UP, NO_DOWN, T0, min_servants=1,
                                max_servants=15, exempt=True)
    assert (target, note) == (9, "")
    target, _, _ = limit(15, state, HPA_UP, NO_DOWN, T0 + timedelta(seconds=5), min_servants=1,
                         max_servants=15)
    assert target == 9  # the exempt +8 counts in the period: start 1 -> max(1+4, 2) < 9, held at 9


def _decider(ttl: str) -> tuple[DeciderService, list[Decision], InMemoryBus]:
    bus, kb = InMemoryBus(), EmbeddedKnowledgeBase()
    kb.replace_graph(ttl, policy_graph("emergency"))
    got: list[Decision] = []

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            got.append(m)

    bus.subscribe("t.decisions", ["decision.#"], keep)
    service = DeciderService(Deps(bus, kb, SimClock(T0), ArcaSettings()))
    service.attach()
    return service, got, bus


HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n<urn:p> a arca:Policy ; arca:system \"emergency\" ; "


def test_the_decider_limits_any_strategy_and_says_so() -> None:
    _, got, bus = _decider(HEAD + 'arca:strategy "static" ; arca:maxServants 12 ; arca:velocityLimits true .')
    bus.publish(situation(0, active=1))
    assert got[-1].target_servants == 5 and "velocity: 12 -> 5" in got[-1].reason
    bus.publish(situation(16, active=5))
    assert got[-1].target_servants == 10
    bus.publish(situation(32, active=10))
    assert got[-1].target_servants == 12 and "velocity" not in got[-1].reason


def test_velocity_off_by_default_keeps_the_strategy_target() -> None:
    _, got, bus = _decider(HEAD + 'arca:strategy "static" ; arca:maxServants 12 .')
    bus.publish(situation(0, active=1))
    assert got[-1].target_servants == 12


def test_bad_rule_is_refused_naming_node_and_property() -> None:
    from arca.decider.validation import PolicyInvalid, validate_policy

    with pytest.raises(PolicyInvalid) as err:
        validate_policy(HEAD + 'arca:scaleUpRule "4 pods every 15s" .', "p.ttl")
    assert "<urn:p>" in str(err.value) and "arca:scaleUpRule" in str(err.value)
