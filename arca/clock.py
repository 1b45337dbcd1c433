"""Injected time: a wall clock for production and a simulated clock for accelerated runs.

Services never call ``datetime.now()`` themselves; they compute from the event time carried in
messages and, for self-dispatched timers, from the clock they were given.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (always timezone-aware UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """Real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class SimClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        self._t = start or datetime(2026, 1, 1, tzinfo=UTC)
        if self._t.tzinfo is None:
            raise ValueError("SimClock needs a timezone-aware start time")
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        with self._lock:
            self._t += timedelta(seconds=seconds)
            return self._t

    def set(self, t: datetime) -> None:
        with self._lock:
            if t < self._t:
                raise ValueError("time does not go backwards")
            self._t = t


def utc(t: datetime) -> datetime:
    """Normalise a datetime to aware UTC (naive values are refused: they are ambiguous)."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()} has no timezone")
    return t.astimezone(UTC)
