"""Admin policies: the one typed ``Policy`` model and its loaders (Turtle graph, knowledge base).

The single policy model of ARCA, in the spine: the analyzer (which events concern a system), the
decider (thresholds, bounds, anticipation, strategy) and the enforcer (bounds and guards re-checked
right before acting) all read policies through this module, so a new policy term is added here
(``Policy`` field + ``_PROPS`` entry), in ``ontology/policy.ttl`` and in
``ontology/policy-shapes.ttl`` -- nowhere else.

A policy is one node ``a arca:Policy`` with flat properties. Each policy lives in its own named
graph ``arca:graph/policy/<system>`` of the knowledge base; ``load_policies`` reads them all back,
``load_policy`` one system's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import rdflib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from arca.kb import KnowledgeBase
from arca.kb.terms import IRI, arca_iri
from arca.namespace import ARCA_NS

StrategyName = Literal["arca", "arca-reactive", "threshold", "proportional", "static"]
STRATEGIES: tuple[str, ...] = ("arca", "arca-reactive", "threshold", "proportional", "static")
ACTIONS: tuple[str, ...] = ("scale-out", "scale-in", "heal")
"""Kinds of change a policy may allow: add servants, remove servants, repair broken ones."""
ACTION_IRIS: dict[str, str] = {"ScaleOut": "scale-out", "ScaleIn": "scale-in", "Heal": "heal"}
"""Actions may also be named by IRI (``arca:ScaleOut``...): local name -> action name."""
DELETION_POLICIES: tuple[str, ...] = ("youngest-first", "oldest-first")
WARM_POOL_STATES: tuple[str, ...] = ("none", "stopped", "suspended", "paused", "shelved")
"""Standby state of a warm pool's servants (Nova ``os-stop``, ``suspend``, ``pause``, ``shelve``);
``none``: no warm pool."""
WARM_POOL_RESUME_S: dict[str, float] = {"stopped": 5.0, "suspended": 4.0, "paused": 0.5}
"""Default seconds to bring a standby servant back to ACTIVE per state (``os-start``, ``resume``,
``unpause``: the testbed's defaults, ``testbed/lifecycle.py``); ``shelved`` unshelves as slowly as a
boot, so its default is the policy's ``leadTimeSeconds``."""
POLICY_GRAPH_PREFIX = f"{ARCA_NS}graph/policy/"


MAX_SERVANTS = 1000
"""ARCA's stated maximum of servants per system (every servant amount of a policy is within it)."""
DAY_S = 86_400.0
"""Bound of every delay, period and cooldown of a policy or source trust (seconds)."""
WEEK_S = 604_800.0
"""Bound of an incident's expiration and of the guard's frequency window (seconds)."""
MAX_COUNT = 1_000_000
"""Bound of the counts of a policy or source trust (guard frequency limit, event limit, rounds)."""


class PolicyError(ValueError):
    """A policy graph that does not make a valid ``Policy``: ``problems`` holds one line per fault,
    each ``node <node> property arca:<term>: <why>`` (the format of ``arca policy validate``)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class PolicyFault(ValueError):
    """One incoherence between policy values, raised by the model's checks: the property to blame
    (local name) and a sentence naming every value involved."""

    def __init__(self, prop: str, text: str) -> None:
        super().__init__(text)
        self.prop = prop
        self.text = text


def node_name(iri: str) -> str:
    """How messages name a node: ``arca:<local>`` in the ARCA namespace, ``<iri>`` otherwise."""
    return f"arca:{iri[len(ARCA_NS):]}" if iri.startswith(ARCA_NS) else f"<{iri}>"


def fault_line(node: str, prop: str, why: str) -> str:
    """The one format of every policy problem: ``node <node> property <prop>: <why>``."""
    return f"node {node_name(node)} property {prop}: {why}"


class Policy(BaseModel):
    """What admins set for one controlled system (every bound the decider must respect)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system: str = Field(min_length=1)
    iri: str = ""
    low_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    high_threshold: float = Field(default=0.7, gt=0.0, le=1.0)
    min_servants: int = Field(default=1, ge=0, le=MAX_SERVANTS)
    max_servants: int = Field(default=15, ge=1, le=MAX_SERVANTS)
    default_servants: int = Field(default=1, ge=0, le=MAX_SERVANTS)
    expiration_s: float = Field(default=45.0, gt=0, le=WEEK_S)
    scale_out_cooldown_s: float = Field(default=0.0, ge=0, le=DAY_S)
    scale_in_cooldown_s: float = Field(default=0.0, ge=0, le=DAY_S)
    anticipation: bool = True
    lead_time_s: float = Field(default=10.0, ge=0, le=DAY_S)
    allowed_actions: frozenset[str] = frozenset({"scale-out", "scale-in", "heal"})
    strategy: StrategyName = "arca"
    # threshold (Ukko / OSM)
    threshold_up: float = Field(default=0.7, gt=0.0, le=1.0)
    threshold_down: float = Field(default=0.3, ge=0.0, le=1.0)
    cooloff_s: float = Field(default=300.0, ge=0, le=DAY_S)
    threshold_time_s: float = Field(default=0.0, ge=0, le=DAY_S)
    # proportional (Kubernetes HPA)
    target_load: float = Field(default=0.7, gt=0.0, le=1.0)
    tolerance: float = Field(default=0.1, ge=0.0, lt=1.0)
    sync_period_s: float = Field(default=15.0, ge=0, le=DAY_S)
    stabilisation_s: float = Field(default=300.0, ge=0, le=DAY_S)
    # static
    static_amount: int | None = Field(default=None, ge=0, le=MAX_SERVANTS)
    # which external events concern this system (empty: every event)
    sources: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    # guards (ONAP guard policies), checked by the enforcer right before acting
    frequency_limit: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    """At most this many actions of one kind (scale-out, scale-in) per window (None: no limit)."""
    frequency_window_s: float = Field(default=3600.0, gt=0, le=WEEK_S)
    blackouts: frozenset[str] = frozenset()
    """``"<action|*> HH:MM-HH:MM"`` daily UTC windows during which the action is refused."""
    protected_servants: frozenset[str] = frozenset()
    """Servant names (``arca-<system>-<n>``) never removed by a scale-in."""
    deletion_policy: Literal["youngest-first", "oldest-first"] = "youngest-first"
    # scale velocity (Kubernetes HPA ``behavior``), applied by the decider to every strategy's target
    velocity_limits: bool = False
    """Whether the decider limits scale velocity at all (see docs/policy.md for why off by default)."""
    scale_up_rules: frozenset[str] = frozenset()
    """``"<n> servants per <s>s"`` or ``"<n> percent per <s>s"``; none given: HPA's (4 servants, 100 %)."""
    scale_up_select: Literal["max", "min", "disabled"] = "max"
    scale_up_stabilisation_s: float = Field(default=0.0, ge=0, le=DAY_S)
    scale_down_rules: frozenset[str] = frozenset()
    """As ``scale_up_rules``; none given: HPA's (100 % per 15 s)."""
    scale_down_select: Literal["max", "min", "disabled"] = "max"
    scale_down_stabilisation_s: float = Field(default=300.0, ge=0, le=DAY_S)
    velocity_limits_anticipation: bool = False
    """Whether anticipated floors are velocity-limited too (default: exempt, see docs/policy.md)."""

    # warm pool (EC2 Auto Scaling warm pools): servants kept in a cheap standby state, resumed first
    warm_pool_state: Literal["none", "stopped", "suspended", "paused", "shelved"] = "none"
    """Standby state of the pool's servants (``none``: no warm pool)."""
    warm_pool_min: int = Field(default=0, ge=0, le=MAX_SERVANTS)
    """Servants kept standing by (at least; ``warm_pool_auto`` may ask for more, up to the max)."""
    warm_pool_max: int | None = Field(default=None, ge=0, le=MAX_SERVANTS)
    """Most servants standing by (None: ``max_servants``)."""
    warm_pool_auto: bool = False
    """Size the pool from the learned model (see ``arca.decider.warm.auto_pool_size``), within [min, max]."""
    warm_pool_reuse: bool = True
    """Servants removed by a scale-in go back to the pool while below its size (EC2 reuse on scale-in)."""
    warm_pool_lead_time_s: float | None = Field(default=None, ge=0, le=DAY_S)
    """Seconds a standby servant takes to serve again (None: ``WARM_POOL_RESUME_S`` of the state)."""
    discard_objective: float | None = Field(default=None, ge=0, le=1)
    """Share of the offered requests the admin accepts to see discarded (None: no objective); the
    decider sizes the warm pool to meet it at the least weighted cost (``arca.decider.warm``)."""
    discard_objective_bound: bool = False
    """The objective is a bound, not a target: the pool is sized so that one more incident of the
    severity that would lose most keeps the discard within it (``arca.decider.warm.expectation``);
    false: a target met on average over the severities."""

    # telemetry fallback (KEDA ``fallback``), applied by the decider
    fallback_after_rounds: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    """Missed telemetry rounds after which the fallback amount is held (None: no fallback)."""
    fallback_servants: int | None = Field(default=None, ge=0, le=MAX_SERVANTS)
    """The amount held (None: the last amount decided on good telemetry)."""
    telemetry_period_s: float = Field(default=10.0, gt=0, le=DAY_S)
    """How often a telemetry round is expected."""

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        def said(field: str, value: object) -> str:  # "5", or "1 (the default)" when not given
            return f"{value}" if field in self.model_fields_set else f"{value} (the default)"

        min_s, max_s = said("min_servants", self.min_servants), said("max_servants", self.max_servants)
        if self.min_servants > self.max_servants:
            raise PolicyFault("minServants", f"arca:minServants {min_s} is above arca:maxServants {max_s}")
        default = said("default_servants", self.default_servants)
        if self.default_servants < self.min_servants:
            raise PolicyFault("defaultServants",
                              f"arca:defaultServants {default} is below arca:minServants {min_s}")
        if self.default_servants > self.max_servants:
            raise PolicyFault("defaultServants",
                              f"arca:defaultServants {default} is above arca:maxServants {max_s}")
        for low, high, low_prop, high_prop in (
                ("low_threshold", "high_threshold", "lowThreshold", "highThreshold"),
                ("threshold_down", "threshold_up", "thresholdDown", "thresholdUp")):
            if getattr(self, low) >= getattr(self, high):
                raise PolicyFault(low_prop, f"arca:{low_prop} {said(low, getattr(self, low))} is not below "
                                  f"arca:{high_prop} {said(high, getattr(self, high))}")
        bad = self.allowed_actions - set(ACTIONS)
        if bad:
            raise PolicyFault("allowedAction", f"unknown action {sorted(bad)}; known: {list(ACTIONS)}")
        for text in self.blackouts:
            try:
                parse_blackout(text)
            except ValueError as exc:
                raise PolicyFault("blackoutWindow", str(exc)) from None
        pool_min = said("warm_pool_min", self.warm_pool_min)
        if self.warm_pool_max is None and self.warm_pool_min > self.max_servants:
            raise PolicyFault("warmPoolMinSize", f"arca:warmPoolMinSize {pool_min} is above arca:maxServants "
                              f"{max_s} (the pool's maximum when arca:warmPoolMaxSize is not given)")
        if self.warm_pool_min > self.pool_max:
            raise PolicyFault("warmPoolMinSize", f"arca:warmPoolMinSize {pool_min} is above "
                              f"arca:warmPoolMaxSize {self.pool_max}")
        if self.pool_max > self.max_servants:
            raise PolicyFault("warmPoolMaxSize",
                              f"arca:warmPoolMaxSize {self.pool_max} is above arca:maxServants {max_s}")
        for prop, rules in (("scaleUpRule", self.scale_up_rules), ("scaleDownRule", self.scale_down_rules)):
            for text in rules:
                try:
                    parse_scaling_rule(text)
                except ValueError as exc:
                    raise PolicyFault(prop, str(exc)) from None
        return self

    @property
    def warm(self) -> bool:
        """Whether the system has a warm pool."""
        return self.warm_pool_state != "none"

    @property
    def pool_max(self) -> int:
        return self.max_servants if self.warm_pool_max is None else self.warm_pool_max

    @property
    def resume_lead_time_s(self) -> float:
        """Seconds a standby servant needs to serve again (the decider's lead time for the pool)."""
        if self.warm_pool_lead_time_s is not None:
            return self.warm_pool_lead_time_s
        return WARM_POOL_RESUME_S.get(self.warm_pool_state, self.lead_time_s)

    def clamp_pool(self, size: int) -> int:
        """A pool size forced into [warmPoolMinSize, warmPoolMaxSize] (0 without a warm pool)."""
        return max(self.warm_pool_min, min(self.pool_max, size)) if self.warm else 0

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
    "guardFrequencyLimit": ("frequency_limit", "int"),
    "guardFrequencyWindowSeconds": ("frequency_window_s", "float"),
    "blackoutWindow": ("blackouts", "set"),
    "protectedServant": ("protected_servants", "set"),
    "deletionPolicy": ("deletion_policy", "str"),
    "velocityLimits": ("velocity_limits", "bool"),
    "scaleUpRule": ("scale_up_rules", "set"),
    "scaleUpSelect": ("scale_up_select", "str"),
    "scaleUpStabilisationSeconds": ("scale_up_stabilisation_s", "float"),
    "scaleDownRule": ("scale_down_rules", "set"),
    "scaleDownSelect": ("scale_down_select", "str"),
    "scaleDownStabilisationSeconds": ("scale_down_stabilisation_s", "float"),
    "velocityLimitsAnticipation": ("velocity_limits_anticipation", "bool"),
    "warmPoolState": ("warm_pool_state", "str"),
    "warmPoolMinSize": ("warm_pool_min", "int"),
    "warmPoolMaxSize": ("warm_pool_max", "int"),
    "warmPoolAuto": ("warm_pool_auto", "bool"),
    "warmPoolReuseOnScaleIn": ("warm_pool_reuse", "bool"),
    "warmPoolLeadTimeSeconds": ("warm_pool_lead_time_s", "float"),
    "discardObjective": ("discard_objective", "float"),
    "discardObjectiveBound": ("discard_objective_bound", "bool"),
    "fallbackAfterRounds": ("fallback_after_rounds", "int"),
    "fallbackServants": ("fallback_servants", "int"),
    "telemetryPeriodSeconds": ("telemetry_period_s", "float"),
}

RULE_PATTERN = re.compile(r"^([0-9]+) (servants|percent) per ([0-9]+) ?s$")
"""Syntax of ``arca:scaleUpRule`` / ``arca:scaleDownRule`` (the SHACL shape uses the same one)."""


def parse_scaling_rule(text: str) -> tuple[str, int, int]:
    """``"4 servants per 15s"`` -> ("servants", 4, 15) (HPA ``Pods``/``Percent`` policy, periodSeconds)."""
    m = RULE_PATTERN.match(text)
    if m is None:
        raise ValueError(f"scaling rule {text!r}: expected '<n> servants per <s>s' or '<n> percent per <s>s'")
    value, kind, period = m.groups()
    if int(period) <= 0:
        raise ValueError(f"scaling rule {text!r}: the period must be > 0 s")
    return kind, int(value), int(period)


BLACKOUT_PATTERN = re.compile(
    r"^(scale-out|scale-in|heal|\*) ([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
"""Syntax of ``arca:blackoutWindow`` (the SHACL shape uses the same expression)."""


def parse_blackout(text: str) -> tuple[str, int, int]:
    """``"scale-in 22:00-06:00"`` -> (action or ``*``, start minute, end minute of the UTC day)."""
    m = BLACKOUT_PATTERN.match(text)
    if m is None:
        raise ValueError(f"blackoutWindow {text!r}: expected '<scale-out|scale-in|heal|*> HH:MM-HH:MM' (UTC)")
    action, h1, m1, h2, m2 = m.groups()
    start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
    if start == end:
        raise ValueError(f"blackoutWindow {text!r}: empty window (start = end)")
    return action, start, end


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
            data.setdefault(name, set()).add(action_name(value))
        elif name in data:
            raise PolicyError([fault_line(node, f"arca:{local}", "given more than once (at most one value)")])
        else:
            data[name] = value
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            fault = (e.get("ctx") or {}).get("error")
            if isinstance(fault, PolicyFault):
                problems.append(fault_line(node, f"arca:{fault.prop}", fault.text))
            else:
                prop = _prop_of(str(e["loc"][0])) if e["loc"] else "arca:Policy"
                problems.append(fault_line(node, prop, str(e["msg"]).removeprefix("Value error, ")))
        raise PolicyError(problems) from exc


def action_name(value: object) -> str:
    """``"scale-out"`` for ``"scale-out"`` or the IRI ``arca:ScaleOut`` (unknown names unchanged)."""
    text = str(value)
    if text.startswith(ARCA_NS):
        local = text[len(ARCA_NS):]
        return ACTION_IRIS.get(local, local)
    return text


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
    return _policies_of(rows)


def stored_policy_nodes(kb: KnowledgeBase) -> dict[str, set[str]]:
    """Policy node IRI -> the systems it is the policy of, over every stored policy graph (one
    system per node is the rule; ``arca.decider.validation.reused_policy_nodes`` keeps it at apply)."""
    rows = kb.query(
        "SELECT DISTINCT ?s ?sys WHERE { GRAPH ?g { ?s a arca:Policy ; arca:system ?sys } "
        "FILTER(STRSTARTS(STR(?g), $prefix)) }",
        prefix=POLICY_GRAPH_PREFIX,
    )
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(str(r["s"]), set()).add(str(r["sys"]))
    return out


def load_policy(kb: KnowledgeBase, system: str) -> Policy | None:
    """The stored policy of ``system`` (None when there is none; ``PolicyError`` when invalid)."""
    rows = kb.query("SELECT ?s ?p ?o WHERE { GRAPH $g { ?s a arca:Policy ; ?p ?o } }",
                    g=IRI(policy_graph(system)))
    return _policies_of(rows).get(system)


def _policies_of(rows: Iterable[Mapping[str, Any]]) -> dict[str, Policy]:
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


# ------------------------------------------------------------------ severity scales (admin policy too)

SCALE_GRAPH_PREFIX = f"{ARCA_NS}graph/severity/"
SCALE_KEY = "scale:"
"""History key of a source's severity scale: ``arca policy history scale:<source>``."""
ScaleSteps = list[tuple[float, int]]
"""(lowest magnitude, severity) steps of one source's scale, lowest magnitude first."""

_SCALE_PATTERN = ("?scale a arca:SeverityScale ; arca:forSource ?source ; arca:step ?step . "
                  "?step arca:fromMagnitude ?from ; arca:stepSeverity ?severity")


def scale_graph(source: str) -> IRI:
    """Named graph of the severity scale ``arca policy apply`` stored for ``source``."""
    return arca_iri("graph/severity", source)


def load_scale_steps(kb: KnowledgeBase, source: str | None = None) -> dict[str, ScaleSteps]:
    """Every severity scale of the knowledge base by source (or only ``source``'s).

    A scale applied with ``arca policy apply`` (graph ``arca:graph/severity/<source>``) replaces,
    for its source, any scale of the default graph (``arca kb load``): one source, one scale.
    """
    rows = kb.query(
        "SELECT ?g ?source ?from ?severity WHERE { { " + _SCALE_PATTERN + " } UNION { GRAPH ?g { "
        + _SCALE_PATTERN + " } FILTER(STRSTARTS(STR(?g), $prefix)) } }", prefix=SCALE_GRAPH_PREFIX)
    applied: dict[str, ScaleSteps] = {}
    loaded: dict[str, ScaleSteps] = {}
    for row in rows:
        name = str(row["source"])
        if source is not None and name != source:
            continue
        steps = applied if row.get("g") is not None else loaded
        steps.setdefault(name, []).append((float(str(row["from"])), int(row["severity"])))
    merged = {**loaded, **applied}
    return {name: sorted(set(steps)) for name, steps in sorted(merged.items())}


def scale_steps_from_graph(graph: rdflib.Graph) -> dict[str, ScaleSteps]:
    """Every ``arca:SeverityScale`` of an rdflib graph (an admin file), by source."""
    arca = rdflib.Namespace(ARCA_NS)
    out: dict[str, ScaleSteps] = {}
    for scale in graph.subjects(rdflib.RDF.type, arca.SeverityScale):
        name = str(graph.value(scale, arca.forSource))
        for step in graph.objects(scale, arca.step):
            lower, severity = graph.value(step, arca.fromMagnitude), graph.value(step, arca.stepSeverity)
            if lower is not None and severity is not None:
                out.setdefault(name, []).append((float(str(lower)), int(str(severity))))
    return {name: sorted(set(steps)) for name, steps in sorted(out.items())}
