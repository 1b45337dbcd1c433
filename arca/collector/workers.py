"""The collector's HTTP worker processes: one port, several processes (``collector.http_workers``).

One Python process serves the HTTP ingest at about one core (the GIL: validation, Flask and pika
run under one lock). With ``collector.http_workers`` = N > 1, ``arca run collector`` binds its port
with ``SO_REUSEPORT`` and starts N - 1 more processes, ``arca run collector`` again with
``ARCA_COLLECTOR__HTTP_WORKER=<i>`` and the port it got: each binds the same port the same way and
the kernel spreads new connections over the N processes. A worker is a full ingest path (its own
``Ingestor``, broker connection, publisher confirms, severity scales and trust read from the store,
reloaded on every policy change through a queue of its own) and nothing else: the pollers and the
AMQP ingest stay in the first process.

What is per process: the duplicate memory (a retry that lands on another worker is published again
with the same deterministic message id and dropped downstream as a duplicate) and the door's
rate-limit window (a source may get up to N x its limit through the door; the analyzer applies the
exact limit to what it receives, as with collector replicas).

The first process stops its workers when it stops (SIGTERM, then SIGKILL after ``stop_timeout_s``)
and starts a worker again when one died (at most every ``RESPAWN_DELAY_S``); a worker whose parent
is gone stops itself (``parent_gone``). With ``collector.http_pin_cpus`` each process pins itself to a
CPU of its own (``cpu_for``, ``pin_process``): the first process passes the CPUs it could use to its
workers (``CPUS_ENV``) before pinning itself. The pure parts (the environment of a worker, its CPU) are
functions.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

CPUS_ENV = "ARCA_COLLECTOR_CPUS"
"""The CPUs the first process could use before it pinned itself (``collector.http_pin_cpus``), for
its workers to choose theirs among (a child inherits its parent's one CPU otherwise; not a setting)."""
WORKER_ENV = "ARCA_COLLECTOR__HTTP_WORKER"
PORT_ENV = "ARCA_COLLECTOR__HTTP_PORT"
METRICS_PORT_ENV = "ARCA_OPS__METRICS_PORT"
PARENT_ENV = "ARCA_COLLECTOR_PARENT_PID"
"""The pid of the first process, so a worker can tell that it was orphaned (not a setting)."""
RESPAWN_DELAY_S = 5.0
COMMAND: tuple[str, ...] = ("-m", "arca.app.cli.main", "run", "collector")
"""A worker is ``arca run collector`` (by module, so it needs no script on the PATH)."""


def worker_env(base: Mapping[str, str], index: int, port: int, parent_pid: int,
               cpus: Collection[int] = ()) -> dict[str, str]:
    """The environment of worker ``index``: the collector's own (same settings, same
    ``ARCA_CONFIG_FILE``), its number, the port the first process bound (a configured port 0 means
    "any free port": the workers must bind the one the first process got) and, when the collector
    serves metrics, any free metrics port (each process serves its own counters)."""
    env = {k: v for k, v in base.items() if k.upper() != WORKER_ENV}
    env[WORKER_ENV] = str(index)
    env[PORT_ENV] = str(port)
    env[PARENT_ENV] = str(parent_pid)
    env = {k: v for k, v in env.items() if k != CPUS_ENV}
    if cpus:
        env[CPUS_ENV] = ",".join(str(c) for c in sorted(cpus))
    if any(k.upper() == METRICS_PORT_ENV for k in base):
        env = {k: v for k, v in env.items() if k.upper() != METRICS_PORT_ENV}
        env[METRICS_PORT_ENV] = "0"
    return env


def cpu_for(index: int, allowed: Collection[int], offset: int) -> int:
    """The CPU of HTTP process ``index`` (0: the first process) with ``collector.http_pin_cpus``: the
    ``allowed`` CPUs in order, from position ``offset`` (the first process's pid) on, so the N processes
    of one collector get distinct CPUs while there are enough, and collectors on one host start apart."""
    cpus = sorted(allowed)
    if not cpus:
        raise ValueError("no CPU to pin to")
    return cpus[(offset + index) % len(cpus)]


def parse_cpus(text: str | None) -> list[int]:
    """The CPU list of ``CPUS_ENV`` ("0,1,3"); empty when unset or unreadable."""
    try:
        return [int(x) for x in (text or "").split(",") if x.strip()]
    except ValueError:
        return []


def pin_process(cpu: int) -> None:
    """Pin every thread of this process to ``cpu`` (Linux sets the affinity per thread: the threads
    already running — the bus's I/O and delivery threads — are pinned one by one, later ones inherit)."""
    os.sched_setaffinity(0, {cpu})
    tasks = f"/proc/{os.getpid()}/task"
    for tid in os.listdir(tasks) if os.path.isdir(tasks) else []:
        try:
            os.sched_setaffinity(int(tid), {cpu})
        except OSError:  # the thread ended meanwhile
            continue


def parent_gone(expected: int | None, current: int) -> bool:
    """Whether a worker lost the process that started it (its parent pid changed)."""
    return expected is not None and current != expected


@dataclass
class HttpWorkers:
    """The N - 1 extra HTTP worker processes of the first collector process."""

    count: int
    port: int
    stop_timeout_s: float = 10.0
    command: Sequence[str] = field(default_factory=lambda: (sys.executable, *COMMAND))
    cpus: tuple[int, ...] = ()
    """The CPUs the workers choose theirs among (``collector.http_pin_cpus``; empty: not pinned)."""
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: int = 0
    _respawn_at: dict[int, float] = field(default_factory=dict)

    def start(self) -> None:
        for index in range(1, self.count):
            self._spawn(index)
        log.info("collector HTTP ingest: %d worker processes on port %d (pids %s)", self.count, self.port,
                 ", ".join([str(os.getpid()), *(str(p.pid) for p in self.procs.values())]))

    def _spawn(self, index: int) -> None:
        env = worker_env(os.environ, index, self.port, os.getpid(), self.cpus)
        self.procs[index] = subprocess.Popen(list(self.command), env=env)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs.values()]

    def check(self, now: float | None = None) -> list[str]:
        """Start again every worker that exited (not sooner than ``RESPAWN_DELAY_S`` after it was
        found dead); what is wrong, one line per dead worker (empty: all alive)."""
        now = time.monotonic() if now is None else now
        problems = []
        for index, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None:
                continue
            due = self._respawn_at.setdefault(index, now + RESPAWN_DELAY_S)
            problems.append(f"HTTP worker {index} (pid {proc.pid}) exited with {code}")
            if now >= due:
                log.error("collector HTTP worker %d (pid %d) exited with %s: starting it again", index,
                          proc.pid, code)
                del self._respawn_at[index]
                self.restarts += 1
                self._spawn(index)
        return problems

    def stop(self) -> None:
        """SIGTERM every worker, wait for them (``stop_timeout_s`` in all), SIGKILL what is left."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for index, proc in self.procs.items():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("collector HTTP worker %d (pid %d) did not stop in %.0f s: killed", index,
                          proc.pid, self.stop_timeout_s)
                proc.kill()
                proc.wait()
        self.procs.clear()
