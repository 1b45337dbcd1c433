"""What the enforcer keeps in the knowledge base: its ``Enforcement`` reports, thinned; pure.

Every ``Enforcement`` the enforcer publishes (an action finished, succeeded or failed; a step a
guard or the policy refused) is also stored (``arca.kb.messages.store_message``, durably through the
broker in ``arca run``), so ``arca status`` shows the last enforcement, the warm pool and the recent
refusals with their reasons. Actions are reported once, when they finish, so they are stored as they
come. Refusals are reported once per decision and step; while a guard keeps refusing the same step
and the decider republishes its decision, the same refusal would be stored every republish (30 s by
default, every telemetry round when the decision moves). ``to_store`` keeps the store's growth
bounded: a refusal with the same (system, action, servant, guard) as one stored less than
``interval_s`` ago is not stored; the next one that is says how many were left out since when.
A refusal that stops repeating before the interval elapses leaves its last repeats uncounted in the
store (they were published and counted in ``arca_guard_refusals_total``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from arca.messages import Enforcement

RefusalKey = tuple[str, str, str, str]
"""(system, action, target, who refused: ``refused by guard frequency``, ``refused by policy``...)."""


@dataclass(frozen=True)
class Kept:
    """The last stored refusal of one key and the repeats left out since."""

    stored_at: datetime
    left_out: int = 0
    first_left_out: datetime | None = None


def refusal_key(e: Enforcement) -> RefusalKey | None:
    """The key of a refusal (None for an action's outcome)."""
    if e.outcome != "skipped" or not e.detail.startswith("refused by"):
        return None
    return e.system, e.action, e.target or "", e.detail.split(":", 1)[0]


def to_store(e: Enforcement, kept: Mapping[RefusalKey, Kept],
             interval_s: float) -> tuple[Enforcement | None, dict[RefusalKey, Kept]]:
    """The record to store for ``e`` (None: left out, a repeat) and the refusals kept after it."""
    key = refusal_key(e)
    now = e.event_time
    after = {k: v for k, v in kept.items()
             if v.left_out or (now - v.stored_at).total_seconds() < interval_s}
    if key is None:
        return e, after
    last = after.get(key)
    if last is not None and (now - last.stored_at).total_seconds() < interval_s:
        after[key] = Kept(last.stored_at, last.left_out + 1, last.first_left_out or now)
        return None, after
    after[key] = Kept(now)
    if last is None or not last.left_out:
        return e, after
    since = last.first_left_out.isoformat(timespec="seconds") if last.first_left_out else "?"
    note = f" [{last.left_out} more like it since {since} not stored]"
    return e.model_copy(update={"detail": (e.detail[: 500 - len(note)] + note)}), after
