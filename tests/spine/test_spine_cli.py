"""``arca kb load`` against each real SPARQL server (Oxigraph, Fuseki), configured by ARCA_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from arca.app.cli.main import main
from arca.app.settings import KbSettings
from arca.kb import IRI
from arca.kb.sparql import SparqlKnowledgeBase
from arca.namespace import ARCA_NS, ONTOLOGY_DIR
from tests.storekit import SparqlEndpoints

GRAPH = ARCA_NS + "graph/ontology/arca"


@pytest.fixture
def kb_env(sparql_store: SparqlEndpoints, monkeypatch: pytest.MonkeyPatch) -> SparqlKnowledgeBase:
    for name, value in sparql_store.env().items():
        monkeypatch.setenv(name, value)
    return SparqlKnowledgeBase(KbSettings.model_validate(sparql_store.kb_fields()))


def count(kb: SparqlKnowledgeBase) -> int:
    rows = kb.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH $g { ?s ?p ?o } }", g=IRI(GRAPH))
    return int(rows[0]["n"])


def test_kb_load_replace_is_idempotent(kb_env: SparqlKnowledgeBase,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = str(ONTOLOGY_DIR / "arca.ttl")
    assert main(["kb", "load", "--replace", "--graph", GRAPH, path]) == 0
    first = count(kb_env)
    assert first > 100
    assert main(["kb", "load", "--replace", "--graph", GRAPH, path]) == 0
    assert count(kb_env) == first  # blank nodes are not duplicated by a reload
    assert f"loaded {first} triples" in capsys.readouterr().out
    assert kb_env.ask("ASK { GRAPH $g { arca:Decision a owl:Class } }".replace(
        "owl:Class", "<http://www.w3.org/2002/07/owl#Class>"), g=IRI(GRAPH))
    kb_env.close()


def test_kb_load_rejects_bad_input(kb_env: SparqlKnowledgeBase, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("arca:x arca:y .")
    assert main(["kb", "load", "--graph", GRAPH, str(bad)]) == 1
    assert "bad.ttl" in capsys.readouterr().err
    assert main(["kb", "load", "--replace", str(bad)]) == 1
    assert "--replace needs --graph" in capsys.readouterr().err
    assert main(["kb", "load", str(tmp_path / "missing.ttl")]) == 1
    assert main(["kb", "load", "--graph", "not an iri", str(ONTOLOGY_DIR / "arca.ttl")]) == 1
    assert "not a safe absolute IRI" in capsys.readouterr().err
    kb_env.close()


def test_kb_init_loads_every_shipped_ontology_file_into_its_graph(
        kb_env: SparqlKnowledgeBase, capsys: pytest.CaptureFixture[str]) -> None:
    """compose's kb-init (``arca kb init``) loads each ontology/*.ttl of the package into graph
    arca:graph/ontology/<stem>, and again without doubling anything."""
    files = sorted(ONTOLOGY_DIR.glob("*.ttl"))
    assert {"arca.ttl", "shapes.ttl"} <= {f.name for f in files}
    counts = []
    for _ in range(2):
        assert main(["kb", "init"]) == 0
        counts.append([kb_env.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH $g { ?s ?p ?o } }",
                                    g=IRI(f"{ARCA_NS}graph/ontology/{f.stem}"))[0]["n"] for f in files])
    assert all(n > 0 for n in counts[0]) and counts[0] == counts[1], counts
    assert capsys.readouterr().out.count("loaded ") == 2 * len(files)
    kb_env.close()


def test_kb_init_defaults_applies_the_shipped_policies_and_prior_once(
        kb_env: SparqlKnowledgeBase, capsys: pytest.CaptureFixture[str]) -> None:
    """``arca kb init --defaults`` (compose's kb-init, arca standalone): a new store gets the shipped
    policies (recorded as version 1) and prior samples; a store that has a policy keeps its own."""
    import rdflib

    from arca.decider.samples import load_samples
    from arca.policy_history import load_history
    from arca.trust import load_trusts

    prior = rdflib.Graph().parse(ONTOLOGY_DIR / "priors" / "emergency.ttl")
    shipped = len(set(prior.subjects(rdflib.RDF.type, rdflib.URIRef(f"{ARCA_NS}LearnedSample"))))
    assert main(["kb", "init", "--defaults"]) == 0
    out = capsys.readouterr().out
    assert "applied policy for system 'emergency' as version 1" in out
    assert f"seeded {shipped} samples" in out
    assert [v.applied_by for v in load_history(kb_env, "emergency")] == ["arca kb init"]
    assert len(load_samples(kb_env, "emergency")) == shipped > 0
    default = load_trusts(kb_env)["*"]  # the shipped rate limit per source (issue 25 item 5)
    assert (default.event_limit, default.window_s, default.learn) == (10, 60.0, False)
    assert main(["kb", "init", "--defaults"]) == 0
    assert "the store has 1 policy: the shipped policies and prior are not applied" in capsys.readouterr().out
    assert len(load_history(kb_env, "emergency")) == 1
    assert len(load_samples(kb_env, "emergency")) == shipped
    kb_env.close()
