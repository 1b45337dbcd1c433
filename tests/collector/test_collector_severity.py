"""Severity scales: the pure mapping, loading from the knowledge base, and the shapes of the vocabulary."""

from __future__ import annotations

import pytest
from pyshacl import validate
from rdflib import Graph

from arca.collector.severity import load_scales, severity_of
from arca.kb import EmbeddedKnowledgeBase
from arca.namespace import ONTOLOGY_DIR

STEPS = [(3.0, 1), (5.0, 2), (6.0, 3), (7.0, 4)]


@pytest.mark.parametrize(
    ("magnitude", "severity"),
    [(0.0, 0), (2.9, 0), (3.0, 1), (4.99, 1), (5.0, 2), (6.5, 3), (7.0, 4), (9.5, 4)],
    ids=["zero", "below-first-step", "first-step-inclusive", "inside-first", "second", "third",
         "top-inclusive", "above-top"],
)
def test_severity_of_magnitude(magnitude: float, severity: int) -> None:
    assert severity_of(STEPS, magnitude) == severity


def test_steps_order_does_not_matter() -> None:
    assert severity_of(list(reversed(STEPS)), 6.2) == 3


def test_example_policy_loads_from_the_knowledge_base_with_fallback() -> None:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    scales = load_scales(kb)
    assert scales.steps_for("seismo-hq") == STEPS
    fallback = scales.steps_for("seismo-b3")
    assert fallback is not None and severity_of(fallback, 6.0) == 2


def _conforms(data: str) -> tuple[bool, str]:
    g = Graph().parse(data=(ONTOLOGY_DIR / "severity.ttl").read_text() + data, format="turtle")
    shapes = Graph().parse(ONTOLOGY_DIR / "severity-shapes.ttl", format="turtle")
    ok, _, text = validate(g, shacl_graph=shapes)
    return bool(ok), str(text)


def test_example_policy_conforms_to_the_severity_shapes() -> None:
    ok, text = _conforms((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_text())
    assert ok, text


def test_a_step_without_severity_violates_the_shapes() -> None:
    ok, text = _conforms("""
        @prefix arca: <https://w3id.org/arca/ns#> .
        arca:bad a arca:SeverityScale ; arca:forSource "s" ;
            arca:step [ a arca:SeverityStep ; arca:fromMagnitude 3.0 ] .
    """)
    assert not ok and "stepSeverity" in text
