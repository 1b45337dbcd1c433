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

ServantStatus = Literal["building", "active", "error", "shutoff", "deleted", "unknown"]



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
    blackouts: tuple[str, ...] = ()
    """Guard: ``"<action|*> HH:MM-HH:MM"`` daily UTC windows refusing that action."""
    protected: frozenset[str] = frozenset()
    """Guard: servant names never removed by a scale-in."""
    deletion: str = "youngest-first"
    """Which surplus servants a scale-in removes first (Senlin deletion policy)."""

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

    def clip(self, desired: int) -> tuple[int, bool]:
        """The desired amount forced inside ``[min, max]`` and whether it had to be changed."""
        target = min(max(desired, self.min_servants), self.max_servants)
        return target, target != desired


def servant_name(system: str, index: int) -> str:
    """The conventional name of an ARCA servant."""
    return f"arca-{system}-{index}"
