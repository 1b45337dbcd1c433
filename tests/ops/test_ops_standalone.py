"""``arca standalone`` as a user runs it: one command, then other ``arca`` commands with only
``ARCA_CONFIG_FILE`` set, on the real RabbitMQ (the session's vhost) with a real Oxigraph it starts.

The loop runs as a separate process tree (the command, its store, its four ``arca run`` services);
each test checks what a user would see: servers created in the testbed, ``arca status``, the
decider's reaction to a seed, and that nothing it started remains after SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from arca.namespace import ONTOLOGY_DIR
from tests.prockit import alive, descendants

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph, pytest.mark.slow]

READY = "Ctrl-C stops everything it started."


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any ``ARCA_*`` variable (plus ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("ARCA_")}
    env.pop("OS_CLOUD", None)
    env.pop("OS_CLIENT_CONFIG_FILE", None)
    return {**env, **extra}






@dataclass
class Standalone:
    popen: subprocess.Popen[str]
    data: Path
    config: Path
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "\n".join(self.lines)

    def arca(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``arca ARGS`` as a user runs it in another shell: only ``ARCA_CONFIG_FILE`` set."""
        out = subprocess.run([sys.executable, "-m", "arca.app.cli.main", *args], capture_output=True,
                             text=True, timeout=120, env=clean_env(ARCA_CONFIG_FILE=str(self.config)))
        if check:
            assert out.returncode == 0, f"arca {' '.join(args)}: {out.returncode}\n{out.stderr}"
        return out

    def log(self, service: str) -> list[dict[str, Any]]:
        rows = []
        for raw in (self.data / "logs" / f"{service}.log").read_text(errors="replace").splitlines():
            try:
                rows.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
        return rows

    def pids(self) -> dict[str, int]:
        """Each service's pid, as the summary prints it."""
        pattern = re.compile(r"  (collector|analyzer|decider|enforcer) +pid (\d+),")
        found = (pattern.match(line) for line in self.lines)
        return {m.group(1): int(m.group(2)) for m in found if m}

    def servers(self) -> list[Any]:
        import openstack
        import yaml

        cloud = yaml.safe_load((self.data / "testbed-clouds.yaml").read_text())["clouds"]["arca-testbed"]
        conn = openstack.connect(auth=cloud["auth"], region_name=cloud["region_name"])
        try:
            return list(conn.compute.servers())
        finally:
            conn.close()


@pytest.fixture
def standalone(rabbit_url: str, tmp_path: Path) -> Iterator[Any]:
    """A factory: ``standalone(*options)`` starts ``arca standalone`` and waits until it says it is
    up; on teardown SIGTERM stops it, and every process it started must be gone."""
    started: list[Standalone] = []

    def start(*options: str) -> Standalone:
        data = tmp_path / f"standalone-{len(started)}"
        config = tmp_path / f"arca-{len(started)}.toml"
        popen = subprocess.Popen(
            [sys.executable, "-m", "arca.app.cli.main", "standalone", "--bus-url", rabbit_url,
             "--data-dir", str(data), "--config-out", str(config), *options],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(),
        )
        loop = Standalone(popen, data, config)
        started.append(loop)
        assert popen.stdout is not None
        stdout = popen.stdout
        reader = threading.Thread(target=lambda: loop.lines.extend(line.rstrip("\n") for line in stdout),
                                  daemon=True)
        reader.start()
        deadline = time.monotonic() + 180
        while READY not in loop.lines:
            assert popen.poll() is None, f"arca standalone exited with {popen.returncode}:\n{loop.output()}"
            assert time.monotonic() < deadline, f"arca standalone not up in time:\n{loop.output()}"
            time.sleep(0.2)
        return loop

    try:
        yield start
    finally:
        for loop in started:
            tree = descendants(loop.popen.pid)
            if loop.popen.poll() is None:
                loop.popen.send_signal(signal.SIGTERM)
            code = loop.popen.wait(90)
            time.sleep(0.5)
            left = sorted(p for p in tree if alive(p))
            assert code == 0, loop.output()
            assert len(tree) >= 5  # the store and the four services at least
            assert not left, f"still running after SIGTERM: {left}"
            assert "stopped: every process it started has ended" in loop.lines


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024


def wait_ts(rows: Any, prefix: str, timeout_s: float = 10.0) -> datetime:
    """The time of the first log line starting with ``prefix`` among ``rows()`` (a process writes its
    log line a moment after the effect a test may have seen first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [datetime.fromisoformat(r["ts"]) for r in rows() if str(r.get("msg", "")).startswith(prefix)]
        if found:
            return min(found)
        assert time.monotonic() < deadline, f"no log line {prefix!r}"
        time.sleep(0.1)


def test_an_event_sent_with_only_the_config_file_has_servers_created_within_a_second(standalone: Any) -> None:
    loop = standalone()
    out = loop.output()
    for what in ("collector  http://127.0.0.1:", "store      oxigraph http://127.0.0.1:",
                 "cloud      testbed", "arca event send --source seismo-hq --severity 4 --location hq"):
        assert what in out
    assert loop.config.stat().st_mode & 0o077 == 0  # it holds the detector tokens and passwords
    before = {s.name for s in loop.servers()}
    sent = loop.arca("event", "send", "--source", "seismo-hq", "--severity", "4", "--location", "hq")
    (message_id,) = json.loads(sent.stdout)["messages"]
    deadline = time.monotonic() + 10
    while not {s.name for s in loop.servers()} - before:
        assert time.monotonic() < deadline, "no server created in the testbed"
        time.sleep(0.1)
    accepted = wait_ts(lambda: [r for r in loop.log("collector") if r.get("message_id") == message_id],
                       "published event")
    created = wait_ts(lambda: loop.log("enforcer"), "created server")
    latency = (created - accepted).total_seconds()
    print(f"event accepted -> first server created: {latency * 1000:.0f} ms")
    assert 0 <= latency < 1.0

    deadline = time.monotonic() + 30
    while True:
        status = json.loads(loop.arca("status", "--once", "--json").stdout)
        system = next(s for s in status["systems"] if s["system"] == "emergency")
        enforced = system.get("last_enforcement") or {}
        if enforced.get("desired_servants", 0) >= 2:  # the anticipated target, enforced
            break
        assert time.monotonic() < deadline, f"arca status shows no enforcement of the event: {system}"
        time.sleep(1)
    assert enforced["outcome"] == "succeeded", enforced
    # the decider has fitted its anticipator (the prior at start): in the helper process, so the
    # decider itself stays small (arca.decider.fitting)
    rss = {name: resident_mb(pid) for name, pid in loop.pids().items()}
    print("resident MB after the event: " + ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))
    assert rss["decider"] <= 100, rss


def test_a_seed_into_a_running_cold_decider_changes_its_next_decision(standalone: Any) -> None:
    loop = standalone("--cold")
    assert "prior: not seeded (--cold)" in loop.output()
    loop.arca("event", "send", "--source", "seismo-hq", "--severity", "4", "--location", "hq")

    def decisions() -> list[dict[str, Any]]:
        status = json.loads(loop.arca("status", "--once", "--json").stdout)
        return [d for s in status["systems"] for d in s["last_decisions"]]

    def reasons() -> list[str]:
        return [d["reason"] for d in decisions()]

    deadline = time.monotonic() + 20
    while not any("no learned samples: reactive only" in r for r in reasons()):
        assert time.monotonic() < deadline, f"no cold decision: {reasons()[-5:]}"
        time.sleep(0.2)
    assert all(d["target_servants"] == 1 for d in decisions())  # cold: nothing anticipated
    seeded = loop.arca("anticipation", "seed", str(ONTOLOGY_DIR / "priors" / "emergency.ttl"))
    assert "running deciders told" in seeded.stdout
    deadline = time.monotonic() + 20
    while not any(r.get("msg", "").startswith("learned samples of system emergency reloaded")
                  for r in loop.log("decider")):
        assert time.monotonic() < deadline, "the decider did not reload the seeded samples"
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    while not any(d["rule"] == "anticipated" and d["target_servants"] > 1 for d in decisions()):
        assert time.monotonic() < deadline, f"the next decision did not anticipate: {reasons()}"
        time.sleep(0.2)


def test_a_played_timeline_has_its_detectors_authenticate_and_the_loop_react(standalone: Any,
                                                                            tmp_path: Path) -> None:
    timeline = tmp_path / "one-incident.json"
    timeline.write_text(json.dumps({"duration_s": 600, "seed": 2, "failures": [],
                                    "incidents": [{"at_s": 2, "severity": 3, "domain": "hq"}]}))
    loop = standalone("--timeline", str(timeline))
    deadline = time.monotonic() + 30
    while not any(r.get("msg") == "published event event.seismometer-hq" for r in loop.log("collector")):
        assert time.monotonic() < deadline, f"the testbed's detector event never got in:\n{loop.output()}"
        time.sleep(0.2)
    deadline = time.monotonic() + 20
    while not any(str(r.get("msg", "")).startswith("created server") for r in loop.log("enforcer")):
        assert time.monotonic() < deadline, "the loop did not react to the detector's event"
        time.sleep(0.2)
    assert " 401" not in loop.output()  # no detector note refused (the testbed logs refusals)


def test_the_written_configuration_is_what_every_command_reads(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from arca.app.settings import ArcaSettings
    from arca.app.standalone import config_document, to_toml, write_private

    base = ArcaSettings(bus={"exchange": "arca-x", "queue_prefix": "arca-x."},
                        kb={"query_url": "http://old", "password": "old", "write_timeout_s": 90,
                            "retention": {"situation": {"max_age_s": 600}},
                            "compaction": {"interval_s": 300}})
    kb = {"kind": "sparql", "query_url": "http://q", "compaction": {"url": "http://f/$/compact/arca"}}
    doc = config_document(base, bus_url="amqp://u:p@h:5672/%2Fv", kb=kb,
                          collector_port=8123, tokens={"seismo-hq": 'a"b\\c'},
                          cloud={"auth_url": "http://k/v3", "password": "pw"},
                          collector_extra={"haproxy_urls": {"lb-b": "http://h/stats;csv"}})
    path = write_private(tmp_path / "arca.toml", to_toml(doc))
    assert path.stat().st_mode & 0o777 == 0o600
    for key in [k for k in os.environ if k.upper().startswith("ARCA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ARCA_CONFIG_FILE", str(path))
    got = ArcaSettings()
    assert got.bus.url == "amqp://u:p@h:5672/%2Fv"
    assert (got.bus.exchange, got.bus.queue_prefix) == ("arca-x", "arca-x.")
    assert (got.kb.kind, got.kb.query_url, got.kb.password) == ("sparql", "http://q", None)
    # what the caller set beyond the connection is kept, merged with the started store's compaction url
    assert (got.kb.write_timeout_s, got.kb.retention.situation.max_age_s) == (90, 600)
    assert (got.kb.compaction.url, got.kb.compaction.interval_s) == ("http://f/$/compact/arca", 300)
    assert got.kb.retention.situation.max_count == 5000 and got.kb.retention.decision.max_age_s == 86400
    assert (got.collector.http_port, got.collector.tokens) == (8123, {"seismo-hq": 'a"b\\c'})
    assert got.collector.haproxy_urls == {"lb-b": "http://h/stats;csv"}
    assert (got.enforcer.driver, got.enforcer.systems) == ("openstack", ["emergency"])
    assert got.enforcer.password == "pw"


def test_a_second_loop_on_the_same_data_directory_is_refused(standalone: Any, rabbit_url: str) -> None:
    loop = standalone()
    out = subprocess.run([sys.executable, "-m", "arca.app.cli.main", "standalone", "--bus-url", rabbit_url,
                          "--data-dir", str(loop.data)], capture_output=True, text=True, timeout=60,
                         env=clean_env())
    assert out.returncode == 1
    assert f"{loop.data} is in use by another arca standalone (pid {loop.popen.pid})" in out.stderr
    assert loop.popen.poll() is None  # the first one goes on


def test_no_broker_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "arca.app.cli.main", "standalone", "--bus-url",
                          "amqp://guest:guest@127.0.0.1:1/%2F", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, env=clean_env())
    assert out.returncode == 1
    assert "no RabbitMQ broker answers at amqp://guest:***@127.0.0.1:1/%2F" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout
