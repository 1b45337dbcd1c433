"""Knowledge base: one interface, an embedded store and a SPARQL 1.1 Protocol client."""

from arca.kb.base import KnowledgeBase, KnowledgeBaseError, Row
from arca.kb.embedded import EmbeddedKnowledgeBase
from arca.kb.terms import IRI, TermError, arca_iri, render

__all__ = [
    "IRI",
    "EmbeddedKnowledgeBase",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Row",
    "TermError",
    "arca_iri",
    "render",
]
