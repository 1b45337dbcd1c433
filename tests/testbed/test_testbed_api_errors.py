"""No route of the testbed answers HTML: every route of every app (each method it serves, one it
does not) and unknown paths answer in the service's own error format, with the right status; every
answer of an OpenStack service carries its request id header(s), as the real service sends them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from arca.testbed.platform import Testbed

DUMMY = "00000000-0000-4000-8000-000000000000"
OPENSTACK = ("identity", "compute", "image", "network", "metric", "load-balancer")
REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
UNKNOWN = ["/nope", "/v2.1/nope", "/v2.0/nope", "/v2/nope", "/v3/nope", "/v1/nope", "/osm/nope/v1/x"]


def _error_format(service: str, body: Any, status: int) -> bool:
    """The body is this service's error format for ``status``."""
    if service == "compute":
        (kind,) = body
        return bool(body[kind]["code"] == status and body[kind]["message"])
    if service == "network":
        return bool(body["NeutronError"]["type"] and "message" in body["NeutronError"])
    if service == "identity":
        return bool(body["error"]["code"] == status and body["error"]["title"])
    if service in ("image", "metric"):
        return bool(body["code"] == status and body["title"])
    if service == "load-balancer":
        return bool(body["faultstring"] and body["faultcode"] in ("Client", "Server"))
    if service == "osm":
        return bool(body["status"] == status and body["code"] and body["detail"])
    if service == "control":
        return bool(body["error"])
    return False


def _crawl(tb: Testbed, service: str, token: dict[str, str]) -> list[tuple[str, str, int, str]]:
    app = tb.apps[service]
    base = tb.served[service].url
    out = []
    targets: list[tuple[str, str]] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", DUMMY, rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            targets.append((method, path))
        targets.append(("PATCH", path))  # served by no route of the testbed: 405
    targets += [("GET", p) for p in UNKNOWN]
    for method, path in targets:
        r = requests.request(method, base + path, headers=token, data="not json", timeout=10)
        out.append((method, path, r.status_code, r.headers.get("Content-Type", "")))
        assert "html" not in r.headers.get("Content-Type", ""), (service, method, path, r.text[:200])
        assert not r.text.lstrip().startswith("<"), (service, method, path)
        if r.status_code >= 400 and service != "haproxy":
            assert _error_format(service, json.loads(r.text), r.status_code), (service, method, path, r.text)
        assert r.status_code < 500, (service, method, path, r.text)
        check_request_ids(service, r)
    return out


def check_request_ids(service: str, r: requests.Response) -> None:
    """``x-openstack-request-id`` on every OpenStack answer; Nova's ``x-compute-request-id`` the same id."""
    rid = r.headers.get("x-openstack-request-id")
    if service not in OPENSTACK:
        assert rid is None, (service, r.request.method, r.url)
        return
    assert rid is not None and REQUEST_ID.fullmatch(rid), (service, r.request.method, r.url, rid)
    if service == "compute":
        assert r.headers.get("x-compute-request-id") == rid
    else:
        assert "x-compute-request-id" not in r.headers


def test_request_ids_on_version_documents_401s_and_faults_and_never_twice(testbed: Testbed) -> None:
    seen = set()
    for service in OPENSTACK:
        base = testbed.served[service].url
        for path, headers in (("/", {}), ("/v2.1/servers" if service == "compute" else "/x", {})):
            r = requests.get(base + path, headers=headers, timeout=10)
            check_request_ids(service, r)
            seen.add(r.headers["x-openstack-request-id"])
        testbed.cloud.faults.inject(service, 1, 503)
        r = requests.get(base + "/", timeout=10)
        assert r.status_code == 503
        check_request_ids(service, r)
        seen.add(r.headers["x-openstack-request-id"])
    assert len(seen) == 3 * len(OPENSTACK)  # a fresh id per answer


@pytest.mark.parametrize(
    "service",
    ["identity", "compute", "image", "network", "metric", "load-balancer", "osm", "haproxy", "control"],
)
def test_every_route_and_unknown_ones_answer_in_the_services_format(
    testbed: Testbed, conn: Any, service: str
) -> None:
    token = {"X-Auth-Token": conn.session.get_token()}
    if service == "osm":
        r = requests.post(testbed.urls()["osm"] + "/admin/v1/tokens",
                          json={"username": "admin", "password": "admin"}, timeout=10)
        token = {"Authorization": f"Bearer {r.json()['id']}"}
    seen = _crawl(testbed, service, token)
    assert any(status == 404 for _, _, status, _ in seen)
    assert any(status == 405 for _, _, status, _ in seen)


@pytest.mark.parametrize(
    ("service", "path", "fmt"),
    [
        ("image", "/v2/images/emergency-servant", "image"),
        ("network", "/v2.0/networks/hq-net", "network"),
    ],
)
def test_openstacksdk_name_lookups_404_as_json_then_fall_back(
    testbed: Testbed, conn: Any, service: str, path: str, fmt: str
) -> None:
    r = requests.get(testbed.served[service].url + path,
                     headers={"X-Auth-Token": conn.session.get_token()}, timeout=10)
    assert r.status_code == 404 and _error_format(fmt, r.json(), 404)
    assert conn.image.find_image("emergency-servant", ignore_missing=False).name == "emergency-servant"
    assert conn.network.find_network("hq-net", ignore_missing=False).name == "hq-net"


def test_unauthenticated_requests_get_401_in_the_services_format(testbed: Testbed) -> None:
    for service in ("compute", "image", "network", "metric", "load-balancer"):
        r = requests.get(testbed.served[service].url + "/anything", timeout=10)
        assert r.status_code == 401 and _error_format(service, r.json(), 401), service


def test_empty_answers_carry_no_html_content_type_and_novas_wording(testbed: Testbed, conn: Any) -> None:
    from arca.testbed.api.nova import FLAVORS, IMAGES

    nova = testbed.served["compute"].url + "/v2.1"
    h = {"X-Auth-Token": conn.session.get_token(), "OpenStack-API-Version": "compute 2.26"}
    spec = {"name": "plain", "imageRef": IMAGES[0]["id"], "flavorRef": FLAVORS[0]["id"]}
    r = requests.post(f"{nova}/servers", json={"server": spec}, headers=h, timeout=10)
    sid = r.json()["server"]["id"]
    testbed.model.advance(15)
    r = requests.post(f"{nova}/servers", data="{not json", headers=h, timeout=10)
    assert r.status_code == 400 and r.json()["badRequest"]["message"] == "Malformed request body"
    r = requests.put(f"{nova}/servers/{sid}/tags/t1", headers=h, timeout=10)
    assert r.status_code == 201 and "html" not in r.headers.get("Content-Type", "")
    r = requests.delete(f"{nova}/servers/{sid}/tags/t1", headers=h, timeout=10)
    assert r.status_code == 204 and "Content-Type" not in r.headers
    r = requests.post(f"{nova}/servers/{sid}/action", json={"os-start": None}, headers=h, timeout=10)
    assert r.status_code == 409
    assert r.json()["conflictingRequest"]["message"].startswith(f"Cannot 'start' instance {sid}")
    r = requests.post(f"{nova}/servers/{sid}/action", json={"os-stop": None}, headers=h, timeout=10)
    assert r.status_code == 202 and r.headers["Content-Type"] == "application/json" and not r.content
    resize = {"resize": {"flavorRef": "x"}}
    r = requests.post(f"{nova}/servers/{sid}/action", json=resize, headers=h, timeout=10)
    assert r.status_code == 400  # a feature the testbed lacks: Nova's "not supported", not a 404
    assert r.json()["badRequest"]["message"] == "The requested functionality is not supported."
    r = requests.get(f"{nova}/os-hypervisors", headers=h, timeout=10)
    assert r.status_code == 403 and "os_compute_api:os-hypervisors:list" in r.json()["forbidden"]["message"]
    routers = testbed.served["network"].url + "/v2.0/routers"
    r = requests.post(routers, json={"router": {}}, headers=h, timeout=10)
    assert r.status_code == 403 and r.json()["NeutronError"]["type"] == "PolicyNotAuthorized"
    lbs = testbed.served["load-balancer"].url + "/v2/lbaas/loadbalancers"
    r = requests.post(lbs, json={"loadbalancer": {}}, headers=h, timeout=10)
    assert r.status_code == 403 and r.json()["faultstring"].startswith("Policy does not allow")
