"""The Gnocchi poller with the real openstacksdk against the testbed's emulated Keystone/Nova/Gnocchi."""

from __future__ import annotations

from typing import Any

from arca.messages import decode, encode
from collector.gnocchi import GnocchiPoller, openstack_fetchers
from testbed.platform import Testbed


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
