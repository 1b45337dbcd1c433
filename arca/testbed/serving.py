"""Serve Flask apps with werkzeug's threaded server in background threads (loopback by default)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

logging.getLogger("werkzeug").setLevel(logging.WARNING)


@dataclass
class ServedApp:
    name: str
    server: BaseWSGIServer
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
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def bind(name: str, app: Flask, host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """Bind (port 0 = any free port) without serving yet, so URLs are known before the first request."""
    return make_server(host, port, app, threaded=True)


def serve(name: str, server: BaseWSGIServer) -> ServedApp:
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"testbed-{name}", daemon=True
    )
    thread.start()
    return ServedApp(name, server, thread)
