"""The choice of OSM scale operations (``arca.enforcer.osm_plan``): a pure function, table-tested, and the
aspects read from a SOL006 VNFD as the emulated NBI serves it."""

from __future__ import annotations

from typing import Any

import pytest

from arca.enforcer.osm_plan import Aspect, VduLimits, describe, next_op, plan_scale, vnfd_aspects

UKKO = (Aspect("relay-scaling", 1),)
"""Ukko's VNFD: one VDU per operation."""
LIMITS = VduLimits(initial=1, minimum=1, maximum=11)


def aspects(*deltas: int, scaled: dict[str, int] | None = None) -> tuple[Aspect, ...]:
    done = scaled or {}
    return tuple(Aspect(n, d, done.get(n, 0)) for n, d in
                 (("relay-scaling" if d == 1 else f"relay-scaling-{d}", d) for d in deltas))


@pytest.mark.parametrize(("live", "target", "given", "max_servants", "plan"), [
    (1, 1, aspects(1, 4), 11, "nothing"),
    (1, 8, UKKO, 11, ", ".join(["+1 relay-scaling"] * 7)),
    (1, 8, aspects(1, 4), 11, "+4 relay-scaling-4, +1 relay-scaling, +1 relay-scaling, +1 relay-scaling"),
    (1, 8, aspects(1, 2, 4), 11, "+4 relay-scaling-4, +2 relay-scaling-2, +1 relay-scaling"),
    (1, 4, aspects(1, 4), 11, "+1 relay-scaling, +1 relay-scaling, +1 relay-scaling"),
    (1, 5, aspects(1, 4), 11, "+4 relay-scaling-4"),
    (1, 3, aspects(4), 11, "+4 relay-scaling-4"),
    (8, 11, aspects(4), 11, "nothing"),
    (1, 11, aspects(1, 4), 11, "+4 relay-scaling-4, +4 relay-scaling-4, +1 relay-scaling, +1 relay-scaling"),
    (9, 1, aspects(1, 4, scaled={"relay-scaling-4": 8}), 11, "-4 relay-scaling-4, -4 relay-scaling-4"),
    (9, 2, aspects(1, 4, scaled={"relay-scaling-4": 4, "relay-scaling": 4}), 11,
     "-4 relay-scaling-4, -1 relay-scaling, -1 relay-scaling, -1 relay-scaling"),
    (5, 1, aspects(1, 4, scaled={"relay-scaling": 4}), 11, ", ".join(["-1 relay-scaling"] * 4)),
    (5, 3, aspects(4, scaled={"relay-scaling-4": 4}), 11, "nothing"),
    (3, 1, aspects(1, 4, scaled={"relay-scaling-4": 0, "relay-scaling": 2}), 11,
     "-1 relay-scaling, -1 relay-scaling"),
    (9, 1, aspects(1, 4, scaled={"relay-scaling-4": 4, "relay-scaling": 4}), 11,
     "-4 relay-scaling-4, -1 relay-scaling, -1 relay-scaling, -1 relay-scaling, -1 relay-scaling"),
], ids=[
    "at-the-target", "ukko-one-vdu-per-operation", "largest-delta-first-then-ones",
    "binary-aspects-three-ops",
    "a-delta-that-would-overshoot-is-not-used", "an-exact-fit-is-one-operation",
    "no-fit-takes-the-least-overshoot-the-target-is-a-minimum", "never-beyond-the-policy-maximum",
    "osm-per-aspect-bound-stops-the-big-aspect", "scale-in-by-the-aspect-that-added-them",
    "scale-in-never-below-the-target", "scale-in-only-what-an-aspect-added",
    "scale-in-that-would-go-below-stays-above", "scale-in-mixed", "an-aspect-gives-back-only-what-it-added",
])
def test_plan(live: int, target: int, given: tuple[Aspect, ...], max_servants: int, plan: str) -> None:
    assert describe(plan_scale(live, target, given, LIMITS, max_servants)) == plan


def test_the_first_operation_is_the_next_one() -> None:
    given = aspects(1, 4)
    assert plan_scale(2, 9, given, LIMITS, 11)[0] == next_op(2, 9, given, LIMITS, 11)


def test_osm_refuses_an_aspect_over_its_own_bound_so_the_plan_uses_another() -> None:
    """OSM LCM checks nb-scale-op + delta + the instantiation level against the VDU's max, per aspect:
    with the 4-aspect at 8 (8 + 4 + 1 > 11) the rest comes one by one."""
    given = aspects(1, 4, scaled={"relay-scaling-4": 8})
    assert describe(plan_scale(9, 13, given, LIMITS, 15)) == ", ".join(["+1 relay-scaling"] * 4)


def _vnfd(*aspect_list: dict[str, Any], profile: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": "ukko_relay_vnfd", "df": [{
        "id": "default-df",
        "vdu-profile": [profile or {"id": "relay", "min-number-of-instances": 1,
                                    "max-number-of-instances": 11}],
        "instantiation-level": [{"id": "default",
                                 "vdu-level": [{"vdu-id": "relay", "number-of-instances": 1}]}],
        "scaling-aspect": list(aspect_list)}]}


def _aspect(name: str, *vdu_deltas: tuple[str, int]) -> dict[str, Any]:
    return {"id": name, "name": name, "aspect-delta-details": {"deltas": [
        {"id": f"{name}-delta", "vdu-delta": [{"id": v, "number-of-instances": n} for v, n in vdu_deltas]}]}}


def test_vnfd_aspects_of_the_scaled_vdu_and_its_profile() -> None:
    vnfd = _vnfd(_aspect("relay-scaling", ("relay", 1)), _aspect("relay-scaling-4", ("relay", 4)),
                 _aspect("both", ("relay", 1), ("haproxy", 1)), _aspect("lb", ("haproxy", 2)))
    found, limits, vdu = vnfd_aspects(vnfd, "relay-scaling")
    assert vdu == "relay"
    assert found == [Aspect("relay-scaling", 1), Aspect("relay-scaling-4", 4)]  # one-VDU aspects of relay
    assert limits == VduLimits(initial=1, minimum=1, maximum=11)


def test_vnfd_defaults_are_osm_lcm_ones() -> None:
    """No max-number-of-instances: OSM LCM uses 10; no min: 0; a vdu-delta without a count: 1."""
    vnfd = _vnfd({"id": "a", "name": "a", "aspect-delta-details": {"deltas": [{"id": "d", "vdu-delta": [
        {"id": "relay"}]}]}}, profile={"id": "relay"})
    found, limits, _ = vnfd_aspects(vnfd)
    assert found == [Aspect("a", 1)] and (limits.minimum, limits.maximum) == (0, 10)


@pytest.mark.parametrize(("vnfd", "message"), [
    ({"id": "x"}, "has no df"),
    (_vnfd(), "not exactly one VDU"),
    (_vnfd(_aspect("a", ("relay", 1)), _aspect("b", ("haproxy", 1))), "not exactly one VDU"),
], ids=["no-df", "no-aspect", "aspects-of-two-vdus-and-no-group"])
def test_a_vnfd_with_nothing_to_scale_is_refused_naming_why(vnfd: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vnfd_aspects(vnfd)
