"""The real openstacksdk drives the emulated Keystone, Nova, Glance, Gnocchi and Octavia."""

from __future__ import annotations

from typing import Any

import openstack
import pytest
import requests

from arca.testbed.api.nova import NETWORKS
from arca.testbed.api.octavia import pool_id
from arca.testbed.platform import Testbed


def _create(conn: Any, name: str = "arca-emergency-2", **extra: Any) -> Any:
    image = next(i for i in conn.image.images() if i.name == "emergency-servant")
    flavor = next(f for f in conn.compute.flavors() if f.name == "m1.servant")
    return conn.compute.create_server(
        name=name,
        image_id=image.id,
        flavor_id=flavor.id,
        networks=[{"uuid": NETWORKS[0]["id"]}],
        metadata={"arca_system": "emergency", **extra.pop("metadata", {})},
        tags=["arca-managed"],
        **extra,
    )


def test_catalog_lists_every_service(conn: Any) -> None:
    types = {entry["type"] for entry in conn.session.auth.get_access(conn.session).service_catalog.catalog}
    assert {"compute", "image", "metric", "load-balancer", "identity", "network"} <= types


def test_wrong_password_is_refused(testbed: Testbed) -> None:
    auth: dict[str, Any] = testbed.auth() | {"password": "wrong", "region_name": "RegionOne"}
    with pytest.raises(Exception, match="401"):
        list(openstack.connect(**auth).compute.servers())


def test_server_boots_after_the_simulated_boot_delay(testbed: Testbed, conn: Any) -> None:
    server = _create(conn)
    assert conn.compute.get_server(server.id).status == "BUILD"
    testbed.model.advance(9)
    assert conn.compute.get_server(server.id).status == "BUILD"
    testbed.model.advance(1)
    got = conn.compute.get_server(server.id)
    assert got.status == "ACTIVE"
    assert got.metadata == {"arca_system": "emergency"}
    assert got.tags == ["arca-managed"]
    assert got.addresses["hq-net"][0]["addr"].startswith("10.1.")


def test_wait_for_server_with_a_background_ticker(testbed: Testbed, conn: Any) -> None:
    server = _create(conn)
    testbed.start_ticker(speed=50)  # 10 simulated seconds of boot = 0.2 s of wall time
    active = conn.compute.wait_for_server(server, interval=0.05, wait=20)
    assert active.status == "ACTIVE"
    assert testbed.model.t >= 10


def test_list_and_delete_servers(testbed: Testbed, conn: Any) -> None:
    first = _create(conn, name="arca-emergency-2")
    _create(conn, name="arca-emergency-3")
    names = sorted(s.name for s in conn.compute.servers(details=True))
    assert names == ["arca-emergency-1", "arca-emergency-2", "arca-emergency-3"]
    tagged = list(conn.compute.servers(details=True, tags="arca-managed"))
    assert len(tagged) == 3
    conn.compute.delete_server(first)
    assert sorted(s.name for s in conn.compute.servers()) == ["arca-emergency-1", "arca-emergency-3"]
    with pytest.raises(openstack.exceptions.NotFoundException):
        conn.compute.get_server(first.id)
    assert testbed.model.servants[first.id].status == "DELETED"


def test_servers_created_through_nova_add_capacity_once_active(testbed: Testbed, conn: Any) -> None:
    before = len(testbed.model.eligible_servants())
    _create(conn)
    testbed.model.advance(5)
    assert len(testbed.model.eligible_servants()) == before
    testbed.model.advance(5)
    assert len(testbed.model.eligible_servants()) == before + 1
    testbed.model.advance(1)  # the step [10, 11) is served by the new servant too
    assert testbed.model.records[-1].capacity_rps == pytest.approx(
        (before + 1) * testbed.model.params.capacity_rps
    )


def test_never_active_fault_by_metadata_and_by_control_counter(testbed: Testbed, conn: Any) -> None:
    stuck = _create(conn, metadata={"testbed_never_active": "true"})
    testbed.model.never_active_next = 1
    stuck2 = _create(conn, name="arca-emergency-3")
    fine = _create(conn, name="arca-emergency-4")
    testbed.model.advance(60)
    assert conn.compute.get_server(stuck.id).status == "BUILD"
    assert conn.compute.get_server(stuck2.id).status == "BUILD"
    assert conn.compute.get_server(fine.id).status == "ACTIVE"
    with pytest.raises(openstack.exceptions.ResourceTimeout):
        conn.compute.wait_for_server(conn.compute.get_server(stuck.id), interval=0.01, wait=0.1)


def test_flavors_and_images(conn: Any) -> None:
    assert "m1.servant" in {f.name for f in conn.compute.flavors()}
    assert "emergency-servant" in {i.name for i in conn.compute.images()}
    assert "emergency-servant" in {i.name for i in conn.image.images()}


def test_gnocchi_measures_follow_load_at_the_telemetry_granularity(testbed: Testbed, conn: Any) -> None:
    server = _create(conn)
    testbed.model.advance(45)
    resource = conn.session.get(
        f"/v1/resource/instance/{server.id}", endpoint_filter={"service_type": "metric"}
    ).json()
    assert resource["id"] == server.id and "cpu_util" in resource["metrics"]
    measures = conn.session.get(
        f"/v1/resource/instance/{server.id}/metric/cpu_util/measures",
        endpoint_filter={"service_type": "metric"},
        params={"start": "2026-01-01T00:00:00+00:00", "granularity": "10"},
    ).json()
    # active from t=10; complete windows [10,20), [20,30), [30,40)
    assert [m[0] for m in measures] == [
        "2026-01-01T00:00:10+00:00",
        "2026-01-01T00:00:20+00:00",
        "2026-01-01T00:00:30+00:00",
    ]
    assert all(m[1] == 10.0 for m in measures)
    # 30 req/s base load over 2 servants of 210 req/s -> 7.1 % (noise +-6 %)
    assert all(6.0 < m[2] < 8.0 for m in measures)
    later = conn.session.get(
        f"/v1/resource/instance/{server.id}/metric/cpu_util/measures",
        endpoint_filter={"service_type": "metric"},
        params={"start": "2026-01-01T00:00:25+00:00"},
    ).json()
    assert [m[0] for m in later] == ["2026-01-01T00:00:30+00:00"]


def test_gnocchi_refuses_an_unknown_granularity(testbed: Testbed, conn: Any) -> None:
    server = _create(conn)
    r = conn.session.get(
        f"/v1/resource/instance/{server.id}/metric/cpu_util/measures",
        endpoint_filter={"service_type": "metric"},
        params={"granularity": "5"},
        raise_exc=False,
    )
    assert r.status_code == 404 and "granularity" in r.json()["description"]


def test_octavia_members_through_the_sdk(testbed: Testbed, conn: Any) -> None:
    server = _create(conn)
    testbed.model.advance(10)
    ip = conn.compute.get_server(server.id).addresses["hq-net"][0]["addr"]
    pools = {p.name: p for p in conn.load_balancer.pools()}
    assert set(pools) == {"pool-building-2", "pool-building-3", "pool-building-4"}
    pool = pools["pool-building-2"]
    assert pool.id == pool_id("building-2")
    member = conn.load_balancer.create_member(pool, address=ip, protocol_port=80, name=server.name)
    listed = list(conn.load_balancer.members(pool))
    assert [(m.address, m.operating_status) for m in listed] == [(ip, "ONLINE")]
    assert pool.id in testbed.model.servants[server.id].pools
    with pytest.raises(openstack.exceptions.ConflictException):
        conn.load_balancer.create_member(pool, address=ip, protocol_port=80)
    conn.load_balancer.delete_member(member, pool)
    assert list(conn.load_balancer.members(pool)) == []
    assert testbed.model.servants[server.id].pools == set()
    lbs = {lb.name for lb in conn.load_balancer.load_balancers()}
    assert lbs == {"lb-building-2", "lb-building-3", "lb-building-4"}


def test_pool_membership_required_when_configured(conn: Any, testbed: Testbed) -> None:
    from arca.testbed.model import ModelParams
    from arca.testbed.timeline import parse_timeline

    tb = Testbed(
        parse_timeline({"duration_s": 100}), ModelParams(require_pool_membership=True, initial_servants=0)
    ).start()
    try:
        c = tb.connect()
        server = _create(c)
        tb.model.advance(10)
        assert tb.model.eligible_servants() == []
        ip = c.compute.get_server(server.id).addresses["hq-net"][0]["addr"]
        c.load_balancer.create_member(pool_id("building-3"), address=ip, protocol_port=80)
        assert [s.id for s in tb.model.eligible_servants()] == [server.id]
    finally:
        tb.stop()


def test_injected_503_burst_then_recovery(testbed: Testbed, conn: Any) -> None:
    list(conn.compute.servers())  # authenticate and discover first
    testbed.cloud.faults.inject("compute", 2, 503)
    url = testbed.url("compute") + "/servers"
    headers = {"X-Auth-Token": conn.session.get_token()}
    assert requests.get(url, headers=headers, timeout=5).status_code == 503
    assert requests.get(url, headers=headers, timeout=5).status_code == 503
    assert requests.get(url, headers=headers, timeout=5).status_code == 200


def test_find_by_name_as_a_driver_configured_with_names_does(conn: Any) -> None:
    assert conn.compute.find_flavor("m1.servant").id == "5f1e4e4c-1b8e-4e39-9a4e-000000000001"
    assert conn.image.find_image("emergency-servant").id == "7a3b0c1d-2e4f-4a5b-8c6d-000000000001"
    assert conn.network.find_network("hq-net").id == NETWORKS[0]["id"]
    assert conn.load_balancer.find_pool("pool-building-2").id == pool_id("building-2")
    assert conn.compute.find_flavor("nope") is None


def test_wait_for_delete(testbed: Testbed, conn: Any) -> None:
    server = _create(conn)
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.01, wait=2)
    assert testbed.model.servants[server.id].status == "DELETED"


def test_clouds_yaml_connects_through_os_cloud(testbed: Testbed, tmp_path: Any, monkeypatch: Any) -> None:
    path = tmp_path / "clouds.yaml"
    path.write_text(testbed.clouds_yaml())
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(path))
    c = openstack.connect(cloud="arca-testbed")
    assert [s.name for s in c.compute.servers()] == ["arca-emergency-1"]
    c.close()


def test_the_collectors_gnocchi_poller_reads_the_emulated_telemetry(testbed: Testbed, conn: Any) -> None:
    from arca.collector.gnocchi import GnocchiPoller, openstack_fetchers

    server = _create(conn)
    poller = GnocchiPoller(*openstack_fetchers(conn), interval_s=10)
    testbed.model.advance(31)
    first = poller.poll(testbed.model.now())
    by_server: dict[str, list[float]] = {}
    for obs in first:
        by_server.setdefault(obs.resource or "", []).append(obs.value)
    assert set(by_server) == {
        server.id,
        next(s.id for s in testbed.model.live_servants() if s.id != server.id),
    }
    assert len(by_server[server.id]) == 2  # windows [10,20) and [20,30): active from t=10
    assert all(0.06 < v < 0.08 for v in by_server[server.id])  # 30 req/s over 2 x 210 req/s
    testbed.model.advance(10)
    again = poller.poll(testbed.model.now())
    assert len([o for o in again if o.resource == server.id]) == 1  # only the new window
