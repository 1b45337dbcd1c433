"""OpenStack driver: servants are Nova servers, pool membership is Octavia members (openstacksdk).

The connection comes from ``clouds.yaml``/``OS_CLOUD`` like every OpenStack tool, or from explicit
settings. ARCA owns a server only when it carries metadata ``arca_system=<system>`` *and* the tag
``arca-managed``; anything else is invisible to this driver, so it is never drained nor deleted.
With ``enforcer.osm_ns_id`` set, the servers it creates also carry ``osm_ns_id=<NS>`` (the NS
instance they serve), read back as ``Servant.ns_id``: an OSM alarm acts only on a servant whose own
record names the alarm's NS.

Microversions: the rule needs tags, which Nova shows (``tags`` field, ``?tags=`` filter,
``GET /servers/{id}/tags``) only from microversion 2.26 and accepts at create only from 2.52. The
driver's raw reads send ``OpenStack-API-Version: compute 2.26`` (``NOVA_READ_MICROVERSION``); a Nova
whose maximum is lower answers 406, which is a ``PermanentError``: ARCA refuses rather than guess
ownership from metadata alone. Creating a server first checks that the cloud serves 2.52
(``NOVA_CREATE_MICROVERSION``, version discovery); writes otherwise go through openstacksdk, which
negotiates its own. A server listed without a ``tags`` field is never owned.

Each servant is one member (address, ``member_port``) of every
configured pool (by default, every pool of the project: one per building load balancer).

Reads go through the SDK's service proxies (keystoneauth adapters with the catalog's endpoints and
the token) as plain JSON: building openstacksdk ``Resource`` objects costs ~1 ms each, which would
dominate a simulated run; writes use the SDK's resource calls.

Reads within one reconcile pass (``reads_once``, entered by the reconciler): an identical read (the
same path, microversion and query) is sent once and its answer reused until the driver changes
something (create, delete, a pool member added or removed, a server action), which forgets every
answer. Each action in flight polls its server and the pools' members on every tick; in one pass
they all see the same answers instead of asking again: as if the pass had read the state once,
then re-read what its own changes touched.

Errors: 5xx/429, timeouts and connection failures become ``TransientError`` (retried by the
action with backoff); other HTTP refusals become ``PermanentError``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import openstack
from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc
from openstack import utils as os_utils

from arca.enforcer.drivers.base import PermanentError, TransientError
from arca.enforcer.model import Servant, ServantStatus
from arca.enforcer.settings import EnforcerSettings

log = logging.getLogger(__name__)

OWNER_KEY = "arca_system"
NS_KEY = "osm_ns_id"
"""Server metadata naming the OSM NS instance the servant belongs to (its own NS record): OSM alarms
act on a servant only when they name this NS."""
OWNER_TAG = "arca-managed"
NOVA_READ_MICROVERSION = "2.26"
"""Servers' ``tags`` field, the ``?tags=`` filter and ``GET /servers/{id}/tags`` are 2.26+."""
NOVA_CREATE_MICROVERSION = "2.52"
"""``tags`` in ``POST /servers`` is 2.52+."""
_STATUS: dict[str, ServantStatus] = {
    "BUILD": "building", "REBUILD": "building", "ACTIVE": "active", "ERROR": "error",
    "SHUTOFF": "shutoff", "DELETED": "deleted", "SOFT_DELETED": "deleted",
    "SUSPENDED": "suspended", "PAUSED": "paused", "SHELVED": "shelved", "SHELVED_OFFLOADED": "shelved",
}
STANDBY_CALLS: dict[str, str] = {
    "stopped": "stop_server", "suspended": "suspend_server", "paused": "pause_server",
    "shelved": "shelve_server",
}
"""Warm-pool state -> the openstacksdk compute call that enters it (Nova ``os-stop``, ``suspend``,
``pause``, ``shelve`` server actions)."""
RESUME_CALLS: dict[str, str] = {
    "SHUTOFF": "start_server", "SUSPENDED": "resume_server", "PAUSED": "unpause_server",
    "SHELVED": "unshelve_server", "SHELVED_OFFLOADED": "unshelve_server",
}
"""Nova status of a standby server -> the call that brings it back to ACTIVE."""
T = TypeVar("T")
_ReadKey = tuple[str, str, str | None, tuple[tuple[str, Any], ...]]
"""(service proxy, path, microversion, sorted query) of a read."""


def connect(settings: EnforcerSettings) -> Any:
    """An openstacksdk connection: explicit auth settings, else the ``os_cloud``/``OS_CLOUD`` cloud."""
    s = settings
    if s.auth_url:
        return openstack.connect(
            auth_url=s.auth_url, username=s.username, password=s.password, project_name=s.project_name,
            user_domain_name=s.user_domain_name, project_domain_name=s.project_domain_name,
            region_name=s.region_name, api_timeout=s.api_timeout_s, load_yaml_config=False,
            load_envvars=False,
        )
    return openstack.connect(cloud=s.os_cloud, region_name=s.region_name, api_timeout=s.api_timeout_s)


def _call(what: str, fn: Callable[[], T]) -> T:
    """Run one SDK call, mapping its failures onto the driver's error classes."""
    try:
        return fn()
    except os_exc.NotFoundException as exc:
        raise PermanentError(f"{what}: not found ({exc.details or exc})") from exc
    except os_exc.HttpException as exc:
        code = exc.status_code or 0
        if code >= 500 or code == 429 or code == 0:
            raise TransientError(f"{what}: HTTP {code or '?'} {exc.details or exc}") from exc
        raise PermanentError(f"{what}: HTTP {code} {exc.details or exc}") from exc
    except ks_exc.http.NotFound as exc:
        raise PermanentError(f"{what}: not found") from exc
    except ks_exc.http.HttpError as exc:
        code = exc.http_status or 0
        if code >= 500 or code == 429 or code == 0:
            raise TransientError(f"{what}: HTTP {code or '?'} {exc}") from exc
        raise PermanentError(f"{what}: HTTP {code} {exc}") from exc
    except (ks_exc.ConnectionError, ks_exc.RetriableConnectionFailure) as exc:
        raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except os_exc.SDKException as exc:
        raise TransientError(f"{what}: {exc}") from exc


def _json(adapter: Any, path: str, microversion: str | None = None, **params: Any) -> dict[str, Any]:
    """GET ``path`` through an SDK service proxy (at ``microversion`` when given); HTTP errors raise."""
    resp = adapter.get(path, params=params or None, microversion=microversion)
    os_exc.raise_from_response(resp)
    data = resp.json()
    if not isinstance(data, dict):
        raise os_exc.SDKException(f"GET {path}: the answer is not a JSON object")
    return data


class OpenStackDriver:
    """``ServantDriver`` over Nova (compute) and Octavia (load-balancer) with openstacksdk."""

    name = "openstack"

    def __init__(self, settings: EnforcerSettings, conn: Any | None = None) -> None:
        self.settings = settings
        self.conn = conn if conn is not None else connect(settings)
        self._image: str | None = None
        self._flavor: str | None = None
        self._network: str | None = None
        self._pools: list[str] | None = None
        self._reads: dict[_ReadKey, dict[str, Any]] | None = None
        """The answers of this reconcile pass (``reads_once``); None outside a pass."""
        self._owners: tuple[dict[str, Any], dict[str, list[dict[str, Any]]]] | None = None
        """The last server listing and its servers by owning system (each listing indexed once)."""

    # --- one pass, each read once ------------------------------------------------------------------
    @contextmanager
    def reads_once(self) -> Iterator[None]:
        """Within the block, an identical read is sent once (its answer is shared: read-only) until
        the driver changes something. Nested blocks share the outer one's answers."""
        if self._reads is not None:
            yield
            return
        self._reads = {}
        try:
            yield
        finally:
            self._reads = None

    def _read(self, what: str, service: str, path: str, microversion: str | None = None,
              **params: Any) -> dict[str, Any]:
        """``_json`` through the ``service`` proxy, answered from this pass's reads when it has it."""
        adapter = getattr(self.conn, service)
        if self._reads is None:
            return _call(what, lambda: _json(adapter, path, microversion, **params))
        key = (service, path, microversion, tuple(sorted(params.items())))
        data = self._reads.get(key)
        if data is None:
            data = self._reads[key] = _call(what, lambda: _json(adapter, path, microversion, **params))
        return data

    def _write(self, what: str, fn: Callable[[], T]) -> T:
        """A change: every answer read before it in this pass is forgotten (even when it failed)."""
        try:
            return _call(what, fn)
        finally:
            if self._reads is not None:
                self._reads.clear()

    # --- resolution of names (cached) -----------------------------------------------------------
    def _resolve(self) -> tuple[str, str, str | None]:
        if self._image is None or self._flavor is None:
            s = self.settings
            compute = self.conn.compute
            image = _call("find image", lambda: self.conn.image.find_image(s.image, ignore_missing=False))
            flavor = _call("find flavor", lambda: compute.find_flavor(s.flavor, ignore_missing=False))
            self._image, self._flavor = image.id, flavor.id
            if s.network:
                net = _call("find network",
                            lambda: self.conn.network.find_network(s.network, ignore_missing=False))
                self._network = net.id
        return self._image, self._flavor, self._network

    def pool_ids(self) -> list[str]:
        if self._pools is None:
            wanted = self.settings.pools
            if wanted:
                lb = self.conn.load_balancer
                self._pools = [
                    _call(f"find pool {p}", partial(lb.find_pool, p, ignore_missing=False)).id for p in wanted
                ]
            else:
                pools = _call("list pools", lambda: list(self.conn.load_balancer.pools()))
                self._pools = sorted(p.id for p in pools)
        return self._pools

    # --- reading --------------------------------------------------------------------------------
    @staticmethod
    def owned(server: dict[str, Any], system: str) -> bool:
        meta = server.get("metadata") or {}
        tags = server.get("tags")
        return bool(meta.get(OWNER_KEY) == system and isinstance(tags, list) and OWNER_TAG in tags)

    @staticmethod
    def address(server: dict[str, Any]) -> str | None:
        for entries in (server.get("addresses") or {}).values():
            for entry in entries:
                if entry.get("addr"):
                    return str(entry["addr"])
        return None

    def _members(self) -> dict[str, set[str]]:
        """Pool id -> member addresses."""
        out: dict[str, set[str]] = {}
        for pid in self.pool_ids():
            out[pid] = {str(m.get("address")) for m in self._pool_members(pid)}
        return out

    def _pool_members(self, pid: str) -> list[dict[str, Any]]:
        data = self._read(f"list members of {pid}", "load_balancer", f"/lbaas/pools/{pid}/members")
        return list(data.get("members", []))

    def _servant(self, server: dict[str, Any], members: dict[str, set[str]]) -> Servant:
        addr = self.address(server)
        in_pool = bool(members) and addr is not None and all(addr in m for m in members.values())
        created = None
        if server.get("created"):
            try:
                created = datetime.fromisoformat(str(server["created"]).replace("Z", "+00:00"))
                if created.tzinfo is None:
                    created = created.replace(tzinfo=UTC)
            except ValueError:
                created = None
        task = server.get("OS-EXT-STS:task_state")
        ns_id = (server.get("metadata") or {}).get(NS_KEY)
        return Servant(str(server["id"]), str(server.get("name", "")),
                       _STATUS.get(str(server.get("status", "")).upper(), "unknown"), in_pool, created,
                       task_state=str(task) if task else None, ns_id=str(ns_id) if ns_id else None)

    def _by_owner(self, data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The listing's owned servers by system, computed once per listing: a tick's pass shares one
        listing among all its systems, and finding each system's servers in it anew cost every system
        a walk over every server of the cloud (quadratic in the systems of a replica)."""
        if self._owners is not None and self._owners[0] is data:
            return self._owners[1]
        index: dict[str, list[dict[str, Any]]] = {}
        for server in data.get("servers", []):
            owner = (server.get("metadata") or {}).get(OWNER_KEY)
            if isinstance(owner, str) and self.owned(server, owner):
                index.setdefault(owner, []).append(server)
        self._owners = (data, index)
        return index

    def list_servants(self, system: str) -> list[Servant]:
        data = self._read("list servers", "compute", "/servers/detail", NOVA_READ_MICROVERSION,
                          tags=OWNER_TAG)
        mine = self._by_owner(data).get(system, [])
        members = self._members() if mine else {}
        return sorted((self._servant(s, members) for s in mine), key=lambda s: s.name)

    def _get(self, server_id: str) -> dict[str, Any] | None:
        try:
            data = self._read("get server", "compute", f"/servers/{server_id}", NOVA_READ_MICROVERSION)
        except PermanentError as exc:
            if isinstance(exc.__cause__, os_exc.NotFoundException | ks_exc.http.NotFound):
                return None
            raise
        server = data.get("server")
        return dict(server) if isinstance(server, dict) else None

    def get_servant(self, system: str, server_id: str, *, pools: bool = True) -> Servant | None:
        server = self._get(server_id)
        if server is None or not self.owned(server, system):
            return None
        active = str(server.get("status", "")).upper() == "ACTIVE"
        members = self._members() if pools and active else {}
        return self._servant(server, members)

    def find_servant(self, system: str, name: str) -> Servant | None:
        for s in self.list_servants(system):
            if s.name == name and s.status != "deleted":
                return s
        return None

    # --- changing ---------------------------------------------------------------------------------
    def create_servant(self, system: str, name: str) -> str:
        compute = self.conn.compute
        if not _call("version discovery", lambda: os_utils.supports_microversion(
                compute, NOVA_CREATE_MICROVERSION)):
            raise PermanentError(
                f"Nova does not serve microversion {NOVA_CREATE_MICROVERSION} (tags at create): ARCA cannot "
                "mark the servers it owns there and refuses to create any")
        image, flavor, network = self._resolve()
        metadata = {OWNER_KEY: system}
        if self.settings.osm_ns_id:
            metadata[NS_KEY] = self.settings.osm_ns_id
        kwargs: dict[str, Any] = {
            "name": name, "image_id": image, "flavor_id": flavor, "metadata": metadata, "tags": [OWNER_TAG],
        }
        kwargs["networks"] = [{"uuid": network}] if network else "auto"
        server = self._write("create server", lambda: self.conn.compute.create_server(**kwargs))
        log.info("created server %s (%s) for %s", server.id, name, system)
        return str(server.id)

    def _owned_or_refuse(self, system: str, server_id: str) -> dict[str, Any] | None:
        server = self._get(server_id)
        if server is not None and not self.owned(server, system):
            raise PermanentError(f"server {server_id} is not owned by ARCA for {system}: not touched")
        return server

    def add_to_pool(self, system: str, server_id: str) -> None:
        server = self._owned_or_refuse(system, server_id)
        if server is None:
            raise PermanentError(f"server {server_id} does not exist")
        addr = self.address(server)
        if addr is None:
            raise TransientError(f"server {server_id} has no address yet")
        for pid, addrs in self._members().items():
            if addr not in addrs:
                self._write(f"add member to {pid}", partial(
                    self.conn.load_balancer.create_member, pid, address=addr,
                    protocol_port=self.settings.member_port, name=server.get("name")))

    def remove_from_pool(self, system: str, server_id: str) -> None:
        server = self._owned_or_refuse(system, server_id)
        if server is None:
            return
        addr = self.address(server)
        if addr is None:
            return
        for pid in self.pool_ids():
            for m in self._pool_members(pid):
                if m.get("address") == addr:
                    self._write(f"delete member of {pid}", partial(
                        self.conn.load_balancer.delete_member, m["id"], pid, ignore_missing=True))

    def delete_servant(self, system: str, server_id: str) -> None:
        server = self._owned_or_refuse(system, server_id)
        if server is None:
            return
        self._write("delete server", lambda: self.conn.compute.delete_server(server_id, ignore_missing=True))
        log.info("deleted server %s (%s) of %s", server_id, server.get("name"), system)

    def _server_action(self, system: str, server_id: str, call: str) -> None:
        """One Nova server action through openstacksdk; 409 (already changing state) is not an error."""
        fn = getattr(self.conn.compute, call)
        try:
            self._write(f"{call} {server_id}", partial(fn, server_id))
        except PermanentError as exc:
            if isinstance(exc.__cause__, os_exc.ConflictException):
                log.info("%s %s of %s: conflict (%s), left to the next check", call, server_id, system, exc)
                return
            raise
        log.info("%s %s of %s", call, server_id, system)

    def standby_servant(self, system: str, server_id: str, state: str) -> None:
        if state not in STANDBY_CALLS:
            raise PermanentError(f"unknown standby state {state!r}; known: {sorted(STANDBY_CALLS)}")
        server = self._owned_or_refuse(system, server_id)
        if server is None:
            raise PermanentError(f"server {server_id} does not exist")
        self._server_action(system, server_id, STANDBY_CALLS[state])

    def resume_servant(self, system: str, server_id: str) -> None:
        server = self._owned_or_refuse(system, server_id)
        if server is None:
            raise PermanentError(f"server {server_id} does not exist")
        call = RESUME_CALLS.get(str(server.get("status", "")).upper())
        if call is None:
            return  # not standing by (any more): the postcondition says whether it serves
        self._server_action(system, server_id, call)
