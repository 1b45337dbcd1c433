"""Issue 13: an OSM alarm only makes ARCA act when it is authenticated AND names what ARCA manages.

The collector (real HTTP endpoint, per-source tokens) and the enforcer (OpenStack driver on the
testbed through the real openstacksdk) share one bus. An unauthenticated ``insufficient-data`` alarm
naming a healthy servant must not delete it (401, nothing reaches the enforcer); an authenticated
one naming a server ARCA does not own must not delete that server either; the positive control —
an authenticated alarm naming a managed servant — does replace it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import requests

from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.service import EnforcerService
from arca.enforcer.settings import EnforcerSettings
from arca.kb import EmbeddedKnowledgeBase
from arca.messages import Alarm, Decision, Message
from arca.metrics import INGEST_AUTH_REFUSED, MESSAGES_REJECTED
from arca.service import Deps
from tests.conftest import free_port

SYSTEM = "emergency"
TOKENS = {"osm": "osm-webhook-token", "seismo-hq": "hq-token"}


MANAGED_NS = "ns-1"
"""The NS instance ARCA manages: the collector maps it to the system, the enforcer records it on the
servers it creates (``enforcer.osm_ns_id``)."""


def alarm_body(vdu_name: str, ns_id: str = MANAGED_NS) -> str:
    details = {"alarm_uuid": "a-1", "vdu_name": vdu_name, "vnf_member_index": "1", "ns_id": ns_id,
               "metric_name": "vm_status", "status": "insufficient-data", "severity": "critical"}
    return json.dumps(json.dumps({"schema_version": "1.1", "schema_type": "notify_alarm",
                                  "notify_details": details}))


class Loop:
    def __init__(self, testbed: Any, conn: Any, ns_systems: dict[str, str] | None = None) -> None:
        self.tb = testbed
        for s in testbed.model.live_servants():  # the initial servant: created by an earlier ARCA for
            s.metadata["osm_ns_id"] = MANAGED_NS  # the managed NS, with its NS record (as ours are)
        self.clock = SimClock(testbed.model.now())
        self.bus = InMemoryBus()
        settings = ArcaSettings(
            collector=CollectorSettings(http_port=free_port(), tokens=TOKENS,
                                        osm_ns_systems={MANAGED_NS: SYSTEM} if ns_systems is None
                                        else ns_systems),
            enforcer=EnforcerSettings(systems=[SYSTEM], boot_timeout_s=30.0, resync_interval_s=5.0,
                                      retry_initial_s=0.5, retry_max_s=2.0, osm_ns_id=MANAGED_NS),
        )
        self.alarms: list[Message] = []
        self.bus.subscribe("test.alarms", ["alarm.#"], self.alarms.append)
        self.enforcer = EnforcerService(Deps(bus=self.bus, kb=EmbeddedKnowledgeBase(), clock=self.clock,
                                             settings=settings),
                                        driver=OpenStackDriver(settings.enforcer, conn))
        self.enforcer.attach()
        self.collector = CollectorService(Deps(bus=self.bus, kb=EmbeddedKnowledgeBase(), clock=self.clock,
                                               settings=settings))
        self.collector.attach()
        assert self.collector.http is not None
        self.url = self.collector.http.url + "/osm/alarm"

    def run(self, seconds: int) -> None:
        for _ in range(seconds):
            self.tb.model.advance(1.0)
            self.clock.set(self.tb.model.now())
            self.enforcer.tick(self.clock.now())

    def post(self, body: str, token: str | None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(self.url, data=body, headers=headers, timeout=10)

    def close(self) -> None:
        self.collector.close()


def status(testbed: Any, server_id: str) -> str:
    return str(testbed.model.servants[server_id].status)


def test_osm_alarms_act_only_when_authenticated_and_naming_a_managed_servant(testbed: Any, conn: Any) -> None:
    loop = Loop(testbed, conn)
    try:
        loop.bus.publish(Decision(event_time=loop.clock.now(), system=SYSTEM, strategy="test",
                                  target_servants=1, reason="test", rule="test"))
        loop.run(15)
        [healthy] = loop.tb.model.live_servants()
        assert healthy.status == "ACTIVE"
        image = conn.image.find_image("emergency-servant", ignore_missing=False)
        flavor = conn.compute.find_flavor("m1.servant")
        foreign = conn.compute.create_server(name="not-arca", image_id=image.id, flavor_id=flavor.id,
                                             networks="auto")
        loop.run(12)
        assert status(testbed, foreign.id) == "ACTIVE"
        refused = INGEST_AUTH_REFUSED.labels(input="osm", reason="unauthenticated")._value.get()
        forbidden = INGEST_AUTH_REFUSED.labels(input="osm", reason="forbidden")._value.get()
        ignored = MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:unmanaged")._value.get()

        # 1. no token, or a token nobody was issued: 401, the enforcer never hears of it
        for token in (None, "guessed"):
            resp = loop.post(alarm_body(healthy.id), token)
            assert resp.status_code == 401 and resp.json()["reason"] == "unauthenticated"
        # 2. a detector's token is not the OSM policy module's: 403
        resp = loop.post(alarm_body(healthy.id), TOKENS["seismo-hq"])
        assert resp.status_code == 403 and resp.json()["reason"] == "forbidden"
        loop.run(15)
        assert loop.alarms == []
        assert status(testbed, healthy.id) == "ACTIVE"
        assert INGEST_AUTH_REFUSED.labels(input="osm", reason="unauthenticated")._value.get() == refused + 2
        assert INGEST_AUTH_REFUSED.labels(input="osm", reason="forbidden")._value.get() == forbidden + 1

        # 3. authenticated, but naming a server ARCA does not manage: published, ignored and counted
        resp = loop.post(alarm_body(foreign.id), TOKENS["osm"])
        assert resp.status_code == 202, resp.text
        loop.run(15)
        assert [type(m) for m in loop.alarms] == [Alarm]
        assert status(testbed, foreign.id) == "ACTIVE"
        assert status(testbed, healthy.id) == "ACTIVE"
        unmanaged = MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:unmanaged")
        assert unmanaged._value.get() == ignored + 1

        # 4. positive control: authenticated and naming the managed servant -> removed and replaced
        resp = loop.post(alarm_body(healthy.id), TOKENS["osm"])
        assert resp.status_code == 202, resp.text
        loop.run(20)
        assert status(testbed, healthy.id) == "DELETED"
        live = [s for s in loop.tb.model.live_servants() if s.id != foreign.id]
        assert len(live) == 1 and live[0].status == "ACTIVE"
    finally:
        loop.close()


def test_osm_alarm_naming_an_unmanaged_ns_is_refused_when_ns_are_configured() -> None:
    from arca.collector.errors import IngestError
    from arca.collector.ingest import Ingestor

    published: list[Message] = []
    ing = Ingestor(CollectorSettings(tokens=TOKENS, osm_ns_systems={"ns-managed": SYSTEM}), published.append)
    now = datetime(2026, 11, 22, tzinfo=UTC)
    try:
        ing.osm_alarm(alarm_body("vm-1"), now, principal="osm", authenticate=True)  # ns-1: not managed
    except IngestError as exc:
        assert exc.status == 403 and exc.reason == "unmanaged" and exc.path == "/notify_details/ns_id"
    else:
        raise AssertionError("an alarm for an unmanaged NS was accepted")
    assert published == []


def managed_loop(testbed: Any, conn: Any, ns_systems: dict[str, str] | None = None) -> tuple[Loop, Any]:
    """A loop whose enforcer has created and joined a second servant (``arca-emergency-2``)."""
    loop = Loop(testbed, conn, ns_systems)
    loop.bus.publish(Decision(event_time=loop.clock.now(), system=SYSTEM, strategy="test",
                              target_servants=2, reason="test", rule="test"))
    loop.run(15)
    servant = next(s for s in loop.tb.model.live_servants() if s.name == "arca-emergency-2")
    assert servant.status == "ACTIVE"
    assert servant.metadata.get("osm_ns_id") == MANAGED_NS  # its own NS record, written by ARCA's create
    return loop, servant


def test_osm_alarm_is_refused_when_no_ns_is_managed(testbed: Any, conn: Any) -> None:
    """Issue 25: with ``collector.osm_ns_systems`` unset (as shipped), an authenticated alarm for any
    NS naming ``arca-emergency-1`` is refused at the door (403 naming the setting, counted), and the
    server lives on."""
    loop, servant = managed_loop(testbed, conn, ns_systems={})
    try:
        unmanaged = INGEST_AUTH_REFUSED.labels(input="osm", reason="unmanaged")._value.get()
        resp = loop.post(alarm_body(servant.name, ns_id="ns-random"), TOKENS["osm"])
        assert resp.status_code == 403, resp.text
        assert resp.json()["reason"] == "unmanaged" and "collector.osm_ns_systems" in resp.json()["detail"]
        assert INGEST_AUTH_REFUSED.labels(input="osm", reason="unmanaged")._value.get() == unmanaged + 1
        loop.run(20)
        assert loop.alarms == []
        assert status(testbed, servant.id) == "ACTIVE"
        assert len(testbed.model.servants) == 2  # nothing deleted, nothing created
    finally:
        loop.close()


def test_osm_alarm_of_another_ns_never_touches_a_servant(testbed: Any, conn: Any) -> None:
    """An alarm that reaches the enforcer (from a collector that maps another NS instance to the same
    system) naming a servant whose own NS record is a different NS: ignored and counted; the same
    alarm for the servant's own NS replaces it (the positive control)."""
    loop, servant = managed_loop(testbed, conn, ns_systems={MANAGED_NS: SYSTEM, "ns-other": SYSTEM})
    try:
        other = MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:other-ns")._value.get()
        resp = loop.post(alarm_body(servant.name, ns_id="ns-other"), TOKENS["osm"])
        assert resp.status_code == 202, resp.text
        loop.run(20)
        assert [m.ns_id for m in loop.alarms if isinstance(m, Alarm)] == ["ns-other"]
        assert status(testbed, servant.id) == "ACTIVE"
        assert len(testbed.model.servants) == 2
        assert MESSAGES_REJECTED.labels(service="enforcer", reason="alarm:other-ns")._value.get() == other + 1

        resp = loop.post(alarm_body(servant.name), TOKENS["osm"])
        assert resp.status_code == 202, resp.text
        loop.run(20)
        assert status(testbed, servant.id) == "DELETED"
        live = testbed.model.live_servants()
        assert len(live) == 2 and all(s.status == "ACTIVE" for s in live) and servant not in live
    finally:
        loop.close()
