"""Severity scales are admin policies too: ``arca policy apply|diff|history|rollback`` on the real
RabbitMQ broker and the real Oxigraph server, and the running collector follows each version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from arca.app.cli.main import main
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.collector.service import CollectorService
from arca.kb.sparql import SparqlKnowledgeBase
from arca.policy import load_scale_steps
from arca.policy_history import load_history
from arca.service import Deps

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def scale(source: str, *steps: tuple[float, int], node: str = "urn:scale:x") -> str:
    body = " , ".join(f"[ a arca:SeverityStep ; arca:fromMagnitude {m:.1f} ; arca:stepSeverity {s} ]"
                      for m, s in steps)
    return HEAD + f'<{node}> a arca:SeverityScale ; arca:forSource "{source}" ; arca:step {body} .\n'


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], None]]]:
    todo: list[Callable[[], None]] = []
    yield todo
    for fn in reversed(todo):
        fn()


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_apply_diff_rollback_history_of_a_severity_scale_and_the_running_collector_follows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, oxigraph: object, rabbit_url: str, unique: str,
        capsys: pytest.CaptureFixture[str], cleanup: list[Callable[[], None]]) -> None:
    ox = oxigraph
    bus_s = BusSettings(kind="rabbitmq", url=rabbit_url, exchange=f"arca-{unique}",
                        dead_letter_exchange=f"dlx-{unique}", dead_letter_queue=f"dlq-{unique}",
                        queue_prefix=f"t-{unique}.", confirm_timeout_s=30.0)
    kb_s = KbSettings(kind="sparql", query_url=ox.query_url, update_url=ox.update_url,  # type: ignore[attr-defined]
                      store_url=ox.store_url, write_flush_interval_s=0.05)  # type: ignore[attr-defined]
    for k, v in {"ARCA_KB__KIND": "sparql", "ARCA_KB__QUERY_URL": kb_s.query_url,
                 "ARCA_KB__UPDATE_URL": kb_s.update_url, "ARCA_KB__STORE_URL": kb_s.store_url,
                 "ARCA_BUS__KIND": "rabbitmq", "ARCA_BUS__URL": rabbit_url,
                 "ARCA_BUS__EXCHANGE": bus_s.exchange,
                 "ARCA_BUS__DEAD_LETTER_EXCHANGE": bus_s.dead_letter_exchange,
                 "ARCA_BUS__DEAD_LETTER_QUEUE": bus_s.dead_letter_queue,
                 "ARCA_BUS__QUEUE_PREFIX": bus_s.queue_prefix}.items():
        monkeypatch.setenv(k, v)
    kb = SparqlKnowledgeBase(kb_s)
    cleanup.append(kb.close)
    # a scale loaded the old way (arca kb load: the default graph) for the same source
    old = tmp_path / "loaded.ttl"
    old.write_text(scale("seismo-x", (2.0, 1), (4.0, 4), node="urn:scale:loaded"))
    assert main(["kb", "load", str(old)]) == 0
    clock = SimClock(datetime(2026, 1, 1, tzinfo=UTC))
    collector = CollectorService(Deps(RabbitBus(bus_s, service="collector"), SparqlKnowledgeBase(kb_s),
                                      clock, ArcaSettings(bus=bus_s, kb=kb_s)))
    cleanup.extend([collector.kb.close, collector.bus.stop])
    collector.attach()
    collector.bus.start()

    def steps() -> list[tuple[float, int]] | None:
        return collector.ingestor.scales.steps_for("seismo-x")

    assert steps() == [(2.0, 1), (4.0, 4)]
    path = tmp_path / "scale.ttl"
    path.write_text(scale("seismo-x", (3.0, 1), (5.0, 2), (6.0, 3), (7.0, 4)))
    assert main(["policy", "diff", str(path)]) == 0
    out = capsys.readouterr().out
    assert "scale:seismo-x: 6 change(s)" in out  # magnitudes 2 to 7: it replaces the loaded one
    assert "from magnitude 4: severity 4 -> -" in out and "from magnitude 3: severity - -> 1" in out
    assert main(["policy", "apply", str(path), "--by", "alice"]) == 0
    assert "applied severity scale for source 'seismo-x' as version 1" in capsys.readouterr().out
    wait_for(lambda: steps() == [(3.0, 1), (5.0, 2), (6.0, 3), (7.0, 4)], "the collector reloads v1")

    path.write_text(scale("seismo-x", (3.0, 1), (5.0, 3), (6.0, 4)))
    assert main(["policy", "diff", str(path)]) == 0
    out = capsys.readouterr().out
    assert "scale:seismo-x: 3 change(s)" in out
    assert all(line in out for line in ("from magnitude 5: severity 2 -> 3",
                                        "from magnitude 6: severity 3 -> 4",
                                        "from magnitude 7: severity 4 -> -"))
    assert main(["policy", "apply", str(path), "--by", "bob"]) == 0
    wait_for(lambda: steps() == [(3.0, 1), (5.0, 3), (6.0, 4)], "the collector reloads v2")
    assert main(["policy", "diff", str(path)]) == 0
    assert "scale:seismo-x: no change" in capsys.readouterr().out

    assert main(["policy", "rollback", "scale:seismo-x", "--by", "carol"]) == 0
    assert "to version 1 (now version 3)" in capsys.readouterr().out
    wait_for(lambda: steps() == [(3.0, 1), (5.0, 2), (6.0, 3), (7.0, 4)], "the collector follows rollback")
    assert load_scale_steps(kb)["seismo-x"] == [(3.0, 1), (5.0, 2), (6.0, 3), (7.0, 4)]

    versions = load_history(kb, "scale:seismo-x")
    assert [(v.version, v.applied_by, v.change, v.rolled_back_to) for v in versions] == [
        (1, "alice", "apply", None), (2, "bob", "apply", None), (3, "carol", "rollback", 1)]
    assert main(["policy", "history", "scale:seismo-x"]) == 0
    assert "rollback to version 1  (current)" in capsys.readouterr().out
    assert main(["policy", "history", "scale:seismo-x", "--show", "2"]) == 0
    assert "arca:stepSeverity 4" in capsys.readouterr().out
    assert main(["policy", "rollback", "scale:seismo-x", "7"]) == 1
    assert "no policy version 7" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "text"), [
    (["policy", "diff", "{trust}"], "nothing to compare (arca policy diff takes arca:Policy and "
                                    "arca:SeverityScale nodes; found source trust)"),
    (["policy", "diff", "{bad}"], "arca:stepSeverity"),
    (["policy", "apply", "{bad}"], "arca:fromMagnitude"),
    (["policy", "history", "scale:nobody"], "no policy history for the severity scale of source 'nobody'"),
    (["policy", "rollback", "scale:nobody"], "no policy history for the severity scale of source 'nobody'"),
], ids=["diff-trust-only", "diff-bad-steps", "apply-bad-steps", "history-unknown", "rollback-unknown"])
def test_wrong_input_is_one_clear_line_and_exit_1(argv: list[str], text: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ARCA_KB__KIND", "embedded")
    monkeypatch.setenv("ARCA_KB__PATH", str(tmp_path / "kb"))
    trust = tmp_path / "trust.ttl"
    trust.write_text(HEAD + '<urn:t> a arca:SourceTrust ; arca:forSource "s" ; arca:eventLimit 5 .\n')
    bad = tmp_path / "bad.ttl"
    bad.write_text(HEAD + '<urn:s> a arca:SeverityScale ; arca:forSource "x" ; '
                   'arca:step [ a arca:SeverityStep ; arca:fromMagnitude "abc" ; arca:stepSeverity -2 ] .\n')
    files = {"trust": str(trust), "bad": str(bad)}
    assert main([a.format(**files) for a in argv]) == 1
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err
