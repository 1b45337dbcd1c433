"""Deterministic message ids: the same cause always yields the same id.

A message derived from another one (a situation from a detector event, a decision from a
situation) gets ``derived_id(cause id, what)`` instead of a random id, so a handler that runs again
after a crash (the broker redelivers what was not acked) republishes *the same* message: consumers
drop it as a duplicate by id, and the knowledge base keeps the first copy (``store_message``).
"""

from __future__ import annotations

import hashlib
import uuid

_NAMESPACE = uuid.UUID("6f1c7c1e-6b8e-4d0a-9a43-0e5d3c2b7a10")
_NAMESPACE_BYTES = _NAMESPACE.bytes


def derived_id(*parts: str) -> str:
    """A message id that is a pure function of ``parts`` (a name-based UUID, hex like ``new_id``).

    ``uuid.uuid5(_NAMESPACE, "\\x1f".join(parts)).hex``, written out (tested equal): the SHA-1 of the
    namespace and the name, its first 16 bytes with the version (5) and the RFC 4122 variant set —
    without ``uuid5``'s import inside the call and the ``UUID`` object (one per detector event)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()
