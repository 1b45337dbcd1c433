"""One reconnect and retry policy for the whole loop: exponential backoff with jitter.

Every reconnect or retry loop (the bus, the durable store writer, the collector's AMQP ingest, the
store client's batch retries) waits ``Backoff.next()`` between attempts: ``initial_s`` doubling up to
``max_s``, each wait drawn uniformly from its upper half ("equal jitter"). The jitter matters when a
broker restarts: without it every replica of every service reconnects at the same instants, in
lockstep; with it their attempts spread over half of each interval, while each still waits at least
half of it. ``reset()`` after a success.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Backoff:
    """The waits between attempts (see the module docstring); not thread-safe: one per loop."""

    initial_s: float
    max_s: float
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s or self.factor < 1:
            raise ValueError(f"backoff needs 0 < initial_s <= max_s and factor >= 1: {self}")

    @classmethod
    def for_bus(cls, settings: Any, rng: random.Random | None = None) -> Backoff:
        """The bus settings' policy (``reconnect_initial_s``, ``reconnect_max_s``)."""
        return cls(settings.reconnect_initial_s, settings.reconnect_max_s, rng=rng or random.Random())

    def ceiling(self) -> float:
        """The next wait's upper bound (without jitter)."""
        return float(min(self.max_s, self.initial_s * self.factor ** self.attempt))

    def next(self) -> float:
        """The wait before the next attempt, in seconds; counts the attempt."""
        cap = self.ceiling()
        self.attempt += 1
        return self.rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        """After a success: the next failure waits ``initial_s`` again (at most)."""
        self.attempt = 0
