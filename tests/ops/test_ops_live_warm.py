"""The warm pool in the live loop: the four ``arca run`` services on the real RabbitMQ and Oxigraph,
the testbed's emulated OpenStack at real time, a policy with a pool of stopped servants, one
severity-4 incident on a quiet system.

The enforcer fills the pool as soon as it watches the system (servers booted, then ``os-stop``),
the burst is met by ``os-start`` of pool servants (seconds) rather than by new servers (10 s), and
once it is over the servants go back to the pool (``os-stop``) instead of being deleted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rdflib
import requests
from opskit import REPO

from arca.namespace import ARCA_NS
from arca.testbed import model as tbmodel
from arca.testbed.platform import Testbed
from tests.livekit import (
    incident_loop,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]

INCIDENT_AT_S = 75.0
WATCH_S = 70.0
POOL_MIN, POOL_MAX = 4, 6


def _warm_policy() -> bytes:
    g = rdflib.Graph().parse(REPO / "ontology" / "policies" / "emergency.ttl")
    node = rdflib.URIRef(f"{ARCA_NS}policy/emergency")
    a = rdflib.Namespace(ARCA_NS)
    for p, o in ((a.warmPoolState, rdflib.Literal("stopped")), (a.warmPoolMinSize, rdflib.Literal(POOL_MIN)),
                 (a.warmPoolMaxSize, rdflib.Literal(POOL_MAX)), (a.warmPoolAuto, rdflib.Literal(True))):
        g.add((node, p, o))
    return g.serialize(format="turtle").encode()


@pytest.fixture(scope="module")
def live(rabbit_url: str, oxigraph_server: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with incident_loop(rabbit_url, oxigraph_server, tmp_path_factory.mktemp("live-warm"),
                       incident_at_s=INCIDENT_AT_S, policy=_warm_policy()) as loop:
        bed, procs = loop.bed, loop.procs
        assert bed.model.t < INCIDENT_AT_S - 20, "the services started too late to fill the pool"
        while bed.model.t < INCIDENT_AT_S:
            time.sleep(0.5)
        pool_at_onset = sum(1 for s in bed.model.live_servants() if s.status == "SHUTOFF")
        while bed.model.t < INCIDENT_AT_S + WATCH_S:
            time.sleep(0.5)
        pool_after = sum(1 for s in bed.model.live_servants() if s.status == "SHUTOFF")
        metrics = requests.get(f"http://127.0.0.1:{procs['enforcer'].metrics_port}/metrics", timeout=5).text
        yield {"bed": bed, "events": loop.events, "procs": procs, "pool_at_onset": pool_at_onset,
               "pool_after": pool_after, "metrics": metrics}


def test_the_burst_is_met_from_the_pool_and_servants_go_back_to_it(live: dict[str, Any]) -> None:
    bed: Testbed = live["bed"]
    onset = bed.model.time_of(INCIDENT_AT_S)
    after = [e for e in live["events"] if e.time >= onset]

    def actions(name: str) -> list[tbmodel.TestbedEvent]:
        return [e for e in after if e.kind == "servant.action" and e.data.get("action") == name
                and e.data.get("phase") == "start"]

    starts, stops = actions("os-start"), actions("os-stop")
    created = [e for e in after if e.kind == "servant.created"]
    deleted = [e for e in after if e.kind == "servant.deleted"]
    records = [r for r in bed.model.records if INCIDENT_AT_S <= r.t < INCIDENT_AT_S + 45]
    offered = sum(r.offered for r in records)
    discard = sum(sum(r.discarded.values()) for r in records) / offered
    peak_need = max(bed.model.demand.required_servants(INCIDENT_AT_S + k) for k in range(45))
    report = (f"pool at onset {live['pool_at_onset']}, after {live['pool_after']}, os-start {len(starts)}, "
              f"os-stop {len(stops)}, "
              f"created {len(created)}, deleted {len(deleted)}, peak need {peak_need}, "
              f"incident discard {discard * 100:.3f} %")
    print(report)
    assert POOL_MIN <= live["pool_at_onset"] <= POOL_MAX, report
    first_start = min(e.t for e in starts) - INCIDENT_AT_S
    assert 0 < first_start < 10, report  # resumed on the notification, before a boot could serve
    assert len(starts) >= min(live["pool_at_onset"], peak_need - 1), report
    # back to the pool rather than deleted: the pool is kept (its auto size may shrink as the decider
    # learns from the burst, within [min, max]); only what exceeds it is deleted
    assert len(stops) >= 1, report
    assert POOL_MIN <= live["pool_after"] <= POOL_MAX, report
    assert len(deleted) <= len(created) + live["pool_at_onset"] - POOL_MIN, report
    assert "arca_servants_standby" in live["metrics"], report
    standby = [line for line in live["metrics"].splitlines()
               if line.startswith('arca_servants_standby{system="emergency"}')]
    assert standby and float(standby[0].split()[-1]) >= 1, (report, standby)


def test_the_services_wrote_only_json(live: dict[str, Any]) -> None:
    for name, proc in live["procs"].items():
        bad = [d for d in proc.lines() if d.get("not_json")]
        assert not bad, (name, bad[:3], Path(proc.log).read_text()[-2000:])
