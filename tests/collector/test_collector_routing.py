"""One collector, many systems (``collector.routing = "policies"``): inputs routed by the policies.

Three systems' policies in the knowledge base subscribe to detector sources and domains; the
collector publishes each detector event once per system subscribed to it (and to no other), LB
statistics to the systems listing the LB's domain, OSM alarms by ``osm_ns_systems``; an input no
system is subscribed to is refused with reason ``unrouted`` (422 over HTTP) and counted, and is not
remembered as seen, so it is accepted once a policy subscribes to it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.errors import IngestError
from arca.collector.events import build_notification, build_payload
from arca.collector.haproxy import HaproxyPoller
from arca.collector.http import EVENT_PATH
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Alarm, ExternalEvent, Message, Observation, PolicyUpdated
from arca.namespace import ONTOLOGY_DIR
from arca.policy import policy_graph
from arca.service import Deps
from tests.collector.test_collector_http import restconf_error
from tests.conftest import free_port

DATA = Path(__file__).resolve().parents[1] / "data" / "collector"
T0 = datetime(2026, 11, 22, 2, 6, 25, tzinfo=UTC)
TOKENS = {"seismo-hq": "tok-hq", "traffic-cam": "tok-cam", "seismo-far": "tok-far", "osm": "tok-osm"}
HEAD = "@prefix arca: <https://w3id.org/arca/ns#> .\n@prefix pol: <https://w3id.org/arca/ns#policy/> .\n"
POLICIES = {  # system -> its subscriptions
    "hospital": 'arca:listensToDomain "hq", "building-2"',
    "traffic": 'arca:listensToSource "traffic-cam" ; arca:listensToDomain "building-3"',
    "logistics": 'arca:listensToSource "seismo-hq"',
}
NS_ID = "a8c4e1f0-2d3b-4c5a-9e8f-7a6b5c4d3e2f"  # the NS instance of tests/data/collector/osm/prometheus-tags


def policy(system: str, subscriptions: str) -> str:
    return f'{HEAD}pol:{system} a arca:Policy ; arca:system "{system}" ; {subscriptions} .\n'


def build(**cfg: Any) -> tuple[CollectorService, list[Message], EmbeddedKnowledgeBase]:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    for system, subs in POLICIES.items():
        kb.load_turtle(policy(system, subs), policy_graph(system))
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)
    settings = ArcaSettings(collector=CollectorSettings(
        routing="policies", tokens=TOKENS, osm_ns_systems={NS_ID: "traffic"}, **cfg))
    service = CollectorService(Deps(bus=bus, kb=kb, clock=SimClock(T0), settings=settings),
                               haproxy=cfg.pop("haproxy", []))
    service.attach()
    return service, received, kb


def event(event_id: str, source: str, location: str, i: int = 0) -> str:
    return json.dumps(build_notification(
        event_id=event_id, source=source, timestamp=T0 + timedelta(seconds=i),
        payload=build_payload("seismometer", magnitude=6, location=location)))


def routed(received: list[Message], event_id: str) -> list[str]:
    return sorted(m.system for m in received if isinstance(m, ExternalEvent) and m.event_id == event_id
                  if m.system is not None)


def test_each_event_reaches_exactly_the_systems_subscribed_to_its_source_or_domain() -> None:
    service, received, _kb = build()
    cases = {  # (source, location) -> the systems whose policy listens to it
        ("seismo-hq", "hq"): ["hospital", "logistics"],  # domain hq + source seismo-hq
        ("traffic-cam", "building-9"): ["traffic"],  # source only
        ("seismo-far", "building-2"): ["hospital"],  # domain only
        ("traffic-cam", "building-3"): ["traffic"],  # source and domain of the same system: once
        ("seismo-hq", "building-3"): ["logistics", "traffic"],
    }
    for n, ((source, location), systems) in enumerate(cases.items()):
        outcome = service.ingestor.detector_event(event(f"e{n}", source, location, n), token=TOKENS[source],
                                                  authenticate=True)
        assert outcome.status == "accepted"
        assert routed(received, f"e{n}") == systems, (source, location)
        copies = [m for m in received if isinstance(m, ExternalEvent) and m.event_id == f"e{n}"]
        assert len({m.message_id for m in copies}) == len(systems)  # one message per system
        assert {m.domain for m in copies} == {location}
    service.close()


def test_an_event_no_system_listens_to_is_refused_counted_and_accepted_once_a_policy_subscribes() -> None:
    port = free_port()
    service, received, kb = build(http_port=port)
    url = f"http://127.0.0.1:{port}{EVENT_PATH}"
    headers = {"Content-Type": "application/yang-data+json", "Authorization": "Bearer tok-far"}
    try:
        body = event("far-1", "seismo-far", "mars")
        resp = requests.post(url, data=body, headers=headers, timeout=10)
        assert resp.status_code == 422
        error = restconf_error(resp)
        assert error["error-app-tag"] == "unrouted" and error["error-path"].endswith("/source")
        assert "seismo-far" in error["error-message"] and "mars" in error["error-message"]
        assert service.ingestor.rejections[("event", "unrouted")] == 1
        assert not [m for m in received if isinstance(m, ExternalEvent)]
        # a policy subscribes to the domain: the same event (not remembered as seen) now goes through
        kb.load_turtle(policy("mars-base", 'arca:listensToDomain "mars"'), policy_graph("mars-base"))
        service.handle(PolicyUpdated(event_time=T0, producer="test", system="mars-base", policy="mars-base"))
        resp = requests.post(url, data=body, headers=headers, timeout=10)
        assert resp.status_code == 202 and resp.json()["status"] == "accepted"
        assert routed(received, "far-1") == ["mars-base"]
    finally:
        service.close()


def test_a_policy_without_subscriptions_listens_to_every_event_as_the_analyzer_judges() -> None:
    service, received, kb = build()
    kb.load_turtle(policy("all-ears", 'arca:minServants 1'), policy_graph("all-ears"))
    service.handle(PolicyUpdated(event_time=T0, producer="test", system="all-ears", policy="all-ears"))
    service.ingestor.detector_event(event("x1", "seismo-far", "mars"), token="tok-far", authenticate=True)
    assert routed(received, "x1") == ["all-ears"]
    service.close()


def test_lb_statistics_go_to_the_systems_listing_the_lb_domain_and_an_unlisted_lb_is_counted() -> None:
    def csv() -> str:
        return (DATA / "haproxy" / "lb-building-2-poll1.csv").read_text()

    lbs = [HaproxyPoller(csv, system="emergency", lb_name="lb-b2", domain="building-2", interval_s=10),
           HaproxyPoller(csv, system="emergency", lb_name="lb-b7", domain="building-7", interval_s=10)]
    service, received, _kb = build(haproxy=lbs)
    service.tick(T0)
    observations = [m for m in received if isinstance(m, Observation)]
    assert observations and {o.system for o in observations} == {"hospital"}
    assert {o.resource for o in observations} == {"lb-b2"}
    assert service.ingestor.rejections[("haproxy", "unrouted")] == 1
    service.close()


def test_osm_alarms_go_to_the_mapped_system_and_an_unmapped_ns_is_refused() -> None:
    service, received, _kb = build()
    body = (DATA / "osm" / "prometheus-tags.body").read_bytes()
    service.ingestor.osm_alarm(body, T0, principal="osm", authenticate=True)
    assert [m.system for m in received if isinstance(m, Alarm)] == ["traffic"]
    other = body.replace(NS_ID.encode(), b"0000aaaa-2d3b-4c5a-9e8f-7a6b5c4d3e2f")
    try:
        service.ingestor.osm_alarm(other, T0, principal="osm", authenticate=True)
    except IngestError as exc:
        assert (exc.status, exc.reason) == (403, "unmanaged")
    else:
        raise AssertionError("an alarm of an NS instance mapped to no system was accepted")
    assert Counter(type(m).__name__ for m in received)["Alarm"] == 1
    service.close()


def test_routing_by_system_stays_the_default() -> None:
    kb = EmbeddedKnowledgeBase(None)
    kb.load_turtle((ONTOLOGY_DIR / "policies" / "severity-scales.ttl").read_bytes())
    for system, subs in POLICIES.items():
        kb.load_turtle(policy(system, subs), policy_graph(system))
    bus = InMemoryBus()
    received: list[Message] = []
    bus.subscribe("test.capture", ["#"], received.append)
    service = CollectorService(Deps(bus=bus, kb=kb, clock=SimClock(T0), settings=ArcaSettings(
        collector=CollectorSettings(tokens=TOKENS, system="emergency"))))
    service.attach()
    service.ingestor.detector_event(event("d1", "seismo-far", "mars"), token="tok-far", authenticate=True)
    assert routed(received, "d1") == ["emergency"]
    service.close()
