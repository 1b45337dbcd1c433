"""Pure planning through OSM: which scaling aspects to apply, in which order, to reach a servant count.

OSM scales a VNF by *aspects*: a VNFD's ``df.scaling-aspect`` entries, each with
``aspect-delta-details.deltas[].vdu-delta[].number-of-instances`` (SOL006 / OSM IM ``etsi-nfv-vnfd``).
A scale request names one aspect (``scaleByStepData.scaling-group-descriptor``) and carries no count:
the whole delta is applied by one LCM operation, and the operations of one NS run one after the
other (OSM LCM waits for the NS's running operation). OSM LCM counts per aspect the instances it has
added (``_admin.scaling-group[].nb-scale-op``) and checks its bounds per aspect: a scale-out fails
when that count + the delta + the instantiation level would pass the ``vdu-profile``'s
``max-number-of-instances``, a scale-in when that count - the delta + the instantiation level would
fall under ``min-number-of-instances``.

So reaching a count is a sequence of operations, each of one aspect; the rules (``plan_scale``):

1. scale-out: the largest delta that does not overshoot the target, among the aspects OSM would
   accept (their own bound) and that keep the count within ``max_servants``; when none fits (a VNFD
   without a one-VDU aspect), the smallest acceptable delta, since the decider's target is a *minimum*
   (the MSA): a count short of it discards requests, one above it only costs;
2. scale-in: the largest delta that does not go below the target, among the aspects that have added
   at least that many instances (OSM refuses the others); none -> stay above the target;
3. the plan is the whole sequence (the reconciler starts its first operation, one at a time per NS
   as OSM runs them, and plans again from the observed state once it has finished).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["SCALE_OUT", "SCALE_IN"]


@dataclass(frozen=True)
class Aspect:
    """One scaling aspect of the scaled VDU: its name and the instances one operation adds/removes."""

    name: str
    delta: int
    scaled: int = 0
    """``nb-scale-op``: instances this aspect has added and not removed (OSM's per-aspect count)."""


@dataclass(frozen=True)
class VduLimits:
    """The scaled VDU's ``vdu-profile`` bounds and instantiation level (OSM checks each aspect by them)."""

    initial: int = 1
    minimum: int = 1
    maximum: int = 10


@dataclass(frozen=True)
class ScaleOp:
    """One OSM scale operation: an aspect, applied out or in."""

    aspect: str
    direction: Direction
    delta: int

    @property
    def change(self) -> int:
        """Servants the operation adds (negative: removes)."""
        return self.delta if self.direction == "SCALE_OUT" else -self.delta


def _accepted_out(a: Aspect, limits: VduLimits) -> bool:
    return a.scaled + a.delta + limits.initial <= limits.maximum


def _accepted_in(a: Aspect, limits: VduLimits) -> bool:
    return a.scaled - a.delta + limits.initial >= limits.minimum


def next_op(live: int, target: int, aspects: Sequence[Aspect], limits: VduLimits,
            max_servants: int | None = None) -> ScaleOp | None:
    """The next operation from ``live`` servants towards ``target`` (None: nothing OSM would accept helps)."""
    if target > live:
        ok = [a for a in aspects if _accepted_out(a, limits)
              and (max_servants is None or live + a.delta <= max_servants)]
        fits = [a for a in ok if a.delta <= target - live]
        if fits:
            best = max(fits, key=lambda a: (a.delta, a.name))
        elif ok:
            best = min(ok, key=lambda a: (a.delta, a.name))
        else:
            return None
        return ScaleOp(best.name, "SCALE_OUT", best.delta)
    if target < live:
        fits = [a for a in aspects if a.delta <= live - target and _accepted_in(a, limits)]
        if not fits:
            return None
        best = max(fits, key=lambda a: (a.delta, a.name))
        return ScaleOp(best.name, "SCALE_IN", best.delta)
    return None


def plan_scale(live: int, target: int, aspects: Sequence[Aspect], limits: VduLimits,
               max_servants: int | None = None) -> tuple[ScaleOp, ...]:
    """Every operation, in order, from ``live`` servants to ``target`` (module docstring, rules 1-3)."""
    ops: list[ScaleOp] = []
    state = {a.name: a for a in aspects}
    while len(ops) < 64:  # a bound, never reached: each operation moves towards the target
        op = next_op(live, target, list(state.values()), limits, max_servants)
        if op is None:
            break
        a = state[op.aspect]
        state[op.aspect] = Aspect(a.name, a.delta, a.scaled + op.change)
        live += op.change
        ops.append(op)
        if (live >= target) if op.direction == "SCALE_OUT" else (live <= target):
            break
    return tuple(ops)


def describe(ops: Sequence[ScaleOp]) -> str:
    """A plan in words: ``+4 relay-scaling-4, +1 relay-scaling``."""
    return ", ".join(f"{op.change:+d} {op.aspect}" for op in ops) or "nothing"


def vnfd_aspects(vnfd: Mapping[str, Any], group: str | None = None) -> tuple[list[Aspect], VduLimits, str]:
    """The scaling aspects of a VNFD that scale one VDU, its limits and the VDU's id.

    The VDU is the one aspect ``group`` scales, else the one every aspect scales. Aspects whose deltas
    touch several VDUs, or none, are left out (they would change more than the servants). Raises
    ``ValueError`` naming what is missing when the VNFD has nothing to scale.
    """
    dfs = vnfd.get("df") or []
    if not dfs or not isinstance(dfs[0], Mapping):
        raise ValueError(f"VNFD {vnfd.get('id')!r} has no df")
    df = dfs[0]
    found: list[tuple[str, str, int]] = []
    for asp in df.get("scaling-aspect") or []:
        name = str(asp.get("name") or asp.get("id") or "")
        deltas = (asp.get("aspect-delta-details") or {}).get("deltas") or []
        per_vdu: dict[str, int] = {}
        for d in deltas:
            for vd in d.get("vdu-delta") or []:
                per_vdu[str(vd.get("id"))] = per_vdu.get(str(vd.get("id")), 0) + int(
                    vd.get("number-of-instances", 1))
        if name and len(per_vdu) == 1:
            (vid, n), = per_vdu.items()
            if n >= 1:
                found.append((name, vid, n))
    vdus = {vid for _, vid, _ in found}
    vdu = next((vid for name, vid, _ in found if name == group), None)
    if vdu is None:
        if len(vdus) != 1:
            raise ValueError(f"VNFD {vnfd.get('id')!r}: scaling aspects scale {sorted(vdus) or 'no VDU'}, "
                             "not exactly one VDU")
        vdu = vdus.pop()
    aspects = [Aspect(name, n) for name, vid, n in found if vid == vdu]
    if not aspects:
        raise ValueError(f"VNFD {vnfd.get('id')!r} has no scaling-aspect for VDU {vdu!r}")
    profile: Mapping[str, Any] = next((p for p in df.get("vdu-profile") or [] if p.get("id") == vdu), {})
    levels = (df.get("instantiation-level") or [{}])[0].get("vdu-level") or []
    initial = next((int(v.get("number-of-instances", 1)) for v in levels if v.get("vdu-id") == vdu), 1)
    limits = VduLimits(initial=initial, minimum=int(profile.get("min-number-of-instances", 0)),
                       maximum=int(profile.get("max-number-of-instances", 10)))  # OSM LCM's defaults
    return aspects, limits, vdu
