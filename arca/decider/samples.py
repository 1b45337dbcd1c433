"""Learned samples in the knowledge base (``arca:LearnedSample``, graph ``arca:graph/learned``).

Each sample is one node with ``arca:system``, ``arca:severity``, ``arca:elapsedSeconds``,
``arca:servants``, ``arca:learnedAt`` and ``arca:sampleSource`` ("learned" or "prior"). Prior
knowledge is a Turtle file of such nodes (``arca anticipation seed FILE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from arca.decider.anticipator import LearnedSample
from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.namespace import ARCA_NS

LEARNED_GRAPH = IRI(f"{ARCA_NS}graph/learned")

_INSERT = """INSERT DATA { GRAPH $g {
  $s a arca:LearnedSample ; arca:system $system ; arca:severity $severity ;
     arca:elapsedSeconds $elapsed ; arca:servants $amount ; arca:learnedAt $at ; arca:sampleSource $src .
} }"""


def sample_iri(sample: LearnedSample) -> IRI:
    return arca_iri("sample", sample.sample_id)


def store_sample(kb: KnowledgeBase, system: str, sample: LearnedSample, *, sync: bool = False) -> None:
    """Add one sample (buffered unless ``sync``)."""
    write = kb.update if sync else kb.submit
    write(_INSERT, g=LEARNED_GRAPH, s=sample_iri(sample), system=system, severity=int(sample.severity),
          elapsed=float(sample.elapsed_s), amount=int(sample.amount),
          at=sample.learned_at or datetime(1970, 1, 1, tzinfo=UTC), src=sample.source)


def forget_sample(kb: KnowledgeBase, sample: LearnedSample, *, sync: bool = False) -> None:
    """Remove one (decimated) sample."""
    write = kb.update if sync else kb.submit
    write("DELETE WHERE { GRAPH $g { $s ?p ?o } }", g=LEARNED_GRAPH, s=sample_iri(sample))


def load_samples(kb: KnowledgeBase, system: str) -> list[LearnedSample]:
    """Every sample of ``system``, oldest first (the order they were learned in)."""
    return load_all_samples(kb, system).get(system, [])


_SELECT_SAMPLES = (
    "SELECT ?sys ?s ?sev ?el ?n ?at ?src WHERE { GRAPH $g { ?s a arca:LearnedSample ; arca:system ?sys ; "
    "arca:severity ?sev ; arca:elapsedSeconds ?el ; arca:servants ?n . "
    "OPTIONAL { ?s arca:learnedAt ?at } OPTIONAL { ?s arca:sampleSource ?src } } } ORDER BY ?at ?s"
)
_SELECT_SYSTEM_SAMPLES = (
    "SELECT ?s ?sev ?el ?n ?at ?src WHERE { GRAPH $g { ?s a arca:LearnedSample ; arca:system $system ; "
    "arca:severity ?sev ; arca:elapsedSeconds ?el ; arca:servants ?n . "
    "OPTIONAL { ?s arca:learnedAt ?at } OPTIONAL { ?s arca:sampleSource ?src } } } ORDER BY ?at ?s"
)


def load_all_samples(kb: KnowledgeBase, system: str | None = None) -> dict[str, list[LearnedSample]]:
    """Every system's samples (or one ``system``'s), each list oldest first, in one query."""
    rows = (kb.query(_SELECT_SAMPLES, g=LEARNED_GRAPH) if system is None
            else kb.query(_SELECT_SYSTEM_SAMPLES, g=LEARNED_GRAPH, system=system))
    out: dict[str, list[LearnedSample]] = {}
    for r in rows:
        ident = unquote(str(r["s"]).rsplit("/", 1)[-1])
        at = r.get("at")
        out.setdefault(system if system is not None else str(r["sys"]), []).append(
            LearnedSample(int(r["sev"]), float(r["el"]), int(r["n"]),
                          learned_at=at if isinstance(at, datetime) else None,
                          sample_id=ident, source=str(r.get("src") or "learned")))
    return out


def systems_with_samples(kb: KnowledgeBase) -> list[str]:
    rows = kb.query("SELECT DISTINCT ?sys WHERE { GRAPH $g { ?s a arca:LearnedSample ; arca:system ?sys } }",
                    g=LEARNED_GRAPH)
    return sorted(str(r["sys"]) for r in rows)
