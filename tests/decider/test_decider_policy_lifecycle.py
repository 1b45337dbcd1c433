"""Policy life cycle on the real RabbitMQ broker and the real Oxigraph server: validate every admin
file kind, diff, apply, history, rollback -- and the running decider follows each version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from decider_helpers import at, situation, wait_for

from arca.app.cli.main import main
from arca.app.settings import ArcaSettings, BusSettings, KbSettings
from arca.bus.rabbitmq import RabbitBus
from arca.clock import SimClock
from arca.decider.service import DeciderService
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import Decision, Message
from arca.namespace import ONTOLOGY_DIR
from arca.policy_history import load_history
from arca.service import Deps

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def static_policy(max_servants: int) -> str:
    return HEAD + ('<urn:p:emergency> a arca:Policy ; arca:system "emergency" ; arca:strategy "static" ; '
                   f"arca:maxServants {max_servants} .\n")


@pytest.mark.parametrize(("name", "kind"), [("emergency.ttl", "policy (1 node)"),
                                            ("severity-scales.ttl", "severity scale (2 nodes)")])
def test_validate_accepts_every_shipped_admin_file_and_names_its_kind(
        name: str, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", str(ONTOLOGY_DIR / "policies" / name)]) == 0
    assert f"valid admin file of kind {kind}" in capsys.readouterr().out


def test_validate_accepts_learned_samples_and_refuses_unknown_content(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "prior.ttl"
    samples.write_text(HEAD + '<urn:s:1> a arca:LearnedSample ; arca:system "emergency" ; arca:severity 3 ; '
                       "arca:elapsedSeconds 5.0 ; arca:servants 4 .\n")
    assert main(["policy", "validate", str(samples)]) == 0
    assert "kind learned samples" in capsys.readouterr().out
    other = tmp_path / "other.ttl"
    other.write_text(HEAD + '<urn:x> arca:system "x" .\n')
    assert main(["policy", "validate", str(other)]) == 1
    assert "no node of class arca:Policy, arca:SeverityScale, arca:SourceTrust" in capsys.readouterr().err
    bad_scale = tmp_path / "scale.ttl"
    bad_scale.write_text(HEAD + "<urn:sc> a arca:SeverityScale ; arca:forSource 3 .\n")
    assert main(["policy", "validate", str(bad_scale)]) == 1
    err = capsys.readouterr().err
    assert "<urn:sc>" in err and "arca:forSource" in err and "arca:step" in err


@pytest.fixture
def cleanup() -> Iterator[list[Callable[[], None]]]:
    todo: list[Callable[[], None]] = []
    yield todo
    for fn in reversed(todo):
        fn()


@pytest.mark.rabbitmq
@pytest.mark.oxigraph
def test_apply_change_rollback_history_and_the_running_decider_follows(
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
    settings = ArcaSettings(bus=bus_s, kb=kb_s)
    kb = SparqlKnowledgeBase(kb_s)
    cleanup.append(kb.close)
    decider = DeciderService(Deps(RabbitBus(bus_s, service="decider"), SparqlKnowledgeBase(kb_s),
                                  SimClock(at(0)), settings))
    cleanup.extend([decider.kb.close, decider.bus.stop])
    decider.attach()
    probe = RabbitBus(bus_s, service="probe")
    cleanup.append(probe.stop)
    decisions: list[Decision] = []

    def keep(m: Message) -> None:
        if isinstance(m, Decision):
            decisions.append(m)

    probe.subscribe(f"{bus_s.queue_prefix}probe", ["decision.#"], keep)
    decider.bus.start()
    probe.start()
    t = [0.0]

    def decided_after(max_servants: int) -> int:
        wait_for(lambda: decider.policies.get("emergency") is not None
                 and decider.policies["emergency"].max_servants == max_servants,
                 what=f"decider reloads the policy with max {max_servants}")
        t[0] += 10
        n = len(decisions)
        probe.publish(situation(t[0]))
        probe.flush()
        wait_for(lambda: len(decisions) > n, what="decision")
        return decisions[-1].target_servants

    path = tmp_path / "p.ttl"
    path.write_text(static_policy(3))
    assert main(["policy", "diff", str(path)]) == 0
    assert "new policy for system 'emergency'" in capsys.readouterr().out
    assert main(["policy", "apply", str(path), "--by", "alice"]) == 0
    assert decided_after(3) == 3

    path.write_text(static_policy(5))
    assert main(["policy", "diff", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 change(s)" in out and "arca:maxServants: 3 -> 5" in out
    assert main(["policy", "apply", str(path), "--by", "bob"]) == 0
    assert decided_after(5) == 5

    assert main(["policy", "rollback", "emergency", "--by", "carol"]) == 0
    assert "to version 1 (now version 3)" in capsys.readouterr().out
    assert decided_after(3) == 3

    versions = load_history(kb, "emergency")
    assert [(v.version, v.applied_by, v.change, v.rolled_back_to) for v in versions] == [
        (1, "alice", "apply", None), (2, "bob", "apply", None), (3, "carol", "rollback", 1)]
    assert "arca:maxServants 5" in versions[1].turtle
    assert main(["policy", "history", "emergency"]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "bob" in out and "rollback to version 1  (current)" in out
    assert main(["policy", "history", "emergency", "--show", "2"]) == 0
    assert "arca:maxServants 5" in capsys.readouterr().out
    assert main(["policy", "rollback", "emergency", "9"]) == 1
    assert "no policy version 9" in capsys.readouterr().err
    assert main(["policy", "history", "nobody"]) == 1
