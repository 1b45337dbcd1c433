"""The emulated Keystone, Glance, Neutron, Octavia and OSM NBI against public machine-readable specs
or recorded responses from the services' own API references (``tests/data/api-specs/README.md``).

- Glance: its own JSON schema of an image (``GET /v2/schemas/image`` as published in Glance's
  api-ref), validated with jsonschema.
- OSM NBI: the OSM NBI OpenAPI 3 document ("OSM NB API featuring ETSI NFV SOL005"): ns_instances,
  scale and ns_lcm_op_occs answers validated against its response schemas.
- Octavia, Neutron, Keystone: no machine-readable spec is published; each answer must carry every
  field of the api-ref's recorded example with the same JSON type (``null`` matches anything).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml

from arca.testbed.api.nova import IMAGES, NETWORKS
from arca.testbed.api.octavia import SUBNET_ID, pool_id
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

SPECS = Path(__file__).parents[1] / "data" / "api-specs"


def _load(name: str) -> Any:
    return json.loads((SPECS / name).read_text())


QUIRKS = {"/network/pvlan"}
"""Neutron's api-ref example shows ``"pvlan": "false"`` (a string) for a boolean attribute."""


def _same_shape(example: Any, ours: Any, where: str = "") -> list[str]:
    """Fields of the recorded example missing from ours or of another JSON type."""
    if example is None or ours is None or where in QUIRKS:
        return []
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [f"{where or '/'}: object expected"]
        out = []
        for k, val in example.items():
            if k not in ours:
                out.append(f"{where}/{k}: missing")
            else:
                out += _same_shape(val, ours[k], f"{where}/{k}")
        return out
    if isinstance(example, list):
        if not isinstance(ours, list):
            return [f"{where}: array expected"]
        if not example:
            return []
        return [p for item in ours[:3] for p in _same_shape(example[0], item, f"{where}[]")]
    kinds = (bool, (int, float), str)
    for kind in kinds:
        if isinstance(example, kind):
            ok = isinstance(ours, kind) and not (kind is not bool and isinstance(ours, bool))
            return [] if ok else [f"{where}: {type(example).__name__} expected, got {ours!r}"]
    return []


def _get(tb: Testbed, service: str, path: str, token: str) -> Any:
    r = requests.get(tb.served[service].url + path, headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_glance_images_validate_against_glances_image_schema(testbed: Testbed, conn: Any) -> None:
    schema = _load("glance-schemas-image-show-response.json")
    token = conn.session.get_token()
    one = _get(testbed, "image", f"/v2/images/{IMAGES[0]['id']}", token)
    jsonschema.validate(one, schema)
    for image in _get(testbed, "image", "/v2/images", token)["images"]:
        jsonschema.validate(image, schema)
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        jsonschema.validate({**one, "status": "sleeping"}, schema)


@pytest.mark.parametrize(
    ("service", "path", "example"),
    [
        ("network", f"/v2.0/networks/{NETWORKS[0]['id']}", "neutron-network-show-response.json"),
        ("network", "/v2.0/networks", "neutron-networks-list-response.json"),
        ("network", f"/v2.0/subnets/{SUBNET_ID}", "neutron-subnet-show-response.json"),
        ("load-balancer", f"/v2/lbaas/pools/{pool_id('building-2')}", "octavia-pool-show-response.json"),
        ("load-balancer", "/v2/lbaas/pools", "octavia-pools-list-response.json"),
        ("load-balancer", "/v2/lbaas/loadbalancers", "octavia-loadbalancers-list-response.json"),
        ("load-balancer", f"/v2/lbaas/pools/{pool_id('building-2')}/members",
         "octavia-members-list-response.json"),
    ],
    ids=lambda x: x if isinstance(x, str) and x.endswith(".json") else "",
)
def test_answers_carry_every_field_of_the_api_reference_example(
    testbed: Testbed, conn: Any, service: str, path: str, example: str
) -> None:
    pool = pool_id("building-2")
    conn.load_balancer.create_member(pool, address=testbed.model.live_servants()[0].ip, protocol_port=80)
    ours = _get(testbed, service, path, conn.session.get_token())
    assert _same_shape(_load(example), ours) == []


def test_octavia_member_and_keystone_token_carry_the_api_reference_fields(
    testbed: Testbed, conn: Any
) -> None:
    pool = pool_id("building-2")
    ip = testbed.model.live_servants()[0].ip
    member = conn.load_balancer.create_member(pool, address=ip, protocol_port=80)
    token = conn.session.get_token()
    ours = _get(testbed, "load-balancer", f"/v2/lbaas/pools/{pool}/members/{member.id}", token)
    assert _same_shape(_load("octavia-member-show-response.json"), ours) == []
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "arca", "password": "arca-secret", "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "emergency", "domain": {"name": "Default"}}}}}
    r = requests.post(testbed.url("identity") + "/auth/tokens", json=body, timeout=10)
    assert r.status_code == 201 and r.headers["X-Subject-Token"]
    example = _load("keystone-auth-password-project-scoped-response.json")
    assert _same_shape(example, r.json()) == []
    assert _same_shape(example, {"token": {}}) != []  # the check can fail


# --- OSM NBI against its OpenAPI document ---------------------------------------------------------------


def _resolve(node: Any, doc: dict[str, Any]) -> Any:
    """Inline ``$ref``s and turn OpenAPI 3.0 ``nullable`` into JSON-schema types."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return _resolve(target, doc)
        out = {k: _resolve(val, doc) for k, val in node.items() if k not in ("nullable", "example", "format")}
        if node.get("nullable") and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [_resolve(x, doc) for x in node]
    return node


@pytest.fixture(scope="module")
def nbi_spec() -> dict[str, Any]:
    return dict(yaml.safe_load((SPECS / "osm-nbi-openapi.yaml").read_text()))


def _response_schema(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    resp = _resolve(spec["paths"][path][method]["responses"][status], spec)
    return dict(resp["content"]["application/json"]["schema"])


@pytest.fixture
def osm_tb() -> Any:
    tb = Testbed(parse_timeline({"duration_s": 3600, "seed": 5}), ModelParams(initial_owner="osm")).start()
    yield tb
    tb.stop()


def test_osm_nbi_answers_validate_against_the_nbi_openapi(osm_tb: Testbed, nbi_spec: dict[str, Any]) -> None:
    base = osm_tb.urls()["osm"]
    tok = requests.post(f"{base}/admin/v1/tokens", json={"username": "admin", "password": "admin"}, timeout=5)
    assert tok.status_code == 200 and {"id", "expires", "project_id"} <= set(tok.json())
    hdr = {"Authorization": f"Bearer {tok.json()['id']}", "Accept": "application/json"}
    p = "/osm/nslcm/v1"
    listed = requests.get(f"{base}/nslcm/v1/ns_instances", headers=hdr, timeout=5).json()
    jsonschema.validate(listed, _response_schema(nbi_spec, f"{p}/ns_instances", "get", "200"))
    ns_id = listed[0]["_id"]
    one = requests.get(f"{base}/nslcm/v1/ns_instances/{ns_id}", headers=hdr, timeout=5).json()
    jsonschema.validate(one, _response_schema(nbi_spec, f"{p}/ns_instances/{{nsInstanceId}}", "get", "200"))
    scale = {"scaleType": "SCALE_VNF", "scaleVnfData": {"scaleVnfType": "SCALE_OUT", "scaleByStepData": {
        "scaling-group-descriptor": "relay-scaling", "member-vnf-index": "2"}}}
    r = requests.post(f"{base}/nslcm/v1/ns_instances/{ns_id}/scale", json=scale, headers=hdr, timeout=5)
    assert r.status_code == 202 and r.headers.get("Location")
    jsonschema.validate(r.json(), _resolve({"$ref": "#/components/schemas/ObjectId"}, nbi_spec))
    osm_tb.model.advance(60)
    ops = requests.get(f"{base}/nslcm/v1/ns_lcm_op_occs", headers=hdr, timeout=5).json()
    jsonschema.validate(ops, _response_schema(nbi_spec, f"{p}/ns_lcm_op_occs", "get", "200"))
    op = requests.get(f"{base}/nslcm/v1/ns_lcm_op_occs/{r.json()['id']}", headers=hdr, timeout=5).json()
    jsonschema.validate(op, _response_schema(nbi_spec, f"{p}/ns_lcm_op_occs/{{nsLcmOpOccId}}", "get", "200"))
    with pytest.raises(jsonschema.ValidationError):  # the check can fail
        jsonschema.validate({**op, "operationState": 7},
                            _response_schema(nbi_spec, f"{p}/ns_lcm_op_occs/{{nsLcmOpOccId}}", "get", "200"))


def test_every_osm_nbi_answer_of_an_osm_demo_run_matches_the_nbi_openapi(
        monkeypatch: pytest.MonkeyPatch, nbi_spec: dict[str, Any]) -> None:
    """``arca demo --driver osm``'s own traffic (ARCA's OSM client: token, ns_instances, scale,
    ns_lcm_op_occs, heal) recorded and each answer validated against the NBI's OpenAPI document
    wherever it defines a JSON schema for that route and status; the token and heal answers, absent
    from that document, are checked for the fields ARCA reads."""
    import re

    from arca.app.demo.harness import run
    from arca.app.demo.runner import model_params

    seen: list[tuple[str, str, int, Any]] = []
    start = Testbed.start

    def start_recording(self: Testbed) -> Testbed:
        def record(service: str, req: Any, resp: Any) -> None:
            if service == "osm":
                body = resp.get_json(silent=True) if resp.is_json else None
                seen.append((req.method.lower(), req.path, resp.status_code, body))
        self.cloud.recorder = record
        return start(self)

    monkeypatch.setattr(Testbed, "start", start_recording)
    timeline = parse_timeline({"duration_s": 160, "seed": 6, "incidents": [],
                               "failures": [{"at_s": 40, "servants": 1}]})
    result = run("static", timeline, params=model_params(driver="osm"), policy_overrides={"staticAmount": 2})
    assert result.enforcement_outcomes.get("osm_scale:succeeded", 0) >= 1, result.enforcement_outcomes
    assert result.enforcement_outcomes.get("osm_heal:succeeded") == 1, result.enforcement_outcomes

    routes = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), p) for p in nbi_spec["paths"]]
    checked: set[tuple[str, str]] = set()
    fields: set[tuple[str, str]] = set()
    for method, path, status, body in seen:
        assert status < 500, (method, path, status)
        if status >= 400:
            continue
        route = next((p for rx, p in routes if rx.match(path)), None)
        op = nbi_spec["paths"].get(route, {}).get(method) if route else None
        resp = (op or {}).get("responses", {}).get(str(status))
        content = (resp or {}).get("content", {}) if isinstance(resp, dict) else {}
        if route and op and "application/json" in content:
            jsonschema.validate(body, _response_schema(nbi_spec, route, method, str(status)))
            checked.add((method, route))
        elif path.endswith("/admin/v1/tokens") and method == "post":
            assert {"id", "expires", "project_id"} <= set(body), body
            fields.add((method, "token"))
        elif path.endswith("/heal") and method == "post":
            assert status == 202 and "id" in body, body
            fields.add((method, "heal"))
        elif route and op and resp is not None:
            checked.add((method, route))  # the document defines no body for this answer
        else:
            pytest.fail(f"an answer the test does not know how to check: {method} {path} {status}")
    print(f"osm demo: {len(seen)} NBI answers; schema-checked {sorted(checked)}; fields {sorted(fields)}")
    p = "/osm/nslcm/v1"
    assert {("post", f"{p}/ns_instances/{{nsInstanceId}}/scale"),
            ("get", f"{p}/ns_lcm_op_occs/{{nsLcmOpOccId}}"),  # the VNFD ARCA reads its scaling aspects from:
            ("get", "/osm/vnfpkgm/v1/vnf_packages_content/{packageContentId}")} <= checked, sorted(checked)
    assert fields == {("post", "token"), ("post", "heal")}, fields
