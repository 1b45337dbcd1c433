"""SPARQL 1.1 Protocol client: query and update through SPARQLWrapper, the Graph Store HTTP Protocol
on ``requests``, with batched background writes.

Works unchanged on Fuseki (``/<ds>/query|update|data``) and Oxigraph (``/query|update|store``):
only the three URLs differ, and both speak the standard protocol. Queries are form-encoded
``query=`` POSTs with content negotiation only (``setOnlyConneg``: no ``format=``/``output=``
parameters a strict server could refuse); updates are POSTed as the request body
(``application/sparql-update``, SPARQL 1.1 Protocol 2.2.2: no URL-encoding of a batch that can be
megabytes long). Basic auth (``kb.username`` with ``kb.password`` or ``kb.password_file``) is sent
pre-emptively by both.

SPARQLWrapper (the design card's SPARQL client) is used through its documented attributes: the
operation kind is set (``queryType``), never guessed from the text -- its guess is a regular
expression over the whole text that costs ~80 ms on a 150 kB batch and reads
``WITH <urn:task> DELETE ...`` as an ASK. One ``SPARQLWrapper`` per request: the object is
stateful, and the loop and the writer thread use the client concurrently. SPARQLWrapper opens one
connection per request (urllib); measured against a keep-alive ``requests.Session`` on a local
Oxigraph server: ``scripts/bench_sparql.py``, numbers in ``docs/architecture.md``. SPARQLWrapper has
no Graph Store Protocol, so ``load_turtle``/``replace_graph`` stay on one keep-alive ``requests``
session. Errors name the endpoint, the HTTP status and the server's answer. Values never reach the
query text unescaped: templates are rendered by ``arca.kb.terms.render``.

Writes: ``submit`` only appends to a buffer; a writer thread joins pending updates with `` ;\\n``
into one request per batch (at most ``write_batch_max`` updates, sent at least every
``write_flush_interval_s``), so a TDB2 commit (~45 ms) is paid once per batch and never by the caller.
A failed batch is retried with backoff (``arca.backoff``), logged and counted; the failure is re-raised
by the next ``flush``. Every error carries the store's HTTP status (``KnowledgeBaseError.status``).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import threading
import time
import urllib.error
from typing import Any

import requests
from SPARQLWrapper import BASIC, JSON, POST, POSTDIRECTLY, SELECT, URLENCODED, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    SPARQLWrapperException,
    Unauthorized,
    URITooLong,
)

from arca.backoff import Backoff
from arca.config import KbSettings
from arca.kb.base import KnowledgeBase, KnowledgeBaseError, Row, with_prefixes
from arca.kb.terms import IRI, from_sparql_json, render, render_term

log = logging.getLogger(__name__)

USER_AGENT = "arca (SPARQLWrapper)"
UPDATE_KIND = "INSERT"
"""``queryType`` of every update: any update form makes SPARQLWrapper POST to the update endpoint."""
_RETRIES = 3
_STATUS = {QueryBadFormed: 400, Unauthorized: 401, EndPointNotFound: 404, URITooLong: 414,
           EndPointInternalError: 500}
"""HTTP status of each SPARQLWrapper error (when the urllib error it wraps is not at hand)."""


class SparqlKnowledgeBase(KnowledgeBase):
    """A remote SPARQL 1.1 store (see the module docstring)."""

    def __init__(self, settings: KbSettings) -> None:
        self.settings = settings
        self._credentials: tuple[str, str] | None = None  # basic auth, read once (password_file too)
        if settings.username is not None:
            self._credentials = (settings.username, settings.secret() or "")
        self.session = self._new_session()  # Graph Store Protocol (SPARQLWrapper has none)
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
        if self._credentials is not None:
            session.auth = self._credentials
        return session

    # ------------------------------------------------------------------ query and update (SPARQLWrapper)

    def _wrapper(self, text: str, kind: str, timeout: float | None = None) -> SPARQLWrapper:
        """A one-request SPARQLWrapper for ``text`` of query form ``kind`` (set, not guessed)."""
        s = self.settings
        sw = SPARQLWrapper(s.query_url, updateEndpoint=s.update_url, agent=USER_AGENT)
        sw.setMethod(POST)
        sw.setOnlyConneg(True)
        sw.setTimeout(max(1, math.ceil(timeout or s.timeout_s)))  # whole seconds (SPARQLWrapper's type)
        if self._credentials is not None:
            sw.setHTTPAuth(BASIC)
            sw.setCredentials(*self._credentials)
        sw.queryString, sw.queryType = with_prefixes(text), kind
        return sw

    def _send(self, sw: SPARQLWrapper, url: str) -> bytes:
        """Run the request; the answer's body, or ``KnowledgeBaseError`` naming ``url`` and the cause."""
        try:
            result = sw.query()
            try:
                body: bytes = result.response.read()
            finally:
                result.response.close()
            return body
        except SPARQLWrapperException as exc:
            text = " ".join(str(exc).split())[:500]  # one line: class, meaning, the server's answer
            raise KnowledgeBaseError(f"{url}: HTTP {_status(exc)}: {text}", _status(exc)) from exc
        except urllib.error.HTTPError as exc:  # statuses SPARQLWrapper has no class for (503, 403, ...)
            raise KnowledgeBaseError(f"{url}: HTTP {exc.code}: {_read(exc)[:500].strip()}", exc.code) from exc
        except urllib.error.URLError as exc:
            raise KnowledgeBaseError(f"{url}: {type(exc.reason).__name__}: {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets mid-answer
            raise KnowledgeBaseError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def _select(self, text: str, kind: str) -> dict[str, Any]:
        sw = self._wrapper(text, kind)
        sw.setReturnFormat(JSON)
        sw.setRequestMethod(URLENCODED)
        body = self._send(sw, self.settings.query_url)
        try:
            doc: dict[str, Any] = json.loads(body)
        except ValueError as exc:
            raise KnowledgeBaseError(
                f"{self.settings.query_url}: not SPARQL JSON results: {body[:200]!r}"
            ) from exc
        if not isinstance(doc, dict):
            raise KnowledgeBaseError(f"{self.settings.query_url}: not SPARQL JSON results: {body[:200]!r}")
        return doc

    def query(self, template: str, **bindings: Any) -> list[Row]:
        doc = self._select(render(template, bindings), SELECT)
        if "results" not in doc:
            raise KnowledgeBaseError(f"{self.settings.query_url}: query() takes SELECT queries")
        names = doc.get("head", {}).get("vars", [])
        return [
            {n: (from_sparql_json(b[n]) if n in b else None) for n in names}
            for b in doc["results"]["bindings"]
        ]

    def ask(self, template: str, **bindings: Any) -> bool:
        doc = self._select(render(template, bindings), "ASK")
        if "boolean" not in doc:
            raise KnowledgeBaseError(f"{self.settings.query_url}: ask() takes ASK queries")
        return bool(doc["boolean"])

    def update(self, template: str, **bindings: Any) -> None:
        self.send_update(render(template, bindings))

    def send_update(self, text: str, timeout: float | None = None) -> None:
        """One SPARQL Update request of already rendered text (the body as is); safe from any thread.
        The durable writer sends its joined batches through this. ``timeout``: the request's (default
        ``kb.timeout_s``; batches of buffered writes use ``kb.write_timeout_s``)."""
        sw = self._wrapper(text, UPDATE_KIND, timeout)
        sw.setRequestMethod(POSTDIRECTLY)
        self._send(sw, self.settings.update_url)

    # ------------------------------------------------------------------ Graph Store Protocol (requests)

    def _post(self, url: str, *, data: Any, headers: dict[str, str] | None = None,
              params: dict[str, str] | None = None, method: str = "POST") -> requests.Response:
        try:
            r = self.session.request(method, url, data=data, headers=headers, params=params,
                                     timeout=self.settings.timeout_s)
        except requests.RequestException as exc:
            raise KnowledgeBaseError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
        if r.status_code >= 400:
            excerpt = r.text[:500].strip()
            raise KnowledgeBaseError(f"{url}: HTTP {r.status_code}: {excerpt}", r.status_code)
        return r

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

    def compact_storage(self, wait_s: float = 0.0) -> str | None:
        """POST ``kb.compaction.url`` (Fuseki's ``/$/compact/<ds>``: it starts a task and answers with
        its id at once; the compaction runs in the server, writers wait only for its final switch):
        "task N started", or with ``wait_s`` "task N finished in S s" once the server's
        ``/$/tasks/N`` says so. None when no url is set."""
        url = self.settings.compaction.url
        if not url:
            return None
        start = time.monotonic()
        r = self._post(url, data=b"")
        try:
            task = r.json().get("taskId")
        except (ValueError, AttributeError):
            task = None
        if task is None:
            return f"HTTP {r.status_code}"
        if wait_s <= 0 or "/$/" not in url:
            return f"task {task} started"
        status = url.split("/$/", 1)[0] + f"/$/tasks/{task}"
        while True:
            info = self._post(status, data=None, method="GET").json()
            if isinstance(info, dict) and info.get("finished"):
                if not info.get("success", False):
                    raise KnowledgeBaseError(f"{url}: compaction task {task} failed: {info}")
                return f"task {task} finished in {time.monotonic() - start:.1f} s"
            if time.monotonic() - start > wait_s:
                raise KnowledgeBaseError(f"{url}: compaction task {task} not finished after {wait_s:.0f} s")
            time.sleep(0.2)

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
        backoff = Backoff(0.1, 1.6, factor=4.0)
        for attempt in range(1, _RETRIES + 1):
            try:
                self.send_update(text, self.settings.write_timeout_s)
                self.batches += 1
                return
            except KnowledgeBaseError as exc:
                if exc.client_error and len(batch) > 1:
                    # one bad update must not sink the others: apply them one by one
                    for text in batch:
                        self._send_batch([text])
                    return
                if attempt == _RETRIES or exc.client_error:
                    self.failures += 1
                    log.error("dropping a batch of %d update(s) after %d attempt(s): %s",
                              len(batch), attempt, exc)
                    with self._lock:
                        self._error = exc
                    return
                log.warning("batch write failed (attempt %d): %s; retrying", attempt, exc)
                time.sleep(backoff.next())


def _status(exc: SPARQLWrapperException) -> int:
    """The HTTP status behind a SPARQLWrapper error (it raises them from the urllib error)."""
    cause = exc.__context__
    if isinstance(cause, urllib.error.HTTPError):
        return int(cause.code)
    return _STATUS.get(type(exc), 500)


def _read(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def _count_triples(body: bytes) -> int:
    import pyoxigraph as ox

    try:
        return sum(1 for _ in ox.parse(body, format=ox.RdfFormat.TURTLE))
    except SyntaxError as exc:
        raise KnowledgeBaseError(f"bad Turtle: {exc}") from exc
