"""The Gnocchi poller with the real openstacksdk against the testbed's emulated Keystone/Nova/Gnocchi."""

from __future__ import annotations

from typing import Any

from arca.collector.gnocchi import GnocchiPoller, openstack_fetchers
from arca.messages import decode, encode
from arca.testbed.platform import Testbed


def test_poller_reads_cpu_util_of_servants_through_openstacksdk(testbed: Testbed, conn: Any) -> None:
    testbed.model.advance(35)
    servants = {s.id for s in conn.compute.servers() if (s.metadata or {}).get("arca_system")}
    assert servants, "the testbed starts with servants"
    poller = GnocchiPoller(*openstack_fetchers(conn), interval_s=10)
    first = poller.poll(testbed.model.now())
    assert first and {o.resource for o in first} == servants
    assert all(o.metric == "cpu_util" and 0.0 <= o.value <= 1.0 for o in first)
    assert all(decode(encode(o)) == o for o in first)
    last_seen = dict(poller.last)
    testbed.model.advance(20)
    second = poller.poll(testbed.model.now())
    assert second, "new measures after 20 simulated seconds"
    assert all(o.event_time > last_seen[str(o.resource)] for o in second)  # only new measures
    assert poller.poll(testbed.model.now()) == []  # nothing new without time passing


def test_servers_are_listed_page_by_page_as_json_on_the_sdk_session(testbed: Testbed, conn: Any) -> None:
    from arca.collector.gnocchi import openstack_fetchers as fetchers
    from arca.testbed.api.nova import NETWORKS

    image = next(i for i in conn.image.images() if i.name == "emergency-servant")
    flavor = next(f for f in conn.compute.flavors() if f.name == "m1.servant")
    for k in range(4):
        conn.compute.create_server(name=f"page-{k}", image_id=image.id, flavor_id=flavor.id,
                                   networks=[{"uuid": NETWORKS[0]["id"]}], metadata={"k": str(k)})
    everything = sorted(s.id for s in conn.compute.servers(details=True))
    assert len(everything) == 5
    for page_size in (1, 2, len(everything), 1000):
        list_servers, _ = fetchers(conn, page_size=page_size)
        rows = list_servers()
        assert sorted(r["id"] for r in rows) == everything, f"page size {page_size}"
        assert len(rows) == len(everything)  # no page read twice
    sdk = {s.id: (s.name, dict(s.metadata or {})) for s in conn.compute.servers(details=True)}
    assert {r["id"]: (r["name"], r["metadata"]) for r in rows} == sdk  # what the SDK's resources said
