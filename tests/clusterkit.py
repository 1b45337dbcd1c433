"""RabbitMQ nodes and a three-node cluster of a suite's own, as processes (the store servers are in
tests/storekit.py).

Shared by ``tests/resilience`` (one node, stopped and restarted under the live loop) and the cluster
tests (three nodes joined with ``rabbitmqctl join_cluster``, quorum queues replicated on all three).
Each node has its own name, AMQP and distribution ports and directories in a temporary directory,
so it can be stopped without touching the shared broker on 127.0.0.1:5672.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pika
import pytest

from tests.livekit import free_port


class RabbitNode:
    """A RabbitMQ node of the suite's own (own name, ports and directories)."""

    def __init__(self, prefix: str = "arcares") -> None:
        self.port = free_port()
        self.name = f"{prefix}{uuid.uuid4().hex[:6]}@localhost"
        # the server drops to the rabbitmq user when started as root: a world-writable directory
        self.base = Path(tempfile.mkdtemp(prefix="arca-rmq-"))
        self.base.chmod(0o777)
        conf = self.conf = self.base / "rabbitmq.conf"
        conf.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        plugins = self.base / "enabled_plugins"
        plugins.write_text("[].\n")
        for f in (conf, plugins):
            f.chmod(0o666)
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "node.pid"),
        }
        self.popen: subprocess.Popen[bytes] | None = None
        self.started = False  # it accepted AMQP once (its ports are then kept across restarts)

    def _new_ports(self) -> None:
        """Other AMQP and distribution ports (``free_port`` reserves nothing: another server of the
        suite may bind the chosen one before this node does)."""
        self.port = free_port()
        self.conf.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        self.env["RABBITMQ_NODE_PORT"] = str(self.port)
        self.env["RABBITMQ_DIST_PORT"] = str(free_port())

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def ctl(self, *args: str, timeout: float = 90) -> str:
        out = subprocess.run(["rabbitmqctl", "-n", self.name, *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {out.stderr[-2000:]}")
        return out.stdout

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace")[-3000:] for p in (self.base / "log").glob("*.log"))

    def start(self) -> None:
        """Start the node; on its first start, a node that exits at once (a port taken meanwhile:
        ``tcp_listener_stopped``) is started again on other ports, up to three times."""
        for attempt in range(3):
            self.popen = subprocess.Popen(["rabbitmq-server"], env=self.env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
            if self.wait_amqp(time.monotonic() + 120, fail=self.started or attempt == 2):
                self.started = True
                return
            self._new_ports()

    def wait_amqp(self, deadline: float, *, fail: bool = True) -> bool:
        """Until the node accepts AMQP connections (True); if its process exits or the deadline
        passes: a test failure, or False when not ``fail``."""
        while True:
            try:
                pika.BlockingConnection(pika.URLParameters(self.url)).close()
                return True
            except Exception:
                if (self.popen is not None and self.popen.poll() is not None) or time.monotonic() > deadline:
                    if not fail:
                        if self.popen is not None and self.popen.poll() is None:
                            self.popen.kill()
                            self.popen.wait(30)
                        return False
                    pytest.fail(f"own RabbitMQ node {self.name} did not start:\n{self.logs()}")
                time.sleep(0.5)

    def reachable(self) -> bool:
        try:
            pika.BlockingConnection(pika.URLParameters(self.url)).close()
            return True
        except Exception:
            return False

    def start_app(self) -> None:
        """``rabbitmqctl start_app``, retried on a loaded machine, until AMQP answers again."""
        deadline = time.monotonic() + 180
        while True:
            try:
                self.ctl("start_app", timeout=120)
                break
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                if time.monotonic() > deadline:
                    pytest.fail(f"start_app on {self.name} failed: {exc}\n{self.logs()}")
                time.sleep(2)
        self.wait_amqp(deadline)

    def ensure_up(self) -> None:
        """Bring the node back if an earlier test left it down (so one failure does not cascade)."""
        if self.reachable():
            return
        if self.popen is None or self.popen.poll() is not None:
            self.start()
        else:
            self.start_app()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            try:
                self.ctl("stop", timeout=60)
            except Exception:
                self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
        shutil.rmtree(self.base, ignore_errors=True)


class RabbitCluster:
    """Three ``RabbitNode``s joined into one cluster (``rabbitmqctl join_cluster``)."""

    def __init__(self, size: int = 3) -> None:
        self.nodes = [RabbitNode("arcacl") for _ in range(size)]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated (``bus.url`` of a cluster)."""
        return ",".join(n.url for n in self.nodes)

    def start(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:  # boot in parallel: ~1/3 of the time
            list(pool.map(lambda n: n.start(), self.nodes))
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name, timeout=120)
            node.ctl("start_app", timeout=120)
        self.wait_running(time.monotonic() + 120)

    def running(self) -> set[str]:
        """Names of the running nodes, as the first node still running sees them."""
        import json

        for node in self.nodes:
            try:
                status = json.loads(node.ctl("cluster_status", "--formatter", "json", timeout=30))
                return set(status.get("running_nodes", []))
            except Exception:
                continue
        return set()

    def wait_running(self, deadline: float) -> None:
        """Until every node runs, is clustered and accepts AMQP connections."""
        want = {n.name for n in self.nodes}
        while self.running() != want:
            if time.monotonic() > deadline:
                pytest.fail(f"cluster not whole: {self.running()} of {want}")
            time.sleep(1)
        for node in self.nodes:
            node.wait_amqp(deadline)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()
