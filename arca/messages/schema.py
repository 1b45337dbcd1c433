"""The RDF schema of the message models: OWL terms and SHACL shapes derived from the pydantic models.

``ontology/arca.ttl`` (the generated block) and ``ontology/shapes.ttl`` are produced from these
functions by ``scripts/gen_ontology.py`` and checked against the models by the tests, so the
ontology, the shapes and the codec (``codec.py``: class ``arca:<Model>``, property
``arca:<camelField>``) cannot drift apart. After adding a field to a model, run
``python scripts/gen_ontology.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel

from arca.messages.codec import _rdf_class, _scalar_type, camel, nested_model, nested_property, node_prefix
from arca.messages.models import MESSAGE_TYPES

_XSD_LOCAL = {str: "string", int: "integer", float: "double", bool: "boolean", datetime: "dateTime"}
ENVELOPE = ("correlation_id", "event_time", "producer")
"""Fields every message has (domain ``arca:Message``)."""

_DOCS = {
    "correlation_id": "Id shared by every message caused by one stimulus.",
    "event_time": "When the fact the message states happened (event time, not wall time).",
    "producer": "Service or adapter that produced the message.",
    "system": "Id of the controlled system the message is about (e.g. 'emergency').",
    "metric": "Observed metric: cpu_util, request_rate, served_rate, discard_rate, queue_length...",
    "value": "Measured value of an observation, in its unit.",
    "resource": "Id of the observed resource (server id, load-balancer name).",
    "domain": "Network domain the message concerns ('hq', 'building-2', ...).",
    "source": "Detector that notified an external event.",
    "severity": "Incident severity (external event: 0 none ... 4 strongest) or alarm severity text.",
    "onset": "When the incident began.",
    "payload_kind": "Kind of detector payload: basic, seismometer, bigdata or cap.",
    "target_servants": "Servant amount the decision asks for.",
    "standby_servants": "Servants standing by in the warm pool (decision: to keep; enforcement: observed).",
    "msa": "Minimum servant amount predicted by the anticipator.",
    "discard_objective": "Share of the offered requests the policy accepts to see discarded.",
    "discard_measured": "Share of the offered demand discarded so far, as the decider measured it.",
    "reason": "Human-readable reason of a decision.",
    "rule": "Rule of the decider that produced the decision (provenance).",
    "situation_id": "Message id of the situation a decision was made from (provenance).",
    "decision_id": "Message id of the decision an enforcement carries out (provenance).",
    "action": "Enforcer action (scale_out, scale_in, heal, none...).",
    "outcome": "Result of an enforcement: succeeded, failed, skipped, in_progress.",
    "started_at": "When the enforcer began the action.",
    "incident_id": "Id of an incident (the event id of the detector that announced it).",
    "detected_from_load": "The incident was detected from a jump of load alone (no detector, no severity).",
    "finished_at": "When the enforcer verified the action's effect.",
}


@dataclass(frozen=True)
class FieldSpec:
    """One model field as RDF: property, datatype, cardinality and value constraints."""

    model: str
    field: str
    prop: str  # local name in the ARCA namespace
    xsd: str  # local name in the XSD namespace
    required: bool
    min_inclusive: float | None = None
    max_inclusive: float | None = None
    min_exclusive: float | None = None
    max_exclusive: float | None = None
    min_length: int | None = None
    allowed: tuple[str, ...] | None = None
    description: str | None = None


def _literal_values(annotation: Any) -> tuple[str, ...] | None:
    if get_origin(annotation) is Literal:
        return tuple(str(v) for v in get_args(annotation))
    for arg in get_args(annotation):
        found = _literal_values(arg)
        if found:
            return found
    return None


@dataclass(frozen=True)
class NestedSpec:
    """A field holding sub-model nodes: object property, the sub-model and its RDF class."""

    model: str
    field: str
    prop: str
    sub: type[BaseModel]
    rdf_class: str
    description: str | None = None


def nested_specs(cls: type[BaseModel]) -> list[NestedSpec]:
    """The nested (object-property) fields of ``cls``."""
    out = []
    for name, info in cls.model_fields.items():
        sub = nested_model(info.annotation)
        if sub is not None:
            out.append(NestedSpec(cls.__name__, name, nested_property(cls, name), sub, _rdf_class(sub),
                                  info.description))
    return out


def field_specs(cls: type[BaseModel]) -> list[FieldSpec]:
    """The RDF view of every literal field of ``cls`` except ``message_id`` (which is the node IRI)."""
    out = []
    for name, info in cls.model_fields.items():
        if name == "message_id" or nested_model(info.annotation) is not None:
            continue
        kw: dict[str, Any] = {}
        for meta in info.metadata:
            if isinstance(meta, at.Ge):
                kw["min_inclusive"] = meta.ge
            elif isinstance(meta, at.Le):
                kw["max_inclusive"] = meta.le
            elif isinstance(meta, at.Gt):
                kw["min_exclusive"] = meta.gt
            elif isinstance(meta, at.Lt):
                kw["max_exclusive"] = meta.lt
            elif isinstance(meta, at.MinLen):
                kw["min_length"] = meta.min_length
        out.append(FieldSpec(
            model=_rdf_class(cls), field=name, prop=camel(name),
            xsd=_XSD_LOCAL[_scalar_type(info.annotation)], required=info.is_required(),
            allowed=_literal_values(info.annotation), description=info.description, **kw,
        ))
    return out


def sub_models() -> list[type[BaseModel]]:
    """Every sub-model nested in a message (e.g. ``ActiveIncident`` as ``arca:Incident``)."""
    out: list[type[BaseModel]] = []
    for cls in MESSAGE_TYPES.values():
        for n in nested_specs(cls):
            if n.sub not in out:
                out.append(n.sub)
    return out


def all_specs() -> list[FieldSpec]:
    return [s for cls in [*MESSAGE_TYPES.values(), *sub_models()] for s in field_specs(cls)]


def _lit(value: float | int, xsd: str) -> str:
    if xsd == "integer":
        return f'"{int(value)}"^^xsd:integer'
    return f'"{float(value)!r}"^^xsd:double'


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ontology_turtle() -> str:
    """OWL declarations of every message class and property (the generated block of arca.ttl)."""
    lines: list[str] = []
    for cls in MESSAGE_TYPES.values():
        doc = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
        lines += [
            f"arca:{cls.__name__} a owl:Class ;",
            "    rdfs:subClassOf arca:Message ;",
            f"    rdfs:label {_q(cls.__name__)} ;",
            f"    rdfs:comment {_q(doc + f' Routing key {cls.kind}.<subject>.')} .",
            "",
        ]
    for cls in MESSAGE_TYPES.values():
        for n in nested_specs(cls):
            lines += [
                f"arca:{n.prop} a owl:ObjectProperty ;",
                f"    rdfs:label {_q(n.field)} ;",
                f"    rdfs:comment {_q(n.description or n.field)} ;",
                f"    rdfs:domain arca:{n.model} ;",
                f"    rdfs:range arca:{n.rdf_class} .",
                "",
            ]
    props: dict[str, list[FieldSpec]] = {}
    for spec in all_specs():
        props.setdefault(spec.prop, []).append(spec)
    for prop in sorted(props):
        specs = props[prop]
        models = sorted({s.model for s in specs})
        ranges = sorted({s.xsd for s in specs})
        if specs[0].field in ENVELOPE:
            domain = "arca:Message"
        elif len(models) == 1:
            domain = f"arca:{models[0]}"
        else:
            domain = "[ a owl:Class ; owl:unionOf ( " + " ".join(f"arca:{m}" for m in models) + " ) ]"
        if len(ranges) == 1:
            rng = f"xsd:{ranges[0]}"
        else:
            rng = "[ a rdfs:Datatype ; owl:unionOf ( " + " ".join(f"xsd:{r}" for r in ranges) + " ) ]"
        comment = _DOCS.get(specs[0].field) or f"Field `{specs[0].field}` of " + ", ".join(models) + "."
        lines += [
            f"arca:{prop} a owl:DatatypeProperty ;",
            f"    rdfs:label {_q(specs[0].field)} ;",
            f"    rdfs:comment {_q(comment)} ;",
            f"    rdfs:domain {domain} ;",
            f"    rdfs:range {rng} .",
            "",
        ]
    return "\n".join(lines)


SHAPES_HEADER = """\
# SHACL shapes of every ARCA bus message. GENERATED from the pydantic models by
# scripts/gen_ontology.py (arca.messages.schema) -- do not edit by hand; tests check it is current.
# One closed node shape per message class: the node is a urn:uuid: IRI, every property has its
# datatype, at most one value, at least one when the model requires it, and the models' value ranges.
# Policy shapes live in ontology/policy-shapes.ttl (owned by the decider).

@prefix arca: <https://w3id.org/arca/ns#> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .

"""


def shapes_turtle() -> str:
    """SHACL node shapes of every message class (the whole of ontology/shapes.ttl)."""
    lines = [SHAPES_HEADER]
    for cls in [*MESSAGE_TYPES.values(), *sub_models()]:
        name = _rdf_class(cls)
        if cls in MESSAGE_TYPES.values():
            head = [f"    sh:targetClass arca:{name} ;", '    sh:pattern "^urn:uuid:[^#]+$" ;']
        else:  # a nested node: checked through the property that points to it (sh:node)
            # named by its content (codec.node_iri): one node however many messages carry it
            head = [f'    sh:pattern "^{node_prefix(cls)}[0-9a-f]{{32}}$" ;']
        lines += [
            f"arca:{name}Shape a sh:NodeShape ;",
            *head,
            "    sh:nodeKind sh:IRI ;",
            "    sh:closed true ;",
            "    sh:ignoredProperties ( rdf:type ) ;",
        ]
        props = []
        for n in nested_specs(cls):
            props.append("    sh:property [\n        " + " ;\n        ".join([
                f"sh:path arca:{n.prop}", f"sh:class arca:{n.rdf_class}", f"sh:node arca:{n.rdf_class}Shape",
            ]) + "\n    ]")
        for s in field_specs(cls):
            p = [f"sh:path arca:{s.prop}", f"sh:datatype xsd:{s.xsd}", "sh:maxCount 1"]
            if s.required:
                p.append("sh:minCount 1")
            if s.min_inclusive is not None:
                p.append(f"sh:minInclusive {_lit(s.min_inclusive, s.xsd)}")
            if s.max_inclusive is not None:
                p.append(f"sh:maxInclusive {_lit(s.max_inclusive, s.xsd)}")
            if s.min_exclusive is not None:
                p.append(f"sh:minExclusive {_lit(s.min_exclusive, s.xsd)}")
            if s.max_exclusive is not None:
                p.append(f"sh:maxExclusive {_lit(s.max_exclusive, s.xsd)}")
            if s.min_length is not None:
                p.append(f"sh:minLength {s.min_length}")
            if s.allowed:
                p.append("sh:in ( " + " ".join(_q(v) for v in s.allowed) + " )")
            props.append("    sh:property [\n        " + " ;\n        ".join(p) + "\n    ]")
        lines.append(" ;\n".join(props) + " .\n")
    return "\n".join(lines)
