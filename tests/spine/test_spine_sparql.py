"""SPARQL escaping on every store (embedded, and the real Oxigraph and Fuseki servers), and the SPARQL 1.1
Protocol client against each real server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arca.app.settings import KbSettings
from arca.kb import IRI, EmbeddedKnowledgeBase, KnowledgeBase, KnowledgeBaseError, TermError, arca_iri
from arca.kb.sparql import SparqlKnowledgeBase
from arca.kb.terms import escape_string
from arca.namespace import ARCA_NS

NASTY = [
    'plain',
    'with "double" and \'single\' quotes',
    "braces } { and a semicolon ;",
    '"} ; DROP ALL ; INSERT DATA { <urn:x> <urn:y> "z" } #',
    "new\nline\r\nand\ttab",
    "back\\slash \\n not a newline",
    "unicode é ü 中文 🚀",
    "$name placeholder-looking",
    "'''triple''' \"\"\"quotes\"\"\"",
    "",
    "bell \x07 backspace \x08 form feed \x0c escape \x1b unit sep \x1f delete \x7f",
]
NASTY_IDS = ["plain", "quotes", "braces", "injection", "newlines", "backslash", "unicode", "dollar",
             "triple-quotes", "empty", "controls"]


def sparql_kb(endpoints: Any, **overrides: Any) -> SparqlKnowledgeBase:
    return SparqlKnowledgeBase(KbSettings.model_validate(endpoints.kb_fields(**overrides)))


@pytest.fixture(params=["embedded", pytest.param("oxigraph", marks=pytest.mark.oxigraph),
                        pytest.param("fuseki", marks=pytest.mark.fuseki)])
def kb(request: pytest.FixtureRequest) -> Iterator[KnowledgeBase]:
    if request.param == "embedded":
        store: KnowledgeBase = EmbeddedKnowledgeBase()
    else:
        store = sparql_kb(request.getfixturevalue(request.param))
    yield store
    store.close()


@pytest.mark.parametrize("value", NASTY, ids=NASTY_IDS)
def test_untrusted_string_comes_back_verbatim(kb: KnowledgeBase, value: str) -> None:
    node = arca_iri("thing", value or "empty")
    kb.update("INSERT DATA { $s arca:label $v ; arca:marker $m }", s=node, v=value, m="kept")
    rows = kb.query("SELECT ?v WHERE { $s arca:label ?v }", s=node)
    assert rows == [{"v": value}]
    # the injection did not drop or add anything
    assert kb.ask("ASK { ?s arca:marker $m }", m="kept")
    assert not kb.ask("ASK { <urn:x> <urn:y> ?z }")
    assert kb.query("SELECT ?s WHERE { ?s arca:label $v }", v=value) == [{"s": node}]


@pytest.mark.parametrize("value", NASTY, ids=NASTY_IDS)
def test_submit_and_flush_keep_values_verbatim(kb: KnowledgeBase, value: str) -> None:
    kb.submit("INSERT DATA { $s arca:label $v }", s=IRI("urn:arca:test:1"), v=value)
    kb.submit("INSERT DATA { $s arca:label $v }", s=IRI("urn:arca:test:2"), v=value + "}")
    kb.flush()
    rows = kb.query("SELECT ?s ?v WHERE { ?s arca:label ?v } ORDER BY ?s")
    assert rows == [{"s": "urn:arca:test:1", "v": value}, {"s": "urn:arca:test:2", "v": value + "}"}]


@pytest.mark.parametrize("value", ["lone \ud800 high", "\udfff", "pair \ud83d\ude80 of halves"],
                         ids=["high", "low-only", "halves"])
def test_lone_surrogates_are_refused(kb: KnowledgeBase, value: str) -> None:
    with pytest.raises(TermError, match="lone surrogate"):
        kb.update("INSERT DATA { $s arca:label $v }", s=IRI("urn:arca:test:1"), v=value)
    assert not kb.ask("ASK { ?s arca:label ?v }")


@given(st.text(st.characters(codec="utf-8"), max_size=60))
@settings(max_examples=300, deadline=None)
def test_any_text_is_one_literal_that_reads_back_verbatim(value: str) -> None:
    """Every character SPARQL's STRING_LITERAL_QUOTE cannot hold raw is escaped, nothing else is
    changed: pyoxigraph's own SPARQL parser reads the literal back as the text."""
    literal = escape_string(value)
    assert literal[0] == literal[-1] == '"'
    assert not set(literal[1:-1].replace('\\\\', "").replace('\\"', "")) & {'"', "\n", "\r"}
    assert not [c for c in literal if ord(c) < 0x20 or ord(c) == 0x7F], "every control escaped"
    [row] = ox.Store().query(f"SELECT ?v WHERE {{ BIND({literal} AS ?v) }}")
    assert row["v"].value == value


@pytest.mark.parametrize(
    "iri",
    ["urn:a> <urn:b", "http://x/ space", "http://x/{x}", 'http://x/"', "no-scheme", "http://x/\n"],
    ids=["angle", "space", "braces", "quote", "relative", "newline"],
)
def test_unsafe_iris_are_refused(kb: KnowledgeBase, iri: str) -> None:
    with pytest.raises(TermError):
        kb.update("INSERT DATA { $s arca:p 1 }", s=IRI(iri))


def test_typed_values_round_trip(kb: KnowledgeBase) -> None:
    t = datetime(2026, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)
    kb.update("INSERT DATA { $s arca:i $i ; arca:f $f ; arca:b $b ; arca:t $t }",
              s=IRI("urn:x:1"), i=-42, f=0.125, b=True, t=t)
    assert kb.query("SELECT ?i ?f ?b ?t WHERE { $s arca:i ?i ; arca:f ?f ; arca:b ?b ; arca:t ?t }",
                    s=IRI("urn:x:1")) == [{"i": -42, "f": 0.125, "b": True, "t": t}]


def test_bad_sparql_is_an_error(kb: KnowledgeBase) -> None:
    with pytest.raises(KnowledgeBaseError):
        kb.query("SELECT ?x WHERE { ?x ")
    with pytest.raises(KnowledgeBaseError):
        kb.update("INSERT DATA { oops }")


TURTLE = f"""@prefix arca: <{ARCA_NS}> .
arca:system\\/emergency a arca:ControlledSystem ; arca:label "emergency" .
<{ARCA_NS}servant/s1> arca:servantOf <{ARCA_NS}system/emergency> .
"""


def test_load_turtle_and_replace_graph(kb: KnowledgeBase) -> None:
    g = ARCA_NS + "graph/topology"
    assert kb.load_turtle(TURTLE, g) == 3
    assert kb.load_turtle(TURTLE) == 3  # default graph
    n = kb.query("SELECT (COUNT(*) AS ?n) WHERE { GRAPH $g { ?s ?p ?o } }", g=IRI(g))
    assert n == [{"n": 3}]
    assert kb.ask("ASK { $s a arca:ControlledSystem }", s=arca_iri("system", "emergency"))
    assert kb.replace_graph(f"<{ARCA_NS}servant/s2> <{ARCA_NS}servantOf> <urn:sys> .", g) == 1
    rows = kb.query("SELECT ?s WHERE { GRAPH $g { ?s ?p ?o } }", g=IRI(g))
    assert rows == [{"s": ARCA_NS + "servant/s2"}]
    with pytest.raises(KnowledgeBaseError, match="Turtle"):
        kb.load_turtle("this is not turtle", g)


# ------------------------------------------------------------------ SPARQL-protocol specifics


def test_submit_batches_updates_into_few_requests(sparql_store: Any) -> None:
    kb = sparql_kb(sparql_store, write_batch_max=50, write_flush_interval_s=5.0)
    try:
        for i in range(200):
            kb.submit("INSERT DATA { $s arca:n $i }", s=IRI(f"urn:n:{i}"), i=i)
        kb.flush(30)
        assert kb.query("SELECT (COUNT(*) AS ?n) WHERE { ?s arca:n ?i }") == [{"n": 200}]
        assert 4 <= kb.batches <= 8, kb.batches  # 200 updates / 50 per batch, not 200 requests
    finally:
        kb.close()


def test_submit_does_not_wait_for_the_store(sparql_store: Any) -> None:
    kb = sparql_kb(sparql_store, write_flush_interval_s=5.0, write_batch_max=10_000)
    try:
        kb.submit("INSERT DATA { <urn:a> arca:p 1 }")
        assert kb.batches == 0  # nothing sent yet: the caller did not wait for a request
        kb.flush(30)
        assert kb.batches == 1
        assert kb.ask("ASK { <urn:a> arca:p 1 }")
    finally:
        kb.close()


def test_a_bad_buffered_update_is_reported_at_flush_and_spares_the_others(sparql_store: Any) -> None:
    kb = sparql_kb(sparql_store, write_flush_interval_s=5.0)
    try:
        kb.submit("INSERT DATA { <urn:good:1> arca:p 1 }")
        kb.submit("INSERT DATA { GRAPH <urn:g> { <urn:x> arca:p ?unbound } }")  # invalid update
        kb.submit("INSERT DATA { <urn:good:2> arca:p 2 }")
        with pytest.raises(KnowledgeBaseError, match=r"/update: HTTP 400"):
            kb.flush(30)
        assert kb.failures == 1
        assert kb.ask("ASK { <urn:good:1> arca:p 1 . <urn:good:2> arca:p 2 }")
        kb.flush(5)  # the error was reported once
    finally:
        kb.close()


def test_unreachable_store_names_the_endpoint() -> None:
    kb = SparqlKnowledgeBase(KbSettings(kind="sparql", query_url="http://127.0.0.1:9/query",
                                        update_url="http://127.0.0.1:9/update",
                                        store_url="http://127.0.0.1:9/store", timeout_s=2))
    with pytest.raises(KnowledgeBaseError, match=r"http://127\.0\.0\.1:9/query"):
        kb.query("SELECT * WHERE { ?s ?p ?o }")
    with pytest.raises(KnowledgeBaseError, match=r"127\.0\.0\.1:9/store"):
        kb.load_turtle(TURTLE)
    kb.session.close()


def test_wrong_kind_of_query_is_an_error(sparql_store: Any) -> None:
    kb = sparql_kb(sparql_store)
    try:
        with pytest.raises(KnowledgeBaseError, match="SELECT"):
            kb.query("ASK { ?s ?p ?o }")
        with pytest.raises(KnowledgeBaseError, match="ASK"):
            kb.ask("SELECT * WHERE { ?s ?p ?o }")
    finally:
        kb.close()


@pytest.mark.parametrize("value", NASTY[1:], ids=NASTY_IDS[1:])
def test_stored_messages_with_untrusted_text_load_back_equal(kb: KnowledgeBase, value: str) -> None:
    from arca.kb.messages import load_messages, store_message
    from arca.messages import Decision

    d = Decision(event_time=datetime(2026, 3, 1, tzinfo=UTC), system="emergency", strategy="arca",
                 target_servants=4, reason=value or "-", rule='r"}', incident_id=value)
    store_message(kb, d)
    kb.flush()
    assert load_messages(kb, Decision, "emergency") == [d]


def test_latest_messages_load_newest_first_per_system(kb: KnowledgeBase) -> None:
    from datetime import timedelta

    from arca.kb.messages import load_messages, store_message
    from arca.messages import Decision

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    stored = [Decision(event_time=t0 + timedelta(seconds=i), system="a" if i % 2 else "b",
                       strategy="arca", target_servants=i, reason="r", rule="r") for i in range(6)]
    for d in stored:
        store_message(kb, d)
    kb.flush()
    assert [d.target_servants for d in load_messages(kb, Decision, limit=3)] == [5, 4, 3]
    assert load_messages(kb, Decision, "a", limit=10) == [stored[5], stored[3], stored[1]]
    assert load_messages(kb, Decision, "nobody") == []


def test_situation_with_active_incidents_loads_back_whole(kb: KnowledgeBase) -> None:
    """Nested incident nodes are stored and read back with their situation (two messages, one request)."""
    from datetime import timedelta

    from arca.kb.messages import load_messages, store_message
    from arca.messages import ActiveIncident, Situation

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    sits = [Situation(event_time=t0 + timedelta(seconds=i), system="emergency", servants_active=2,
                      average_load=0.5, incidents=tuple(
                          ActiveIncident(incident_id=f"ev-{i}-{k}", severity=k + 1,
                                         onset=t0 + timedelta(seconds=k), source="seismo")
                          for k in range(i + 1))) for i in range(2)]
    for s in sits:
        store_message(kb, s)
    kb.flush()
    assert load_messages(kb, Situation, "emergency", limit=2) == [sits[1], sits[0]]
