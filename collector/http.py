"""HTTP ingest: a Flask app served by werkzeug's threaded server from a daemon thread.

Routes (answers: 202 + JSON outcome once the bus confirmed the messages, 503 if it did not;
RFC 7807 ``application/problem+json`` with the failing ``path`` otherwise; 401/403 for tokens,
413 over the size limit, 415 for a wrong type):

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
from collector.ingest import Ingestor, Outcome

log = logging.getLogger(__name__)

EVENT_PATH = "/restconf/notifications/ietf-nmrg-nict-resource-anticipation:event"
JSON_TYPES = {"application/yang-data+json", "application/json"}
XML_TYPES = {"application/cap+xml", "application/xml", "text/xml"}
PROBLEM = "application/problem+json"


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


def create_app(
    ingestor: Ingestor, now: Callable[[], datetime], confirm: Callable[[], None] | None = None
) -> Flask:
    """The Flask app of the collector's HTTP inputs; ``confirm`` waits for the bus before a 202."""
    app = Flask("arca-collector")
    max_bytes = ingestor.settings.http_max_body_bytes
    app.config["MAX_CONTENT_LENGTH"] = max(max_bytes, ingestor.settings.cap_max_bytes)

    def guarded(channel: str, fn: Callable[[], Outcome]) -> Response:
        try:
            outcome = fn()
            if outcome.messages and confirm is not None:
                try:
                    confirm()
                except Exception as exc:  # the bus did not confirm: the sender should retry
                    log.error("bus did not confirm %s input: %r", channel, exc)
                    raise IngestError("bus_unavailable", "", f"not confirmed by the bus: {exc}",
                                      status=503) from None
            return accepted(outcome)
        except IngestError as exc:
            if exc.status in (401, 403, 413, 415, 503):  # not yet counted by the ingestor
                ingestor.reject(channel, exc)
            return problem(exc)

    @app.post(EVENT_PATH)
    def event() -> Response:
        def run() -> Outcome:
            _content_type(JSON_TYPES)
            data = _body(max_bytes)
            if ingestor.settings.http_tokens and not _bearer():
                raise IngestError("unauthenticated", "Authorization", "a bearer token is required",
                                  status=401)
            try:
                doc = load_json(data)
            except IngestError as exc:
                raise ingestor.reject("event", exc) from None
            ingestor.check_token(doc, _bearer())
            return ingestor.detector_event(doc)

        return guarded("event", run)

    @app.post("/cap")
    def cap_alert() -> Response:
        def run() -> Outcome:
            _content_type(XML_TYPES)
            return ingestor.cap_alert(_body(ingestor.settings.cap_max_bytes))

        return guarded("cap", run)

    @app.post("/osm/alarm")
    def osm_alarm() -> Response:
        def run() -> Outcome:
            return ingestor.osm_alarm(_body(max_bytes), now())

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
