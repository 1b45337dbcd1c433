"""No route of the testbed answers HTML: every route of every app (each method it serves, one it
does not) and unknown paths answer in the service's own error format, with the right status."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from arca.testbed.platform import Testbed

DUMMY = "00000000-0000-4000-8000-000000000000"
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
    return out


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
