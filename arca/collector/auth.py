"""Who may make ARCA act: one per-source token check for every input (HTTP and AMQP).

An admin issues each *source* (a detector, a CAP sender, the OSM policy module) its own random
token: ``collector.tokens = {"<source>": "<token>"}`` (env ``ARCA_COLLECTOR__TOKENS`` or a secret
file named by ``ARCA_COLLECTOR__TOKENS_FILE``). A request presents its token (HTTP
``Authorization: Bearer <token>``, AMQP header ``x-arca-token``); the token identifies the
*principal* (the source it was issued to), compared in constant time. The input must then be
*authorised* for that principal: a detector event's ``source`` and a CAP alert's ``sender`` must be
the principal itself, an OSM alarm's principal must be one of ``collector.osm_principals``.

No token, or a token nobody was issued -> 401 (``unauthenticated``); a valid token used for another
source's input -> 403 (``forbidden``). Both are counted in ``arca_ingest_auth_refused_total`` (and
``arca_messages_rejected_total``) and never reach the bus. With no token configured at all, every
input is refused unless ``collector.allow_unauthenticated`` is set (development only): the
collector fails closed.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

from arca.collector.errors import IngestError

TOKEN_HEADER = "x-arca-token"
"""AMQP message header carrying the source's token (the same token as on HTTP)."""


class TokenAuth:
    """Per-source bearer tokens: ``principal`` authenticates, ``authorise`` checks the claim."""

    def __init__(self, tokens: Mapping[str, str], *, allow_unauthenticated: bool = False) -> None:
        self._tokens = [(source, token.encode()) for source, token in tokens.items() if token]
        self.allow_unauthenticated = allow_unauthenticated

    @property
    def open(self) -> bool:
        """True when no token is configured and unauthenticated input is explicitly allowed."""
        return not self._tokens and self.allow_unauthenticated

    def principal(self, token: str | None, where: str = "Authorization") -> str | None:
        """The source ``token`` was issued to (None when the collector is open); raises 401."""
        if self.open:
            return None
        if not self._tokens:
            raise IngestError("unauthenticated", where,
                              "no source tokens are configured (collector.tokens): input refused",
                              status=401)
        if not token:
            raise IngestError("unauthenticated", where, "a bearer token is required", status=401)
        presented = token.encode("utf-8", "surrogatepass")
        found = None
        for source, expected in self._tokens:  # compare with every token: no early exit
            if hmac.compare_digest(expected, presented):
                found = source
        if found is None:
            raise IngestError("unauthenticated", where, "the token was not issued to any source",
                              status=401)
        return found

    def authorise(self, principal: str | None, claimed: str | None, path: str) -> None:
        """403 unless the input's claimed source is the principal itself."""
        if self.open:
            return
        if principal is None or claimed != principal:
            raise IngestError("forbidden", path,
                              f"the token is not valid for source {claimed!r}", status=403)

    def authorise_any(self, principal: str | None, allowed: Iterable[str], path: str) -> None:
        """403 unless the principal is one of ``allowed`` (e.g. the OSM policy module)."""
        if self.open:
            return
        allowed = sorted(allowed)
        if principal is None or principal not in allowed:
            raise IngestError("forbidden", path,
                              f"source {principal!r} may not send this input (allowed: {allowed})",
                              status=403)
