"""SPARQL 1.1 Protocol client (query, update, Graph Store HTTP Protocol) with batched background writes.

Works unchanged on Fuseki (``/<ds>/query|update|data``) and Oxigraph (``/query|update|store``):
only the three URLs differ, and both speak the standard protocol (form-encoded ``query=`` /
``update=`` POSTs, ``?graph=IRI`` / ``?default`` on the graph store).

Why plain ``requests`` and not SPARQLWrapper: the protocol is three POST shapes, and what this
client needs beyond them is what SPARQLWrapper does not offer — one keep-alive ``Session`` shared
by the loop (SPARQLWrapper opens a new urllib connection per query, ~1 ms more each), the Graph
Store Protocol (SPARQLWrapper has none), precise errors naming endpoint, status and body, and
thread-safe use from a background writer. Values never reach the query text unescaped: templates
are rendered by ``arca.kb.terms.render``.

Writes: ``submit`` only appends to a buffer; a writer thread joins pending updates with `` ;\\n``
into one request per batch (at most ``write_batch_max`` updates, sent at least every
``write_flush_interval_s``), so a 300 ms TDB2 commit is paid once per batch and never by the caller.
A failed batch is retried with backoff, logged and counted; the failure is re-raised by the next
``flush``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from arca.config import KbSettings
from arca.kb.base import KnowledgeBase, KnowledgeBaseError, Row, with_prefixes
from arca.kb.terms import IRI, from_sparql_json, render, render_term

log = logging.getLogger(__name__)

RESULTS_JSON = "application/sparql-results+json"
UPDATE_TYPE = "application/sparql-update; charset=utf-8"
_RETRIES = 3


class SparqlKnowledgeBase(KnowledgeBase):
    """A remote SPARQL 1.1 store (see the module docstring)."""

    def __init__(self, settings: KbSettings) -> None:
        self.settings = settings
        self.session = self._new_session()
        self._write_session = self._new_session()  # the writer thread's own keep-alive connection
        self._lock = threading.Condition()
        self._pending: list[str] = []
        self._submitted = 0  # updates submitted so far
        self._applied = 0  # updates applied (or given up on) so far
        self._error: KnowledgeBaseError | None = None
        self.batches = 0  # requests the writer sent (for tests and metrics)
        self.failures = 0  # batches that failed after retries
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="arca-kb-writer", daemon=True)
        self._writer.start()

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        if self.settings.username is not None:
            session.auth = (self.settings.username, self.settings.secret() or "")
        return session

    # ------------------------------------------------------------------ reads and direct writes

    def _post(self, url: str, *, data: Any, headers: dict[str, str] | None = None,
              params: dict[str, str] | None = None, method: str = "POST",
              session: requests.Session | None = None) -> requests.Response:
        try:
            r = (session or self.session).request(method, url, data=data, headers=headers, params=params,
                                                  timeout=self.settings.timeout_s)
        except requests.RequestException as exc:
            raise KnowledgeBaseError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
        if r.status_code >= 400:
            excerpt = r.text[:500].strip()
            raise KnowledgeBaseError(f"{url}: HTTP {r.status_code}: {excerpt}")
        return r

    def _select(self, text: str) -> dict[str, Any]:
        r = self._post(self.settings.query_url, data={"query": with_prefixes(text)},
                       headers={"Accept": RESULTS_JSON})
        try:
            doc: dict[str, Any] = r.json()
        except ValueError as exc:
            raise KnowledgeBaseError(
                f"{self.settings.query_url}: not SPARQL JSON results: {r.text[:200]!r}"
            ) from exc
        return doc

    def query(self, template: str, **bindings: Any) -> list[Row]:
        doc = self._select(render(template, bindings))
        if "results" not in doc:
            raise KnowledgeBaseError(f"{self.settings.query_url}: query() takes SELECT queries")
        names = doc.get("head", {}).get("vars", [])
        return [
            {n: (from_sparql_json(b[n]) if n in b else None) for n in names}
            for b in doc["results"]["bindings"]
        ]

    def ask(self, template: str, **bindings: Any) -> bool:
        doc = self._select(render(template, bindings))
        if "boolean" not in doc:
            raise KnowledgeBaseError(f"{self.settings.query_url}: ask() takes ASK queries")
        return bool(doc["boolean"])

    def update(self, template: str, **bindings: Any) -> None:
        self._update_text(render(template, bindings))

    def _update_text(self, text: str, session: requests.Session | None = None) -> None:
        # the update as the request body (SPARQL 1.1 Protocol 2.2.2): no URL-encoding of a batch
        # that can be megabytes long (measured: ~55 % less writer CPU than an ``update=`` form)
        self._post(self.settings.update_url, data=with_prefixes(text).encode(),
                   headers={"Content-Type": UPDATE_TYPE}, session=session)

    def _store(self, method: str, data: str | bytes, graph: str | None) -> int:
        body = data.encode() if isinstance(data, str) else data
        n = _count_triples(body)
        url, params = self.settings.store_url, None
        if graph is None:
            url += ("&" if "?" in url else "?") + "default"
        else:
            render_term(IRI(graph))  # raises TermError on anything but a safe absolute IRI
            params = {"graph": graph}
        self._post(url, method=method, data=body,
                   headers={"Content-Type": "text/turtle; charset=utf-8"}, params=params)
        return n

    def load_turtle(self, data: str | bytes, graph: str | None = None) -> int:
        return self._store("POST", data, graph)

    def replace_graph(self, data: str | bytes, graph: str) -> int:
        return self._store("PUT", data, graph)

    # ------------------------------------------------------------------ buffered writes

    def submit(self, template: str, **bindings: Any) -> None:
        text = render(template, bindings)  # template errors surface in the caller, now
        with self._lock:
            if self._closed:
                raise KnowledgeBaseError("knowledge base is closed")
            self._pending.append(text)
            self._submitted += 1
            if len(self._pending) >= self.settings.write_batch_max:
                self._lock.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._submitted
            self._lock.notify_all()  # wake the writer: send now
            while self._applied < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise KnowledgeBaseError(
                        f"{self.settings.update_url}: {target - self._applied} update(s) not applied "
                        f"after {timeout}s"
                    )
                self._lock.wait(min(left, 0.2))
            if self._error is not None:
                err, self._error = self._error, None
                raise err

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
                self._lock.notify_all()
            self._writer.join(5)
            self.session.close()
            self._write_session.close()

    def _write_loop(self) -> None:
        interval = self.settings.write_flush_interval_s
        while True:
            with self._lock:
                if not self._pending and not self._closed:
                    self._lock.wait(interval)
                if not self._pending:
                    if self._closed:
                        return
                    continue
                # a short grace period lets a burst accumulate into one request
                if len(self._pending) < self.settings.write_batch_max and not self._closed:
                    self._lock.wait(min(interval, 0.02))
                batch = self._pending[: self.settings.write_batch_max]
                del self._pending[: len(batch)]
            self._send_batch(batch)
            with self._lock:
                self._applied += len(batch)
                self._lock.notify_all()

    def _send_batch(self, batch: list[str]) -> None:
        text = " ;\n".join(batch)
        delay = 0.1
        for attempt in range(1, _RETRIES + 1):
            try:
                self._update_text(text, self._write_session)
                self.batches += 1
                return
            except KnowledgeBaseError as exc:
                if _is_client_error(exc) and len(batch) > 1:
                    # one bad update must not sink the others: apply them one by one
                    for text in batch:
                        self._send_batch([text])
                    return
                if attempt == _RETRIES or _is_client_error(exc):
                    self.failures += 1
                    log.error("dropping a batch of %d update(s) after %d attempt(s): %s",
                              len(batch), attempt, exc)
                    with self._lock:
                        self._error = exc
                    return
                log.warning("batch write failed (attempt %d): %s; retrying", attempt, exc)
                time.sleep(delay)
                delay *= 4


def _is_client_error(exc: KnowledgeBaseError) -> bool:
    """4xx answers (bad update) will not succeed on retry."""
    text = str(exc)
    return any(f"HTTP {code}" in text for code in range(400, 500))


def _count_triples(body: bytes) -> int:
    import pyoxigraph as ox

    try:
        return sum(1 for _ in ox.parse(body, format=ox.RdfFormat.TURTLE))
    except SyntaxError as exc:
        raise KnowledgeBaseError(f"bad Turtle: {exc}") from exc
