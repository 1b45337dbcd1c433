"""The four services as separate ``arca run`` processes on the real RabbitMQ and Oxigraph.

Each serves /metrics on its own port (``ARCA_OPS__METRICS_PORT``) and writes JSON logs on stderr.
The tests scrape every service over HTTP, have ``promtool check metrics`` judge each exposition,
check the dashboard's queries against what the services really export, and follow one detector
event's correlation id through the logs of the collector, analyzer, decider and enforcer.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import yaml
from opskit import (
    PROMETHEUS_SYNTHETIC,
    PROMETHEUS_YML,
    REPO,
    dashboard,
    dashboard_queries,
    exported_names,
    grafana_to_promql,
    metric_names,
    promtool,
    scrape,
)

from arca.collector.http import EVENT_PATH
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline
from tests.livekit import (
    LIVE_TOKEN,
    SERVICES,
    Proc,
    free_port,
    fresh_event,
    seed_store,
    service_env,
    start_services,
    stop_services,
    wait_http,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]

GENERIC = (
    "arca_messages_received_total", "arca_messages_published_total", "arca_messages_rejected_total",
    "arca_handler_duration_seconds_bucket", "arca_service_info",
)


@dataclass
class Loop:
    procs: dict[str, Proc]
    collector_url: str
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def cloud() -> Iterator[Testbed]:
    """The testbed's emulated OpenStack (Keystone, Nova, Octavia...) on loopback ports, its simulated
    time running 20 times faster than the wall clock, so a servant boots in about half a second."""
    quiet = {"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}
    bed = Testbed(parse_timeline(quiet), ModelParams()).start()
    bed.start_ticker(speed=20.0)
    try:
        yield bed
    finally:
        bed.stop_ticker()
        bed.stop()


@pytest.fixture(scope="module")
def loop(rabbit_url: str, oxigraph_server: Any, cloud: Testbed,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    seed_store(oxigraph_server)
    token = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("service-logs")
    collector_port = free_port()
    env = service_env(rabbit_url, oxigraph_server, cloud, token, collector_port)
    procs: dict[str, Proc] = {}
    try:
        start_services(procs, {name: (name, {}) for name in SERVICES}, env, logs)
        wait_http(procs["collector"], f"http://127.0.0.1:{collector_port}/healthz", time.monotonic() + 60)
        yield Loop(procs, f"http://127.0.0.1:{collector_port}", env)
    finally:
        stop_services(procs)


def _sample(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            got = ",".join(sorted(re.findall(r'\w+="[^"]*"', head)))
            if got == want:
                return float(value)
    return 0.0


def test_one_correlation_id_through_the_logs_of_all_four_services(loop: Loop) -> None:
    consumed = {"analyzer": "event", "decider": "situation", "enforcer": "decision"}
    received_before = {
        name: _sample(scrape(loop.procs[name].metrics_port), "arca_messages_received_total",
                      service=name, kind=kind)
        for name, kind in consumed.items()
    }
    reply = requests.post(loop.collector_url + EVENT_PATH, data=fresh_event(),
                          headers={"Content-Type": "application/yang-data+json",
                                   "Authorization": f"Bearer {LIVE_TOKEN}"}, timeout=10)
    assert reply.status_code in (200, 202), reply.text

    def published_event() -> dict[str, Any] | None:
        for line in loop.procs["collector"].lines():
            if line.get("msg", "").startswith("published event") and line.get("correlation_id"):
                return line
        return None

    deadline = time.monotonic() + 60
    first = published_event()
    while first is None and time.monotonic() < deadline:
        time.sleep(0.1)
        first = published_event()
    assert first is not None, loop.procs["collector"].log.read_text()[-3000:]
    cid = first["correlation_id"]

    # the stimulus's path: detector event -> situation -> decision -> enforcement -> back to the analyzer
    expected = [
        ("collector", "published event"),
        ("analyzer", "handled event"), ("analyzer", "published situation"),
        ("decider", "handled situation"), ("decider", "published decision"),
        ("enforcer", "handled decision"), ("enforcer", "published enforcement"),
        ("analyzer", "handled enforcement"),
    ]

    def missing() -> list[tuple[str, str]]:
        msgs = {name: [d.get("msg", "") for d in proc.lines() if d.get("correlation_id") == cid]
                for name, proc in loop.procs.items()}
        return [(name, prefix) for name, prefix in expected
                if not any(m.startswith(prefix) for m in msgs[name])]

    while missing() and time.monotonic() < deadline:
        time.sleep(0.2)
    lacking = missing()
    assert not lacking, {n: loop.procs[n].log.read_text()[-3000:] for n, _ in lacking}

    for name, proc in loop.procs.items():
        mine = [d for d in proc.lines() if d.get("correlation_id") == cid]
        assert all(d["service"] == name for d in mine)
        assert all(not d.get("not_json") for d in proc.lines()), f"{name} wrote a non-JSON line"
    # the deliveries behind those lines were counted by each service
    for name, kind in consumed.items():
        after = _sample(scrape(loop.procs[name].metrics_port), "arca_messages_received_total",
                        service=name, kind=kind)
        assert after >= received_before[name] + 1, name


def test_the_loop_state_is_exported_by_the_process_that_knows_it(loop: Loop) -> None:
    """After the magnitude-6 event (severity 3 on the seismo-hq scale) of the test above."""
    analyzer = scrape(loop.procs["analyzer"].metrics_port)
    decider = scrape(loop.procs["decider"].metrics_port)
    assert _sample(analyzer, "arca_incident_severity", system="emergency") == 3
    assert _sample(analyzer, "arca_messages_published_total", service="analyzer", kind="situation") >= 1
    assert _sample(decider, "arca_servants_desired", system="emergency") >= 1
    assert _sample(decider, "arca_event_to_decision_seconds_count") >= 1
    assert _sample(decider, "arca_messages_published_total", service="decider", kind="decision") >= 1
    enforcer = scrape(loop.procs["enforcer"].metrics_port)
    assert re.search(r'^arca_enforcement_actions_total\{.*driver="openstack".*\} [1-9]', enforcer, re.M)


def test_arca_status_reads_the_running_loop_from_its_sparql_store(loop: Loop) -> None:
    """The analyzer, decider and enforcer stored their messages; ``arca status`` shows the incident
    (active while the decider anticipates it, then under ``expired_incidents``: the policy's 45 s),
    the decision and what the enforcer did."""
    deadline = time.monotonic() + 30
    while True:
        out = subprocess.run([sys.executable, "-m", "arca.app.cli.main", "status", "--once", "--json"],
                             capture_output=True, text=True, env=loop.env, timeout=60, cwd=REPO)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        (emergency,) = [s for s in doc["systems"] if s["system"] == "emergency"]
        if emergency["last_enforcement"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    incident = emergency["incident"] or emergency["expired_incidents"][-1]
    assert incident["severity"] == 3
    assert incident["source"] == "seismo-hq"
    assert emergency["last_decisions"] and emergency["last_decisions"][0]["reason"]
    assert emergency["servants"]["desired"] == emergency["last_decisions"][0]["target_servants"]
    enforced = emergency["last_enforcement"]  # stored by the enforcer process itself
    assert enforced is not None, loop.procs["enforcer"].log.read_text()[-3000:]
    assert enforced["driver"] == "openstack" and enforced["outcome"] in ("succeeded", "failed", "skipped")


@pytest.mark.parametrize("service", SERVICES)
def test_each_running_service_serves_its_metrics_over_http(loop: Loop, service: str) -> None:
    text = scrape(loop.procs[service].metrics_port)
    names = exported_names(text)
    missing = [n for n in GENERIC if n not in names]
    assert not missing
    assert f'arca_service_info{{service="{service}"' in text
    assert re.search(r"^process_cpu_seconds_total ", text, re.M)


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_accepts_each_services_exposition(loop: Loop, service: str) -> None:
    result = promtool("check", "metrics", stdin=scrape(loop.procs[service].metrics_port))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_refer_only_to_what_the_running_services_export(loop: Loop) -> None:
    exported = set().union(*(exported_names(scrape(p.metrics_port)) for p in loop.procs.values()))
    unknown = {
        where: sorted(metric_names(expr) - exported - PROMETHEUS_SYNTHETIC)
        for where, expr in dashboard_queries(dashboard())
        if metric_names(expr) - exported - PROMETHEUS_SYNTHETIC
    }
    assert not unknown


@pytest.fixture(scope="module")
def prometheus(loop: Loop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus server (Debian's) with the shipped configuration and rules, its four ARCA
    scrape targets pointed at the running services (RabbitMQ's job left out: no plugin here)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("the prometheus server is missing: apt-get install prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    config["scrape_configs"] = [job for job in config["scrape_configs"] if job["job_name"] in SERVICES]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [f"127.0.0.1:{loop.procs[job['job_name']].metrics_port}"]}]
    shutil.copytree(PROMETHEUS_YML.parent / "rules", work / "rules")
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=(work / "prometheus.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # every target scraped at least once
            try:
                targets = requests.get(base + "/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
                if len(targets) == len(SERVICES) and all(t["health"] == "up" for t in targets):
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus: targets not up:\n{(work / 'prometheus.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _query(base: str, expr: str) -> list[dict[str, Any]]:
    reply = requests.get(base + "/api/v1/query", params={"query": expr}, timeout=10).json()
    assert reply["status"] == "success", (expr, reply)
    result: list[dict[str, Any]] = reply["data"]["result"]
    return result


def test_prometheus_loads_the_rules_and_the_dashboard_shows_the_loop(prometheus: str) -> None:
    rules = requests.get(prometheus + "/api/v1/rules", timeout=10).json()["data"]["groups"]
    names = {r["name"] for g in rules for r in g["rules"]}
    assert {"ArcaDiscardRatioHigh", "ArcaServiceDown", "system:arca_discard_ratio:max"} <= names
    queries = {where: grafana_to_promql(expr) for where, expr in dashboard_queries(dashboard())}
    for expr in queries.values():  # every query is accepted by the real server
        _query(prometheus, expr)
    # the panels of the loop state have data for the reference system after the incident
    for metric in ("arca_servants_desired", "arca_servants_active", "arca_msa_servants",
                   "arca_incident_severity", "arca_discard_ratio", "arca_average_load_ratio"):
        shown = [expr for expr in queries.values() if metric in expr and 'system=~"emergency"' in expr]
        assert shown, metric
        assert any(_query(prometheus, expr) for expr in shown), f"no data for {metric}"
    severity = _query(prometheus, 'max by (system) (arca_incident_severity{system=~"emergency"})')
    assert float(severity[0]["value"][1]) == 3
    up = _query(prometheus, 'up{job=~"collector|analyzer|decider|enforcer"}')
    assert sorted(r["metric"]["job"] for r in up) == sorted(SERVICES)
