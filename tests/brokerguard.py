"""The session's RabbitMQ watched between tests, so that a broker the environment stops or freezes
costs the run one restart rather than every test after it.

Before a test marked ``rabbitmq`` (at most once per ``interval``) the guard sends the AMQP protocol
header and waits for the broker's first frame. A node that is stopped or frozen still has the kernel
accept its connections, so clients then time out in the handshake, test after test (a CI run on record
failed so, 62 tests from one point on). When the broker does not answer, the guard records what the
node looked like (process state, cgroup, descriptors, memory, its log's last lines), starts it again
with ``scripts/ensure-services.sh`` (which kills a node that does not answer AMQP), gives the session's
vhost back its permissions, and the terminal summary prints every such restart with its diagnosis.
A broker on another host (``ARCA_TEST_BROKER_HOST``) is diagnosed, never restarted.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOG_DIR = Path("/var/log/rabbitmq")
MNESIA = Path("/var/lib/rabbitmq/mnesia")


def amqp_answers(host: str, port: int = 5672, timeout: float = 10.0) -> bool:
    """True when the broker sends its first frame (Connection.Start: a method frame, byte 1) within
    ``timeout`` of the protocol header."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"AMQP\x00\x00\x09\x01")
            return sock.recv(1) == b"\x01"
    except OSError:
        return False


def _read(path: Path, tail: int = 0) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"({exc.strerror or exc})"
    return "\n".join(text.splitlines()[-tail:]) if tail else text.strip()


def diagnose(pidfile: Path | None = None, logs: Path = LOG_DIR) -> str:
    """What a local node looks like now: its process, cgroup, descriptors and log tail (the Debian
    node's pid file and logs unless told)."""
    lines = [f"load average: {_read(Path('/proc/loadavg'))}"]
    pids = [pidfile] if pidfile else sorted(MNESIA.glob("*.pid"))
    pid = _read(pids[0]) if pids else ""
    if pid.isdigit():
        proc = Path("/proc") / pid
        fields = (line.partition(":") for line in _read(proc / "status").splitlines())
        status = {key: value.strip() for key, _, value in fields}
        fds = len(list((proc / "fd").iterdir())) if (proc / "fd").exists() else "?"
        lines.append(f"node pid {pid}: state {status.get('State', 'gone')}, RSS {status.get('VmRSS', '?')}, "
                     f"{fds} descriptors, {status.get('Threads', '?')} threads")
        cgroup = _read(proc / "cgroup").rpartition(":")[2]
        events = Path("/sys/fs/cgroup") / cgroup.lstrip("/") / "cgroup.events"
        if cgroup and events.exists():  # "frozen 1": the cgroup freezer holds it
            lines.append(f"cgroup {cgroup}: " + _read(events).replace("\n", ", "))
    else:
        lines.append(f"no node pid file ({pidfile or MNESIA})")
    for log in sorted(logs.glob("*.log")):
        if not log.name.endswith("_upgrade.log"):
            lines.append(f"last lines of {log}:\n{_read(log, tail=25)}")
    return "\n".join(lines)


def restart_local_broker(vhost: str) -> str:
    """``scripts/ensure-services.sh`` (kills a node that does not answer AMQP, starts one), then the
    session's vhost and guest's rights on it again (kept by the node's data if it had them)."""
    out = subprocess.run(["bash", str(REPO / "scripts" / "ensure-services.sh")], capture_output=True,
                         text=True, timeout=600)
    for args in (("add_vhost", vhost), ("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")):
        subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, timeout=60)
    return f"scripts/ensure-services.sh (exit {out.returncode}):\n{out.stderr.strip()}"


@dataclass
class BrokerGuard:
    """``restart`` is given the vhost and returns what it did; None: never restart (diagnose, raise)."""

    host: str
    port: int = 5672
    interval: float = 10.0
    pidfile: Path | None = None
    logs: Path = LOG_DIR
    restart: Callable[[str], str] | None = restart_local_broker
    restarts: list[str] = field(default_factory=list)
    _checked: float = float("-inf")

    @property
    def local(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")

    def check(self, vhost: str) -> str | None:
        """None when the broker answers (or was checked within ``interval``); else the restart's
        account (it is also kept for the summary). Raises RuntimeError when it cannot be brought back."""
        if time.monotonic() - self._checked < self.interval:
            return None
        if amqp_answers(self.host, self.port):
            self._checked = time.monotonic()
            return None
        report = (f"{time.strftime('%H:%M:%S')} RabbitMQ at {self.host}:{self.port} did not answer AMQP "
                  "within 10 s\n")
        report += diagnose(self.pidfile, self.logs) if self.local else "(not a local node: not diagnosed)"
        if not self.local or self.restart is None:
            raise RuntimeError(report)
        report += "\n" + self.restart(vhost)
        self.restarts.append(report)
        if not amqp_answers(self.host, self.port):
            raise RuntimeError(report + "\nthe broker still does not answer")
        self._checked = time.monotonic()
        return report
