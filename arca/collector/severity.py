"""Severity scales: per-source magnitude -> severity mappings read from the knowledge base.

Vocabulary in ``ontology/severity.ttl`` (``arca:SeverityScale``, ``arca:forSource``, ``arca:step``,
``arca:fromMagnitude``, ``arca:stepSeverity``); example policy ``ontology/policies/severity-scales.ttl``,
applied with ``arca policy apply`` (one named graph per source, versioned like every policy) or
loaded with ``arca kb load``; the store is read by ``arca.policy.load_scale_steps``.
The mapping itself (``severity_of``) is a pure function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from arca.kb import KnowledgeBase
from arca.policy import load_scale_steps

ANY_SOURCE = "*"

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
    """Every ``arca:SeverityScale`` of the knowledge base (an applied one wins for its source)."""
    return SeverityScales(load_scale_steps(kb))
