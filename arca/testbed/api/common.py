"""State shared by the emulated APIs: tokens, injected faults, the service URLs of the catalog."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from arca.testbed.model import TestbedModel

REGION = "RegionOne"
PROJECT_ID = "0c4e939acacf4376bdcd1129f1a054ad"
PROJECT_NAME = "emergency"
USER_ID = "a7d0d8bc4ea64e6cbd5c9d8d6b1ef5b1"
READER_ID = "b8e1e9cd5fb75f7dce6d0e9e7c2fa6c2"
ALT_USER_ID = "c9f2fade6ac86a8edf7e1fafd83ab7d3"
ALT_PROJECT_ID = "1d5fa4abdbdb5487cede2230e2b165be"
"""Another project (``<project_name>-alt``, one member ``arca-alt``): it owns nothing and sees none of
the servants (Tempest's "alt" credentials: another tenant's server is a 404)."""
"""The project's second user: role ``reader`` only (Tempest's pre-provisioned ``project_reader``)."""
DOMAIN_ID = "default"
DOMAIN_NAME = "Default"


@dataclass
class Faults:
    """Injected failures: the next N requests to a service get an HTTP error status."""

    pending: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, service: str, count: int, status: int = 503) -> None:
        with self.lock:
            self.pending.setdefault(service, []).extend([status] * count)

    def take(self, service: str) -> int | None:
        with self.lock:
            queue = self.pending.get(service)
            if queue:
                return queue.pop(0)
            return None

    def clear(self) -> None:
        with self.lock:
            self.pending.clear()


@dataclass
class Credentials:
    username: str = "arca"
    password: str = "arca-secret"
    project_name: str = PROJECT_NAME
    user_domain_name: str = DOMAIN_NAME
    project_domain_name: str = DOMAIN_NAME
    reader_username: str = "arca-reader"
    """A second user of the same project with the ``reader`` role only (same password)."""
    alt_username: str = "arca-alt"
    """The member of another project, ``<project_name>-alt`` (same password)."""


@dataclass
class Cloud:
    """Everything the emulated APIs share: the model, tokens, faults and each service's URL."""

    model: TestbedModel
    credentials: Credentials = field(default_factory=Credentials)
    faults: Faults = field(default_factory=Faults)
    tokens: set[str] = field(default_factory=set)
    alt_tokens: set[str] = field(default_factory=set)
    """Tokens scoped to the other project (``ALT_PROJECT_ID``)."""
    urls: dict[str, str] = field(default_factory=dict)
    """Service type -> public endpoint URL (filled when the servers are bound)."""
    requests_served: dict[str, int] = field(default_factory=dict)
    compute_max_microversion: str = "2.96"
    """The highest compute microversion the emulated Nova serves (2.1 .. 2.96; 2.96 = Nova 2024.1)."""
    recorder: Callable[[str, Any, Response], None] | None = None
    """Optional: called with (service, request, response) after every answer (schema tests record traffic)."""
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Images made while the testbed runs (Glance ``POST /v2/images``, shelve snapshots), by id; the
    fixed ones (``nova.IMAGES``) are not here."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_token(self, *, alt: bool = False) -> str:
        token = "gAAAAA" + uuid.uuid4().hex + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
            if alt:
                self.alt_tokens.add(token)
        return token

    def alt(self, token: str | None) -> bool:
        """The token is scoped to the other project (which sees none of the servants)."""
        with self.lock:
            return token in self.alt_tokens

    def valid(self, token: str | None) -> bool:
        with self.lock:
            return token is not None and token in self.tokens

    def count(self, service: str) -> None:
        with self.lock:
            self.requests_served[service] = self.requests_served.get(service, 0) + 1


def error(status: int, message: str, kind: str = "") -> tuple[Response, int]:
    """An OpenStack-style error body, e.g. ``{"itemNotFound": {"code": 404, "message": ...}}``."""
    name = kind or {
        400: "badRequest",
        401: "unauthorized",
        403: "forbidden",
        404: "itemNotFound",
        405: "badMethod",
        409: "conflictingRequest",
        413: "overLimit",
        415: "badMediaType",
        429: "overLimit",
        501: "notImplemented",
        503: "serviceUnavailable",
    }.get(status, "computeFault")
    return jsonify({name: {"code": status, "message": message}}), status


def guard(
    app: Flask,
    cloud: Cloud,
    service: str,
    *,
    auth: bool = True,
    open_paths: tuple[str, ...] = ("/",),
    on_error: Callable[[int, str], Any] | None = None,
    request_id_headers: tuple[str, ...] = ("x-openstack-request-id",),
) -> None:
    """Install fault injection and token checking on ``app`` (version documents need no token), and
    the headers every answer of an OpenStack service carries (:func:`openstack_headers`)."""
    def check() -> Any:
        cloud.count(service)
        status = cloud.faults.take(service)
        if status is not None:
            if on_error:
                return on_error(status, "injected fault")
            return error(status, "Service temporarily unavailable (injected by the testbed)")
        if not auth or request.path in open_paths or request.path.rstrip("/") in open_paths:
            return None
        if not cloud.valid(request.headers.get("X-Auth-Token")):
            if on_error:
                return on_error(401, "authentication required")
            return error(401, "The request you have made requires authentication.")
        return None

    openstack_headers(app, request_id_headers)  # first: a 401 or an injected fault has its id too
    app.before_request(check)


def openstack_headers(app: Flask, request_id_headers: tuple[str, ...]) -> None:
    """Every answer (errors, 401s and version documents included) gets a fresh ``req-<uuid>`` in each
    of ``request_id_headers`` -- oslo.middleware's ``RequestId`` sends ``x-openstack-request-id`` on
    Keystone, Glance, Neutron, Octavia and Gnocchi; Nova's ``ComputeReqIdMiddleware`` sends the same id
    as ``x-compute-request-id`` too. An empty 201/202/204 answer carries no ``text/html`` content
    type: 204 none at all, 201/202 ``application/json`` (as webob answers for the services)."""

    @app.before_request
    def new_request_id() -> None:
        g.request_id = "req-" + str(uuid.uuid4())

    @app.after_request
    def headers(resp: Response) -> Response:
        rid = getattr(g, "request_id", None) or "req-" + str(uuid.uuid4())
        for name in request_id_headers:
            resp.headers[name] = rid
        if resp.status_code in (201, 202, 204) and resp.mimetype == "text/html" and not resp.get_data():
            if resp.status_code == 204:
                del resp.headers["Content-Type"]
            else:
                resp.headers["Content-Type"] = "application/json"
        return resp


HTTP_MESSAGES = {404: "The resource could not be found.", 405: "The method is not allowed for this resource."}


def json_errors(app: Flask, fmt: Callable[[int, str], Any], service: str, cloud: Cloud | None = None) -> None:
    """Every error of ``app`` in the service's own JSON format: unknown routes (404), wrong methods
    (405), malformed bodies (400) and unexpected failures (500) never answer Flask's HTML pages."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        resp = fmt(code, HTTP_MESSAGES.get(code, exc.description or exc.name))
        if code == 405 and isinstance(resp, tuple):
            out = app.make_response(resp)
            allowed = exc.get_headers()
            for k, val in allowed:
                if k.lower() == "allow":
                    out.headers["Allow"] = val
            return out
        return resp

    @app.errorhandler(Exception)
    def failure(exc: Exception) -> Any:
        app.logger.exception("%s: unexpected failure", service)
        return fmt(500, f"Unexpected error in the emulated {service} service: {type(exc).__name__}")

    if cloud is not None:

        @app.after_request
        def record(resp: Response) -> Response:
            if cloud.recorder is not None:
                cloud.recorder(service, request, resp)
            return resp
