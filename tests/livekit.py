"""Helpers shared by the suites that run the four ``arca run`` services as processes.

Used by ``tests/ops`` (metrics, logs, dashboard against the live loop) and ``tests/resilience``
(faults injected into the live loop, through ``tests/loopkit.py``): start a service with JSON logs
on a file, start a set of them and wait until each is ready, wait for HTTP or a log line, build the
services' environment, and a fresh detector event.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from arca.app.cli.stores import free_port
from arca.testbed.platform import REGION

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("collector", "analyzer", "decider", "enforcer")
LIVE_TOKEN = "live-token"  # the collector token of the sample seismometer (source seismo-hq)
EVENT = REPO / "tests" / "data" / "collector" / "events" / "seismometer.json"


@dataclass
class Proc:
    name: str
    metrics_port: int
    log: Path
    popen: subprocess.Popen[bytes]

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for raw in self.log.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(raw))
            except json.JSONDecodeError:
                out.append({"msg": raw, "not_json": True})
        return out


def wait_http(proc: Proc, url: str, deadline: float) -> None:
    while True:
        if proc.popen.poll() is not None:
            pytest.fail(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log.read_text()[-4000:]}")
        try:
            requests.get(url, timeout=1).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                pytest.fail(f"{proc.name}: no answer at {url} in time:\n{proc.log.read_text()[-4000:]}")
            time.sleep(0.2)


def wait_log(proc: Proc, text: str, deadline: float, after: int = 0) -> None:
    """Wait for a log line ``text`` (among the lines from index ``after`` on)."""
    while not any(d.get("msg") == text for d in proc.lines()[after:]):
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{proc.name}: no log line {text!r}:\n{proc.log.read_text()[-4000:]}")
        time.sleep(0.2)


def service_env(rabbit_url: str, sparql: Any, cloud: Any, token: str, collector_port: int) -> dict[str, str]:
    """The environment of the four services: one bus topology named by ``token``, one store."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ARCA_BUS__KIND": "rabbitmq",
        "ARCA_BUS__URL": rabbit_url,
        "ARCA_BUS__EXCHANGE": f"arca-{token}",
        "ARCA_BUS__DEAD_LETTER_EXCHANGE": f"arca-{token}.dlx",
        "ARCA_BUS__DEAD_LETTER_QUEUE": f"arca-{token}.dead-letter",
        "ARCA_BUS__QUEUE_PREFIX": f"arca-{token}.",
        **sparql.env(),
        "ARCA_OPS__METRICS_HOST": "127.0.0.1",
        "ARCA_OPS__LOG_JSON": "true",
        "ARCA_OPS__LOG_LEVEL": "INFO",
        "ARCA_COLLECTOR__HTTP_PORT": str(collector_port),
        "ARCA_COLLECTOR__HTTP_HOST": "127.0.0.1",
        "ARCA_COLLECTOR__TOKENS": json.dumps({"seismo-hq": LIVE_TOKEN}),
        "ARCA_COLLECTOR__DETECTORS_EXCHANGE": f"arca-{token}.detectors",
        "ARCA_COLLECTOR__DETECTORS_QUEUE": f"arca-{token}.detectors",
        "ARCA_ENFORCER__DRIVER": "openstack",
        "ARCA_ENFORCER__SYSTEMS": '["emergency"]',
        "ARCA_ENFORCER__REGION_NAME": REGION,
        **{f"ARCA_ENFORCER__{k.upper()}": v for k, v in cloud.auth().items()},
    }
    env.pop("ARCA_CONFIG_FILE", None)
    return env


def start_service(name: str, env: dict[str, str], logs: Path, metrics_port: int | None = None,
                  label: str | None = None) -> Proc:
    """``arca run <name>`` with JSON logs appended to ``logs/<label or name>.jsonl`` (a label per
    replica when a service runs several)."""
    port = metrics_port or free_port()
    log = logs / f"{label or name}.jsonl"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            [sys.executable, "-m", "arca.app.cli.main", "run", name],
            env={**env, "ARCA_OPS__METRICS_PORT": str(port)},
            stdout=subprocess.DEVNULL, stderr=sink, cwd=REPO,
        )
    return Proc(label or name, port, log, popen)


def start_services(procs: dict[str, Proc], plan: Mapping[str, tuple[str, Mapping[str, str]]],
                   env: dict[str, str], logs: Path, timeout_s: float = 120.0) -> None:
    """Start every process of ``plan`` (label -> (service, its own extra environment)) into
    ``procs`` and wait until each logged ``service <name> started`` (its queues are bound: nothing
    published meanwhile is lost) and answers ``/readyz``. The caller stops ``procs`` with
    ``stop_services``, also when this fails."""
    for label, (service, extra) in plan.items():
        procs[label] = start_service(service, {**env, **extra}, logs, label=label)
    deadline = time.monotonic() + timeout_s
    for label, proc in procs.items():
        wait_log(proc, f"service {plan[label][0]} started", deadline)
        wait_http(proc, f"http://127.0.0.1:{proc.metrics_port}/readyz", deadline)


def stop_services(procs: dict[str, Proc]) -> None:
    for proc in procs.values():
        if proc.popen.poll() is None:
            proc.popen.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.popen.wait(20)
        except subprocess.TimeoutExpired:
            proc.popen.kill()


def seed_store(sparql: Any) -> None:
    """An empty store with the severity scales, the reference system's policy and prior samples
    (a severity-3 incident needs 4 servants)."""
    import rdflib

    from arca.app.settings import KbSettings
    from arca.decider.anticipator import LearnedSample
    from arca.decider.policy import policy_from_graph, policy_graph
    from arca.decider.samples import store_sample
    from arca.kb.sparql import SparqlKnowledgeBase

    sparql.clear()
    kb = SparqlKnowledgeBase(KbSettings.model_validate(sparql.kb_fields()))
    kb.load_turtle((REPO / "ontology" / "policies" / "severity-scales.ttl").read_bytes())
    policy = REPO / "ontology" / "policies" / "emergency.ttl"  # the reference system's policy
    (system,) = [p.system for p in policy_from_graph(rdflib.Graph().parse(policy))]
    kb.replace_graph(policy.read_bytes(), policy_graph(system))
    for elapsed in range(0, 60, 2):
        store_sample(kb, system, LearnedSample(3, float(elapsed), 4, sample_id=f"prior-3-{elapsed}",
                                               source="prior"), sync=True)
    kb.close()


def fresh_event() -> bytes:
    """The sample seismometer notification (magnitude 6), as if it happened now, with a new id."""
    doc = json.loads(EVENT.read_text())
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]
    doc["ietf-restconf:notification"]["eventTime"] = now
    event["timestamp"] = now
    event["id"] = f"seismo-hq-{uuid.uuid4().hex[:8]}"
    return json.dumps(doc).encode()


@dataclass
class IncidentLoop:
    """The four services against a testbed at real time that plays one incident (``incident_loop``)."""

    bed: Any  # arca.testbed.platform.Testbed
    events: list[Any]  # every testbed event, in order
    procs: dict[str, Proc]
    sink: Any  # the seismometer's HttpSink (its statuses)
    sparql: Any
    system: str = "emergency"


@contextlib.contextmanager
def incident_loop(rabbit_url: str, sparql: Any, work: Path, *, incident_at_s: float,
                  policy: bytes | None = None, whole_second_start: bool = False,
                  extra_env: Mapping[str, str] | None = None) -> Iterator[IncidentLoop]:
    """The live loop of the ops suites that watch one incident: the store emptied and given the
    severity scales, ``policy`` (default the shipped ``emergency.ttl``) and the shipped prior; a
    testbed at real time playing one severity-4 incident in building-3 at ``incident_at_s``, its
    seismometer posting to the collector with its own token; the collector polling its Gnocchi and
    HAProxy stats; the four ``arca run`` services, each ready. ``whole_second_start``: the cloud's
    clock starts on a whole second, as ``arca testbed run --start now`` does (behind the services'
    clocks by up to a second). Everything is stopped on exit."""
    import rdflib

    from arca.collector.http import EVENT_PATH
    from arca.decider.policy import policy_from_graph, policy_graph
    from arca.decider.samples import LEARNED_GRAPH
    from arca.kb.sparql import SparqlKnowledgeBase
    from arca.testbed.model import ModelParams
    from arca.testbed.platform import Testbed
    from arca.testbed.scenario import BUILDINGS
    from arca.testbed.sinks import HttpSink
    from arca.testbed.timeline import parse_timeline

    sparql.clear()
    shipped = (REPO / "ontology" / "policies" / "emergency.ttl").read_bytes()
    (system,) = [p.system for p in policy_from_graph(rdflib.Graph().parse(data=policy or shipped))]
    kb = SparqlKnowledgeBase(sparql.kb_settings())
    kb.load_turtle((REPO / "ontology" / "policies" / "severity-scales.ttl").read_bytes())
    kb.replace_graph(policy or shipped, policy_graph(system))
    kb.load_turtle((REPO / "ontology" / "priors" / "emergency.ttl").read_bytes(), LEARNED_GRAPH)
    kb.flush()
    kb.close()

    collector_port = free_port()
    timeline = {"duration_s": 3600, "seed": 5, "failures": [],
                "incidents": [{"at_s": incident_at_s, "severity": 4, "domain": "building-3"}]}
    detector_token = uuid.uuid4().hex  # the collector authenticates the testbed's seismometer
    sink = HttpSink(f"http://127.0.0.1:{collector_port}{EVENT_PATH}",
                    headers={"Authorization": f"Bearer {detector_token}"})
    start = datetime.now(UTC)
    bed = Testbed(parse_timeline(timeline), ModelParams(require_pool_membership=True),
                  start=start.replace(microsecond=0) if whole_second_start else start,
                  detector_sink=sink).start()
    events: list[Any] = []
    bed.model.subscribe(events.append)
    bed.start_ticker(speed=1.0)
    procs: dict[str, Proc] = {}
    try:
        clouds = work / "clouds.yaml"
        clouds.write_text(bed.clouds_yaml())
        urls = bed.urls()
        lbs = {f"lb-{b}": urls[f"haproxy:{b}"] for b in BUILDINGS}
        env = {
            **service_env(rabbit_url, sparql, bed, uuid.uuid4().hex[:8], collector_port),
            "OS_CLIENT_CONFIG_FILE": str(clouds),
            "ARCA_COLLECTOR__TOKENS": json.dumps({"seismometer-building-3": detector_token}),
            "ARCA_COLLECTOR__GNOCCHI_ENABLED": "true",
            "ARCA_COLLECTOR__OPENSTACK_CLOUD": "arca-testbed",
            "ARCA_COLLECTOR__HAPROXY_URLS": json.dumps(lbs),
            "ARCA_COLLECTOR__HAPROXY_DOMAINS": json.dumps({lb: lb[3:] for lb in lbs}),
            **(extra_env or {}),
        }
        for name in SERVICES:
            procs[name] = start_service(name, env, work)
        deadline = time.monotonic() + 60
        for proc in procs.values():
            wait_http(proc, f"http://127.0.0.1:{proc.metrics_port}/readyz", deadline)
            wait_log(proc, f"service {proc.name} started", deadline)
        yield IncidentLoop(bed, events, procs, sink, sparql, system)
    finally:
        stop_services(procs)
        bed.stop()
