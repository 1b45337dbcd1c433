"""The "only touch servers ARCA tagged" rule at every microversion ARCA may be served.

The emulated Nova is pinned at different maximum microversions, and its server list holds servers
of other owners next to ARCA's own: an untagged server with ARCA's metadata, a tagged server of
another system, a tagged server without metadata, and a plain one. ARCA's raw reads ask for 2.26
(tags); below that the driver refuses (a ``PermanentError``, nothing touched); from 2.26 on it sees,
drains and deletes only its own; it creates only where tags at create (2.52) are served.
"""

from __future__ import annotations

from typing import Any

import pytest

from arca.enforcer.drivers.base import PermanentError
from arca.enforcer.drivers.openstack import OpenStackDriver
from arca.enforcer.settings import EnforcerSettings
from arca.testbed.model import ACTIVE, DELETED, ModelParams
from arca.testbed.platform import Testbed
from arca.testbed.timeline import parse_timeline

QUIET = {"duration_s": 3600, "seed": 5, "incidents": [], "failures": []}
FOREIGN = {
    "untagged-with-arca-metadata": ({"arca_system": "emergency"}, []),
    "tagged-other-system": ({"arca_system": "other"}, ["arca-managed"]),
    "tagged-without-metadata": ({}, ["arca-managed"]),
    "plain": ({}, []),
}


@pytest.fixture(params=["2.1", "2.25", "2.26", "2.51", "2.52", "2.96"], ids=lambda m: f"nova-max-{m}")
def pinned(request: Any) -> Any:
    tb = Testbed(parse_timeline(QUIET), ModelParams(), compute_max_microversion=request.param).start()
    conn = tb.connect()
    ids = {}
    for name, (meta, tags) in FOREIGN.items():
        s = tb.model.create_servant(name, boot_delay_s=0.0, metadata=meta, tags=tags)
        ids[name] = s.id
    tb.model.advance(1)
    # every foreign server is a member of every pool, as ARCA's would be
    for pool in conn.load_balancer.pools():
        for sid in ids.values():
            conn.load_balancer.create_member(pool, address=tb.model.servants[sid].ip, protocol_port=80)
    try:
        yield request.param, tb, conn, ids
    finally:
        conn.close()
        tb.stop()


def _untouched(tb: Testbed, conn: Any, ids: dict[str, str]) -> None:
    for sid in ids.values():
        assert tb.model.servants[sid].status == ACTIVE
    members = {m.address for p in conn.load_balancer.pools() for m in conn.load_balancer.members(p)}
    assert {tb.model.servants[sid].ip for sid in ids.values()} <= members


def test_arca_touches_only_the_servers_it_tagged(pinned: Any) -> None:
    mv, tb, conn, ids = pinned
    driver = OpenStackDriver(EnforcerSettings(image="emergency-servant", flavor="m1.servant"), conn=conn)
    own = next(s.id for s in tb.model.live_servants() if s.name == "arca-emergency-1")
    before = set(tb.model.servants)
    if tuple(map(int, mv.split("."))) < (2, 26):
        with pytest.raises(PermanentError, match="406"):
            driver.list_servants("emergency")
        for sid in [own, *ids.values()]:
            with pytest.raises(PermanentError):
                driver.delete_servant("emergency", sid)
            with pytest.raises(PermanentError):
                driver.remove_from_pool("emergency", sid)
        assert tb.model.servants[own].status == ACTIVE
    else:
        assert [s.id for s in driver.list_servants("emergency")] == [own]
        for sid in ids.values():
            assert driver.get_servant("emergency", sid) is None
            with pytest.raises(PermanentError, match="not owned"):
                driver.remove_from_pool("emergency", sid)
            with pytest.raises(PermanentError, match="not owned"):
                driver.delete_servant("emergency", sid)
        driver.delete_servant("emergency", own)
        assert tb.model.servants[own].status == DELETED
    _untouched(tb, conn, ids)
    if tuple(map(int, mv.split("."))) < (2, 52):
        with pytest.raises(PermanentError, match=r"2\.52"):
            driver.create_servant("emergency", "arca-emergency-9")
        assert set(tb.model.servants) == before
    else:
        sid = driver.create_servant("emergency", "arca-emergency-9")
        assert tb.model.servants[sid].tags == ["arca-managed"]
        tb.model.advance(11)
        assert [s.id for s in driver.list_servants("emergency")] == [sid]
