"""The emulated Nova against OpenStack's own definition of Nova: Tempest's compute clients and schemas.

Tempest's real service clients (``tempest.lib.services.compute``) authenticate through the emulated
Keystone and call the emulated Nova at each microversion; every answer is validated by Tempest
itself (its Draft-4 validator, format checker, the schema its client picks for the microversion,
and its check that the answer's microversion header matches the request). The traffic of ARCA's
own driver and of unmodified openstacksdk is recorded and validated the same way, at the
microversion each request was served.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from openstack import exceptions as os_exc
from tempest.lib import auth
from tempest.lib.api_schema.response.compute.v2_1 import servers as v21_servers
from tempest.lib.api_schema.response.compute.v2_1 import versions as v21_versions
from tempest.lib.common import rest_client
from tempest.lib.services.compute import (
    base_compute_client,
    flavors_client,
    images_client,
    limits_client,
    servers_client,
    versions_client,
)

from arca.testbed.api.microversion import v
from arca.testbed.api.nova import FLAVORS, IMAGES, MAX_MICROVERSION, NETWORKS
from arca.testbed.model import ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

QUIET = {"duration_s": 3600, "seed": 3, "incidents": [], "failures": []}
SC = servers_client.ServersClient
# 2.1, the first version of every servers schema Tempest knows up to our maximum, and the maximum
MICROVERSIONS = sorted(
    {"2.1", MAX_MICROVERSION}
    | {i["min"] for i in SC.schema_versions_info if i["min"] and v(i["min"]) <= v(MAX_MICROVERSION)},
    key=v,
)


@dataclass
class Tempest:
    servers: Any
    flavors: Any
    limits: Any
    versions: Any
    images: Any


def tempest_clients(tb: Testbed) -> Tempest:
    creds = auth.KeystoneV3Credentials(
        username="arca", password="arca-secret", project_name="emergency",
        user_domain_name="Default", project_domain_name="Default",
    )
    provider = auth.KeystoneV3AuthProvider(creds, tb.url("identity"))
    args = (provider, "compute", "RegionOne")
    return Tempest(
        servers_client.ServersClient(*args), flavors_client.FlavorsClient(*args),
        limits_client.LimitsClient(*args), versions_client.VersionsClient(*args),
        images_client.ImagesClient(*args),
    )


@pytest.fixture
def microversion() -> Iterator[Callable[[str | None], None]]:
    """Sets Tempest's compute microversion (a module global, as its fixture does) and restores it."""
    saved = base_compute_client.COMPUTE_MICROVERSION

    def use(mv: str | None) -> None:
        base_compute_client.COMPUTE_MICROVERSION = mv

    yield use
    base_compute_client.COMPUTE_MICROVERSION = saved


def _boot(tb: Testbed, t: Tempest, mv: str) -> str:
    nets: Any = "auto" if v(mv) >= v("2.37") else [{"uuid": NETWORKS[0]["id"]}]
    server = t.servers.create_server(
        name=f"tempest-{mv}", imageRef=IMAGES[0]["id"], flavorRef=FLAVORS[0]["id"], networks=nets
    )["server"]
    tb.model.advance(tb.model.params.boot_delay_s + 1)
    return str(server["id"])


@pytest.mark.parametrize("mv", MICROVERSIONS)
def test_tempest_compute_clients_validate_every_answer(
    testbed: Testbed, microversion: Callable[[str | None], None], mv: str
) -> None:
    microversion(mv)
    t = tempest_clients(testbed)
    sid = _boot(testbed, t, mv)
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("list servers", lambda: t.servers.list_servers()),
        ("list servers detail", lambda: t.servers.list_servers(detail=True)),
        ("list servers detail tags", lambda: t.servers.list_servers(detail=True, tags="arca-managed")),
        ("show server", lambda: t.servers.show_server(sid)),
        ("list flavors", lambda: t.flavors.list_flavors()),
        ("list flavors detail", lambda: t.flavors.list_flavors(detail=True)),
        ("show flavor", lambda: t.flavors.show_flavor(FLAVORS[0]["id"])),
        ("limits", lambda: t.limits.show_limits()),
        ("versions", lambda: t.versions.list_versions()),
    ]
    if v(mv) >= v("2.26"):
        calls.append(("list tags", lambda: t.servers.list_tags(sid)))
        calls.append(("update tag", lambda: t.servers.update_tag(sid, "tempest")))
    if v(mv) < v("2.36"):
        calls.append(("image proxy", lambda: t.images.list_images(detail=True)))
        calls.append(("image proxy show", lambda: t.images.show_image(IMAGES[0]["id"])))
    actions = [
        ("stop", t.servers.stop_server), ("start", t.servers.start_server),
        ("suspend", t.servers.suspend_server), ("resume", t.servers.resume_server),
        ("pause", t.servers.pause_server), ("unpause", t.servers.unpause_server),
        ("shelve", t.servers.shelve_server), ("unshelve", t.servers.unshelve_server),
    ]
    for _name, call in calls:
        call()  # Tempest raises InvalidHTTPResponseBody/Header or a status mismatch itself
    for name, act in actions:
        act(sid)
        testbed.model.advance(30)
        assert t.servers.show_server(sid)["server"]["status"] != "ERROR", name
    t.servers.reboot_server(sid, type="HARD")
    testbed.model.advance(5)
    assert t.servers.show_server(sid)["server"]["status"] == "ACTIVE"
    t.servers.delete_server(sid)


# --- the traffic of ARCA's driver and of openstacksdk, validated at the version it was served ---------

ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"/v2\.1/?", "versions_client.get_one_version"),
    ("GET", r"/v2\.1/servers", "servers.list_servers"),
    ("GET", r"/v2\.1/servers/detail", "servers.list_servers_detail"),
    ("POST", r"/v2\.1/servers", "v2_1.create_server_with_admin_pass"),
    ("GET", r"/v2\.1/servers/[^/]+", "servers.get_server"),
    ("DELETE", r"/v2\.1/servers/[^/]+", "v2_1.delete_server"),
    ("POST", r"/v2\.1/servers/[^/]+/action", "v2_1.server_actions_common_schema"),
    ("GET", r"/v2\.1/servers/[^/]+/tags", "servers.list_tags"),
    ("GET", r"/v2\.1/flavors", "flavors.list_flavors"),
    ("GET", r"/v2\.1/flavors/detail", "flavors.list_flavors_details"),
    ("GET", r"/v2\.1/flavors/[^/]+", "flavors.create_update_get_flavor_details"),
    ("GET", r"/v2\.1/limits", "limits.get_limit"),
]
_CLIENT_SCHEMAS = {
    "servers": SC.schema_versions_info,
    "flavors": flavors_client.FlavorsClient.schema_versions_info,
    "limits": limits_client.LimitsClient.schema_versions_info,
}


class _Resp(dict[str, str]):
    status: int


def tempest_schema(method: str, path: str, mv: str) -> dict[str, Any] | None:
    """The schema Tempest's client would validate this answer with at ``mv`` (None: no client)."""
    for m, rx, name in ROUTES:
        if m == method and re.fullmatch(rx, path):
            group, attr = name.split(".")
            if group == "versions_client":  # VersionsClient: one schema for every version
                return dict(getattr(v21_versions, attr))
            if group == "v2_1":  # ServersClient.create_server and action(): always the 2.1 module
                return dict(getattr(v21_servers, attr))
            saved = base_compute_client.COMPUTE_MICROVERSION
            base_compute_client.COMPUTE_MICROVERSION = mv
            try:
                module = base_compute_client.BaseComputeClient.get_schema(None, _CLIENT_SCHEMAS[group])
            finally:
                base_compute_client.COMPUTE_MICROVERSION = saved
            return dict(getattr(module, attr))
    return None


@dataclass
class Exchange:
    method: str
    path: str
    asked: str | None
    served: str
    status: int
    headers: dict[str, str]
    body: Any


def _recorder_into(seen: list[Exchange]) -> Callable[[str, Any, Any], None]:
    def record(service: str, req: Any, resp: Any) -> None:
        if service != "compute" or not req.path.startswith("/v2.1"):
            return
        data = resp.get_data(as_text=True)
        seen.append(Exchange(
            req.method, req.path.rstrip("/") if req.path != "/v2.1/" else req.path,
            req.headers.get("OpenStack-API-Version"), resp.headers["OpenStack-API-Version"].split()[1],
            resp.status_code, {k.lower(): val for k, val in resp.headers.items()},
            json.loads(data) if data else None,
        ))

    return record


@pytest.fixture
def recorded(testbed: Testbed) -> list[Exchange]:
    seen: list[Exchange] = []
    testbed.cloud.recorder = _recorder_into(seen)
    return seen


def validate(ex: Exchange) -> str | None:
    """None if Tempest accepts the answer, else the reason (no client schema: 'unchecked')."""
    schema = tempest_schema(ex.method, ex.path, ex.served)
    if schema is None:
        return "unchecked"
    resp = _Resp(ex.headers)
    resp.status = ex.status
    try:
        rest_client.RestClient.validate_response(schema, resp, ex.body)
    except Exception as exc:  # tempest's InvalidHTTPResponseBody / UnexpectedResponseCode
        return f"{type(exc).__name__}: {exc}"
    return None


def test_arca_and_openstacksdk_traffic_matches_tempest_schemas(
    testbed: Testbed, conn: Any, recorded: list[Exchange]
) -> None:
    from arca.collector.gnocchi import openstack_fetchers
    from arca.enforcer.drivers.openstack import OpenStackDriver
    from arca.enforcer.settings import EnforcerSettings

    driver = OpenStackDriver(EnforcerSettings(image="emergency-servant", flavor="m1.servant"), conn=conn)
    sid = driver.create_servant("emergency", "arca-emergency-2")
    testbed.model.advance(11)
    assert {s.id for s in driver.list_servants("emergency")} >= {sid}
    driver.add_to_pool("emergency", sid)
    list_servers, _ = openstack_fetchers(conn)
    list_servers()
    conn.compute.find_flavor("m1.servant", ignore_missing=False)
    conn.compute.get_server(sid)
    for act in ("stop", "start", "suspend", "resume", "pause", "unpause", "shelve", "unshelve"):
        getattr(conn.compute, f"{act}_server")(sid)
        testbed.model.advance(30)
    conn.compute.reboot_server(sid, "SOFT")
    testbed.model.advance(6)
    driver.remove_from_pool("emergency", sid)
    driver.delete_servant("emergency", sid)

    verdicts = [(ex, validate(ex)) for ex in recorded if ex.status < 400]
    checked = [(ex, why) for ex, why in verdicts if why != "unchecked"]
    failed = [(ex.method, ex.path, ex.served, why) for ex, why in checked if why is not None]
    served = {(ex.method, ex.served) for ex, _ in checked}
    print(f"tempest schemas: {len(checked) - len(failed)} pass / {len(failed)} fail / {len(checked)} answers")
    assert not failed
    assert ("GET", "2.26") in served, "ARCA's raw reads ask for 2.26"
    assert ("POST", MAX_MICROVERSION) in served, "openstacksdk negotiates the maximum"
    assert len(checked) >= 20
    assert all(why != "unchecked" for ex, why in verdicts if ex.method != "GET" or "/tags" not in ex.path)


# --- negotiation --------------------------------------------------------------------------------------


def _get(tb: Testbed, conn: Any, path: str, **headers: str) -> requests.Response:
    token = conn.session.get_token()
    return requests.get(tb.url("compute") + path, headers={"X-Auth-Token": token, **headers}, timeout=10)


@pytest.mark.parametrize(
    ("headers", "status", "served"),
    [
        pytest.param({}, 200, "2.1", id="none-is-2.1"),
        pytest.param({"OpenStack-API-Version": "compute 2.26"}, 200, "2.26", id="new-header"),
        pytest.param({"X-OpenStack-Nova-API-Version": "2.47"}, 200, "2.47", id="legacy-header"),
        pytest.param({"OpenStack-API-Version": "compute 2.60", "X-OpenStack-Nova-API-Version": "2.2"}, 200,
                     "2.60", id="new-header-wins"),
        pytest.param({"OpenStack-API-Version": "compute latest"}, 200, MAX_MICROVERSION, id="latest"),
        pytest.param({"OpenStack-API-Version": "network 2.5"}, 200, "2.1", id="other-service-ignored"),
        pytest.param({"OpenStack-API-Version": "compute 2.97"}, 406, None, id="above-max-406"),
        pytest.param({"OpenStack-API-Version": "compute 2.0"}, 406, None, id="below-min-406"),
        pytest.param({"OpenStack-API-Version": "compute 3.1"}, 406, None, id="major-3-406"),
        pytest.param({"OpenStack-API-Version": "compute two"}, 400, None, id="malformed-400"),
        pytest.param({"X-OpenStack-Nova-API-Version": "2.x"}, 400, None, id="malformed-legacy-400"),
    ],
)
def test_microversion_negotiation(
    testbed: Testbed, conn: Any, headers: dict[str, str], status: int, served: str | None
) -> None:
    r = _get(testbed, conn, "/servers", **headers)
    assert r.status_code == status
    if served:
        assert r.headers["OpenStack-API-Version"] == f"compute {served}"
        assert r.headers["X-OpenStack-Nova-API-Version"] == served
        assert "OpenStack-API-Version" in r.headers["Vary"]
    else:
        kind = "computeFault" if status == 406 else "badRequest"
        assert r.json()[kind]["code"] == status
        if status == 406:
            assert f"maximum is {MAX_MICROVERSION}" in r.json()[kind]["message"]


def test_version_documents_state_min_and_max(testbed: Testbed) -> None:
    root = testbed.url("compute").rsplit("/v2.1", 1)[0]
    doc = requests.get(root + "/", timeout=10).json()
    (current,) = [x for x in doc["versions"] if x["id"] == "v2.1"]
    assert (current["min_version"], current["version"]) == ("2.1", MAX_MICROVERSION)
    one = requests.get(root + "/v2.1/", timeout=10).json()["version"]
    assert (one["min_version"], one["version"]) == ("2.1", MAX_MICROVERSION)


def test_a_nova_pinned_at_2_1_says_so_and_refuses_more(tmp_path: Any) -> None:
    tb = Testbed(parse_timeline(QUIET), ModelParams(), compute_max_microversion="2.1").start()
    try:
        root = tb.url("compute").rsplit("/v2.1", 1)[0]
        assert requests.get(root + "/v2.1", timeout=10).json()["version"]["version"] == "2.1"
        c = tb.connect()
        assert _get(tb, c, "/servers", **{"OpenStack-API-Version": "compute 2.26"}).status_code == 406
        assert _get(tb, c, "/servers", **{"OpenStack-API-Version": "compute latest"}).headers[
            "OpenStack-API-Version"] == "compute 2.1"
        c.close()
    finally:
        tb.stop()


# --- shapes per microversion --------------------------------------------------------------------------


def _at(tb: Testbed, conn: Any, path: str, mv: str) -> Any:
    r = _get(tb, conn, path, **{"OpenStack-API-Version": f"compute {mv}"})
    return r


@pytest.mark.parametrize(
    ("mv", "present", "absent"),
    [
        ("2.1", {"flavor.id"}, {"tags", "locked", "description", "server_groups",
                                "pinned_availability_zone"}),
        ("2.9", {"locked"}, {"tags", "description"}),
        ("2.19", {"description"}, {"tags"}),
        ("2.26", {"tags"}, {"flavor.original_name", "trusted_image_certificates"}),
        ("2.47", {"flavor.original_name"}, {"flavor.id", "trusted_image_certificates"}),
        ("2.63", {"trusted_image_certificates"}, {"server_groups", "locked_reason"}),
        ("2.71", {"server_groups"}, {"locked_reason"}),
        ("2.73", {"locked_reason"}, {"OS-EXT-SRV-ATTR:hostname"}),
        ("2.90", {"OS-EXT-SRV-ATTR:hostname"}, {"pinned_availability_zone"}),
        ("2.96", {"pinned_availability_zone", "server_groups", "tags"}, {"host_status"}),
    ],
)
def test_server_fields_appear_at_their_microversion(
    testbed: Testbed, conn: Any, mv: str, present: set[str], absent: set[str]
) -> None:
    sid = testbed.model.live_servants()[0].id
    server = _at(testbed, conn, f"/servers/{sid}", mv).json()["server"]

    def has(key: str) -> bool:
        if "." in key:
            outer, inner = key.split(".")
            return inner in server[outer]
        return key in server

    assert {k for k in present if not has(k)} == set()
    assert {k for k in absent if has(k)} == set()
    listed = _at(testbed, conn, "/servers/detail", mv).json()["servers"][0]
    assert "server_groups" not in listed  # show/update/rebuild only


def test_tags_routes_and_filter_exist_from_2_26(testbed: Testbed, conn: Any) -> None:
    sid = testbed.model.live_servants()[0].id
    foreign = testbed.model.create_servant("someone-else", boot_delay_s=0)
    r = _at(testbed, conn, f"/servers/{sid}/tags", "2.25")
    assert r.status_code == 404 and "itemNotFound" in r.json()
    assert _at(testbed, conn, f"/servers/{sid}/tags", "2.26").json() == {"tags": ["arca-managed"]}
    old = {s["id"] for s in _at(testbed, conn, "/servers/detail?tags=arca-managed", "2.1").json()["servers"]}
    new = {s["id"] for s in _at(testbed, conn, "/servers/detail?tags=arca-managed", "2.26").json()["servers"]}
    assert foreign.id in old  # Nova before 2.26 ignores the filter: every server of the project
    assert new == {sid}


def test_limits_and_image_proxy_follow_their_microversions(testbed: Testbed, conn: Any) -> None:
    assert "maxPersonality" in _at(testbed, conn, "/limits", "2.56").json()["limits"]["absolute"]
    assert "maxPersonality" not in _at(testbed, conn, "/limits", "2.57").json()["limits"]["absolute"]
    assert "maxSecurityGroups" not in _at(testbed, conn, "/limits", "2.36").json()["limits"]["absolute"]
    assert _at(testbed, conn, "/images", "2.35").status_code == 200
    assert _at(testbed, conn, "/images", "2.36").status_code == 404
    flavor = _at(testbed, conn, f"/flavors/{FLAVORS[0]['id']}", "2.74").json()["flavor"]
    assert flavor["swap"] == "" and "description" in flavor and "extra_specs" in flavor
    assert _at(testbed, conn, f"/flavors/{FLAVORS[0]['id']}", "2.75").json()["flavor"]["swap"] == 0
    assert "description" not in _at(testbed, conn, "/flavors", "2.54").json()["flavors"][0]


# --- server actions through unmodified openstacksdk --------------------------------------------------


def _status(conn: Any, sid: str) -> tuple[str, str | None]:
    s = conn.compute.get_server(sid)
    return s.status, s.task_state


def test_server_actions_through_openstacksdk_follow_novas_state_machine(testbed: Testbed, conn: Any) -> None:
    sid = testbed.model.live_servants()[0].id
    c = conn.compute
    steps = [
        (c.stop_server, "powering-off", "SHUTOFF"), (c.start_server, "powering-on", "ACTIVE"),
        (c.suspend_server, "suspending", "SUSPENDED"), (c.resume_server, "resuming", "ACTIVE"),
        (c.pause_server, "pausing", "PAUSED"), (c.unpause_server, "unpausing", "ACTIVE"),
    ]
    for call, task, end in steps:
        call(sid)
        before = _status(conn, sid)
        assert before[1] == task
        testbed.model.advance(6)
        assert _status(conn, sid) == (end, None)
    c.shelve_server(sid)
    testbed.model.advance(10)
    assert _status(conn, sid) == ("SHELVED", "shelving_offloading")
    testbed.model.advance(2)
    assert _status(conn, sid) == ("SHELVED_OFFLOADED", None)
    assert conn.compute.get_server(sid).addresses == {}
    c.unshelve_server(sid)
    testbed.model.advance(testbed.model.params.boot_delay_s)
    assert _status(conn, sid) == ("ACTIVE", None)
    c.reboot_server(sid, "SOFT")
    assert _status(conn, sid) == ("REBOOT", "rebooting")
    testbed.model.advance(5)
    assert _status(conn, sid) == ("ACTIVE", None)


@pytest.mark.parametrize(
    ("setup", "action", "fragment"),
    [
        pytest.param([], "start_server", "vm_state active", id="start-an-active-server"),
        pytest.param([], "resume_server", "vm_state active", id="resume-an-unsuspended-server"),
        pytest.param([], "unshelve_server", "vm_state active", id="unshelve-an-unshelved-server"),
        pytest.param(["stop_server"], "stop_server", "task_state powering-off", id="stop-while-stopping"),
        pytest.param(["pause_server", 1], "suspend_server", "vm_state paused", id="suspend-a-paused-server"),
    ],
)
def test_invalid_actions_are_409_conflicting_request(
    testbed: Testbed, conn: Any, setup: list[Any], action: str, fragment: str
) -> None:
    sid = testbed.model.live_servants()[0].id
    for step in setup:
        if isinstance(step, str):
            getattr(conn.compute, step)(sid)
        else:
            testbed.model.advance(step)
    with pytest.raises(os_exc.ConflictException) as info:
        getattr(conn.compute, action)(sid)
    assert fragment in str(info.value)


def test_bad_action_bodies_are_400(testbed: Testbed, conn: Any) -> None:
    sid = testbed.model.live_servants()[0].id
    url = f"{testbed.url('compute')}/servers/{sid}/action"
    hdr = {"X-Auth-Token": conn.session.get_token()}
    for body in ({"fly": None}, {"reboot": {"type": "GENTLE"}}, {}):
        r = requests.post(url, json=body, headers=hdr, timeout=10)
        assert r.status_code == 400 and "badRequest" in r.json(), body


def test_transition_durations_come_from_data_and_a_hook(testbed: Testbed, conn: Any) -> None:
    sid = testbed.model.live_servants()[0].id
    testbed.model.action_delay = lambda action, servant: 42.0 if action == "os-stop" else 1.0
    conn.compute.stop_server(sid)
    testbed.model.advance(41)
    assert _status(conn, sid) == ("ACTIVE", "powering-off")
    testbed.model.advance(1)
    assert _status(conn, sid) == ("SHUTOFF", None)


def test_every_nova_answer_of_a_demo_run_matches_tempest_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """``arca demo``'s own OpenStack path (harness, enforcer driver, Gnocchi poller, openstacksdk),
    every compute answer recorded and validated at the microversion it was served."""
    from arca.app.demo.harness import run

    seen: list[Exchange] = []
    start = Testbed.start

    def start_recording(self: Testbed) -> Testbed:
        self.cloud.recorder = _recorder_into(seen)
        return start(self)

    monkeypatch.setattr(Testbed, "start", start_recording)
    timeline = parse_timeline({"duration_s": 70, "seed": 4, "failures": [],
                               "incidents": [{"at_s": 10, "severity": 3, "domain": "building-3"}]})
    result = run("arca-reactive", timeline)
    assert result.metrics.peak_servants > 1  # it scaled out (and back in)
    verdicts = [(ex, validate(ex)) for ex in seen if ex.status < 400]
    failed = [(ex.method, ex.path, ex.served, why) for ex, why in verdicts if why not in (None, "unchecked")]
    kinds = {(ex.method, re.sub(r"/[0-9a-f-]{36}", "/{id}", ex.path), ex.served) for ex, _ in verdicts}
    print(f"demo: {len(verdicts) - len(failed)} pass / {len(failed)} fail; calls: {sorted(kinds)}")
    assert not failed
    assert ("POST", "/v2.1/servers", MAX_MICROVERSION) in kinds
    assert ("GET", "/v2.1/servers/detail", "2.26") in kinds
    assert ("DELETE", "/v2.1/servers/{id}", MAX_MICROVERSION) in kinds
    assert all(why is None for _, why in verdicts), [ex.path for ex, why in verdicts if why is not None]


@pytest.mark.parametrize(
    ("mv", "networks", "status"),
    [
        pytest.param("2.36", "auto", 400, id="auto-before-2.37"),
        pytest.param("2.36", None, 202, id="omitted-before-2.37"),
        pytest.param("2.37", None, 400, id="required-from-2.37"),
        pytest.param("2.37", "auto", 202, id="auto-from-2.37"),
        pytest.param("2.37", "bogus", 400, id="unknown-string"),
    ],
)
def test_server_create_networks_follow_2_37(
    testbed: Testbed, conn: Any, mv: str, networks: str | None, status: int
) -> None:
    spec: dict[str, Any] = {"name": "n", "imageRef": IMAGES[0]["id"], "flavorRef": FLAVORS[0]["id"]}
    if networks is not None:
        spec["networks"] = networks
    hdr = {"X-Auth-Token": conn.session.get_token(), "OpenStack-API-Version": f"compute {mv}"}
    r = requests.post(f"{testbed.url('compute')}/servers", json={"server": spec}, timeout=10, headers=hdr)
    assert r.status_code == status, r.text
    if status == 400:
        assert "badRequest" in r.json()


def test_version_strings_compare_numerically() -> None:
    assert v("2.9") < v("2.26") < v("2.100") < v("3.0")
    assert str(v("2.96")) == "2.96" and v("2.1") == v("2.1")
    for bad in ("2", "2.", ".1", "2.1.1", "two.one", "02.1", "2.-1"):
        with pytest.raises(ValueError, match="invalid format"):
            v(bad)
