"""The one namespace constant of the ARCA ontology, and the places its files live.

The ontology and the YANG modules ship inside the package (``arca.ontology``, ``arca.yang``: the
top-level ``ontology/`` and ``yang/`` folders, mapped by ``pyproject.toml``) and are found with
``importlib.resources``, wherever the wheel is installed.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

ARCA_NS = "https://w3id.org/arca/ns#"
"""Namespace IRI of the ARCA ontology (``ontology/arca.ttl``); every message term lives here."""

XSD_NS = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

ONTOLOGY_DIR = Path(str(files("arca.ontology")))
"""The shipped Turtle files (``arca.ttl``, the shapes, ``policies/``, ``priors/``)."""
YANG_DIR = Path(str(files("arca.yang")))
"""The shipped YANG modules and their YANG library."""

SPARQL_PREFIXES = (
    f"PREFIX arca: <{ARCA_NS}>\n"
    f"PREFIX xsd: <{XSD_NS}>\n"
    "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
)


def term(local: str) -> str:
    """Full IRI of a term of the ARCA ontology."""
    return ARCA_NS + local
