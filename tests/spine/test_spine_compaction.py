"""Issue 25 item 3, bytes on disk: retention deletes triples, but only the store's compaction gives the
disk back. ``kb.compaction`` makes the analyzer ask for it every ``interval_s``
(``KnowledgeBase.compact_storage``): Fuseki's ``/$/compact/arca`` (``fuseki:compactEP`` in the shipped
config, behind the password like every admin endpoint), ``Store.optimize`` for an embedded store on disk.

On the real Fuseki server with the shipped config: the disk deleted triples held comes back, writes made
while the compaction runs are all kept, a wrong password is refused, the health checks of compose and
of the Fuseki image still pass with the password and fail without it; ``arca kb compact`` waits for the
compaction. On main before this change ``compact_storage`` did not exist and ``/$/compact`` answered 404.
"""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from arca.app.cli.main import main
from arca.app.cli.stores import FusekiServer, SparqlEndpoints
from arca.app.settings import ArcaSettings, KbSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.config import CompactionSettings
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBaseError
from arca.kb.retention import STORAGE_OWNER
from arca.kb.sparql import SparqlKnowledgeBase
from arca.service import Deps

CHECKOUT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 7, 3, tzinfo=UTC)


def disk(path: Path) -> int:
    """Bytes the files under ``path`` occupy (blocks: TDB2's files are sparse)."""
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def churn(kb: SparqlKnowledgeBase, rounds: int = 20, per: int = 2000) -> None:
    """Insert and delete ``rounds`` x ``per`` triples: what retention does to a store, in a hurry."""
    for r in range(rounds):
        rows = " ".join(f'<urn:s{r}-{j}> <urn:p> "{"x" * 40}{j}" .' for j in range(per))
        kb.update("INSERT DATA { GRAPH <urn:churn> { " + rows + " } }")
        kb.update("DROP SILENT GRAPH <urn:churn>")


def count(kb: SparqlKnowledgeBase, graph: str) -> int:
    rows = kb.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH $g { ?s ?p ?o } }", g=_iri(graph))
    return int(rows[0]["n"])


def _iri(text: str) -> Any:
    from arca.kb.terms import IRI

    return IRI(text)


@pytest.fixture(scope="module")
def own_fuseki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A Fuseki server of this module's own, so its data directory's size is this module's doing."""
    server = FusekiServer(tmp_path_factory.mktemp("fuseki-compaction")).start()
    yield server
    server.stop()


@pytest.mark.fuseki
def test_fuseki_gives_back_the_disk_deleted_triples_held(own_fuseki: FusekiServer) -> None:
    kb = SparqlKnowledgeBase(own_fuseki.endpoints.kb_settings())
    kb.update("INSERT DATA { GRAPH <urn:kept> { <urn:a> <urn:p> 1 } }")
    churn(kb)
    before = disk(own_fuseki.directory / "databases")
    answer = kb.compact_storage(wait_s=120)
    after = disk(own_fuseki.directory / "databases")
    assert answer is not None and answer.startswith("task ") and "finished" in answer
    assert after < before / 4, (before, after)  # measured: 59 MB -> 0.2 MB
    assert count(kb, "urn:kept") == 1 and count(kb, "urn:churn") == 0
    kb.update("INSERT DATA { GRAPH <urn:kept> { <urn:b> <urn:p> 2 } }")  # the compacted store takes writes
    assert count(kb, "urn:kept") == 2
    kb.close()


@pytest.mark.fuseki
def test_writes_made_while_fuseki_compacts_are_all_kept(own_fuseki: FusekiServer) -> None:
    kb = SparqlKnowledgeBase(own_fuseki.endpoints.kb_settings())
    kb.update("DROP SILENT GRAPH <urn:during>")
    churn(kb, rounds=10)
    answers: list[str | None] = []
    compaction = threading.Thread(target=lambda: answers.append(kb.compact_storage(wait_s=120)))
    compaction.start()
    for i in range(1500):
        kb.submit("INSERT DATA { GRAPH <urn:during> { $s <urn:p> $i } }", s=_iri(f"urn:w{i}"), i=i)
    compaction.join(180)
    kb.flush(120)
    assert answers and answers[0] is not None and "finished" in answers[0]
    assert count(kb, "urn:during") == 1500
    assert kb.failures == 0
    kb.close()


@pytest.mark.fuseki
@pytest.mark.parametrize("password", [None, "wrong"], ids=["no-password", "wrong-password"])
def test_compaction_without_the_password_is_refused(own_fuseki: FusekiServer, password: str | None) -> None:
    endpoints = own_fuseki.endpoints
    fields = endpoints.kb_fields()
    if password is None:
        fields.pop("username"), fields.pop("password")
    else:
        fields["password"] = password
    kb = SparqlKnowledgeBase(KbSettings.model_validate(fields))
    with pytest.raises(KnowledgeBaseError) as caught:
        kb.compact_storage()
    assert caught.value.status == 401 and "/$/compact/arca" in str(caught.value)
    kb.close()


def _healthchecks() -> dict[str, str]:
    """The health-check shell commands of compose's fuseki service and of the Fuseki image."""
    compose = yaml.safe_load((CHECKOUT / "compose.yaml").read_text())
    test = compose["services"]["fuseki"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    dockerfile = (CHECKOUT / "ops" / "fuseki" / "Dockerfile").read_text()
    image = dockerfile.split("HEALTHCHECK", 1)[1].split(" CMD ", 1)[1].splitlines()[0]
    return {"compose": test[1].replace("$$", "$"), "image": image}


@pytest.mark.fuseki
@pytest.mark.parametrize("where", ["compose", "image"])
def test_the_shipped_health_checks_pass_with_the_password_and_fail_without(
        own_fuseki: FusekiServer, where: str, tmp_path: Path) -> None:
    command = _healthchecks()[where].replace("localhost:3030", f"127.0.0.1:{own_fuseki.port}")
    secret = "/run/secrets/fuseki_passwd"
    assert secret in command
    good = command.replace(secret, str(own_fuseki.passwd_file))  # the secret's format: "arca: <password>"
    wrong = tmp_path / "wrong_passwd"
    wrong.write_text("arca: not-the-password\n")
    assert subprocess.run(["sh", "-c", good], capture_output=True, timeout=30).returncode == 0
    assert subprocess.run(["sh", "-c", command.replace(secret, str(wrong))], capture_output=True,
                          timeout=30).returncode != 0


@pytest.mark.fuseki
def test_arca_kb_compact_waits_for_the_store_compaction(own_fuseki: FusekiServer,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in own_fuseki.endpoints.env().items():
        monkeypatch.setenv(name, value)
    assert main(["kb", "compact", "--dry-run"]) == 0
    assert "store files: not compacted (--dry-run)" in capsys.readouterr().out
    assert main(["kb", "compact"]) == 0
    out = capsys.readouterr().out
    assert "store files: compaction task " in out and " finished in " in out


@pytest.mark.oxigraph
def test_a_store_without_a_compaction_url_is_asked_nothing(oxigraph: SparqlEndpoints,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    kb = SparqlKnowledgeBase(oxigraph.kb_settings())
    assert kb.compact_storage(wait_s=10) is None
    kb.close()
    for name, value in oxigraph.env().items():
        monkeypatch.setenv(name, value)
    assert main(["kb", "compact"]) == 0
    assert "no compaction to ask for (kb.compaction.url unset" in capsys.readouterr().out


# -- who asks, and when -----------------------------------------------------------------------------
SCHEDULE = [
    # id, service, tick times (s after T0), ticks whose answer is not None
    ("first-one-interval-after-the-first-tick", "analyzer", [0, 599, 600], [600]),
    ("then-every-interval", "analyzer", [0, 600, 601, 1199, 1200, 1800], [600, 1200, 1800]),
    ("a-late-tick-restarts-the-interval-from-itself", "analyzer", [0, 1000, 1500, 1600], [1000, 1600]),
    ("never-the-decider", "decider", [0, 600, 1200], []),
]


@pytest.mark.parametrize(("service", "ticks", "asked"), [c[1:] for c in SCHEDULE],
                         ids=[c[0] for c in SCHEDULE])
def test_the_storage_owner_asks_once_an_interval(tmp_path: Path, service: str, ticks: list[int],
                                                asked: list[int]) -> None:
    from arca.analyzer.service import AnalyzerService
    from arca.decider.service import DeciderService

    kb = EmbeddedKnowledgeBase(str(tmp_path / "store"))
    settings = ArcaSettings(kb=KbSettings(compaction=CompactionSettings(interval_s=600)))
    cls = {"analyzer": AnalyzerService, "decider": DeciderService}[service]
    svc = cls(Deps(InMemoryBus(), kb, SimClock(T0), settings))
    answers = {t: svc.compact_storage(T0 + timedelta(seconds=t)) for t in ticks}
    assert [t for t, a in answers.items() if a is not None] == asked
    assert all(a == f"optimized {tmp_path / 'store'}" for a in answers.values() if a is not None)
    assert STORAGE_OWNER == "analyzer"
    kb.close()


def test_a_refused_compaction_is_logged_and_asked_again_an_interval_later(
        caplog: pytest.LogCaptureFixture) -> None:
    from arca.analyzer.service import AnalyzerService
    from tests.livekit import free_port

    url = f"http://127.0.0.1:{free_port()}/$/compact/arca?deleteOld=true"  # nothing listens there
    fields = dict(kind="sparql", query_url=url, update_url=url, store_url=url, timeout_s=2,
                  compaction=dict(url=url, interval_s=600))
    settings = ArcaSettings(kb=KbSettings.model_validate(fields))
    kb = SparqlKnowledgeBase(settings.kb)
    svc = AnalyzerService(Deps(InMemoryBus(), kb, SimClock(T0), settings))
    tried = []
    real = kb.compact_storage
    kb.compact_storage = lambda wait_s=0.0: tried.append(1) or real(wait_s)  # type: ignore[method-assign]
    with caplog.at_level("WARNING"):
        assert svc.compact_storage(T0) is None
        assert svc.compact_storage(T0 + timedelta(seconds=600)) is None
        assert svc.compact_storage(T0 + timedelta(seconds=900)) is None
        assert svc.compact_storage(T0 + timedelta(seconds=1200)) is None
    assert len(tried) == 2  # at 600 and 1200, not at 900
    assert caplog.text.count("store compaction not started") == 2 and url in caplog.text


@pytest.mark.oxigraph
def test_oxigraph_files_are_compacted_offline_before_a_restart(tmp_path: Path) -> None:
    """``arca standalone`` runs ``oxigraph optimize`` on the store a previous run left (the Oxigraph
    server has no compaction endpoint; its write-ahead log grows until RocksDB flushes)."""
    from arca.app.cli.stores import OxigraphServer, StoreUnavailable

    server = OxigraphServer(tmp_path / "ox")
    assert server.compact_offline() is False  # nothing stored yet
    server.start()
    kb = SparqlKnowledgeBase(server.endpoints.kb_settings())
    kb.update("INSERT DATA { GRAPH <urn:kept> { <urn:a> <urn:p> 1 } }")
    churn(kb, rounds=10)
    with pytest.raises(StoreUnavailable, match="stopped"):
        server.compact_offline()
    kb.close()
    server.stop()
    before = disk(server.directory / "data")
    assert server.compact_offline() is True
    after = disk(server.directory / "data")
    assert after < before / 2, (before, after)
    server.start()
    kb = SparqlKnowledgeBase(server.endpoints.kb_settings())
    assert count(kb, "urn:kept") == 1 and count(kb, "urn:churn") == 0
    kb.close()
    server.stop()


@pytest.mark.fuseki
def test_message_nodes_are_rfc_4122_urns_fuseki_does_not_warn_of(own_fuseki: FusekiServer) -> None:
    """A message's node is ``urn:uuid:<message_id>``; the 32-hex ids made Fuseki log a "Bad IRI"
    warning for every stored triple (379 lines in the first two minutes of a live loop)."""
    import uuid

    from arca.kb.messages import store_message
    from arca.messages import Decision

    decision = Decision(event_time=T0, system="emergency", strategy="arca", target_servants=3, reason="r",
                        rule="floor")
    assert str(uuid.UUID(decision.message_id)) == decision.message_id
    assert str(uuid.UUID(decision.correlation_id)) == decision.correlation_id
    mark = own_fuseki.log.stat().st_size
    kb = SparqlKnowledgeBase(own_fuseki.endpoints.kb_settings())
    store_message(kb, decision)
    kb.flush()
    assert kb.ask("ASK { GRAPH ?g { $m ?p ?o } }", m=_iri(f"urn:uuid:{decision.message_id}"))
    kb.close()
    with own_fuseki.log.open("rb") as f:
        f.seek(mark)
        assert b"Bad IRI" not in f.read()
