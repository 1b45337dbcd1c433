"""What the enforcer reads from the infrastructure and the bounds it must keep.

``Servant`` is one server ARCA owns as the driver sees it (status, pool membership, age);
``Bounds`` are a system's policy limits and guards (built from the one policy model,
``arca.policy.Policy``), re-checked by the reconciler before every action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from arca.policy import ACTIONS as ACTION_CATEGORIES
from arca.policy import DELETION_POLICIES, parse_blackout

ServantStatus = Literal["building", "active", "error", "shutoff", "suspended", "paused", "shelved",
                        "deleted", "unknown"]
STANDBY_STATUS: dict[str, ServantStatus] = {
    "stopped": "shutoff", "suspended": "suspended", "paused": "paused", "shelved": "shelved",
}
"""Warm-pool state (policy ``warmPoolState``) -> the status a servant standing by in it shows."""
STANDBY_STATUSES: frozenset[str] = frozenset(STANDBY_STATUS.values())


@dataclass(frozen=True)
class Servant:
    """One ARCA-owned servant (a Nova server or a VNF instance)."""

    id: str
    name: str
    status: ServantStatus
    in_pool: bool = False
    created_at: datetime | None = None
    healthy: bool = True
    """False when the infrastructure reports it dead (e.g. an ``insufficient-data`` alarm)."""
    task_state: str | None = None
    """Nova's task_state while a server action runs (``powering-on``...), else None."""
    ns_id: str | None = None
    """The OSM NS instance the servant belongs to, by its own record (server metadata ``osm_ns_id``);
    None: it belongs to no NS, and no OSM alarm acts on it."""

    @property
    def standing_by(self) -> bool:
        """In a standby status (SHUTOFF, SUSPENDED, PAUSED, SHELVED*), whatever the pool's state."""
        return self.status in STANDBY_STATUSES

    @property
    def index(self) -> int:
        """The ``<n>`` of ``arca-<system>-<n>`` (0 when the name does not end with a number)."""
        tail = self.name.rsplit("-", 1)[-1]
        return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class Bounds:
    """Policy limits of one controlled system."""

    min_servants: int = 1
    max_servants: int = 15
    allowed: frozenset[str] = field(default_factory=lambda: frozenset(ACTION_CATEGORIES))
    frequency_limit: int | None = None
    """Guard: at most this many actions of one kind (scale-out, scale-in) per window."""
    frequency_window_s: float = 3600.0
    frequency_since: datetime | None = None
    """When the policy version that set the frequency limit was applied: actions started before it
    are not counted (None: the limit has no recorded version, every action in the window counts)."""
    frequency_version: int | None = None
    """That version's number (shown in the refusal's reason)."""
    blackouts: tuple[str, ...] = ()
    """Guard: ``"<action|*> HH:MM-HH:MM"`` daily UTC windows refusing that action."""
    protected: frozenset[str] = frozenset()
    """Guard: servant names never removed by a scale-in."""
    deletion: str = "youngest-first"
    """Which surplus servants a scale-in removes first (Senlin deletion policy)."""
    warm_state: str = "none"
    """Warm pool standby state (``stopped``, ``suspended``, ``paused``, ``shelved``; ``none``: no pool)."""
    warm_min: int = 0
    warm_max: int = 0
    warm_reuse: bool = True
    """Scale-in puts servants back in the pool (below ``warm_max``) before deleting any."""

    @property
    def warm(self) -> bool:
        return self.warm_state != "none"

    def pool_target(self, asked: int | None) -> int:
        """The pool to keep: what the decision asked (else the minimum) within [warm_min, warm_max]."""
        if not self.warm:
            return 0
        return max(self.warm_min, min(self.warm_max, self.warm_min if asked is None else asked))

    def __post_init__(self) -> None:
        if self.min_servants < 0 or self.max_servants < self.min_servants:
            raise ValueError(
                f"bounds: need 0 <= min_servants ({self.min_servants}) <= max_servants "
                f"({self.max_servants})"
            )
        unknown = set(self.allowed) - set(ACTION_CATEGORIES)
        if unknown:
            raise ValueError(f"bounds: unknown allowed action(s) {sorted(unknown)}")
        if self.deletion not in DELETION_POLICIES:
            raise ValueError(f"bounds: unknown deletion policy {self.deletion!r}; known: {DELETION_POLICIES}")
        for text in self.blackouts:
            parse_blackout(text)
        if self.warm and self.warm_state not in STANDBY_STATUS:
            raise ValueError(f"bounds: unknown warm pool state {self.warm_state!r}; "
                             f"known: {sorted(STANDBY_STATUS)}")
        if self.warm_min < 0 or self.warm_max < self.warm_min:
            raise ValueError(f"bounds: need 0 <= warm_min ({self.warm_min}) <= warm_max ({self.warm_max})")

    def clip(self, desired: int) -> tuple[int, bool]:
        """The desired amount forced inside ``[min, max]`` and whether it had to be changed."""
        target = min(max(desired, self.min_servants), self.max_servants)
        return target, target != desired


def servant_name(system: str, index: int) -> str:
    """The conventional name of an ARCA servant."""
    return f"arca-{system}-{index}"
