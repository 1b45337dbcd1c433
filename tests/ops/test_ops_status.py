"""``arca status``: the document read from a knowledge base holding the analyzer's situations and the
decider's decisions, and its incident expiry against the decider's own (a table of cases).

What status shows of the enforcer (last enforcement, warm pool, refusals) is tested with a live
enforcer that stores its own reports: ``test_ops_status_live.py``. Nothing here stores an
``Enforcement``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from arca.app.cli.main import main
from arca.app.settings import KbSettings
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.kb.messages import store_message
from arca.messages import ActiveIncident, Decision, Situation
from arca.status import SCHEMA, collect, render_text

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ONSET = T0 - timedelta(seconds=4)
REPO = Path(__file__).resolve().parents[2]


def fill(kb: KnowledgeBase) -> None:
    """Two systems: 'emergency' in an incident with three decisions, 'quiet' with a situation only."""
    for i, (target, reason) in enumerate([(2, "load 80 % above 70 %"), (6, "MSA 6 for severity 3 at 10 s"),
                                          (5, "load 20 % below 30 %")]):
        store_message(kb, Decision(event_time=T0 + timedelta(seconds=i), system="emergency",
                                   strategy="anticipation", target_servants=target, msa=target - 1,
                                   reason=reason, rule=f"rule-{i}", standby_servants=3 if i == 2 else None),
                      sync=True)
    store_message(kb, Situation(event_time=T0 + timedelta(seconds=1), system="emergency",
                                servants_active=1, average_load=0.9, incident_severity=1), sync=True)
    store_message(kb, Situation(event_time=T0 + timedelta(seconds=2), system="emergency",
                                servants_active=2, servants_booting=4, average_load=0.8,
                                discard_ratio=0.05, incident_severity=3, incident_id="quake-1",
                                incident_source="seismo-1", incident_onset=ONSET,
                                incident_elapsed_s=6.0), sync=True)
    store_message(kb, Situation(event_time=T0, system="quiet", servants_active=1,
                                average_load=0.1), sync=True)
    kb.flush()


def check_document(doc: dict[str, Any], now: datetime) -> None:
    assert doc["schema"] == SCHEMA
    assert doc["generated_at"] == now.isoformat()
    systems = {s["system"]: s for s in doc["systems"]}
    assert list(systems) == ["emergency", "quiet"]
    em = systems["emergency"]
    assert em["as_of"] == (T0 + timedelta(seconds=2)).isoformat()  # the latest situation wins
    assert em["load"] == {"average": 0.8, "discard_ratio": 0.05}
    assert em["servants"] == {"desired": 5, "active": 2, "booting": 4, "msa": 4, "standby": None,
                              "standby_desired": 3}
    assert em["incident"]["severity"] == 3
    assert em["incident"]["id"] == "quake-1" and em["incident"]["source"] == "seismo-1"
    assert em["incident"]["elapsed_s"] == (now - ONSET).total_seconds()
    assert em["incident"]["elapsed_s_at_situation"] == 6.0
    assert em["incident"]["expires_at"] == (ONSET + timedelta(seconds=45)).isoformat()  # the default
    assert em["expiration_s"] == 45.0 and em["expired_incidents"] == []
    assert [d["reason"] for d in em["last_decisions"]] == [
        "load 20 % below 30 %", "MSA 6 for severity 3 at 10 s"]  # newest first, --decisions 2
    assert em["last_decisions"][0]["rule"] == "rule-2"
    assert em["last_enforcement"] is None and em["recent_refusals"] == []  # no enforcer ran
    quiet = systems["quiet"]
    assert quiet["incident"] is None and quiet["last_decisions"] == []
    assert quiet["servants"] == {"desired": None, "active": 1, "booting": 0, "msa": None, "standby": None,
                                 "standby_desired": None}
    assert quiet["last_enforcement"] is None


def test_status_of_an_embedded_store() -> None:
    kb = EmbeddedKnowledgeBase()
    fill(kb)
    now = T0 + timedelta(seconds=30)
    check_document(collect(kb, now=now, decisions=2), now)


def test_one_system_only_and_an_empty_store() -> None:
    kb = EmbeddedKnowledgeBase()
    assert collect(kb, now=T0)["systems"] == []
    fill(kb)
    doc = collect(kb, ["quiet"], now=T0)
    assert [s["system"] for s in doc["systems"]] == ["quiet"]


def test_text_view_shows_load_servants_incident_and_reasons() -> None:
    kb = EmbeddedKnowledgeBase()
    fill(kb)
    text = render_text(collect(kb, now=T0 + timedelta(seconds=30), decisions=3))
    assert "== emergency" in text and "== quiet" in text
    assert "load 80%" in text and "discard 5.00%" in text
    assert "servants desired 5 / active 2 / booting 4   MSA 4" in text
    assert "warm pool: standing by - (pool asked 3)" in text
    assert text.count("warm pool:") == 1  # the quiet system has none
    assert "incident: severity 3 from seismo-1 (quake-1)" in text and "elapsed 34.0 s" in text
    assert "[rule-1] MSA 6 for severity 3 at 10 s" in text
    assert "incident: none" in text  # the quiet system


@pytest.mark.oxigraph
def test_status_over_sparql_on_a_real_oxigraph_server(oxigraph: Any, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from arca.kb.sparql import SparqlKnowledgeBase

    kb = SparqlKnowledgeBase(KbSettings(kind="sparql", query_url=oxigraph.query_url,
                                        update_url=oxigraph.update_url, store_url=oxigraph.store_url))
    fill(kb)
    kb.close()
    monkeypatch.setenv("ARCA_KB__KIND", "sparql")
    monkeypatch.setenv("ARCA_KB__QUERY_URL", oxigraph.query_url)
    monkeypatch.setenv("ARCA_KB__UPDATE_URL", oxigraph.update_url)
    monkeypatch.setenv("ARCA_KB__STORE_URL", oxigraph.store_url)
    now = T0 + timedelta(seconds=30)
    assert main(["status", "--once", "--json", "--decisions", "2", "--now", now.isoformat()]) == 0
    check_document(json.loads(capsys.readouterr().out), now)


def test_cli_on_an_embedded_store_on_disk(tmp_path: Path) -> None:
    """``arca status`` in its own process opens the on-disk store read-only."""
    path = tmp_path / "kb"
    kb = EmbeddedKnowledgeBase(str(path))
    fill(kb)
    kb.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "ARCA_KB__KIND": "embedded", "ARCA_KB__PATH": str(path)}
    now = T0 + timedelta(seconds=30)
    out = subprocess.run([sys.executable, "-m", "arca.app.cli.main", "status", "--once", "--json",
                          "--decisions", "2", "--now", now.isoformat()],
                         capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    check_document(json.loads(out.stdout), now)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--now", "yesterday"], "--now: not an ISO 8601 time"),
        (["--now", "2026-03-01T12:00:00"], "--now: give a timezone"),
        (["--interval", "0"], "--interval: must be > 0"),
        (["--decisions", "-1"], "--decisions: must be >= 0"),
    ],
    ids=["now-not-a-time", "now-naive", "interval-zero", "decisions-negative"],
)
def test_bad_options_are_refused_with_exit_1(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--once", *argv]) == 1
    assert message in capsys.readouterr().err


def test_unreachable_sparql_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/query"
    monkeypatch.setenv("ARCA_KB__KIND", "sparql")
    monkeypatch.setenv("ARCA_KB__QUERY_URL", url)
    monkeypatch.setenv("ARCA_KB__TIMEOUT_S", "2")
    assert main(["status", "--once", "--json"]) == 1
    assert f"cannot read the knowledge base at {url}" in capsys.readouterr().err


def test_live_view_refreshes_until_interrupted(tmp_path: Path) -> None:
    """Without --once the view repeats every --interval (JSON lines here, one document each)."""
    path = tmp_path / "kb"
    kb = EmbeddedKnowledgeBase(str(path))
    fill(kb)
    kb.close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "ARCA_KB__KIND": "embedded", "ARCA_KB__PATH": str(path)}
    proc = subprocess.Popen([sys.executable, "-m", "arca.app.cli.main", "status", "--json",
                             "--interval", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        docs = [json.loads(proc.stdout.readline()) for _ in range(3)]
    finally:
        proc.terminate()
        proc.wait(10)
    assert all([s["system"] for s in d["systems"]] == ["emergency", "quiet"] for d in docs)
    assert docs[0]["generated_at"] < docs[2]["generated_at"]  # evaluated anew at each refresh


# --- incident expiry: status and the decider agree (issue 19: 110 s shown active, expired at 45 s) ---

def incident(ident: str, onset_s_ago: float, now: datetime, severity: int = 3,
             from_load: bool = False) -> ActiveIncident:
    return ActiveIncident(incident_id=ident, severity=0 if from_load else severity,
                          onset=now - timedelta(seconds=onset_s_ago),
                          source="load" if from_load else "seismo-1", detected_from_load=from_load)


EXPIRY = [
    # id, policy expirationSeconds (None: no policy), incidents (id, onset s before now), situation s
    # before now, incidents active at now (both must say the same)
    ("issue-19-110s-after-onset-default-45s", None, [("quake", 110)], 100, []),
    ("within-the-default-expiration", None, [("quake", 30)], 20, ["quake"]),
    ("exactly-at-the-expiration-still-active", None, [("quake", 45)], 40, ["quake"]),
    ("just-after-the-expiration", None, [("quake", 45.5)], 40, []),
    ("policy-300s-keeps-it-at-110s", 300, [("quake", 110)], 100, ["quake"]),
    ("policy-10s-ends-it-at-20s", 10, [("quake", 20)], 15, []),
    ("two-incidents-the-older-expired", None, [("old", 100), ("new", 20)], 10, ["new"]),
    ("two-incidents-both-alive", None, [("old", 40), ("new", 20)], 10, ["new", "old"]),
    ("load-detected-is-not-anticipated", None, [("load-1", 20, True)], 10, []),
    ("situation-already-past-expiration", None, [("quake", 60)], 5, []),
]


@pytest.mark.parametrize(("expiration", "incidents", "situation_ago", "active"), [c[1:] for c in EXPIRY],
                         ids=[c[0] for c in EXPIRY])
def test_status_incident_expiry_agrees_with_the_decider(
        expiration: float | None, incidents: list[tuple[Any, ...]], situation_ago: float,
        active: list[str]) -> None:
    from arca.app.settings import ArcaSettings
    from arca.bus import InMemoryBus
    from arca.clock import SimClock
    from arca.decider.loop import ArcaState
    from arca.decider.service import DeciderService
    from arca.namespace import ARCA_NS
    from arca.policy import policy_graph
    from arca.service import Deps

    now = T0 + timedelta(minutes=10)
    kb = EmbeddedKnowledgeBase()
    if expiration is not None:
        kb.replace_graph(f'@prefix arca: <{ARCA_NS}> .\n<{ARCA_NS}policy/emergency> a arca:Policy ; '
                         f'arca:system "emergency" ; arca:expirationSeconds {expiration} .\n',
                         policy_graph("emergency"))
    at = now - timedelta(seconds=situation_ago)
    alive = [incident(i[0], i[1], now, from_load=len(i) > 2) for i in incidents]
    latest = max(alive, key=lambda i: i.onset)
    situation = Situation(event_time=at, system="emergency", servants_active=2, average_load=0.6,
                          incidents=tuple(alive), incident_severity=latest.severity,
                          incident_id=latest.incident_id, incident_source=latest.source,
                          incident_onset=latest.onset, detected_from_load=latest.detected_from_load)
    store_message(kb, situation, sync=True)

    # the decider: handles the situation when it comes, then re-decides on its tick at ``now``
    clock = SimClock(at)
    decider = DeciderService(Deps(InMemoryBus(), kb, clock, ArcaSettings()))
    decider.handle(situation)
    clock.set(now)
    decider.tick(now)
    _, state = decider.states["emergency"]
    assert isinstance(state, ArcaState)
    anticipated = sorted(a.incident_id for a in state.anticipations)

    # arca status at the same time, from the same store
    doc = collect(kb, now=now)["systems"][0]
    shown = doc["incident"]
    expired = sorted(e["id"] for e in doc["expired_incidents"])
    assert anticipated == sorted(active)
    onset_ago = {i[0]: i[1] for i in incidents}
    latest_active = min(active, key=onset_ago.__getitem__) if active else None
    assert (shown["id"] if shown else None) == latest_active  # the latest incident still alive
    announced = sorted(i[0] for i in incidents if len(i) == 2)
    assert expired == sorted(set(announced) - set(active))
    if shown is not None:
        assert shown["expires_at"] == (dict((i.incident_id, i.onset) for i in alive)[shown["id"]]
                                       + timedelta(seconds=expiration or 45)).isoformat()


@pytest.mark.parametrize("measured,says", [(0.0031, "0.310% so far (met)"),
                                           (0.0072, "0.720% so far (missed)"), (None, "- so far (-)")],
                         ids=["met", "missed", "not-measured-yet"])
def test_status_says_how_the_system_stands_against_its_discard_objective(measured: float | None,
                                                                          says: str) -> None:
    kb = EmbeddedKnowledgeBase()
    store_message(kb, Decision(event_time=T0, system="goal", strategy="arca", target_servants=2, msa=2,
                               reason="r", rule="anticipated", standby_servants=3, discard_objective=0.005,
                               discard_measured=measured), sync=True)
    doc = collect(kb, now=T0 + timedelta(seconds=1))
    (goal,) = [s for s in doc["systems"] if s["system"] == "goal"]
    assert goal["discard_objective"] == {"objective": 0.005, "measured": measured}
    assert f"discard objective 0.500%: {says}" in render_text(doc)
