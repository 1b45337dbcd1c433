"""The ontology and SHACL shapes agree with the message models, and real message graphs conform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
import rdflib
from pyshacl import validate
from rdflib.collection import Collection
from rdflib.compare import isomorphic
from rdflib.namespace import OWL, RDF, RDFS

from arca.messages import (
    MESSAGE_TYPES,
    ActiveIncident,
    Alarm,
    Decision,
    Enforcement,
    ExternalEvent,
    Message,
    Observation,
    PolicyUpdated,
    Situation,
    TopologyChange,
    encode,
)
from arca.messages.codec import node_iri
from arca.messages.schema import field_specs, ontology_turtle, shapes_turtle
from arca.namespace import ARCA_NS, ONTOLOGY_DIR, XSD_NS

ARCA = rdflib.Namespace(ARCA_NS)
XSD = rdflib.Namespace(XSD_NS)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SAMPLES: dict[str, Message] = {
    "Observation": Observation(event_time=T0, system="emergency", metric="cpu_util", value=0.7,
                               unit="ratio", resource="srv-1", domain="hq"),
    "ExternalEvent": ExternalEvent(event_time=T0, event_id="ev-1", source="seismo-1", onset=T0,
                                   payload_kind="seismometer", severity=3, magnitude=5.1),
    "TopologyChange": TopologyChange(event_time=T0, system="emergency", server_id="s1", state="active"),
    "Alarm": Alarm(event_time=T0, system="emergency", alarm_id="a1", metric="cpu", status="alarm"),
    "Situation": Situation(event_time=T0, system="emergency", servants_active=2, average_load=0.8,
                           discard_ratio=0.1, incident_severity=3, incident_onset=T0,
                           incidents=(ActiveIncident(incident_id="ev-1", severity=4, onset=T0,
                                                     source="seismo-1", domain="building-3"),
                                      ActiveIncident(incident_id="ev-2", severity=1,
                                                     onset=T0 + timedelta(seconds=10), source="bigdata-1"))),
    "Decision": Decision(event_time=T0, system="emergency", strategy="arca", target_servants=6, msa=6,
                         reason="severity 3 at 10 s", rule="anticipate"),
    "Enforcement": Enforcement(event_time=T0, system="emergency", action="scale_out", driver="openstack",
                               outcome="succeeded", desired_servants=6, active_servants=6,
                               started_at=T0, finished_at=T0 + timedelta(seconds=10)),
    "PolicyUpdated": PolicyUpdated(event_time=T0, system="emergency", policy="default"),
}


@cache
def ontology() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY_DIR / "arca.ttl", format="turtle")


@cache
def shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(ONTOLOGY_DIR / "shapes.ttl", format="turtle")


def conforms(data: bytes | str) -> tuple[bool, str]:
    g = rdflib.Graph().parse(data=data, format="nt")
    ok, _, text = validate(g, shacl_graph=shapes(), inference="none")
    return bool(ok), str(text)


def union(g: rdflib.Graph, node: rdflib.term.Node) -> set[rdflib.term.Node]:
    members = g.value(node, OWL.unionOf)
    assert members is not None, f"{node} is neither an IRI nor an owl:unionOf"
    return set(Collection(g, members))


def test_samples_cover_every_message_type() -> None:
    assert set(SAMPLES) == set(MESSAGE_TYPES)


@pytest.mark.parametrize("name", sorted(MESSAGE_TYPES))
def test_encoded_message_conforms_to_its_shape(name: str) -> None:
    ok, report = conforms(encode(SAMPLES[name]))
    assert ok, report


@pytest.mark.parametrize("name", sorted(MESSAGE_TYPES))
def test_every_model_field_is_declared_with_its_range(name: str) -> None:
    g = ontology()
    cls = MESSAGE_TYPES[name]
    assert (ARCA[name], RDF.type, OWL.Class) in g
    assert (ARCA[name], RDFS.subClassOf, ARCA.Message) in g
    for spec in field_specs(cls):
        prop = ARCA[spec.prop]
        assert (prop, RDF.type, OWL.DatatypeProperty) in g, f"arca:{spec.prop} is not declared"
        ranges = set(g.objects(prop, RDFS.range))
        assert len(ranges) == 1, f"arca:{spec.prop} needs exactly one rdfs:range"
        (rng,) = ranges
        allowed = {rng} if isinstance(rng, rdflib.URIRef) else union(g, rng)
        assert XSD[spec.xsd] in allowed, f"arca:{spec.prop} range does not include xsd:{spec.xsd}"
        domains = list(g.objects(prop, RDFS.domain))
        assert len(domains) == 1, f"arca:{spec.prop} needs exactly one rdfs:domain"
        dom = domains[0]
        members = {dom} if isinstance(dom, rdflib.URIRef) else union(g, dom)
        assert ARCA[name] in members or ARCA.Message in members, f"arca:{spec.prop} domain misses {name}"


def test_generated_files_are_current() -> None:
    """ontology/shapes.ttl and the generated block of arca.ttl equal what the models produce."""
    fresh = rdflib.Graph().parse(data=shapes_turtle(), format="turtle")
    on_disk = rdflib.Graph().parse(ONTOLOGY_DIR / "shapes.ttl", format="turtle")
    assert isomorphic(on_disk, fresh), "run scripts/gen_ontology.py"
    prefix = "\n".join(line for line in (ONTOLOGY_DIR / "arca.ttl").read_text().splitlines()
                       if line.startswith("@prefix"))
    generated = rdflib.Graph().parse(data=prefix + "\n" + ontology_turtle(), format="turtle")
    missing = [t for t in generated if not isinstance(t[0], rdflib.BNode)
               and not isinstance(t[2], rdflib.BNode) and t not in ontology()]
    assert not missing, f"run scripts/gen_ontology.py: {missing[:3]}"


def test_ontology_declares_the_domain_concepts() -> None:
    g = ontology()
    for cls in ("ControlledSystem", "Servant", "Resource", "Domain", "LoadBalancer", "Observation",
                "ExternalEvent", "Incident", "Situation", "Decision", "Enforcement", "LearnedSample"):
        assert (ARCA[cls], RDF.type, OWL.Class) in g, cls


OBS = encode(SAMPLES["Observation"]).decode()
NODE = OBS.split(" ", 1)[0]
SIT = encode(SAMPLES["Situation"]).decode()
SIT_NODE = SIT.split(" ", 1)[0]
INC = [f"<{node_iri(i)}>" for i in SAMPLES["Situation"].incidents]  # type: ignore[attr-defined]


def test_active_incidents_are_incident_nodes_of_the_situation() -> None:
    """Every active incident is an arca:Incident node the situation points to (arca:activeIncident)."""
    g = rdflib.Graph().parse(data=SIT, format="nt")
    node = rdflib.URIRef(SIT_NODE.strip("<>"))
    children = sorted(g.objects(node, ARCA.activeIncident))
    assert len(children) == 2
    assert all((c, RDF.type, ARCA.Incident) in g for c in children)
    assert {int(g.value(c, ARCA.severity)) for c in children} == {4, 1}
    o = ontology()
    assert (ARCA.activeIncident, RDF.type, OWL.ObjectProperty) in o
    assert (ARCA.activeIncident, RDFS.range, ARCA.Incident) in o


@pytest.mark.parametrize(
    ("graph", "names"),
    [
        ("\n".join(line for line in OBS.splitlines() if "#metric>" not in line) + "\n", "metric"),
        (OBS.replace('"0.7"^^<http://www.w3.org/2001/XMLSchema#double>',
                     '"high"^^<http://www.w3.org/2001/XMLSchema#string>'), "value"),
        (OBS + f'{NODE} <{ARCA_NS}value> "0.9"^^<http://www.w3.org/2001/XMLSchema#double> .\n', "value"),
        (OBS + f'{NODE} <{ARCA_NS}colour> "red" .\n', "colour"),
        (encode(SAMPLES["Situation"]).decode().replace(
            '"0.1"^^<http://www.w3.org/2001/XMLSchema#double>',
            '"1.5"^^<http://www.w3.org/2001/XMLSchema#double>'), "discardRatio"),
        (encode(SAMPLES["Situation"]).decode().replace(
            '"2"^^<http://www.w3.org/2001/XMLSchema#integer>',
            '"-2"^^<http://www.w3.org/2001/XMLSchema#integer>'), "servantsActive"),
        (encode(SAMPLES["TopologyChange"]).decode().replace('"active"', '"exploded"'), "state"),
        (SIT.replace('"4"^^<http://www.w3.org/2001/XMLSchema#integer>',
                     '"-4"^^<http://www.w3.org/2001/XMLSchema#integer>'), "severity"),
        ("\n".join(line for line in SIT.splitlines() if INC[1] + " <" + ARCA_NS + "source>" not in line)
         + "\n", "source"),
        (SIT + f'{INC[0]} <{ARCA_NS}colour> "red" .\n', "colour"),
    ],
    ids=["missing-required", "wrong-datatype", "two-values", "unknown-property", "ratio-above-1",
         "negative-count", "not-in-enum", "incident-negative-severity", "incident-missing-source",
         "incident-unknown-property"],
)
def test_malformed_graph_fails_naming_the_property(graph: str, names: str) -> None:
    ok, report = conforms(graph)
    assert not ok
    assert f"{ARCA_NS}{names}" in report or f"arca:{names}" in report, report
