"""Deterministic message ids: the same cause always yields the same id.

A message derived from another one (a situation from a detector event, a decision from a
situation) gets ``derived_id(cause id, what)`` instead of a random id, so a handler that runs again
after a crash (the broker redelivers what was not acked) republishes *the same* message: consumers
drop it as a duplicate by id, and the knowledge base keeps the first copy (``store_message``).
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1c7c1e-6b8e-4d0a-9a43-0e5d3c2b7a10")


def derived_id(*parts: str) -> str:
    """A message id that is a pure function of ``parts`` (a name-based UUID, hex like ``new_id``)."""
    return uuid.uuid5(_NAMESPACE, "\x1f".join(parts)).hex
