"""The knowledge-base interface: SPARQL 1.1 query/update plus buffered writes and Turtle loading.

Reads are synchronous. Writes made with ``submit`` are buffered and applied in batches off the
caller's path (a Fuseki TDB2 commit costs ~45 ms whatever it carries: the loop must never wait on
one); ``flush`` waits for them. ``update`` is synchronous, for admin tools and tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from arca.namespace import SPARQL_PREFIXES

Row = dict[str, Any]


class KnowledgeBaseError(RuntimeError):
    """The store refused or failed a request (message names the endpoint and the reason).

    ``status``: the HTTP status the store answered, or None when there was no answer (refused
    connection, timeout) or no request (a local error)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def client_error(self) -> bool:
        """The store refused the request itself (4xx): sending it again will not help."""
        return self.status is not None and 400 <= self.status < 500


def with_prefixes(text: str) -> str:
    return SPARQL_PREFIXES + text


class KnowledgeBase(ABC):
    """A SPARQL store; templates take ``$name`` placeholders bound safely (``arca.kb.terms``)."""

    @abstractmethod
    def query(self, template: str, **bindings: Any) -> list[Row]:
        """SELECT: rows of Python values (``IRI`` for IRIs, typed values for literals)."""

    @abstractmethod
    def ask(self, template: str, **bindings: Any) -> bool:
        """ASK query."""

    @abstractmethod
    def update(self, template: str, **bindings: Any) -> None:
        """Run a SPARQL Update now and wait for it."""

    @abstractmethod
    def submit(self, template: str, **bindings: Any) -> None:
        """Queue a SPARQL Update to be applied in the next batch (does not wait)."""

    @abstractmethod
    def load_turtle(self, data: str | bytes, graph: str | None = None) -> int:
        """Add Turtle to ``graph`` (default graph if None); returns triples loaded."""

    @abstractmethod
    def replace_graph(self, data: str | bytes, graph: str) -> int:
        """Replace the named ``graph`` with Turtle ``data``; returns triples loaded."""

    @abstractmethod
    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every submitted write has been applied."""

    def compact_storage(self, wait_s: float = 0.0) -> str | None:
        """Ask the store to compact its files (free the space deleted triples left); what it answered,
        or None when this store has nothing to ask (it compacts by itself). ``wait_s``: wait that long
        for a compaction the store runs as a task to finish. Raises ``KnowledgeBaseError`` when the
        store refuses, cannot be reached, or its task fails or outlasts ``wait_s``."""
        return None

    def close(self) -> None:
        """Flush and release resources."""
        self.flush()
