"""Emulated Octavia v2: one load balancer and one pool per building; pool members map to servants.

A member whose ``address`` is a servant's IP makes that servant a member of the pool; with the
model's ``require_pool_membership`` a servant serves only while ACTIVE *and* in at least one pool
(default: ACTIVE is enough; the enforcer still adds members after ACTIVE, as in a real cloud).
Pool ids are deterministic: ``pool_id("building-2")``.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, jsonify, request

from arca.testbed.api.common import PROJECT_ID, Cloud, guard, json_errors
from arca.testbed.api.nova import iso
from arca.testbed.model import ACTIVE, BUILD, DELETED, TestbedModel
from arca.testbed.scenario import BUILDINGS

_NS = uuid.UUID("6ba7b812-9dad-11d1-80b4-00c04fd430c8")
SUBNET_ID = "8d3f1c2b-7a6e-4f5d-9c4b-000000000001"


def lb_id(building: str) -> str:
    return str(uuid.uuid5(_NS, f"lb/{building}"))


def pool_id(building: str) -> str:
    return str(uuid.uuid5(_NS, f"pool/{building}"))


def listener_id(building: str) -> str:
    return str(uuid.uuid5(_NS, f"listener/{building}"))


def lb_name(building: str) -> str:
    return f"lb-{building}"


@dataclass
class Member:
    id: str
    pool_id: str
    address: str
    protocol_port: int
    name: str
    weight: int
    subnet_id: str | None
    created_s: float
    tags: list[str] = field(default_factory=list)


class Pools:
    """Pool membership, kept in sync with the model's servants."""

    def __init__(self, model: TestbedModel) -> None:
        self.model = model
        self.members: dict[str, dict[str, Member]] = {pool_id(b): {} for b in BUILDINGS}
        self.lock = threading.Lock()
        self._n = 0

    def _servant_for(self, address: str) -> Any:
        with self.model.lock:
            return next(
                (s for s in self.model.servants.values() if s.ip == address and s.status != DELETED), None
            )

    def add(
        self, pid: str, address: str, port: int, name: str, weight: int, subnet: str | None, tags: list[str]
    ) -> Member:
        with self.lock:
            self._n += 1
            m = Member(
                id=str(uuid.uuid5(_NS, f"member/{self._n}/{address}")),
                pool_id=pid,
                address=address,
                protocol_port=port,
                name=name,
                weight=weight,
                subnet_id=subnet,
                created_s=self.model.t,
                tags=tags,
            )
            self.members[pid][m.id] = m
        s = self._servant_for(address)
        if s is not None:
            with self.model.lock:
                s.pools.add(pid)
        return m

    def remove(self, pid: str, mid: str) -> None:
        with self.lock:
            m = self.members[pid].pop(mid)
            still = any(x.address == m.address for x in self.members[pid].values())
        s = self._servant_for(m.address)
        if s is not None and not still:
            with self.model.lock:
                s.pools.discard(pid)

    def operating_status(self, m: Member) -> str:
        s = self._servant_for(m.address)
        if s is None:
            return "ERROR"
        return {ACTIVE: "ONLINE", BUILD: "OFFLINE"}.get(s.status, "ERROR")


def _fault(status: int, message: str) -> tuple[Any, int]:
    return jsonify(
        {"faultcode": "Client" if status < 500 else "Server", "faultstring": message, "debuginfo": None}
    ), status


def create_app(cloud: Cloud, pools: Pools) -> Flask:
    app = Flask("testbed-octavia")
    model = cloud.model
    guard(app, cloud, "load-balancer", open_paths=("/", "/v2", "/v2.0"), on_error=lambda s, m: _fault(s, m))
    json_errors(app, _fault, "load-balancer", cloud)
    api = Blueprint("lbaas", __name__)
    created = iso(model.start)

    @app.get("/")
    def versions() -> Any:
        href = request.host_url.rstrip("/") + "/v2"
        vs = [
            {
                "id": "v2.0",
                "status": "SUPPORTED",
                "updated": "2016-12-11T00:00:00Z",
                "links": [{"href": href, "rel": "self"}],
            },
            {
                "id": "v2.27",
                "status": "CURRENT",
                "updated": "2023-05-15T00:00:00Z",
                "links": [{"href": href, "rel": "self"}],
            },
        ]
        return jsonify({"versions": vs})

    def member_body(m: Member) -> dict[str, Any]:
        return {
            "id": m.id,
            "name": m.name,
            "operating_status": pools.operating_status(m),
            "provisioning_status": "ACTIVE",
            "admin_state_up": True,
            "address": m.address,
            "protocol_port": m.protocol_port,
            "weight": m.weight,
            "backup": False,
            "subnet_id": m.subnet_id,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "created_at": iso(model.time_of(m.created_s)),
            "updated_at": iso(model.time_of(m.created_s)),
            "monitor_address": None,
            "monitor_port": None,
            "tags": list(m.tags),
            "vnic_type": "normal",
        }

    def lb_body(b: str) -> dict[str, Any]:
        n = BUILDINGS.index(b) + 2
        return {
            "id": lb_id(b),
            "name": lb_name(b),
            "description": f"Load balancer of {b}",
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "admin_state_up": True,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "created_at": created,
            "updated_at": created,
            "vip_address": f"10.{n}.0.10",
            "vip_port_id": str(uuid.uuid5(_NS, f"port/{b}")),
            "vip_vnic_type": "normal",
            "vip_subnet_id": SUBNET_ID,
            "vip_network_id": "3c6a2a1e-6f1e-4b2c-9d3e-000000000001",
            "vip_qos_policy_id": None,
            "listeners": [{"id": listener_id(b)}],
            "pools": [{"id": pool_id(b)}],
            "provider": "amphora",
            "flavor_id": None,
            "availability_zone": b,
            "tags": [],
            "additional_vips": [],
        }

    def pool_body(b: str) -> dict[str, Any]:
        pid = pool_id(b)
        with pools.lock:
            mids = list(pools.members[pid])
        return {
            "id": pid,
            "name": f"pool-{b}",
            "description": f"Servants behind {lb_name(b)}",
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "admin_state_up": True,
            "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN",
            "session_persistence": None,
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "loadbalancers": [{"id": lb_id(b)}],
            "listeners": [{"id": listener_id(b)}],
            "members": [{"id": m} for m in mids],
            "healthmonitor_id": None,
            "created_at": created,
            "updated_at": created,
            "tags": [],
            "tls_enabled": False,
            "tls_ciphers": None,
            "tls_versions": None,
            "alpn_protocols": None,
            "ca_tls_container_ref": None,
            "crl_container_ref": None,
            "tls_container_ref": None,
        }

    def listener_body(b: str) -> dict[str, Any]:
        return {
            "id": listener_id(b),
            "name": f"listener-{b}",
            "description": f"HTTP front end of {lb_name(b)}",
            "provisioning_status": "ACTIVE",
            "operating_status": "ONLINE",
            "admin_state_up": True,
            "protocol": "HTTP",
            "protocol_port": 80,
            "connection_limit": -1,
            "default_tls_container_ref": None,
            "sni_container_refs": [],
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "default_pool_id": pool_id(b),
            "l7policies": [],
            "insert_headers": {},
            "loadbalancers": [{"id": lb_id(b)}],
            "created_at": created,
            "updated_at": created,
            "timeout_client_data": 50000,
            "timeout_member_connect": 5000,
            "timeout_member_data": 50000,
            "timeout_tcp_inspect": 0,
            "tags": [],
            "client_ca_tls_container_ref": None,
            "client_authentication": "NONE",
            "client_crl_container_ref": None,
            "allowed_cidrs": None,
            "tls_ciphers": None,
            "tls_versions": None,
            "alpn_protocols": None,
            "hsts_include_subdomains": False,
            "hsts_max_age": None,
            "hsts_preload": False,
        }

    @api.get("/lbaas/listeners")
    def list_listeners() -> Any:
        return jsonify({"listeners": filtered([listener_body(b) for b in BUILDINGS]), "listeners_links": []})

    @api.get("/lbaas/listeners/<lid>")
    def show_listener(lid: str) -> Any:
        for b in BUILDINGS:
            if lid in (listener_id(b), f"listener-{b}"):
                return jsonify({"listener": listener_body(b)})
        return _fault(404, f"Listener {lid} not found.")

    @api.get("/lbaas/healthmonitors")
    def list_health_monitors() -> Any:
        return jsonify({"healthmonitors": [], "healthmonitors_links": []})  # the pools have none

    @api.get("/lbaas/healthmonitors/<hid>")
    def show_health_monitor(hid: str) -> Any:
        return _fault(404, f"Health Monitor {hid} not found.")

    def filtered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Octavia filters a list on any attribute given (``id``, ``name``, ...); ``fields`` keeps some."""
        for key in set(request.args) - {"fields", "limit", "marker", "sort", "page_reverse"}:
            items = [i for i in items if str(i.get(key)) == request.args[key]]
        fields = request.args.getlist("fields")
        if fields:
            items = [{k: x for k, x in i.items() if k in fields} for i in items]
        return items

    kinds = "<any(loadbalancers, listeners, pools, healthmonitors):kind>"

    @api.post(f"/lbaas/{kinds}")
    @api.put(f"/lbaas/{kinds}/<rid>")
    @api.delete(f"/lbaas/{kinds}/<rid>")
    def fixed_topology(kind: str, rid: str = "") -> Any:
        """The load balancers, listeners, pools (and no health monitor) are the scenario's, fixed: a
        member is refused their changes as Octavia's default policy refuses a user without the
        ``load-balancer_member`` role. Pool members stay writable (ARCA's enforcer adds servants)."""
        return _fault(403, "Policy does not allow this request to be performed.")

    def building_of_pool(pid: str) -> str | None:
        return next((b for b in BUILDINGS if pool_id(b) == pid), None)

    @api.get("/lbaas/loadbalancers")
    def list_lbs() -> Any:
        items = filtered([lb_body(b) for b in BUILDINGS])
        return jsonify({"loadbalancers": items, "loadbalancers_links": []})

    @api.get("/lbaas/loadbalancers/<lid>")
    def show_lb(lid: str) -> Any:
        for b in BUILDINGS:
            if lid in (lb_id(b), lb_name(b)):
                return jsonify({"loadbalancer": lb_body(b)})
        return _fault(404, f"Load Balancer {lid} not found.")

    @api.get("/lbaas/pools")
    def list_pools() -> Any:
        return jsonify({"pools": filtered([pool_body(b) for b in BUILDINGS]), "pools_links": []})

    @api.get("/lbaas/pools/<pid>")
    def show_pool(pid: str) -> Any:
        b = building_of_pool(pid)
        if b is None:
            return _fault(404, f"Pool {pid} not found.")
        return jsonify({"pool": pool_body(b)})

    @api.get("/lbaas/pools/<pid>/members")
    def list_members(pid: str) -> Any:
        if building_of_pool(pid) is None:
            return _fault(404, f"Pool {pid} not found.")
        with pools.lock:
            items = list(pools.members[pid].values())
        for key in ("address", "name"):
            if key in request.args:
                items = [m for m in items if getattr(m, key) == request.args[key]]
        return jsonify({"members": [member_body(m) for m in items], "members_links": []})

    @api.get("/lbaas/pools/<pid>/members/<mid>")
    def show_member(pid: str, mid: str) -> Any:
        if building_of_pool(pid) is None:
            return _fault(404, f"Pool {pid} not found.")
        with pools.lock:
            m = pools.members[pid].get(mid)
        if m is None:
            return _fault(404, f"Member {mid} not found.")
        return jsonify({"member": member_body(m)})

    @api.post("/lbaas/pools/<pid>/members")
    def create_member(pid: str) -> Any:
        if building_of_pool(pid) is None:
            return _fault(404, f"Pool {pid} not found.")
        body = request.get_json(silent=True)
        spec = body.get("member") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            return _fault(400, "Invalid input for field/attribute member.")
        address, port = spec.get("address"), spec.get("protocol_port")
        if not isinstance(address, str) or not address:
            return _fault(
                400, "Invalid input for field/attribute address. Value: 'None'. Mandatory field missing."
            )
        if not isinstance(port, int) or not 1 <= port <= 65535:
            return _fault(400, f"Invalid input for field/attribute protocol_port. Value: '{port}'.")
        with pools.lock:
            dup = any(m.address == address and m.protocol_port == port for m in pools.members[pid].values())
        if dup:
            return _fault(
                409, f"Another member on this pool is already using ip {address} on protocol_port {port}"
            )
        m = pools.add(
            pid,
            address,
            port,
            str(spec.get("name") or ""),
            int(spec.get("weight", 1)),
            spec.get("subnet_id"),
            list(spec.get("tags") or []),
        )
        return jsonify({"member": member_body(m)}), 201

    @api.delete("/lbaas/pools/<pid>/members/<mid>")
    def delete_member(pid: str, mid: str) -> Any:
        if building_of_pool(pid) is None:
            return _fault(404, f"Pool {pid} not found.")
        with pools.lock:
            known = mid in pools.members[pid]
        if not known:
            return _fault(404, f"Member {mid} not found.")
        pools.remove(pid, mid)
        return "", 204

    # Octavia answers under both /v2 and /v2.0 (openstacksdk uses the latter)
    app.register_blueprint(api, url_prefix="/v2", name="lbaas_v2")
    app.register_blueprint(api, url_prefix="/v2.0", name="lbaas_v20")
    return app
