"""Embedded knowledge base: an in-memory (or on-disk) pyoxigraph store, no server needed."""

from __future__ import annotations

import threading
from typing import Any

import pyoxigraph as ox

from arca.kb.base import KnowledgeBase, KnowledgeBaseError, Row, with_prefixes
from arca.kb.terms import IRI, check_iri, literal_value, render


def _py(term: Any) -> Any:
    if term is None:
        return None
    if isinstance(term, ox.NamedNode):
        return IRI(term.value)
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    if isinstance(term, ox.Literal):
        return literal_value(term.value, term.datatype.value if term.datatype else None)
    return str(term)


class EmbeddedKnowledgeBase(KnowledgeBase):
    """pyoxigraph ``Store``; writes are cheap here, so ``submit`` applies them at once."""

    def __init__(self, path: str | None = None) -> None:
        self.store = ox.Store(path) if path else ox.Store()
        self.path = path
        self._lock = threading.Lock()

    def compact_storage(self, wait_s: float = 0.0) -> str | None:
        """On disk: RocksDB's full compaction (``Store.optimize``); in memory: nothing to do."""
        if self.path is None:
            return None
        with self._lock:
            self.store.optimize()
        return f"optimized {self.path}"

    def query(self, template: str, **bindings: Any) -> list[Row]:
        text = with_prefixes(render(template, bindings))
        try:
            with self._lock:
                result = self.store.query(text)
                if not isinstance(result, ox.QuerySolutions):
                    raise KnowledgeBaseError("query() takes SELECT queries")
                names = [v.value for v in result.variables]
                return [{n: _py(sol[n]) for n in names} for sol in result]
        except SyntaxError as exc:
            raise KnowledgeBaseError(f"bad SPARQL: {exc}") from exc

    def ask(self, template: str, **bindings: Any) -> bool:
        text = with_prefixes(render(template, bindings))
        with self._lock:
            result = self.store.query(text)
        return bool(result)

    def update(self, template: str, **bindings: Any) -> None:
        text = with_prefixes(render(template, bindings))
        try:
            with self._lock:
                self.store.update(text)
        except SyntaxError as exc:
            raise KnowledgeBaseError(f"bad SPARQL update: {exc}") from exc

    def submit(self, template: str, **bindings: Any) -> None:
        self.update(template, **bindings)

    def load_turtle(self, data: str | bytes, graph: str | None = None) -> int:
        g = ox.NamedNode(check_iri(graph)) if graph is not None else ox.DefaultGraph()
        try:
            quads = [
                ox.Quad(q.subject, q.predicate, q.object, g)
                for q in ox.parse(data, format=ox.RdfFormat.TURTLE)
            ]
        except SyntaxError as exc:
            raise KnowledgeBaseError(f"bad Turtle: {exc}") from exc
        with self._lock:
            self.store.extend(quads)
        return len(quads)

    def replace_graph(self, data: str | bytes, graph: str) -> int:
        self.update("DROP SILENT GRAPH $g", g=check_iri(graph))  # bound, never pasted
        return self.load_turtle(data, graph)

    def flush(self, timeout: float = 30.0) -> None:
        return None
