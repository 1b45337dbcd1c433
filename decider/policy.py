"""Admin policies: the typed ``Policy`` model and its loaders (Turtle graph, knowledge base).

A policy is one node ``a arca:Policy`` with flat properties (vocabulary in ``ontology/policy.ttl``,
shapes in ``ontology/policy-shapes.ttl``). Each policy lives in its own named graph
``arca:graph/policy/<system>`` of the knowledge base; ``load_policies`` reads them all back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import rdflib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.namespace import ARCA_NS

StrategyName = Literal["arca", "arca-reactive", "threshold", "proportional", "static"]
STRATEGIES: tuple[str, ...] = ("arca", "arca-reactive", "threshold", "proportional", "static")
ACTIONS: tuple[str, ...] = ("scale-out", "scale-in", "heal")
POLICY_GRAPH_PREFIX = f"{ARCA_NS}graph/policy/"


class PolicyError(ValueError):
    """A policy graph that does not make a valid ``Policy`` (message names node and property)."""


class Policy(BaseModel):
    """What admins set for one controlled system (every bound the decider must respect)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1)
    iri: str = ""
    low_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    high_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    min_servants: int = Field(default=1, ge=0)
    max_servants: int = Field(default=15, ge=1)
    default_servants: int = Field(default=1, ge=0)
    expiration_s: float = Field(default=45.0, gt=0)
    scale_out_cooldown_s: float = Field(default=0.0, ge=0)
    scale_in_cooldown_s: float = Field(default=0.0, ge=0)
    anticipation: bool = True
    lead_time_s: float = Field(default=10.0, ge=0)
    allowed_actions: frozenset[str] = frozenset({"scale-out", "scale-in", "heal"})
    strategy: StrategyName = "arca"
    # threshold (Ukko / OSM)
    threshold_up: float = Field(default=0.7, gt=0.0, le=1.0)
    threshold_down: float = Field(default=0.3, ge=0.0, le=1.0)
    cooloff_s: float = Field(default=300.0, ge=0)
    threshold_time_s: float = Field(default=0.0, ge=0)
    # proportional (Kubernetes HPA)
    target_load: float = Field(default=0.7, gt=0.0, le=1.0)
    tolerance: float = Field(default=0.1, ge=0.0, lt=1.0)
    sync_period_s: float = Field(default=15.0, ge=0)
    stabilisation_s: float = Field(default=300.0, ge=0)
    # static
    static_amount: int | None = Field(default=None, ge=0)
    # which external events concern this system (empty: every event)
    sources: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        if self.min_servants > self.max_servants:
            raise ValueError(f"minServants {self.min_servants} > maxServants {self.max_servants}")
        if not self.min_servants <= self.default_servants <= self.max_servants:
            raise ValueError(f"defaultServants {self.default_servants} outside "
                             f"[{self.min_servants}, {self.max_servants}]")
        if self.low_threshold >= self.high_threshold:
            raise ValueError(f"lowThreshold {self.low_threshold} >= highThreshold {self.high_threshold}")
        if self.threshold_down >= self.threshold_up:
            raise ValueError(f"thresholdDown {self.threshold_down} >= thresholdUp {self.threshold_up}")
        bad = self.allowed_actions - set(ACTIONS)
        if bad:
            raise ValueError(f"unknown allowedAction {sorted(bad)}; known: {list(ACTIONS)}")
        return self

    def clamp(self, amount: int) -> int:
        return max(self.min_servants, min(self.max_servants, amount))

    def compliant(self, amount: int) -> bool:
        return self.min_servants <= amount <= self.max_servants

    def listens_to(self, source: str | None, domain: str | None) -> bool:
        """Whether an event from ``source`` about ``domain`` concerns this system."""
        if not self.sources and not self.domains:
            return True
        return (source is not None and source in self.sources) or (
            domain is not None and domain in self.domains
        )

    @property
    def graph(self) -> str:
        return policy_graph(self.system)


def policy_graph(system: str) -> str:
    """Named graph holding the policy of ``system``."""
    return arca_iri("graph/policy", system)


# property local name -> (field, kind)
_PROPS: dict[str, tuple[str, str]] = {
    "system": ("system", "str"),
    "lowThreshold": ("low_threshold", "float"),
    "highThreshold": ("high_threshold", "float"),
    "minServants": ("min_servants", "int"),
    "maxServants": ("max_servants", "int"),
    "defaultServants": ("default_servants", "int"),
    "expirationSeconds": ("expiration_s", "float"),
    "scaleOutCooldownSeconds": ("scale_out_cooldown_s", "float"),
    "scaleInCooldownSeconds": ("scale_in_cooldown_s", "float"),
    "anticipation": ("anticipation", "bool"),
    "leadTimeSeconds": ("lead_time_s", "float"),
    "allowedAction": ("allowed_actions", "set"),
    "strategy": ("strategy", "str"),
    "thresholdUp": ("threshold_up", "float"),
    "thresholdDown": ("threshold_down", "float"),
    "coolOffSeconds": ("cooloff_s", "float"),
    "thresholdTimeSeconds": ("threshold_time_s", "float"),
    "targetLoad": ("target_load", "float"),
    "tolerance": ("tolerance", "float"),
    "syncPeriodSeconds": ("sync_period_s", "float"),
    "stabilisationSeconds": ("stabilisation_s", "float"),
    "staticAmount": ("static_amount", "int"),
    "listensToSource": ("sources", "set"),
    "listensToDomain": ("domains", "set"),
}


def policy_from_pairs(node: str, pairs: Iterable[tuple[str, Any]]) -> Policy:
    """Build a ``Policy`` from (property IRI, Python value) pairs of one policy node."""
    data: dict[str, Any] = {"iri": node}
    for prop, value in pairs:
        if not prop.startswith(ARCA_NS):
            continue
        local = prop[len(ARCA_NS):]
        spec = _PROPS.get(local)
        if spec is None:
            continue
        name, kind = spec
        if kind == "set":
            text = str(value)
            if text.startswith(ARCA_NS):  # allowed actions may be given as IRIs arca:ScaleOut
                text = _action_name(text[len(ARCA_NS):])
            data.setdefault(name, set()).add(text)
        elif name in data:
            raise PolicyError(f"{node}: arca:{local} given more than once")
        else:
            data[name] = value
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{_prop_of(str(e['loc'][0])) if e['loc'] else 'policy'}: {e['msg']}" for e in exc.errors()
        )
        raise PolicyError(f"{node}: {details}") from exc


def _action_name(local: str) -> str:
    return {"ScaleOut": "scale-out", "ScaleIn": "scale-in", "Heal": "heal"}.get(local, local)


def _prop_of(field: str) -> str:
    for local, (name, _) in _PROPS.items():
        if name == field:
            return f"arca:{local}"
    return field


def policy_from_graph(graph: rdflib.Graph) -> list[Policy]:
    """Every ``arca:Policy`` of an rdflib graph (e.g. a parsed Turtle file), sorted by system."""
    out = []
    for node in sorted(set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(ARCA_NS + "Policy"))), key=str):
        pairs = [(str(p), o.toPython() if isinstance(o, rdflib.Literal) else str(o))
                 for p, o in graph.predicate_objects(node)]
        out.append(policy_from_pairs(str(node), pairs))
    return sorted(out, key=lambda p: p.system)


def load_policies(kb: KnowledgeBase) -> dict[str, Policy]:
    """Every policy stored in the knowledge base (one named graph per policy), by system."""
    rows = kb.query(
        "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s a arca:Policy ; ?p ?o } "
        "FILTER(STRSTARTS(STR(?g), $prefix)) }",
        prefix=POLICY_GRAPH_PREFIX,
    )
    by_node: dict[str, list[tuple[str, Any]]] = {}
    for row in rows:
        by_node.setdefault(str(row["s"]), []).append((str(row["p"]), row["o"]))
    policies: dict[str, Policy] = {}
    for node, pairs in sorted(by_node.items()):
        policy = policy_from_pairs(node, pairs)
        policies[policy.system] = policy
    return policies


def policy_node(system: str) -> IRI:
    return arca_iri("policy", system)
