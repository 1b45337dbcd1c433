"""The seam between the reconciler and an infrastructure, and how drivers report failures.

Every call is short and non-blocking (one HTTP request or a few): the reconciler polls again on
the next tick instead of waiting. Drivers map transport problems to ``TransientError`` (5xx,
timeouts, lost connections: retried with backoff) and refusals to ``PermanentError``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

from arca.enforcer.model import Servant


class DriverError(Exception):
    """An infrastructure call failed."""


class TransientError(DriverError):
    """Worth retrying: server error (5xx), timeout, connection lost."""


class PermanentError(DriverError):
    """Not worth retrying: the request itself is refused (4xx other than 404/409/429)."""


class ServantDriver(Protocol):
    """What the reconciler needs from an infrastructure holding servants."""

    name: str

    def list_servants(self, system: str) -> list[Servant]:
        """Every servant ARCA owns for ``system`` (never anything else), with pool membership."""
        ...

    def get_servant(self, system: str, server_id: str, *, pools: bool = True) -> Servant | None:
        """One owned servant, or ``None`` when it does not exist (any more); ``pools=False`` skips
        reading the pool membership (``in_pool`` is then False)."""
        ...

    def find_servant(self, system: str, name: str) -> Servant | None:
        """The owned servant with this name, if any."""
        ...

    def create_servant(self, system: str, name: str) -> str:
        """Ask for a new servant (returns at once, the server boots); returns its id."""
        ...

    def add_to_pool(self, system: str, server_id: str) -> None:
        """Make an ACTIVE servant a member of every load-balancer pool of the system."""
        ...

    def remove_from_pool(self, system: str, server_id: str) -> None:
        """Drain: take the servant out of every pool (idempotent)."""
        ...

    def delete_servant(self, system: str, server_id: str) -> None:
        """Delete an owned servant (idempotent: gone already is fine)."""
        ...

    def standby_servant(self, system: str, server_id: str, state: str) -> None:
        """Start putting an owned ACTIVE servant in standby (``stopped``, ``suspended``, ``paused``,
        ``shelved``); returns at once. A server already changing state is left alone (no error)."""
        ...

    def resume_servant(self, system: str, server_id: str) -> None:
        """Start bringing an owned standby servant back to ACTIVE (the inverse of its standby
        status); returns at once. A server already changing state is left alone (no error)."""
        ...


def one_pass(driver: object) -> AbstractContextManager[None]:
    """A reconcile pass on ``driver``: its ``reads_once()`` when it has one (an identical read sent
    once per pass, forgotten at its first change), else nothing special."""
    reads_once = getattr(driver, "reads_once", None)
    if callable(reads_once):
        cm: AbstractContextManager[None] = reads_once()
        return cm
    return nullcontext()
