"""HTTP ingest: a Flask app served by werkzeug's threaded server from a daemon thread.

Every route that can make ARCA act needs the sender's per-source token (``Authorization: Bearer``,
``collector.auth``): 401 without a valid one, 403 when the token's source may not send that input.
Answers: 202 + JSON outcome once the bus confirmed the messages, 503 if it did not; RFC 7807
``application/problem+json`` with the failing ``path`` otherwise (400 for bad input, 413 over the
size limit, 415 for a wrong type); never a traceback.

Routes:

- ``POST /restconf/notifications/ietf-nmrg-nict-resource-anticipation:event`` — detector events
  (RESTCONF JSON notification, ``application/yang-data+json`` or ``application/json``). RFC 8040
  only streams notifications from a server; a detector pushing one to ARCA mirrors RESTCONF's
  ``/restconf/operations/<module>:<rpc>`` form, named after the notification it carries.
- ``POST /cap`` — CAP 1.2 alerts (``application/cap+xml``, ``application/xml``, ``text/xml``).
- ``POST /osm/alarm`` — OSM policy-module alarm webhooks.
- ``GET /healthz``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.serving import BaseWSGIServer, make_server

from collector.errors import IngestError
from collector.events import load_json
from collector.ingest import Ingestor, Outcome, Unconfirmed, source_of

log = logging.getLogger(__name__)

EVENT_PATH = "/restconf/notifications/ietf-nmrg-nict-resource-anticipation:event"
JSON_TYPES = {"application/yang-data+json", "application/json"}
XML_TYPES = {"application/cap+xml", "application/xml", "text/xml"}
PROBLEM = "application/problem+json"
SOURCE_PATH = "/ietf-restconf:notification/ietf-nmrg-nict-resource-anticipation:event/source"


def problem(exc: IngestError) -> Response:
    body = exc.problem("Refused by the ARCA collector")
    body["instance"] = request.path
    resp = Response(json.dumps(body), status=exc.status, mimetype=PROBLEM)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = 'Bearer realm="arca-collector"'
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


def create_app(ingestor: Ingestor, now: Callable[[], datetime]) -> Flask:
    """The Flask app of the collector's HTTP inputs (the ingestor waits for the bus before a 202)."""
    app = Flask("arca-collector")
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

    @app.post(EVENT_PATH)
    def event() -> Response:
        def run() -> Outcome:
            _content_type(JSON_TYPES)
            data = _body(max_bytes)
            principal = auth.principal(_bearer())  # 401 before the body is even parsed
            try:
                doc = load_json(data)
            except IngestError as exc:
                raise ingestor.reject("event", exc) from None
            ingestor.auth.authorise(principal, source_of(doc), SOURCE_PATH)
            return ingestor.detector_event(doc, confirm=True)

        return guarded("event", run)

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
        body = {"type": "about:blank", "title": exc.name, "status": exc.code, "detail": exc.description}
        return Response(json.dumps(body), status=exc.code or 500, mimetype=PROBLEM)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:  # a bug, not bad input: logged, no traceback out
        log.exception("collector HTTP: unexpected %s", type(exc).__name__)
        body = {"type": "about:blank", "title": "Internal error", "status": 500,
                "detail": f"unexpected {type(exc).__name__} (logged)"}
        return Response(json.dumps(body), status=500, mimetype=PROBLEM)

    return app


class HttpIngestServer:
    """werkzeug's threaded WSGI server in a daemon thread."""

    def __init__(self, app: Flask, host: str, port: int) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.port = self.server.server_port
        self.host = host
        self._thread = threading.Thread(target=self.server.serve_forever, name="collector-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("collector HTTP ingest on %s", self.url)

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(10)
        self.server.server_close()
