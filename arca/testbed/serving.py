"""Serve the testbed's Flask apps with waitress in background threads (loopback by default).

waitress answers HTTP/1.1 with keep-alive, so a client's session (openstacksdk's keystoneauth
session, a ``requests.Session``) sends every request of a run over one connection; werkzeug's
development server, used before, closes every connection after one answer (``Connection: close``)
and starts a thread per connection. Measured on this 2-core machine through openstacksdk
(``GET /v2.1/servers/detail``, 500 requests, client and server in one process): 2.28 ms CPU per
request with werkzeug, 1.39-1.51 ms with waitress (docs/scale.md, "`arca demo` speed").

Each app has its own waitress server: one event-loop thread that reads and buffers whole requests
and ``threads`` worker threads that run the app.
"""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask
from waitress.server import create_server

from arca.serving import stop_waitress

logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" under bursts: noise

WORKER_THREADS = 4
"""Request workers per API (the model serialises its own changes; a few let a slow call not block)."""


class BoundServer:
    """One app's waitress server, bound but not serving yet (its port is known)."""

    def __init__(self, name: str, app: Flask, host: str, port: int, threads: int) -> None:
        self.name = name
        self.server: Any = create_server(
            app, host=host, port=port, threads=threads, ident=f"arca-testbed-{name}",
            expose_tracebacks=False, clear_untrusted_proxy_headers=True,
        )
        self.socket: socket.socket = self.server.socket

    def run(self) -> None:
        self.server.run()

    def close(self, thread: threading.Thread | None) -> None:
        """Close the listening socket and every connection in the loop's own thread, then the workers."""
        stop_waitress(self.server, thread, timeout=5)


@dataclass
class ServedApp:
    name: str
    server: BoundServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.socket.getsockname()[1])

    @property
    def host(self) -> str:
        return str(self.server.socket.getsockname()[0])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.close(self.thread)


def bind(name: str, app: Flask, host: str = "127.0.0.1", port: int = 0,
         threads: int = WORKER_THREADS) -> BoundServer:
    """Bind (port 0 = any free port) without serving yet, so URLs are known before the first request."""
    return BoundServer(name, app, host, port, threads)


def serve(name: str, server: BoundServer) -> ServedApp:
    thread = threading.Thread(target=server.run, name=f"testbed-{name}", daemon=True)
    thread.start()
    return ServedApp(name, server, thread)
