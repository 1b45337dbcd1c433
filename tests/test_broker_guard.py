"""tests/brokerguard.py on a RabbitMQ node of its own (own name and ports): a node frozen with SIGSTOP
still accepts TCP, is found not answering AMQP, diagnosed as stopped, restarted, and reported."""

from __future__ import annotations

import os
import signal
import time

import pika
import pytest

from tests.brokerguard import BrokerGuard, amqp_answers
from tests.clusterkit import RabbitNode

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]


def test_a_frozen_node_is_diagnosed_restarted_and_reported() -> None:
    node = RabbitNode(prefix="arcaguard")
    node.start()
    pidfile = node.base / "node.pid"
    restarted: list[str] = []

    def restart(vhost: str) -> str:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        assert node.popen is not None
        node.popen.wait(60)
        node.start()
        restarted.append(vhost)
        return "node killed and started again"

    guard = BrokerGuard("127.0.0.1", port=node.port, interval=3600, pidfile=pidfile, logs=node.base / "log",
                        restart=restart)
    try:
        assert guard.check("/") is None and guard.restarts == [] and restarted == []
        frozen = int(pidfile.read_text())
        os.kill(frozen, signal.SIGSTOP)
        assert guard.check("/") is None, "probed again within the interval"
        guard.interval = 0
        started = time.monotonic()
        report = guard.check("/")
        assert report is not None and guard.restarts == [report] and restarted == ["/"]
        assert "did not answer AMQP within 10 s" in report
        assert f"node pid {frozen}: state T (stopped)" in report
        assert "node killed and started again" in report and "last lines of" in report
        assert time.monotonic() - started >= 9.5  # the probe waited its 10 s for the frame
        pika.BlockingConnection(pika.URLParameters(node.url)).close()
        assert int(pidfile.read_text()) != frozen
        assert guard.check("/") is None and len(guard.restarts) == 1
    finally:
        node.stop()


def test_a_broker_not_on_this_host_is_reported_never_restarted() -> None:
    restarted: list[str] = []
    guard = BrokerGuard("127.0.0.2", port=1, restart=lambda vhost: restarted.append(vhost) or "")
    assert not guard.local and not amqp_answers("127.0.0.2", 1)
    with pytest.raises(RuntimeError, match=r"(?s)127\.0\.0\.2:1 did not answer AMQP.*not a local node"):
        guard.check("v")
    assert restarted == [] and guard.restarts == []
