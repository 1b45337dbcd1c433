"""Issue 13: hostile names at every entry point that takes one, on the embedded store and on the real
Oxigraph server. Graph names are checked (``arca.kb.terms.check_iri``: forbidden IRIREF characters,
then a real RFC 3987 parse) and bound as terms; names inside IRIs are %-encoded; strings are
escaped literals. A hostile name is refused with a ``TermError`` naming it (or stored verbatim), and
the store keeps every triple it had.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from arca.app.settings import KbSettings
from arca.kb import IRI, EmbeddedKnowledgeBase, KnowledgeBase, TermError
from arca.kb.messages import load_messages, store_message
from arca.kb.sparql import SparqlKnowledgeBase
from arca.kb.terms import check_iri
from arca.messages import ExternalEvent, Situation
from tests.storekit import STORE_PARAMS

ISSUE_PAYLOAD = "urn:x> ; DROP ALL ; DROP SILENT GRAPH <urn:y"
HOSTILE_GRAPHS = [
    ISSUE_PAYLOAD,
    "urn:x>DROP ALL",
    "urn:x> } ; CLEAR ALL ; INSERT DATA { GRAPH <urn:y",
    "urn:a\nDROP ALL",
    'urn:a"b',
    "urn:a{b}",
    "urn:a\\u003E",
    "relative/graph",
    "",
]
HOSTILE_GRAPH_IDS = ["issue-13-payload", "close-iriref", "close-braces", "newline", "quote", "braces",
                     "escaped-gt", "relative", "empty"]
HOSTILE_NAMES = [
    ISSUE_PAYLOAD,
    '"} ; DROP ALL ; INSERT DATA { <urn:x> <urn:y> "z" } #',
    "> ; DROP ALL ; #",
    "$g",
    "emergency\n} ; DROP ALL",
]
HOSTILE_NAME_IDS = ["issue-13-payload", "close-literal", "close-iri", "placeholder", "newline"]
KEEP = "@prefix arca: <https://w3id.org/arca/ns#> .\n<urn:keep> arca:marker \"kept\" .\n"
T0 = datetime(2026, 11, 22, 2, tzinfo=UTC)


def sparql_kb(endpoints: Any) -> SparqlKnowledgeBase:
    return SparqlKnowledgeBase(KbSettings.model_validate(endpoints.kb_fields()))


@pytest.fixture(params=["embedded", *STORE_PARAMS])
def kb(request: pytest.FixtureRequest) -> Iterator[KnowledgeBase]:
    store: KnowledgeBase = (EmbeddedKnowledgeBase() if request.param == "embedded"
                            else sparql_kb(request.getfixturevalue(request.param)))
    store.load_turtle(KEEP)
    store.load_turtle(KEEP, "urn:y")
    yield store
    store.close()


def intact(kb: KnowledgeBase) -> bool:
    kb.flush()
    return (kb.ask('ASK { <urn:keep> arca:marker "kept" }')
            and kb.ask('ASK { GRAPH <urn:y> { <urn:keep> arca:marker "kept" } }'))


@pytest.mark.parametrize("graph", HOSTILE_GRAPHS, ids=HOSTILE_GRAPH_IDS)
def test_hostile_graph_name_is_refused_by_replace_and_load(kb: KnowledgeBase, graph: str) -> None:
    with pytest.raises(TermError, match="IRI"):
        kb.replace_graph(KEEP, graph)
    with pytest.raises(TermError, match="IRI"):
        kb.load_turtle(KEEP, graph)
    with pytest.raises(TermError, match="IRI"):
        kb.update("DROP SILENT GRAPH $g", g=IRI(graph))
    assert intact(kb)


def test_check_iri_accepts_real_iris() -> None:
    for iri in ("urn:x", "https://w3id.org/arca/ns#graph/ontology/arca", "http://example.org/é"):
        assert check_iri(iri) == iri


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=HOSTILE_NAME_IDS)
def test_hostile_system_names_in_messages_and_policy_graphs(kb: KnowledgeBase, name: str) -> None:
    """A system/source name is data: stored verbatim, read back by it, and its policy graph (an
    %-encoded IRI) replaced without touching anything else."""
    from arca.decider.policy import policy_graph

    sit = Situation(event_time=T0, system=name, servants_active=2, average_load=0.4)
    event = ExternalEvent(event_time=T0, event_id=name, source=name, onset=T0, payload_kind="basic",
                          location=name, description=name)
    store_message(kb, sit, sync=True)
    store_message(kb, event, sync=True)
    [back] = load_messages(kb, Situation, system=name)
    assert back == sit
    assert load_messages(kb, ExternalEvent) == [event]
    graph = policy_graph(name)
    assert re.fullmatch(r"[A-Za-z0-9:/#._~%-]+", graph)  # nothing that can close <...>
    assert kb.replace_graph(KEEP, graph) == 1
    assert kb.replace_graph(KEEP, graph) == 1  # replaced, not added
    assert intact(kb)


@pytest.mark.parametrize("replace", [True, False], ids=["replace", "add"])
def test_cli_kb_load_with_the_issue_payload_exits_1_and_keeps_the_store(
    sparql_store: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    replace: bool,
) -> None:
    from arca.app.cli.main import main

    for name, value in sparql_store.env().items():
        monkeypatch.setenv(name, value)
    kb = sparql_kb(sparql_store)
    kb.load_turtle(KEEP)
    kb.load_turtle(KEEP, "urn:y")
    path = tmp_path / "x.ttl"
    path.write_text(KEEP)
    args = ["kb", "load", *(["--replace"] if replace else []), "--graph", ISSUE_PAYLOAD, str(path)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "IRI" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert intact(kb)
    kb.close()


def test_cli_kb_load_with_the_issue_payload_on_the_embedded_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from arca.app.cli.main import main

    monkeypatch.setenv("ARCA_KB__KIND", "embedded")
    monkeypatch.setenv("ARCA_KB__PATH", str(tmp_path / "store"))
    path = tmp_path / "x.ttl"
    path.write_text(KEEP)
    assert main(["kb", "load", "--graph", "urn:y", str(path)]) == 0
    assert main(["kb", "load", "--replace", "--graph", ISSUE_PAYLOAD, str(path)]) == 1
    assert "not a safe absolute IRI" in capsys.readouterr().err
    kb = EmbeddedKnowledgeBase(str(tmp_path / "store"))
    assert kb.ask('ASK { GRAPH <urn:y> { <urn:keep> arca:marker "kept" } }')


def test_no_sparql_is_built_by_pasting_values() -> None:
    """Static guard: every f-string that builds SPARQL in the code interpolates only constants
    (the reviewed list below); values go through ``$name`` bindings."""
    root = Path(__file__).resolve().parents[2]
    allowed = {
        ("arca/kb/messages.py", "body"),  # our own N-Triples serialiser output, '$' escaped
        ("arca/kb/messages.py", "filt"),  # one of two constant strings
        ("arca/kb/messages.py", "int(limit)"),  # an int
        ("arca/kb/retention.py", "values"),  # "$m0 $m1 ...": placeholders, each bound as an IRI
        ("arca/kb/sparql.py", "self.settings.query_url"),  # an error message, not a query
        ("arca/app/cli/ops.py", "CLEAR if sys.stdout.isatty() else ''"),  # a terminal escape, not SPARQL
        ("arca/decider/sources.py", "select"),  # "?confirmed ?false_alarms ...": constant field names
    }
    pattern = re.compile(r'f"[^"]*\b(?:SELECT|INSERT|DELETE|DROP|CLEAR|ASK|WHERE|GRAPH)\b[^"]*"')
    found = set()
    for path in (root / "arca").rglob("*.py"):  # every package: services and testbed are under arca/
        for m in pattern.finditer(path.read_text()):
            for expr in re.findall(r"(?<!\{)\{([^{}]+)\}(?!\})", m.group()):
                found.add((str(path.relative_to(root)), expr))
    assert found <= allowed, sorted(found - allowed)
    assert ("arca/kb/embedded.py", "IRI(graph)") not in found
