"""An HTTP client performs OSM scale and heal against the emulated NBI and polls the operations."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from arca.testbed.model import ModelParams
from arca.testbed.osm import relay_servants
from arca.testbed.platform import Testbed
from arca.testbed.sinks import ListSink
from arca.testbed.timeline import parse_timeline


@pytest.fixture
def osm_tb() -> Any:
    params = ModelParams(initial_owner="osm", initial_servants=1)
    tb = Testbed(parse_timeline({"duration_s": 3600, "seed": 5}), params, alarm_sink=ListSink()).start()
    yield tb
    tb.stop()


class Nbi:
    """A minimal OSM NBI client over requests (what an OSM driver does)."""

    def __init__(self, base: str) -> None:
        self.base = base
        r = requests.post(
            f"{base}/admin/v1/tokens",
            json={"username": "admin", "password": "admin", "project_id": "admin"},
            timeout=5,
        )
        r.raise_for_status()
        self.headers = {"Authorization": f"Bearer {r.json()['id']}", "Accept": "application/json"}

    def get(self, path: str) -> Any:
        r = requests.get(self.base + path, headers=self.headers, timeout=5)
        r.raise_for_status()
        return r.json()

    def post(self, path: str, body: Any) -> requests.Response:
        return requests.post(self.base + path, json=body, headers=self.headers, timeout=5)


def scale_body(kind: str, group: str = "relay-scaling", index: str = "2") -> dict[str, Any]:
    return {
        "scaleType": "SCALE_VNF",
        "scaleVnfData": {
            "scaleVnfType": kind,
            "scaleByStepData": {"scaling-group-descriptor": group, "member-vnf-index": index},
        },
    }


def test_token_is_required(osm_tb: Testbed) -> None:
    r = requests.get(osm_tb.urls()["osm"] + "/nslcm/v1/ns_instances_content", timeout=5)
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"
    bad = requests.post(
        osm_tb.urls()["osm"] + "/admin/v1/tokens", json={"username": "admin", "password": "x"}, timeout=5
    )
    assert bad.status_code == 401


def test_ns_instance_lists_the_ukko_service(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    [ns] = nbi.get("/nslcm/v1/ns_instances_content")
    assert ns["operational-status"] == "running"
    assert ns["_admin"]["scaling-group"] == [{"name": "relay-scaling", "nb-scale-op": 0, "vnf_index": "2"}]
    vnfrs = nbi.get(f"/nslcm/v1/vnf_instances?nsr-id-ref={ns['_id']}")
    relay = next(v for v in vnfrs if v["member-vnf-index-ref"] == "2")
    assert [d["name"] for d in relay["vdur"]] == ["emergency-ns-2-relay-0"]
    assert relay["vdur"][0]["status"] == "ACTIVE"


def test_scale_out_completes_after_the_osm_boot_delay(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    ns_id = nbi.get("/nslcm/v1/ns_instances_content")[0]["_id"]
    r = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT"))
    assert r.status_code == 202
    op_id = r.json()["id"]
    op = nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_id}")
    assert (op["operationState"], op["lcmOperationType"], op["nsInstanceId"]) == (
        "PROCESSING",
        "scale",
        ns_id,
    )
    osm_tb.model.advance(41)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_id}")["operationState"] == "PROCESSING"
    osm_tb.model.advance(2)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_id}")["operationState"] == "COMPLETED"
    assert [s.status for s in relay_servants(osm_tb.osm)] == ["ACTIVE", "ACTIVE"]
    assert nbi.get(f"/nslcm/v1/ns_instances/{ns_id}")["_admin"]["scaling-group"][0]["nb-scale-op"] == 1


def test_operations_of_one_ns_run_in_order(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    ns_id = osm_tb.osm.ns.id
    first = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT")).json()["id"]
    second = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT")).json()["id"]
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{second}")["queuePosition"] == 0  # first waiting op
    osm_tb.model.advance(43)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{first}")["operationState"] == "COMPLETED"
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{second}")["operationState"] == "PROCESSING"
    osm_tb.model.advance(43)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{second}")["operationState"] == "COMPLETED"
    assert len(relay_servants(osm_tb.osm)) == 3


def test_scale_in_removes_a_relay_and_fails_at_the_minimum(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    ns_id = osm_tb.osm.ns.id
    refused = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_IN")).json()["id"]
    osm_tb.model.advance(1)
    op = nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{refused}")
    assert op["operationState"] == "FAILED" and "min-instance-count" in op["detailed-status"]
    nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT"))
    osm_tb.model.advance(43)
    op_in = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_IN")).json()["id"]
    osm_tb.model.advance(6)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_in}")["operationState"] == "COMPLETED"
    assert len(relay_servants(osm_tb.osm)) == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"scaleType": "SCALE_NS"}, "scaleType"),
        (scale_body("SCALE_UP"), "scaleVnfType"),
        (scale_body("SCALE_OUT", group="nope"), "scaling-group-descriptor"),
        (scale_body("SCALE_OUT", index="9"), "member-vnf-index"),
    ],
    ids=["bad-scale-type", "bad-vnf-scale-type", "unknown-group", "unknown-member-index"],
)
def test_bad_scale_requests_are_refused_naming_the_field(osm_tb: Testbed, body: Any, fragment: str) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    r = nbi.post(f"/nslcm/v1/ns_instances/{osm_tb.osm.ns.id}/scale", body)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_dead_relay_alarm_then_heal(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    ns_id = osm_tb.osm.ns.id
    [relay0] = relay_servants(osm_tb.osm)
    osm_tb.model.advance(5)
    osm_tb.model.kill_servant(relay0.id)
    osm_tb.model.flush_events()
    osm_tb.model.advance(24)
    sink = osm_tb.alarm_sink
    assert isinstance(sink, ListSink)
    assert sink.sent == []  # MON evaluates every 30 s
    osm_tb.model.advance(2)
    [alarm] = sink.sent
    inner = json.loads(alarm.body)
    assert isinstance(inner, str)  # POL posts a JSON string containing the JSON
    doc = json.loads(inner)
    details = doc["notify_details"]
    assert (doc["schema_type"], details["status"], details["vnf_member_index"], details["ns_id"]) == (
        "notify_alarm",
        "insufficient-data",
        "2",
        ns_id,
    )
    assert details["vdu_name"] == "emergency-ns-2-relay-0"
    vnfr = next(v for v in nbi.get("/nslcm/v1/vnf_instances") if v["member-vnf-index-ref"] == "2")
    assert vnfr["vdur"][0]["status"] == "ERROR"
    r = nbi.post(
        f"/nslcm/v1/ns_instances/{ns_id}/heal",
        {
            "healVnfData": [
                {
                    "vnfInstanceId": vnfr["_id"],
                    "cause": "dead VM",
                    "additionalParams": {"run-day1": False, "vdu": [{"vdu-id": "relay", "count-index": 0}]},
                }
            ]
        },
    )
    assert r.status_code == 202
    op_id = r.json()["id"]
    osm_tb.model.advance(10)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_id}")["operationState"] == "PROCESSING"
    osm_tb.model.advance(33)
    op = nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_id}")
    assert (op["operationState"], op["lcmOperationType"]) == ("COMPLETED", "heal")
    [healed] = relay_servants(osm_tb.osm)
    assert healed.id != relay0.id and healed.status == "ACTIVE"
    assert osm_tb.model.servants[relay0.id].status == "DELETED"
    osm_tb.model.advance(30)
    assert json.loads(json.loads(sink.sent[-1].body))["notify_details"]["status"] == "ok"


def test_heal_of_an_unknown_vnf_is_refused(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    r = nbi.post(f"/nslcm/v1/ns_instances/{osm_tb.osm.ns.id}/heal", {"healVnfData": [{"vnfInstanceId": "x"}]})
    assert r.status_code == 422 and "vnfInstanceId" in r.json()["detail"]


def test_scale_out_beyond_the_maximum_fails(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    ns_id = osm_tb.osm.ns.id
    ops = [
        nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT")).json()["id"]
        for _ in range(11)
    ]
    osm_tb.model.advance(43 * 11)
    states = [nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{o}")["operationState"] for o in ops]
    assert states == ["COMPLETED"] * 10 + ["FAILED"]
    assert len(relay_servants(osm_tb.osm)) == 11


def test_injected_503_on_the_nbi(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    osm_tb.cloud.faults.inject("osm", 1, 503)
    r = requests.get(nbi.base + "/nslcm/v1/ns_instances_content", headers=nbi.headers, timeout=5)
    assert r.status_code == 503
    assert requests.get(nbi.base + "/nslcm/v1/ns_instances_content", headers=nbi.headers, timeout=5).ok


# -- scaling aspects of several VDUs (SOL006 vdu-delta number-of-instances > 1) -------------------------
ASPECTS = (("relay-scaling", 1), ("relay-scaling-4", 4))


@pytest.fixture
def burst_tb() -> Any:
    """The NS whose relay VNFD an admin onboarded with a second aspect: four relays per operation."""
    params = ModelParams(initial_owner="osm", initial_servants=1, osm_scaling_aspects=ASPECTS)
    tb = Testbed(parse_timeline({"duration_s": 3600, "seed": 5}), params, alarm_sink=ListSink()).start()
    yield tb
    tb.stop()


def test_the_default_vnfd_has_ukkos_one_vdu_aspect_only(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    relay = next(v for v in nbi.get("/nslcm/v1/vnf_instances") if v["member-vnf-index-ref"] == "2")
    vnfd = nbi.get(f"/vnfpkgm/v1/vnf_packages_content/{relay['vnfd-id']}")
    [aspect] = vnfd["df"][0]["scaling-aspect"]
    assert aspect["name"] == "relay-scaling"
    delta = aspect["aspect-delta-details"]["deltas"][0]["vdu-delta"]
    assert delta == [{"id": "relay", "number-of-instances": 1}]
    assert vnfd["df"][0]["vdu-profile"] == [
        {"id": "relay", "min-number-of-instances": 1, "max-number-of-instances": 11}]


def test_a_multi_instance_aspect_boots_its_vdus_in_one_operation(burst_tb: Testbed) -> None:
    nbi = Nbi(burst_tb.urls()["osm"])
    ns_id = burst_tb.osm.ns.id
    relay = next(v for v in nbi.get("/nslcm/v1/vnf_instances") if v["member-vnf-index-ref"] == "2")
    vnfd = nbi.get(f"/vnfpkgm/v1/vnf_packages_content/{relay['vnfd-id']}")
    deltas = {a["name"]: a["aspect-delta-details"]["deltas"][0]["vdu-delta"][0]["number-of-instances"]
              for a in vnfd["df"][0]["scaling-aspect"]}
    assert deltas == {"relay-scaling": 1, "relay-scaling-4": 4}
    r = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT", group="relay-scaling-4"))
    assert r.status_code == 202
    op_id = r.json()["id"]
    burst_tb.model.advance(1)
    assert [s.status for s in relay_servants(burst_tb.osm)] == ["ACTIVE"] + ["BUILD"] * 4
    burst_tb.model.advance(42)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{op_id}")["operationState"] == "COMPLETED"
    assert [s.status for s in relay_servants(burst_tb.osm)] == ["ACTIVE"] * 5
    ns = nbi.get(f"/nslcm/v1/ns_instances/{ns_id}")
    groups = {g["name"]: g["nb-scale-op"] for g in ns["_admin"]["scaling-group"]}
    assert groups == {"relay-scaling": 0, "relay-scaling-4": 4}  # OSM counts instances, per aspect
    back = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_IN", group="relay-scaling-4"))
    burst_tb.model.advance(6)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{back.json()['id']}")["operationState"] == "COMPLETED"
    assert len(relay_servants(burst_tb.osm)) == 1


def test_each_aspect_is_bounded_on_its_own_as_osm_lcm_does(burst_tb: Testbed) -> None:
    """nb-scale-op + delta + the instantiation level must stay within the VDU's max (11) and min (1),
    per aspect: a third four-relay operation fails, and the one-VDU aspect cannot take back what the
    four-relay one added."""
    nbi = Nbi(burst_tb.urls()["osm"])
    ns_id = burst_tb.osm.ns.id
    ops = [nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale",
                    scale_body("SCALE_OUT", group="relay-scaling-4")).json()["id"] for _ in range(3)]
    burst_tb.model.advance(43 * 3)
    states = [nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{o}") for o in ops]
    assert [s["operationState"] for s in states] == ["COMPLETED", "COMPLETED", "FAILED"]
    failed = states[2]["detailed-status"]
    assert "max-instance-count" in failed and "relay-scaling-4" in failed
    one_in = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_IN")).json()["id"]
    burst_tb.model.advance(1)
    assert "min-instance-count" in nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{one_in}")["detailed-status"]
    assert len(relay_servants(burst_tb.osm)) == 9


def test_two_aspects_together_may_pass_the_vdu_maximum_as_in_osm(burst_tb: Testbed) -> None:
    """OSM LCM bounds each aspect by its own nb-scale-op: eight one-relay operations then a four-relay one
    all complete (13 relays, above the VDU's 11): the enforcer's plan, not OSM, keeps the policy's max."""
    nbi = Nbi(burst_tb.urls()["osm"])
    ns_id = burst_tb.osm.ns.id
    for _ in range(8):
        nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT"))
    last = nbi.post(f"/nslcm/v1/ns_instances/{ns_id}/scale", scale_body("SCALE_OUT", group="relay-scaling-4"))
    burst_tb.model.advance(43 * 9)
    assert nbi.get(f"/nslcm/v1/ns_lcm_op_occs/{last.json()['id']}")["operationState"] == "COMPLETED"
    assert len(relay_servants(burst_tb.osm)) == 13


@pytest.mark.parametrize(
    ("step", "fragment"),
    [
        ({"scaling-group-descriptor": "relay-scaling-4", "member-vnf-index": "2", "numberOfSteps": 2},
         "'scaleVnfData:scaleByStepData' 'Additional properties are not allowed ('numberOfSteps'"),
        ({"scaling-group-descriptor": "relay-scaling-8", "member-vnf-index": "2"},
         "scaleVnfData:scaleByStepData:scaling-group-descriptor 'relay-scaling-8' is not present"),
        ({"scaling-group-descriptor": 4, "member-vnf-index": "2"},
         "scaleVnfData:scaleByStepData:scaling-group-descriptor"),
        ({"member-vnf-index": "2"}, "scaleVnfData:scaleByStepData:scaling-group-descriptor"),
    ],
    ids=["a-count-osm-does-not-take", "an-aspect-the-vnfd-lacks", "a-number-for-the-aspect", "no-aspect"],
)
def test_a_malformed_multi_instance_scale_is_refused_naming_the_field(
    burst_tb: Testbed, step: dict[str, Any], fragment: str
) -> None:
    nbi = Nbi(burst_tb.urls()["osm"])
    body = {"scaleType": "SCALE_VNF", "scaleVnfData": {"scaleVnfType": "SCALE_OUT", "scaleByStepData": step}}
    r = nbi.post(f"/nslcm/v1/ns_instances/{burst_tb.osm.ns.id}/scale", body)
    assert r.status_code == 422 and r.json()["code"] == "UNPROCESSABLE_ENTITY"
    assert fragment in r.json()["detail"]
    assert len(relay_servants(burst_tb.osm)) == 1 and not burst_tb.osm.ops


def test_an_unknown_vnfd_is_a_404(osm_tb: Testbed) -> None:
    nbi = Nbi(osm_tb.urls()["osm"])
    r = requests.get(nbi.base + "/vnfpkgm/v1/vnf_packages_content/nope", headers=nbi.headers, timeout=5)
    assert r.status_code == 404 and "nope" in r.json()["detail"]


@pytest.mark.parametrize(("aspects", "message"), [
    ((), "at least one scaling-aspect"),
    ((("relay-scaling", 0),), "number-of-instances must be an integer >= 1"),
    ((("relay-scaling", 1), ("relay-scaling", 4)), "defined twice"),
], ids=["none", "zero-instances", "duplicate-name"])
def test_a_bad_vnfd_aspect_config_is_refused(aspects: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Testbed(parse_timeline({"duration_s": 60, "seed": 5}),
                ModelParams(initial_owner="osm", osm_scaling_aspects=aspects))
