"""Shared fixtures: the real RabbitMQ broker (throw-away vhost), a real Oxigraph SPARQL server, and
the testbed's emulated OpenStack with an unmodified openstacksdk connection.

A missing service is a test failure, never a skip: ``make test`` starts RabbitMQ beforehand, and
the Oxigraph server is started here from the ``oxigraph`` package's binary.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
import requests

BROKER_HOST = os.environ.get("ARCA_TEST_BROKER_HOST", "127.0.0.1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def rabbit_vhost() -> Iterator[str]:
    """A throw-away vhost on the real broker for this test session (guest has full rights)."""
    vhost = f"arca-test-{uuid.uuid4().hex[:8]}"
    try:
        _rabbitmqctl("add_vhost", vhost)
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"RabbitMQ is required (run `make test`, which starts it): {exc}")
    yield vhost
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def rabbit_url(rabbit_vhost: str) -> str:
    """AMQP URL of the real broker, on the session's throw-away vhost; fails if unreachable."""
    url = f"amqp://guest:guest@{BROKER_HOST}:5672/{urllib.parse.quote(rabbit_vhost, safe='')}"
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except Exception as exc:  # pragma: no cover - environment failure
        pytest.fail(f"RabbitMQ not reachable at {url}: {exc}")
    return url


@pytest.fixture
def unique() -> str:
    """A short unique token for exchange/queue names of one test."""
    return uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class SparqlEndpoints:
    base: str

    @property
    def query_url(self) -> str:
        return self.base + "/query"

    @property
    def update_url(self) -> str:
        return self.base + "/update"

    @property
    def store_url(self) -> str:
        return self.base + "/store"


def _oxigraph_binary() -> str:
    candidate = Path(sys.executable).parent / "oxigraph"
    found = str(candidate) if candidate.exists() else shutil.which("oxigraph")
    if not found:
        pytest.fail("the oxigraph server binary is missing: pip install oxigraph")
    return found


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparqlEndpoints]:
    """A real Oxigraph SPARQL 1.1 server on a free loopback port, for the whole session."""
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph")
    proc = subprocess.Popen(
        [_oxigraph_binary(), "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(base + "/query", params={"query": "ASK {}"}, timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"oxigraph server did not start: {err}")
            time.sleep(0.1)
    yield SparqlEndpoints(base)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def oxigraph(oxigraph_server: SparqlEndpoints) -> SparqlEndpoints:
    """The session's Oxigraph server, emptied before the test."""
    r = requests.post(oxigraph_server.update_url, data={"update": "DROP ALL"}, timeout=10)
    r.raise_for_status()
    return oxigraph_server


QUIET_TIMELINE = {"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}


@pytest.fixture
def testbed() -> Iterator[Any]:
    """A quiet hour-long timeline served on free loopback ports; time moves only when a test moves it."""
    from testbed.model import ModelParams
    from testbed.platform import Testbed
    from testbed.timeline import parse_timeline

    tb = Testbed(parse_timeline(QUIET_TIMELINE), ModelParams()).start()
    try:
        yield tb
    finally:
        tb.stop()


@pytest.fixture
def conn(testbed: Any) -> Iterator[Any]:
    """Unmodified openstacksdk, connected through the emulated Keystone."""
    c = testbed.connect()
    yield c
    c.close()
