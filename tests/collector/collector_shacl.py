"""SHACL check of collector outputs against the spine's ``ontology/shapes.ttl`` (pyshacl, no inference)."""

from __future__ import annotations

import functools

import rdflib
from pyshacl import validate

from arca.namespace import ONTOLOGY_DIR


@functools.lru_cache(maxsize=1)
def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY_DIR / "shapes.ttl", format="turtle")


def assert_conforms(body: bytes) -> None:
    """Fail with pyshacl's report unless the N-Triples message graph conforms."""
    g = rdflib.Graph().parse(data=body, format="nt")
    ok, _, text = validate(g, shacl_graph=shapes(), inference="none")
    assert ok, text
