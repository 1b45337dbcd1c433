"""HTTP ingest: a Flask app served by waitress, embedded in the collector's process.

Server: waitress (Pylons; pure Python, no dependencies), embedded: its event loop runs in one
daemon thread of the collector and hands complete requests to a fixed pool of ``http_threads``
worker threads. It reads and buffers whole requests and responses in the loop thread, so a slow
or stalled client never holds a worker, keeps connections alive (HTTP/1.1), and stops cleanly from
another thread. Why not the others: werkzeug's server is a development server (a thread per
request, no bound; 1/3 of waitress's throughput for a bare JSON handler on this machine), cheroot
needs two extra dependencies and had a 1.2 s p99 at 64 connections where waitress had 0.2 s, and
gunicorn forks workers, which cannot be embedded in a service that owns a bus connection.

Every route that can make ARCA act needs the sender's per-source token (``Authorization: Bearer``,
``arca.collector.auth``): 401 without a valid one, 403 when the token's source may not send that input.
Answers: 202 + JSON outcome once the bus confirmed the messages, 503 if it did not; an error
otherwise (400 for bad input, 413 over the size limit, 415 for a wrong type), never a traceback.
Errors of the RESTCONF event route (every ``/restconf/`` path) are RFC 8040 section 7.1 errors in
``application/yang-data+json``: ``{"ietf-restconf:errors": {"error": [{"error-type", "error-tag",
"error-app-tag" (the refusal's reason), "error-path", "error-message"}]}}``; those of the other routes
are RFC 7807 ``application/problem+json`` with the failing ``path``.

Routes:

- ``POST /restconf/notifications/ietf-nmrg-nict-resource-anticipation:event`` — detector events
  (RESTCONF JSON notification, ``application/yang-data+json`` or ``application/json``). RFC 8040
  only streams notifications from a server; a detector pushing one to ARCA mirrors RESTCONF's
  ``/restconf/operations/<module>:<rpc>`` form, named after the notification it carries.
- ``POST /cap`` — CAP 1.2 alerts (``application/cap+xml``, ``application/xml``, ``text/xml``).
- ``POST /osm/alarm`` — OSM policy-module alarm webhooks.
- ``GET /healthz``.

The event route is the hot one (every detector event): its POSTs are answered by ``EventRoute``, a
WSGI layer in front of Flask that does what the Flask view did (the same checks in the same order,
the same answers and headers) without Flask's request context, routing and response objects
(measured in process: ~400 µs per event through Flask, ~210 µs through ``EventRoute``, bus aside;
docs/scale.md). Every other request, and every other method on the event path (405 naming the
allowed ones), goes to Flask.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import Flask, Response, request
from waitress.server import create_server
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_content_length, get_input_stream

from arca.collector.errors import RESTCONF_ERRORS_TYPE, IngestError, restconf_error
from arca.collector.events import load_json
from arca.collector.ingest import Ingestor, Outcome, Unconfirmed, source_of
from arca.serving import stop_waitress

log = logging.getLogger(__name__)

RESTCONF_ROOT = "/restconf/"
EVENT_PATH = "/restconf/notifications/ietf-nmrg-nict-resource-anticipation:event"
JSON_TYPES = {"application/yang-data+json", "application/json"}
XML_TYPES = {"application/cap+xml", "application/xml", "text/xml"}
PROBLEM = "application/problem+json"
SOURCE_PATH = "/ietf-restconf:notification/ietf-nmrg-nict-resource-anticipation:event/source"


def restconf_path() -> bool:
    """Whether the request is to a RESTCONF resource (answered with RFC 8040 errors)."""
    return request.path.startswith(RESTCONF_ROOT)


def problem(exc: IngestError) -> Response:
    """The error answer of a refusal: RFC 8040 errors on RESTCONF paths, RFC 7807 elsewhere."""
    if restconf_path():
        resp = Response(json.dumps(exc.restconf_errors()), status=exc.status, mimetype=RESTCONF_ERRORS_TYPE)
    else:
        body = exc.problem("Refused by the ARCA collector")
        body["instance"] = request.path
        resp = Response(json.dumps(body), status=exc.status, mimetype=PROBLEM)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="arca-collector"'
    if exc.retry_after_s is not None:
        resp.headers["Retry-After"] = str(exc.retry_after_s)
    return resp


def accepted(outcome: Outcome) -> Response:
    return Response(json.dumps(outcome.body()), status=202, mimetype="application/json")


def _bearer() -> str | None:
    auth = request.headers.get("Authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _content_type(allowed: set[str]) -> None:
    if request.mimetype not in allowed:
        raise IngestError(
            "media_type", "Content-Type",
            f"{request.mimetype or 'none'} is not one of {', '.join(sorted(allowed))}", status=415,
        )


def _body(max_bytes: int) -> bytes:
    length = request.content_length
    if length is not None and length > max_bytes:
        raise IngestError("too_large", "/", f"body of {length} bytes > {max_bytes}", status=413)
    data = request.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise IngestError("too_large", "/", f"body larger than {max_bytes} bytes", status=413)
    return data


@lru_cache(maxsize=64)
def _mimetype(content_type: str) -> str:
    """The media type of a ``Content-Type`` header, lower case (werkzeug's parsing, kept for the few
    distinct headers detectors send: the same few strings on every request)."""
    return parse_options_header(content_type)[0].lower()


class EventRoute:
    """WSGI: ``POST`` of the event route answered without Flask; everything else to ``app``.

    The checks of the former Flask view, in its order: media type (415), body size (413), the bearer
    token (401, before the body is parsed), JSON, the token's source (403), then the ingestor (202,
    or its refusal; 503 when the bus did not confirm). Answers are byte-for-byte what Flask sent:
    the same bodies, ``Content-Type``, ``Content-Length``, ``WWW-Authenticate``, ``Retry-After`` and
    ``X-Arca-Worker`` headers.
    """

    def __init__(self, app: Any, ingestor: Ingestor, worker: int | None = None) -> None:
        self.app = app
        self.ingestor = ingestor
        self.max_bytes = ingestor.settings.http_max_body_bytes
        self.max_content_length = max(self.max_bytes, ingestor.settings.cap_max_bytes)
        self.worker = None if worker is None else str(worker)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != EVENT_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        try:
            status, body, mimetype, extra = self.answer(environ)
        except Exception as exc:  # a bug, not bad input: logged, no traceback out (as Flask's handler)
            log.exception("collector HTTP: unexpected %s", type(exc).__name__)
            status, mimetype, extra = 500, RESTCONF_ERRORS_TYPE, []
            body = json.dumps(restconf_error(500, f"unexpected {type(exc).__name__} (logged)")).encode()
        headers = [("Content-Type", mimetype), ("Content-Length", str(len(body))), *extra]
        if self.worker is not None:
            headers.append(("X-Arca-Worker", self.worker))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}", headers)
        return [body]

    def answer(self, environ: dict[str, Any]) -> tuple[int, bytes, str, list[tuple[str, str]]]:
        """(status, body, media type, extra headers) of one event POST."""
        ingestor = self.ingestor
        try:
            mimetype = _mimetype(environ.get("CONTENT_TYPE", ""))
            if mimetype not in JSON_TYPES:
                raise IngestError("media_type", "Content-Type",
                                  f"{mimetype or 'none'} is not one of {', '.join(sorted(JSON_TYPES))}",
                                  status=415)
            length = get_content_length(environ)
            if length is not None and length > self.max_bytes:
                raise IngestError("too_large", "/", f"body of {length} bytes > {self.max_bytes}", status=413)
            stream = get_input_stream(environ, max_content_length=self.max_content_length)
            data = stream.read(self.max_bytes + 1)
            if len(data) > self.max_bytes:
                raise IngestError("too_large", "/", f"body larger than {self.max_bytes} bytes", status=413)
            auth = environ.get("HTTP_AUTHORIZATION", "")
            scheme, _, token = auth.partition(" ")
            bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
            principal = ingestor.auth.principal(bearer)  # 401 before the body is even parsed
            try:
                doc = load_json(data)
            except IngestError as exc:
                raise ingestor.reject("event", exc) from None
            ingestor.auth.authorise(principal, source_of(doc), SOURCE_PATH)
            outcome = ingestor.detector_event(doc, confirm=True, checked=True)
        except Unconfirmed as exc:  # the sender should retry; the event was not marked as seen
            err = IngestError("bus_unavailable", "", str(exc), status=503)
            ingestor.reject("event", err)
            return self.refusal(err)
        except RequestEntityTooLarge:  # as Flask's handler of it
            too_large = IngestError("too_large", "/", "request body too large", status=413)
            return self.refusal(ingestor.reject("http", too_large))
        except IngestError as exc:
            ingestor.reject("event", exc)  # counted once: no-op when the ingestor already did
            return self.refusal(exc)
        return 202, json.dumps(outcome.body()).encode(), "application/json", []

    @staticmethod
    def refusal(exc: IngestError) -> tuple[int, bytes, str, list[tuple[str, str]]]:
        """The RFC 8040 error answer of a refusal (as ``problem`` on a RESTCONF path)."""
        extra = []
        if exc.status == 401:
            extra.append(("WWW-Authenticate", 'Bearer realm="arca-collector"'))
        if exc.retry_after_s is not None:
            extra.append(("Retry-After", str(exc.retry_after_s)))
        return exc.status, json.dumps(exc.restconf_errors()).encode(), RESTCONF_ERRORS_TYPE, extra


def create_app(ingestor: Ingestor, now: Callable[[], datetime], *, worker: int | None = None) -> Flask:
    """The Flask app of the collector's HTTP inputs (the ingestor waits for the bus before a 202).

    ``worker``: this process's number among the HTTP worker processes sharing the port
    (``collector.http_workers`` > 1), sent back in an ``X-Arca-Worker`` header on every answer.
    """
    app = Flask("arca-collector")
    if worker is not None:
        worker_header = str(worker)

        @app.after_request
        def tag_worker(resp: Response) -> Response:
            resp.headers["X-Arca-Worker"] = worker_header
            return resp
    max_bytes = ingestor.settings.http_max_body_bytes
    app.config["MAX_CONTENT_LENGTH"] = max(max_bytes, ingestor.settings.cap_max_bytes)
    auth = ingestor.auth

    def guarded(channel: str, fn: Callable[[], Outcome]) -> Response:
        try:
            return accepted(fn())
        except Unconfirmed as exc:  # the sender should retry; the event was not marked as seen
            err = IngestError("bus_unavailable", "", str(exc), status=503)
            ingestor.reject(channel, err)
            return problem(err)
        except IngestError as exc:
            ingestor.reject(channel, exc)  # counted once: no-op when the ingestor already did
            return problem(exc)

    route = EventRoute(app.wsgi_app, ingestor, worker)

    @app.post(EVENT_PATH)
    def event() -> Response:  # reached only without the EventRoute layer (which answers POSTs itself)
        status, body, mimetype, extra = route.answer(request.environ)
        return Response(body, status=status, mimetype=mimetype, headers=extra)

    @app.post("/cap")
    def cap_alert() -> Response:
        def run() -> Outcome:
            _content_type(XML_TYPES)
            data = _body(ingestor.settings.cap_max_bytes)
            principal = auth.principal(_bearer())
            return ingestor.cap_alert(data, principal=principal, authenticate=True, confirm=True)

        return guarded("cap", run)

    @app.post("/osm/alarm")
    def osm_alarm() -> Response:
        def run() -> Outcome:
            data = _body(max_bytes)
            principal = auth.principal(_bearer())
            return ingestor.osm_alarm(data, now(), principal=principal, authenticate=True, confirm=True)

        return guarded("osm", run)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        exc = IngestError("too_large", "/", "request body too large", status=413)
        ingestor.reject("http", exc)
        return problem(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if restconf_path():  # e.g. 405 for a GET of the event resource, 404 for a wrong notification
            body: dict[str, object] = restconf_error(status, f"{exc.name}: {exc.description}")
            allow = {k: v for k, v in exc.get_headers() if k == "Allow"}  # a 405 says what is allowed
            return Response(json.dumps(body), status=status, mimetype=RESTCONF_ERRORS_TYPE, headers=allow)
        body = {"type": "about:blank", "title": exc.name, "status": exc.code, "detail": exc.description}
        return Response(json.dumps(body), status=status, mimetype=PROBLEM)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:  # a bug, not bad input: logged, no traceback out
        log.exception("collector HTTP: unexpected %s", type(exc).__name__)
        detail = f"unexpected {type(exc).__name__} (logged)"
        if restconf_path():
            body = restconf_error(500, detail)
            return Response(json.dumps(body), status=500, mimetype=RESTCONF_ERRORS_TYPE)
        problem_body = {"type": "about:blank", "title": "Internal error", "status": 500, "detail": detail}
        return Response(json.dumps(problem_body), status=500, mimetype=PROBLEM)

    app.wsgi_app = route  # type: ignore[method-assign]
    return app


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (``host``, ``port``) with ``SO_REUSEPORT``: every process that binds the
    same address this way shares the port, and the kernel spreads new connections over them (by a
    hash of the connection's addresses). Not listening yet (waitress calls ``listen``)."""
    if not hasattr(socket, "SO_REUSEPORT"):  # pragma: no cover - Linux and the BSDs have it
        raise OSError("SO_REUSEPORT is not available on this platform: collector.http_workers must be 1")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class HttpIngestServer:
    """waitress serving ``app``: its event loop in a daemon thread, ``threads`` request workers.

    ``reuse_port``: bind with ``SO_REUSEPORT`` (``reuse_port_socket``) so that the collector's HTTP
    worker processes serve one port together (``collector.http_workers``).
    """

    def __init__(self, app: Flask, host: str, port: int, *, threads: int = 8,
                 max_body_bytes: int = 1 << 20, reuse_port: bool = False) -> None:
        # waitress's own limit only stops absurd bodies before they are buffered; bodies over the
        # app's limit but under this one get the app's counted 413 (RFC 8040 / RFC 7807 error)
        where: dict[str, Any] = ({"sockets": [reuse_port_socket(host, port)]} if reuse_port
                                 else {"host": host, "port": port})
        self.server: Any = create_server(
            app, threads=threads, ident="arca-collector",
            max_request_body_size=max(4 * max_body_bytes, 1 << 20), expose_tracebacks=False,
            clear_untrusted_proxy_headers=True, **where,
        )
        # "Task queue depth is N" on every queued request under load: noise, not a fault
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self.port = int(self.server.effective_port)
        self.host = host
        self.threads = threads
        self._thread = threading.Thread(target=self.server.run, name="collector-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("collector HTTP ingest on %s (waitress, %d threads)", self.url, self.threads)

    def stop(self) -> None:
        """Close the listening socket and connections in the loop's own thread, then the workers."""
        stop_waitress(self.server, self._thread, timeout=10)
