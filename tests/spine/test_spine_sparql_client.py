"""The SPARQL client on the wire: SPARQLWrapper for query/update, requests for the Graph Store Protocol.

Fuseki in compose sits behind HTTP basic auth; here a small gate on loopback checks the
``Authorization`` header of every request (and can answer a chosen status) before passing it to a
real Oxigraph server, so each request shape is seen as a server sees it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests

from arca.app.settings import KbSettings
from arca.kb import IRI, KnowledgeBaseError
from arca.kb.sparql import SparqlKnowledgeBase

pytestmark = pytest.mark.oxigraph

USER, PASSWORD = "arca", "s3cret-from-a-file"


@dataclass
class Gate:
    """What the gate saw and what it should answer."""

    base: str
    seen: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(method, path, content type, query string) of each authorised request."""
    form_keys: list[set[str]] = field(default_factory=list)
    """Parameter names of each form-encoded body."""
    status: int | None = None
    """Answer this status instead of passing the request on."""


@pytest.fixture
def gate(oxigraph: Any) -> Iterator[Gate]:
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    upstream = oxigraph.base
    state = Gate("")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.headers.get("Authorization") != expected:
                self._answer(401, b"unauthorised", "text/plain", {"WWW-Authenticate": 'Basic realm="arca"'})
                return
            path, _, query = self.path.partition("?")
            ctype = self.headers.get("Content-Type", "")
            state.seen.append((self.command, path, ctype, query))
            if ctype.startswith("application/x-www-form-urlencoded"):
                state.form_keys.append(set(parse_qs(body.decode())))
            if state.status is not None:
                self._answer(state.status, b"gate says no", "text/plain")
                return
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() in ("content-type", "accept")}
            r = requests.request(self.command, upstream + self.path, data=body, headers=headers, timeout=10)
            self._answer(r.status_code, r.content, r.headers.get("Content-Type", "text/plain"))

        def _answer(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def client(gate: Gate, tmp_path: Path, password: str = PASSWORD) -> SparqlKnowledgeBase:
    secret = tmp_path / "fuseki_password"
    secret.write_text(password + "\n")  # a Docker secret, trailing newline and all
    return SparqlKnowledgeBase(KbSettings(
        kind="sparql", query_url=gate.base + "/query", update_url=gate.base + "/update",
        store_url=gate.base + "/store", username=USER, password_file=str(secret), timeout_s=5))


def test_every_request_kind_carries_basic_auth_from_the_password_file(gate: Gate, tmp_path: Path) -> None:
    kb = client(gate, tmp_path)
    try:
        kb.update("INSERT DATA { $s arca:label $v }", s=IRI("urn:a"), v="one")
        assert kb.query("SELECT ?v WHERE { $s arca:label ?v }", s=IRI("urn:a")) == [{"v": "one"}]
        assert kb.ask("ASK { $s arca:label $v }", s=IRI("urn:a"), v="one")
        assert kb.load_turtle("<urn:b> <urn:p> 1 .", "urn:g") == 1
        kb.submit("INSERT DATA { $s arca:label $v }", s=IRI("urn:c"), v="buffered")
        kb.flush(10)
        assert kb.ask("ASK { $s arca:label $v }", s=IRI("urn:c"), v="buffered")
    finally:
        kb.close()
    kinds = {(m, p, ctype.split(";")[0]) for m, p, ctype, _ in gate.seen}
    assert kinds == {("POST", "/update", "application/sparql-update"),
                     ("POST", "/query", "application/x-www-form-urlencoded"),
                     ("POST", "/store", "text/turtle")}
    # protocol-pure queries: content negotiation only, no format=/output= parameters anywhere
    assert all(q == "" for m, p, _, q in gate.seen if p == "/query")
    assert gate.form_keys and all(keys == {"query"} for keys in gate.form_keys), gate.form_keys


def test_a_wrong_password_is_an_error_naming_the_endpoint_and_401(gate: Gate, tmp_path: Path) -> None:
    kb = client(gate, tmp_path, password="wrong")
    try:
        with pytest.raises(KnowledgeBaseError, match=r"/query: HTTP 401"):
            kb.query("SELECT * WHERE { ?s ?p ?o }")
        with pytest.raises(KnowledgeBaseError, match=r"/update: HTTP 401"):
            kb.update("INSERT DATA { <urn:a> <urn:p> 1 }")
        with pytest.raises(KnowledgeBaseError, match=r"/store\?default: HTTP 401"):
            kb.load_turtle("<urn:b> <urn:p> 1 .")
    finally:
        kb.session.close()
    assert gate.seen == []


@pytest.mark.parametrize("status", [500, 503, 403, 404, 414], ids=["500", "503", "403", "404", "414"])
def test_server_statuses_are_reported_as_http_status(gate: Gate, tmp_path: Path, status: int) -> None:
    """The durable writer tells a bad update (4xx: dead-letter) from an outage (5xx: hold and retry)
    by the status the error carries, whichever exception SPARQLWrapper raised for it."""
    kb = client(gate, tmp_path)
    gate.status = status
    try:
        with pytest.raises(KnowledgeBaseError, match=rf"/update: HTTP {status}: .*gate says no") as info:
            kb.update("INSERT DATA { <urn:a> <urn:p> 1 }")
        assert info.value.status == status and info.value.client_error is (status < 500)
        with pytest.raises(KnowledgeBaseError, match=rf"/query: HTTP {status}"):
            kb.ask("ASK { ?s ?p ?o }")
    finally:
        kb.session.close()


def test_update_forms_are_never_guessed_from_the_text(gate: Gate, tmp_path: Path) -> None:
    """SPARQLWrapper's own guess reads ``WITH <urn:task> ...`` as an ASK query ('task'): the client
    says which operation it sends."""
    kb = client(gate, tmp_path)
    try:
        kb.update("INSERT DATA { GRAPH <urn:task> { <urn:a> <urn:p> 1 } }")
        kb.update("WITH <urn:task> DELETE { ?s <urn:p> ?o } INSERT { ?s <urn:p> 2 } WHERE { ?s <urn:p> ?o }")
        assert kb.query("SELECT ?o WHERE { GRAPH <urn:task> { <urn:a> <urn:p> ?o } }") == [{"o": 2}]
    finally:
        kb.close()
    assert [p for _, p, _, _ in gate.seen[:2]] == ["/update", "/update"]


def test_a_store_that_stops_answering_is_a_timeout_error(tmp_path: Path) -> None:
    """A server that accepts the connection and never answers: the error comes after timeout_s."""
    import socket
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    kb = SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=base + "/query", update_url=base + "/update",
                                        store_url=base + "/store", timeout_s=1))
    try:
        t0 = time.monotonic()
        with pytest.raises(KnowledgeBaseError, match=r"/query: .*(timed out|Timeout)"):
            kb.query("SELECT * WHERE { ?s ?p ?o }")
        assert 0.9 <= time.monotonic() - t0 < 5
    finally:
        kb.session.close()
        listener.close()
