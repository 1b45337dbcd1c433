"""No flapping in the live loop: the four ``arca run`` services on the real RabbitMQ and Oxigraph,
the testbed's emulated OpenStack at real time, one severity-4 incident on a quiet system.

The testbed plays the incident (its detector POSTs the notification to the collector, its clients
burst), the collector polls Gnocchi and HAProxy every 10 s, the enforcer creates and deletes
servers through Nova. Before the fix a scale-in correction was forgotten and the next tick put the
anticipated floor back: 26 target changes (4 <-> 1 every ~4 s), 12 servers created and 12 deleted
in 45 s. Here the decider starts from the shipped prior (``ontology/priors/emergency.ttl``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from arca.app.settings import KbSettings
from arca.kb.messages import load_messages
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Decision
from arca.testbed.platform import Testbed
from tests.livekit import (
    incident_loop,
)

pytestmark = [pytest.mark.rabbitmq, pytest.mark.oxigraph]

INCIDENT_AT_S = 60.0
"""Simulated = wall seconds after the testbed starts (the services start meanwhile: ~10-40 s here)."""
WATCH_S = 65.0
"""Seconds watched after the incident: burst (~35 s) and the anticipation's expiration (45 s)."""


def _kb(oxigraph: Any) -> SparqlKnowledgeBase:
    return SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=oxigraph.query_url,
                                          update_url=oxigraph.update_url, store_url=oxigraph.store_url))


@pytest.fixture(scope="module")
def live(rabbit_url: str, oxigraph_server: Any,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with incident_loop(rabbit_url, oxigraph_server, tmp_path_factory.mktemp("live-flapping"),
                       incident_at_s=INCIDENT_AT_S) as loop:
        assert loop.bed.model.t < INCIDENT_AT_S - 2, "the services started too late for the incident"
        while loop.bed.model.t < INCIDENT_AT_S + WATCH_S:
            time.sleep(0.5)
        yield {"bed": loop.bed, "events": loop.events, "procs": loop.procs, "oxigraph": oxigraph_server,
               "sink": loop.sink}


def test_one_severity_4_incident_does_not_flap(live: dict[str, Any]) -> None:
    bed: Testbed = live["bed"]
    assert live["sink"].statuses and all(s in (200, 202) for s in live["sink"].statuses)
    onset = bed.model.time_of(INCIDENT_AT_S)
    kb = _kb(live["oxigraph"])
    try:
        decisions = sorted(load_messages(kb, Decision, "emergency", limit=2000), key=lambda d: d.event_time)
    finally:
        kb.close()
    during = [d for d in decisions if onset <= d.event_time <= onset + timedelta(seconds=WATCH_S)]
    assert any(d.rule.startswith("anticipated") for d in during), [d.reason for d in during][:5]
    targets = [d.target_servants for d in during]
    changes = [(a, b) for a, b in itertools.pairwise(targets) if a != b]
    ups = [b > a for a, b in changes]
    reversals = sum(1 for a, b in itertools.pairwise(ups) if a != b)
    # the need of the burst (what the oracle provisions), above the default of 1
    peak_need = max(bed.model.demand.required_servants(INCIDENT_AT_S + k) for k in range(int(WATCH_S)))
    created = [e for e in live["events"] if e.kind == "servant.created" and e.time >= onset]
    deleted = [e for e in live["events"] if e.kind == "servant.deleted" and e.time >= onset]
    report = (f"target changes {len(changes)} ({targets}), reversals {reversals}, created {len(created)}, "
              f"deleted {len(deleted)}, peak need {peak_need}")
    print(report)
    # rises, falls, and at most one re-rise at the plateau, where the demand's +-6 % per-second noise
    # moves the need between 8 and 9 and a reactive correction on 10 s telemetry may add back the
    # servant the falling floor trimmed (seen in about one run of five): rise-fall-rise-fall is 3
    assert reversals <= 3, report
    assert len(created) <= peak_need, report  # the peak's servants, plus that one re-added at most
    assert len(changes) <= 2 * (peak_need - 1) + 2, report
    # what was created was deleted once the burst was over, not within it
    assert len(deleted) <= len(created), report
    if deleted:  # nothing is removed while the burst is still rising to its peak
        first_delete = min(e.time for e in deleted)
        at_s = INCIDENT_AT_S + (first_delete - onset).total_seconds()
        peak_at = next(k for k in range(int(WATCH_S))
                       if bed.model.demand.required_servants(INCIDENT_AT_S + k) == peak_need)
        assert at_s >= INCIDENT_AT_S + peak_at, report
        # and the servants left then (the default one, those created so far, less the one deleted)
        # cover the burst's need within one servant
        serving = 1 + sum(1 for e in created if e.time <= first_delete) - 1
        assert serving >= bed.model.demand.required_servants(at_s) - 1, report


def test_the_services_wrote_only_json(live: dict[str, Any]) -> None:
    for name, proc in live["procs"].items():
        bad = [d for d in proc.lines() if d.get("not_json")]
        assert not bad, (name, bad[:3], Path(proc.log).read_text()[-2000:])
