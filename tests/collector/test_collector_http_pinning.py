"""``collector.http_pin_cpus``: each HTTP ingest process pinned to a CPU of its own (issue 24 item 3).

The CPU of each process is a pure function (table-tested); pinning reaches every thread of a real
process (Linux sets affinity per thread); and ``arca run collector`` with two HTTP workers and the
setting on runs its two processes on two distinct CPUs of those it was given, still answering.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Collection
from pathlib import Path

import pytest
import requests

from arca.app.cli.stores import SparqlEndpoints
from arca.collector.settings import CollectorSettings
from arca.collector.workers import CPUS_ENV, cpu_for, parse_cpus, worker_env
from tests.conftest import free_port
from tests.prockit import children_of

CPU_FOR = {
    "first-process-offset-0": (0, [0, 1, 2, 3], 0, 0),
    "second-process-next-cpu": (1, [0, 1, 2, 3], 0, 1),
    "offset-shifts-the-start": (0, [0, 1, 2, 3], 6, 2),
    "offset-and-index": (1, [0, 1, 2, 3], 6, 3),
    "wraps-past-the-last": (2, [0, 1, 2, 3], 6, 0),
    "more-processes-than-cpus": (2, [0, 1], 0, 0),
    "allowed-set-unsorted": (1, [7, 3, 5], 0, 5),
    "one-cpu-only": (3, [2], 12345, 2),
}


@pytest.mark.parametrize(("index", "allowed", "offset", "cpu"), list(CPU_FOR.values()), ids=list(CPU_FOR))
def test_cpu_for(index: int, allowed: Collection[int], offset: int, cpu: int) -> None:
    assert cpu_for(index, allowed, offset) == cpu


def test_one_collectors_processes_get_distinct_cpus_while_there_are_enough() -> None:
    allowed = [0, 1, 2, 3, 4, 5]
    for offset in range(12):
        assert len({cpu_for(i, allowed, offset) for i in range(6)}) == 6


def test_no_cpu_is_an_error() -> None:
    with pytest.raises(ValueError, match="no CPU"):
        cpu_for(0, [], 0)


@pytest.mark.parametrize(("text", "cpus"), [("0,1,3", [0, 1, 3]), ("", []), (None, []), ("x,1", []),
                                            (" 2 , 4 ", [2, 4])],
                         ids=["list", "empty", "unset", "unreadable", "spaces"])
def test_parse_cpus(text: str | None, cpus: list[int]) -> None:
    assert parse_cpus(text) == cpus


def test_a_workers_environment_carries_the_cpus_or_none() -> None:
    env = worker_env({CPUS_ENV: "9"}, 1, 8080, 42, (1, 0))
    assert env[CPUS_ENV] == "0,1"
    assert CPUS_ENV not in worker_env({CPUS_ENV: "9"}, 1, 8080, 42)  # a stale list is not passed on


def test_the_setting_is_off_by_default() -> None:
    assert CollectorSettings().http_pin_cpus is False


def allowed_list(pid: int, tid: int | None = None) -> str:
    status = Path(f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status").read_text()
    return next(line.split(":", 1)[1].strip() for line in status.splitlines()
                if line.startswith("Cpus_allowed_list"))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux CPU affinity")
def test_pinning_reaches_every_thread_of_a_process_even_those_started_before() -> None:
    cpu = max(os.sched_getaffinity(0))
    code = textwrap.dedent(f"""
        import os, threading, time
        from arca.collector.workers import pin_process
        stop = threading.Event()
        threads = [threading.Thread(target=stop.wait) for _ in range(3)]
        for t in threads:
            t.start()
        pin_process({cpu})
        late = threading.Thread(target=stop.wait)
        late.start()
        print("ready", flush=True)
        time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        tids = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task")]
        assert len(tids) == 5  # the main thread, three started before the pinning, one after
        assert {allowed_list(proc.pid, tid) for tid in tids} == {str(cpu)}
    finally:
        proc.kill()
        proc.wait()




@pytest.mark.rabbitmq
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs to pin two processes apart")
def test_two_pinned_http_processes_run_on_two_cpus_and_answer(
        rabbit_url: str, unique: str, oxigraph: SparqlEndpoints, tmp_path: Path) -> None:
    port = free_port()
    exchange = f"pin-{unique}"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ARCA_")}
    env.update({
        "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": rabbit_url, "ARCA_BUS__EXCHANGE": exchange,
        "ARCA_BUS__DEAD_LETTER_EXCHANGE": f"{exchange}.dlx", "ARCA_BUS__DEAD_LETTER_QUEUE": f"{exchange}.dlq",
        "ARCA_BUS__QUEUE_PREFIX": f"{exchange}.", "ARCA_COLLECTOR__HTTP_PORT": str(port),
        "ARCA_COLLECTOR__HTTP_WORKERS": "2", "ARCA_COLLECTOR__HTTP_PIN_CPUS": "true",
        "ARCA_COLLECTOR__TOKENS": json.dumps({"s": "t"}),
        "ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": oxigraph.query_url,
        "ARCA_KB__UPDATE_URL": oxigraph.update_url, "ARCA_KB__STORE_URL": oxigraph.store_url,
    })
    log = (tmp_path / "collector.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "arca.app.cli.main", "run", "collector"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        seen: set[str] = set()
        deadline = time.monotonic() + 90
        while len(seen) < 2 and time.monotonic() < deadline:
            try:
                resp = requests.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"},
                                    timeout=5)
                seen.add(resp.headers.get("X-Arca-Worker", "none"))
            except requests.ConnectionError:
                time.sleep(0.2)
        assert seen == {"0", "1"}, (tmp_path / "collector.log").read_text()[-2000:]
        workers = children_of(proc.pid)
        assert len(workers) == 1
        pinned = [allowed_list(proc.pid), allowed_list(workers[0])]
        allowed = sorted(os.sched_getaffinity(0))
        assert all(p.isdigit() and int(p) in allowed for p in pinned), pinned  # one CPU each
        assert pinned[0] != pinned[1]
        for pid in (proc.pid, workers[0]):  # every thread of each process, the bus's included
            tids = os.listdir(f"/proc/{pid}/task")
            assert {allowed_list(pid, int(t)) for t in tids} == {allowed_list(pid)}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for child in children_of(proc.pid):
            os.kill(child, signal.SIGKILL)
        log.close()
