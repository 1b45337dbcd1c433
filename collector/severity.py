"""Severity scales: per-source magnitude -> severity mappings read from the knowledge base.

Vocabulary in ``ontology/severity.ttl`` (``arca:SeverityScale``, ``arca:forSource``, ``arca:step``,
``arca:fromMagnitude``, ``arca:stepSeverity``); example policy ``ontology/policies/severity-scales.ttl``.
The mapping itself (``severity_of``) is a pure function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from arca.kb import KnowledgeBase

ANY_SOURCE = "*"

SCALES_QUERY = """
SELECT ?source ?from ?severity WHERE {
  ?scale a arca:SeverityScale ; arca:forSource ?source ; arca:step ?step .
  ?step arca:fromMagnitude ?from ; arca:stepSeverity ?severity .
}
"""

Steps = Sequence[tuple[float, int]]


def severity_of(steps: Steps, magnitude: float) -> int:
    """Severity of ``magnitude``: the step with the greatest lower bound <= magnitude; 0 below all."""
    severity = 0
    best: float | None = None
    for lower, sev in steps:
        if lower <= magnitude and (best is None or lower > best):
            best, severity = lower, sev
    return severity


@dataclass
class SeverityScales:
    """Every scale by source (``"*"`` is the fallback)."""

    by_source: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def steps_for(self, source: str) -> list[tuple[float, int]] | None:
        return self.by_source.get(source) or self.by_source.get(ANY_SOURCE)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Steps]) -> SeverityScales:
        return cls({k: sorted((float(a), int(b)) for a, b in v) for k, v in data.items()})


def load_scales(kb: KnowledgeBase) -> SeverityScales:
    """Read every ``arca:SeverityScale`` of the knowledge base."""
    scales: dict[str, list[tuple[float, int]]] = {}
    for row in kb.query(SCALES_QUERY):
        lower = row["from"]
        value = float(lower) if isinstance(lower, int | float | Decimal) else float(str(lower))
        scales.setdefault(str(row["source"]), []).append((value, int(row["severity"])))
    return SeverityScales({k: sorted(v) for k, v in scales.items()})
