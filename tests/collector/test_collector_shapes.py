"""Every kind of collector output, encoded, conforms to ``ontology/shapes.ttl`` and decodes losslessly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from collector_shacl import assert_conforms

from arca.collector.cap import alert_to_events
from arca.collector.events import parse_notification, to_external_event
from arca.collector.gnocchi import GnocchiPoller
from arca.collector.haproxy import HaproxyPoller
from arca.collector.ingest import Ingestor
from arca.collector.osm import parse_webhook, to_alarm
from arca.collector.settings import CollectorSettings
from arca.collector.severity import SeverityScales
from arca.messages import Message, decode, encode

DATA = Path(__file__).resolve().parents[1] / "data" / "collector"
T0 = datetime(2026, 11, 22, 2, 6, 25, tzinfo=UTC)
SCALES = SeverityScales.from_mapping({"*": [(3, 1), (6, 3)]})


def outputs() -> dict[str, Message]:
    out: dict[str, Message] = {}
    for kind in ("seismometer", "bigdata", "basic"):
        parsed = parse_notification((DATA / "events" / f"{kind}.json").read_bytes())
        out[f"event-{kind}"] = to_external_event(parsed, SCALES, system="emergency")
    out["cap-alert"] = alert_to_events((DATA / "cap" / "earthquake-severe.xml").read_bytes()).events[0]
    out["cap-cancel"] = alert_to_events((DATA / "cap" / "earthquake-cancel.xml").read_bytes()).events[0]
    servers = json.loads((DATA / "gnocchi" / "servers.json").read_text())["servers"]
    measures = json.loads((DATA / "gnocchi" / "measures-poll1.json").read_text())
    out["gnocchi-cpu_util"] = GnocchiPoller(lambda: servers, lambda s, _t: measures.get(s, [])).poll(T0)[0]
    sink: list[Message] = []
    ing = Ingestor(CollectorSettings(), sink.append)
    ing.nova_notification((DATA / "nova" / "lifecycle-ip-reuse.jsonl").read_bytes().splitlines()[2])
    out["nova-topology"] = sink[0]
    body = (DATA / "osm" / "vm-status-insufficient-data.body").read_bytes()
    out["osm-alarm"] = to_alarm(parse_webhook(body), T0, default_system="emergency")
    csv = iter([(DATA / "haproxy" / f"lb-building-2-poll{i}.csv").read_text() for i in (1, 2)])
    lb = HaproxyPoller(lambda: next(csv), system="emergency", lb_name="lb-building-2", domain="building-2")
    lb.poll(T0)
    for obs in lb.poll(datetime(2026, 11, 22, 2, 6, 35, tzinfo=UTC)):
        out[f"haproxy-{obs.metric}"] = obs
    return out


OUTPUTS = outputs()


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_output_conforms_to_the_shapes_and_round_trips(name: str) -> None:
    message = OUTPUTS[name]
    body = encode(message)
    assert_conforms(body)
    assert decode(body) == message
