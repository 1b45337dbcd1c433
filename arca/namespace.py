"""The one namespace constant of the ARCA ontology, and the places its files live."""

from __future__ import annotations

from pathlib import Path

ARCA_NS = "https://w3id.org/arca/ns#"
"""Namespace IRI of the ARCA ontology (``ontology/arca.ttl``); every message term lives here."""

XSD_NS = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"

ROOT = Path(__file__).resolve().parent.parent
ONTOLOGY_DIR = ROOT / "ontology"
YANG_DIR = ROOT / "yang"

SPARQL_PREFIXES = (
    f"PREFIX arca: <{ARCA_NS}>\n"
    f"PREFIX xsd: <{XSD_NS}>\n"
    "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>\n"
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
)


def term(local: str) -> str:
    """Full IRI of a term of the ARCA ontology."""
    return ARCA_NS + local
