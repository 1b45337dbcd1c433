"""arca.analyzer.stored: a situation links the incident nodes its system's previous situation already
put in the store instead of describing them again — and every stored situation still reads back
whole, also after retention deleted the situations before it, on the embedded store and on the real
SPARQL servers (Oxigraph, Fuseki)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from arca.analyzer.stored import IncidentNodes, incident_nodes
from arca.app.settings import KbSettings
from arca.config import KindRetention
from arca.kb import EmbeddedKnowledgeBase, KnowledgeBase
from arca.kb.messages import load_messages, store_message, without_descriptions
from arca.kb.retention import compact
from arca.kb.sparql import SparqlKnowledgeBase
from arca.messages import ActiveIncident, Situation
from arca.messages.codec import encode, node_iri
from tests.analyzer.test_analyzer_trust import World, at
from tests.storekit import SparqlEndpoints

HOUR = timedelta(hours=1)


def incident(ident: str, severity: int = 4) -> ActiveIncident:
    return ActiveIncident(incident_id=ident, severity=severity, onset=at(0), source="seismo-1")


def situation(t: float, *idents: str, system: str = "emergency") -> Situation:
    return Situation(event_time=at(t), system=system, servants_active=2, servants_booting=0,
                     average_load=0.5, discard_ratio=0.0, incident_severity=4, trigger="event",
                     incidents=tuple(incident(i) for i in idents))


def nodes(*idents: str) -> frozenset[str]:
    return frozenset(node_iri(incident(i)) for i in idents)


# (id, earlier submissions [(system, incidents, t)], then: system, incidents, now) -> linkable incidents
CASES = [
    ("first-situation-of-a-system-describes-all", [], ("emergency", ("a", "b"), 10), ()),
    ("shared-incidents-are-linked", [("emergency", ("a", "b"), 0)], ("emergency", ("a", "b", "c"), 10),
     ("a", "b")),
    ("an-incident-gone-and-back-is-described", [("emergency", ("a",), 0), ("emergency", ("b",), 5)],
     ("emergency", ("a", "b"), 10), ("b",)),
    ("a-changed-incident-is-another-node", [("emergency", ("a",), 0)], ("emergency", ("a*",), 10), ()),
    ("another-systems-incidents-do-not-count", [("other", ("a",), 0)], ("emergency", ("a",), 10), ()),
    ("previous-just-younger-than-half-the-max-age", [("emergency", ("a",), 0)],
     ("emergency", ("a",), 1799), ("a",)),
    ("previous-half-the-max-age-old-describes-all", [("emergency", ("a",), 0)],
     ("emergency", ("a",), 1800), ()),
]


def _node(ident: str) -> str:
    return node_iri(incident(ident.rstrip("*"), severity=5 if ident.endswith("*") else 4))


@pytest.mark.parametrize(("before", "then", "linked"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_which_incident_nodes_are_only_linked(before: list[tuple[str, tuple[str, ...], float]],
                                              then: tuple[str, tuple[str, ...], float],
                                              linked: tuple[str, ...]) -> None:
    memo = IncidentNodes(HOUR)
    for system, idents, t in before:
        memo.submitted(system, frozenset(_node(i) for i in idents), at(t))
    system, idents, now = then
    got = memo.linkable(system, frozenset(_node(i) for i in idents), at(now))
    assert got == frozenset(_node(i) for i in linked)


def test_forgetting_describes_everything_again() -> None:
    memo = IncidentNodes(HOUR)
    memo.submitted("emergency", nodes("a"), at(0))
    assert memo.linkable("emergency", nodes("a"), at(1)) == nodes("a")
    memo.forget()
    assert memo.linkable("emergency", nodes("a"), at(1)) == frozenset()


def test_incident_nodes_are_the_situations_own() -> None:
    assert incident_nodes(situation(0, "a", "b")) == nodes("a", "b")
    assert incident_nodes(situation(0)) == frozenset()


def test_without_descriptions_keeps_the_links_and_drops_only_those_nodes_lines() -> None:
    text = encode(situation(0, "a", "b")).decode()
    a, b = node_iri(incident("a")), node_iri(incident("b"))
    out = without_descriptions(text, {a})
    assert out.count(f"<{a}>") == 1 and f"> <{a}> .\n" in out  # only the situation's link to it
    assert out.count(f"<{b}>") == text.count(f"<{b}>") > 1  # b is still described
    assert len(out.splitlines()) == len(text.splitlines()) - (text.count(f"<{a}>") - 1)
    assert without_descriptions(text, ()) == text


def _submitted_situations(kb: Any) -> list[str]:
    """Record the text of every situation the analyzer submits to ``kb``."""
    texts: list[str] = []
    submit = kb.submit

    def recording(template: str, **bindings: Any) -> None:
        if "Situation>" in template:
            texts.append(template)
        submit(template, **bindings)

    kb.submit = recording
    return texts


def _described(text: str, ident: str, w: World) -> bool:
    """Whether ``text`` describes the incident ``ident`` as the analyzer of ``w`` published it."""
    (found,) = {i for s in w.out for i in s.incidents if i.incident_id == ident}
    return f"<{node_iri(found)}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>" in text


def test_the_analyzer_describes_each_incident_once_and_its_situations_read_back_whole() -> None:
    w = World("")
    texts = _submitted_situations(w.kb)
    for t, ident in enumerate(("quake-1", "quake-2", "quake-3")):
        w.event(t, ident)
    published = [s for s in w.out if s.trigger == "event"]
    assert [[i.incident_id for i in s.incidents] for s in published] == [
        ["quake-1"], ["quake-1", "quake-2"], ["quake-1", "quake-2", "quake-3"]]
    assert len(texts) == 3
    assert [[_described(t, i, w) for i in ("quake-1", "quake-2", "quake-3")] for t in texts] == [
        [True, False, False], [False, True, False], [False, False, True]]
    w.kb.flush()
    stored = load_messages(w.kb, Situation, "emergency", limit=3)
    assert stored == published[::-1]
    # retention keeps only the newest: the incidents it links stay, described by the older ones
    gone = compact(w.kb, "situation", KindRetention(max_age_s=3600, max_count=1), at(3), sync=True)
    assert gone == 2
    assert load_messages(w.kb, Situation, "emergency", limit=3) == [published[-1]]
    # another replica may have written meanwhile: the next situation describes every incident again
    w.service.ownership_changed()
    w.event(4, "quake-4")
    assert len(texts) == 4
    assert all(_described(texts[-1], i, w) for i in ("quake-1", "quake-2", "quake-3", "quake-4"))


def test_an_old_previous_situation_is_not_relied_on() -> None:
    w = World("")
    w.service.stored.max_age = timedelta(seconds=60)
    texts = _submitted_situations(w.kb)
    w.event(0, "quake-1")
    w.event(20, "quake-2")  # 20 s after: quake-1 linked
    w.clock.set(at(60))
    w.event(60, "quake-3")  # 40 s after the previous, more than half of 60: all described
    assert len(texts) == 3 and all(len(s.incidents) == n for s, n in zip(w.out, (1, 2, 3), strict=True))
    assert [_described(texts[1], "quake-1", w), _described(texts[2], "quake-1", w)] == [False, True]


def _store_sequence(kb: KnowledgeBase) -> list[Situation]:
    memo = IncidentNodes(HOUR)
    sent = [situation(0, "a"), situation(1, "a", "b"), situation(2, "a", "b", "c")]
    for s in sent:
        store_message(kb, s, sync=True, stored=memo.linkable(s.system, incident_nodes(s), s.event_time))
        memo.submitted(s.system, incident_nodes(s), s.event_time)
    return sent


def test_linked_situations_read_back_whole_on_the_embedded_store() -> None:
    kb = EmbeddedKnowledgeBase()
    sent = _store_sequence(kb)
    assert load_messages(kb, Situation, "emergency", limit=3) == sent[::-1]
    assert compact(kb, "situation", KindRetention(max_age_s=3600, max_count=1), at(3), sync=True) == 2
    assert load_messages(kb, Situation, "emergency", limit=3) == [sent[-1]]


@pytest.mark.oxigraph
def test_linked_situations_read_back_whole_on_the_sparql_servers(sparql_store: SparqlEndpoints) -> None:
    kb = SparqlKnowledgeBase(KbSettings.model_validate(sparql_store.kb_fields()))
    sent = _store_sequence(kb)
    assert load_messages(kb, Situation, "emergency", limit=3) == sent[::-1]
    assert compact(kb, "situation", KindRetention(max_age_s=3600, max_count=1), at(3), sync=True) == 2
    assert load_messages(kb, Situation, "emergency", limit=3) == [sent[-1]]
    rows = kb.query("SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE { GRAPH ?g { ?i a arca:Incident } }")
    assert int(rows[0]["n"]) == 3
