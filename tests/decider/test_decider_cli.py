"""``arca anticipation seed|show`` against the real Oxigraph server, and ``arca bench-svr``."""

from __future__ import annotations

from pathlib import Path

import pytest

from arca.app.cli.main import main
from arca.app.settings import KbSettings
from arca.decider.samples import load_samples
from arca.kb.sparql import SparqlKnowledgeBase

HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n"


def sample(i: int, severity: object = 3, servants: object = 6) -> str:
    return (f'<https://w3id.org/arca/ns#sample/prior-{i}> a arca:LearnedSample ; arca:system "emergency" ; '
            f"arca:severity {severity} ; arca:elapsedSeconds {2 * i}.0 ; arca:servants {servants} ; "
            f'arca:sampleSource "prior" .\n')


@pytest.fixture
def sparql_env(oxigraph: object, monkeypatch: pytest.MonkeyPatch) -> KbSettings:
    ox = oxigraph
    settings = KbSettings(kind="sparql", query_url=ox.query_url, update_url=ox.update_url,  # type: ignore[attr-defined]
                          store_url=ox.store_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("ARCA_KB__KIND", "sparql")
    monkeypatch.setenv("ARCA_KB__QUERY_URL", settings.query_url)
    monkeypatch.setenv("ARCA_KB__UPDATE_URL", settings.update_url)
    monkeypatch.setenv("ARCA_KB__STORE_URL", settings.store_url)
    return settings


@pytest.mark.oxigraph
def test_seed_then_show(sparql_env: KbSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prior.ttl"
    path.write_text(HEAD + "".join(sample(i, servants=6 if 4 <= i <= 10 else 1) for i in range(20)))
    assert main(["anticipation", "seed", str(path)]) == 0
    kb = SparqlKnowledgeBase(sparql_env)
    stored = load_samples(kb, "emergency")
    kb.close()
    assert len(stored) == 20 and {s.source for s in stored} == {"prior"}
    capsys.readouterr()
    assert main(["anticipation", "show", "--system", "emergency", "--step", "10"]) == 0
    out = capsys.readouterr().out
    assert "20 samples" in out
    row3 = next(line for line in out.splitlines() if line.strip().startswith("3 "))
    values = [float(v) for v in row3.split()[1:]]
    assert max(values) > 4.5 and values[-1] < 2.0  # the prior's burst, then back to the baseline


@pytest.mark.oxigraph
@pytest.mark.parametrize(
    ("body", "expected"),
    [(sample(1, severity='"high"'), "arca:severity"), (sample(1, servants=-2), "arca:servants"),
     ("<urn:x> arca:system \"emergency\" .\n", "no node of class arca:LearnedSample"),
     ("<urn:x> a arca:LearnedSample ;\n", "line 3")],
    ids=["severity-not-integer", "negative-servants", "no-sample", "syntax-error"],
)
def test_seed_refuses_bad_samples(sparql_env: KbSettings, tmp_path: Path, body: str, expected: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.ttl"
    path.write_text(HEAD + body)
    assert main(["anticipation", "seed", str(path)]) == 1
    assert expected in capsys.readouterr().err
    kb = SparqlKnowledgeBase(sparql_env)
    assert load_samples(kb, "emergency") == []
    kb.close()


def test_bench_svr_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-svr", "--sizes", "50,100", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["50", "100"]
