"""Shared fixtures: the real RabbitMQ broker (throw-away vhost), the real SPARQL servers (Oxigraph and
Apache Jena Fuseki, tests/storekit.py), and the testbed's emulated OpenStack with an unmodified
openstacksdk connection.

A missing service is a test failure, never a skip: ``make test`` starts RabbitMQ and resolves Fuseki
beforehand (scripts/ensure-services.sh); the Oxigraph server is started from the ``oxigraph``
package's binary, Fuseki Main from the jars scripts/ensure-fuseki.sh resolved.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pika
import pytest

from tests.brokerguard import BrokerGuard
from tests.storekit import (  # noqa: F401  (free_port and SparqlEndpoints are imported from here)
    STORE_PARAMS,
    FusekiServer,
    OxigraphServer,
    SparqlEndpoints,
    StoreUnavailable,
    free_port,
)

BROKER_HOST = os.environ.get("ARCA_TEST_BROKER_HOST", "127.0.0.1")



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


BROKER_GUARD = BrokerGuard(BROKER_HOST)


@pytest.fixture(autouse=True)
def _broker_answers(request: pytest.FixtureRequest) -> None:
    """Before a test on the session's broker: the broker still answers AMQP, or it is started again
    and the restart reported (tests/brokerguard.py)."""
    if request.node.get_closest_marker("rabbitmq") is None:
        return
    vhost = request.getfixturevalue("rabbit_vhost")
    try:
        BROKER_GUARD.check(vhost)
    except RuntimeError as exc:
        pytest.fail(str(exc))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every restart of the broker during the run, with what the node looked like before it."""
    for report in BROKER_GUARD.restarts:
        terminalreporter.section("RabbitMQ restarted during the run", sep="-", yellow=True)
        terminalreporter.line(report)


@pytest.fixture
def unique() -> str:
    """A short unique token for exchange/queue names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparqlEndpoints]:
    """A real Oxigraph SPARQL 1.1 server on a free loopback port, for the whole session."""
    try:
        server = OxigraphServer(tmp_path_factory.mktemp("oxigraph")).start()
    except StoreUnavailable as exc:
        pytest.fail(str(exc))
    yield server.endpoints
    server.stop()


@pytest.fixture(scope="session")
def fuseki_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparqlEndpoints]:
    """A real Apache Jena Fuseki Main server with the shipped ops/fuseki/config.ttl (TDB2 on disk,
    basic auth from a password file), on a free loopback port, for the whole session."""
    try:
        server = FusekiServer(tmp_path_factory.mktemp("fuseki")).start()
    except StoreUnavailable as exc:
        pytest.fail(str(exc))
    yield server.endpoints
    server.stop()


@pytest.fixture
def oxigraph(oxigraph_server: SparqlEndpoints) -> SparqlEndpoints:
    """The session's Oxigraph server, emptied before the test."""
    oxigraph_server.clear()
    return oxigraph_server


@pytest.fixture
def fuseki(fuseki_server: SparqlEndpoints) -> SparqlEndpoints:
    """The session's Fuseki server, emptied before the test."""
    fuseki_server.clear()
    return fuseki_server


@pytest.fixture(params=STORE_PARAMS)
def sparql_store(request: pytest.FixtureRequest) -> SparqlEndpoints:
    """Each real SPARQL server in turn (Oxigraph, then Fuseki), emptied before the test."""
    endpoints: SparqlEndpoints = request.getfixturevalue(request.param)
    return endpoints


QUIET_TIMELINE = {"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}


@pytest.fixture
def testbed() -> Iterator[Any]:
    """A quiet hour-long timeline served on free loopback ports; time moves only when a test moves it."""
    from arca.testbed.model import ModelParams
    from arca.testbed.platform import Testbed
    from arca.testbed.timeline import parse_timeline

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
