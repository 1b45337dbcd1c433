"""CollectorService: pollers on tick (event time), failures counted not raised, policy reload, CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from arca.app.cli.main import main
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.gnocchi import GnocchiPoller
from arca.collector.haproxy import HaproxyPoller
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import ExternalEvent, Message, Observation, PolicyUpdated
from arca.metrics import MESSAGES_REJECTED
from arca.namespace import ONTOLOGY_DIR
from arca.service import Deps
from tests.conftest import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "collector"
T0 = datetime(2026, 11, 22, 2, 6, 25, tzinfo=UTC)


def build(**kw: Any) -> tuple[CollectorService, list[Message], EmbeddedKnowledgeBase]:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)
    cfg = {"allow_unauthenticated": True, **kw.pop("cfg", {})}
    settings = ArcaSettings(collector=CollectorSettings(**cfg))
    service = CollectorService(Deps(bus=bus, kb=kb, clock=SimClock(T0), settings=settings), **kw)
    service.attach()
    return service, received, kb


def test_pollers_run_on_tick_when_due_in_event_time() -> None:
    polls = json.loads((DATA / "gnocchi" / "measures-poll1.json").read_text())
    servers = json.loads((DATA / "gnocchi" / "servers.json").read_text())["servers"]
    gnocchi = GnocchiPoller(lambda: servers, lambda sid, start: polls.get(sid, []), interval_s=10)
    csv = iter([(DATA / "haproxy" / f"lb-building-2-poll{i}.csv").read_text() for i in (1, 2)])
    lb = HaproxyPoller(lambda: next(csv), system="emergency", lb_name="lb-building-2", interval_s=10)
    service, received, _ = build(gnocchi=gnocchi, haproxy=[lb])
    service.tick(T0)
    first = len(received)
    assert {o.metric for o in received if isinstance(o, Observation)} == {"cpu_util", "queue_length"}
    service.tick(T0 + timedelta(seconds=5))  # not due: nothing polled
    assert len(received) == first
    service.tick(T0 + timedelta(seconds=10))
    metrics = [o.metric for o in received[first:] if isinstance(o, Observation)]
    assert sorted(metrics) == ["discard_rate", "queue_length", "request_rate"]  # no new cpu measures


def test_a_failing_poller_is_counted_and_never_crashes_the_tick() -> None:
    def down() -> str:
        raise ConnectionError("haproxy unreachable")

    bad_csv = HaproxyPoller(lambda: "garbage", system="emergency", lb_name="lb-bad")
    dead = HaproxyPoller(down, system="emergency", lb_name="lb-down")
    service, received, _ = build(haproxy=[bad_csv, dead])
    before = MESSAGES_REJECTED.labels(service="collector", reason="haproxy:unreachable")._value.get()
    service.tick(T0)
    assert received == []
    assert service.ingestor.rejections[("haproxy", "haproxy")] == 1
    after = MESSAGES_REJECTED.labels(service="collector", reason="haproxy:unreachable")._value.get()
    assert after == before + 1


def test_policy_update_reloads_severity_scales() -> None:
    service, received, kb = build()
    doc = json.loads((DATA / "events" / "seismometer.json").read_text())
    service.ingestor.detector_event(doc)
    assert [e.severity for e in received if isinstance(e, ExternalEvent)] == [3]
    kb.update("DELETE WHERE { ?s arca:forSource \"seismo-hq\" ; ?p ?o }")
    service.bus.publish(PolicyUpdated(event_time=T0, system="emergency", policy="severity-scales"))
    doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]["id"] = "q-18"
    service.ingestor.detector_event(doc)
    events = [e for e in received if isinstance(e, ExternalEvent)]
    assert [e.severity for e in events] == [3, 2]  # now the '*' fallback scale applies


# --- CLI --------------------------------------------------------------------------------------
def test_cli_validate_accepts_and_rejects(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["event", "validate", str(DATA / "events" / "seismometer.json")]) == 0
    assert '"severity": 3' in capsys.readouterr().out
    assert main(["event", "validate", str(DATA / "cap" / "thunderstorm-update.xml")]) == 0
    assert "KSTO1055887200" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    doc = json.loads((DATA / "events" / "bigdata.json").read_text())
    doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]["sequence"] = 3
    bad.write_text(json.dumps(doc))
    assert main(["event", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "rejected (yang)" in err and "ietf-nmrg-nict-resource-anticipation:event/sequence" in err
    assert main(["event", "validate", str(DATA / "cap" / "billion-laughs.xml")]) == 1
    assert main(["event", "validate", str(tmp_path / "missing.json")]) == 1


def test_cli_send_builds_a_valid_notification(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["event", "send", "--source", "seismo-hq", "--magnitude", "7", "--location", "hq",
                 "--sequence", "9", "--print"]) == 0
    doc = json.loads(capsys.readouterr().out)
    content = doc["ietf-restconf:notification"]["ietf-nmrg-nict-resource-anticipation:event"]
    assert content["sequence"] == "9" and content["source"] == "seismo-hq"
    assert main(["event", "send", "--source", "b", "--severity", "9", "--print"]) == 1
    assert "outside the scale 0..4" in capsys.readouterr().err
    assert main(["event", "send", "--source", "b", "--magnitude", "400", "--print"]) == 1


def test_cli_send_over_http_to_the_running_collector(capsys: pytest.CaptureFixture[str]) -> None:
    service, received, _ = build(cfg={"http_port": free_port()})
    service.clock.set(datetime.now(UTC))  # type: ignore[attr-defined]  # the CLI stamps the wall clock
    try:
        assert service.http is not None
        url = service.http.url
        assert main(["event", "send", "--source", "seismo-hq", "--magnitude", "7", "--url", url]) == 0
        [event] = [e for e in received if isinstance(e, ExternalEvent)]
        assert (event.magnitude, event.severity) == (7.0, 4)
        assert main(["event", "send", "--source", "nowhere", "--magnitude", "7", "--url", url]) == 0
        assert len([e for e in received if isinstance(e, ExternalEvent)]) == 2  # '*' fallback scale
        service.ingestor.scales.by_source.pop("*")
        assert main(["event", "send", "--source", "nowhere", "--magnitude", "7", "--url", url]) == 1
        assert "no arca:SeverityScale" in capsys.readouterr().err
    finally:
        service.close()


def test_cli_bench_reports_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["event", "bench", "-n", "20"]) == 0
    out = capsys.readouterr().out
    for stage in ("event_validate", "event_build", "event_encode", "event_total", "cap_total"):
        assert f"{stage}" in out and "n=20" in out
    assert main(["event", "bench", "-n", "0"]) == 1


def test_cli_exit_codes_as_a_process(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = [sys.executable, "-m", "arca.app.cli.main", "event", "validate"]
    ok = subprocess.run([*run, str(DATA / "events" / "basic.json")], capture_output=True, text=True, env=env,
                        timeout=120)
    assert ok.returncode == 0, ok.stderr
    rejected = subprocess.run([*run, str(bad)], capture_output=True, text=True, env=env, timeout=120)
    assert rejected.returncode == 1
    assert "rejected (envelope) at /" in rejected.stderr and "Traceback" not in rejected.stderr


def test_runtime_wires_the_collector_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from arca.app.runtime import make_deps, service_class

    port = free_port()
    monkeypatch.setenv("ARCA_COLLECTOR__HTTP_PORT", str(port))
    monkeypatch.setenv("ARCA_COLLECTOR__TOKENS", '{"seismo-hq": "t0k"}')
    settings = ArcaSettings()
    assert settings.collector.tokens == {"seismo-hq": "t0k"}
    service = service_class("collector")(make_deps(settings))
    assert isinstance(service, CollectorService)
    service.attach()
    try:
        import requests

        resp = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
    finally:
        service.close()
