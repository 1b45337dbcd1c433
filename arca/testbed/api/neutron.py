"""Emulated Neutron v2.0: networks, subnets and ports (read and write), read-only security groups and
routers, and the project's quotas.

The servants' network ``hq-net`` and its subnet are fixed (clients find them by name); networks,
subnets and ports created through the API live in memory beside them, one store per app. Each
servant has a port on ``hq-net`` (read-only: Nova owns it). Lists honour ``fields`` and filter on any
attribute, as Neutron does; a created subnet may not overlap another subnet of its network.
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import PROJECT_ID, Cloud, guard, json_errors
from arca.testbed.api.nova import NETWORKS, iso, mac
from arca.testbed.api.octavia import SUBNET_ID
from arca.testbed.model import BUILD, DELETED

SECURITY_GROUP_ID = "5e0c2f1a-9b7d-4c3e-8a6f-000000000001"
KINDS = {"networks": "network", "subnets": "subnet", "ports": "port", "security-groups": "security_group",
         "routers": "router", "security-group-rules": "security_group_rule"}
"""Collection path -> resource key."""


def _fault(status: int, message: str) -> tuple[Any, int]:
    kind = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "HTTPNotFound",
            405: "HTTPMethodNotAllowed", 409: "Conflict", 500: "HTTPInternalServerError"}.get(
        status, "ServiceUnavailable")
    for word in ("Network", "Subnet", "Port", "Router"):
        if message.startswith(f"{word} ") and status == 404:
            kind = f"{word}NotFound"
    if message.startswith("Security group ") and status == 404:
        kind = "SecurityGroupNotFound"
    return jsonify({"NeutronError": {"type": kind, "message": message, "detail": ""}}), status


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-neutron")
    guard(app, cloud, "network", open_paths=("/", "/v2.0"), on_error=lambda s, m: _fault(s, m))
    json_errors(app, _fault, "network", cloud)
    model = cloud.model
    created = iso(cloud.model.start)
    lock = threading.Lock()
    made: dict[str, dict[str, dict[str, Any]]] = {"networks": {}, "subnets": {}, "ports": {}}

    def network(n: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": n["id"],
            "name": n["name"],
            "status": "ACTIVE",
            "admin_state_up": True,
            "shared": False,
            "subnets": [SUBNET_ID],
            "project_id": PROJECT_ID,
            "tenant_id": PROJECT_ID,
            "mtu": 1450,
            "router:external": False,
            "port_security_enabled": True,
            "availability_zones": ["nova"],
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "description": "",
            "tags": [],
            "created_at": created,
            "updated_at": created,
            "revision_number": 1,
            "provider:network_type": "vxlan",
            "is_default": False,
            "availability_zone_hints": [],
            "dns_domain": "",
            "l2_adjacency": True,
            "pvlan": False,
            "qos_policy_id": None,
            "vlan_transparent": False,
            "qinq": False,
        }

    subnet = {
        "id": SUBNET_ID,
        "name": "hq-subnet",
        "network_id": NETWORKS[0]["id"],
        "ip_version": 4,
        "cidr": "10.1.0.0/16",
        "gateway_ip": "10.1.0.1",
        "enable_dhcp": True,
        "allocation_pools": [{"start": "10.1.0.2", "end": "10.1.255.254"}],
        "dns_nameservers": [],
        "host_routes": [],
        "project_id": PROJECT_ID,
        "tenant_id": PROJECT_ID,
        "description": "",
        "tags": [],
        "created_at": created,
        "updated_at": created,
        "revision_number": 0,
        "ipv6_ra_mode": None,
        "ipv6_address_mode": None,
        "subnetpool_id": None,
        "service_types": [],
        "segment_id": None,
        "dns_publish_fixed_ip": False,
        "router:external": False,
    }
    security_group: dict[str, Any] = {
        "id": SECURITY_GROUP_ID, "name": "default", "description": "Default security group",
        "project_id": PROJECT_ID, "tenant_id": PROJECT_ID, "stateful": True, "shared": False,
        "tags": [], "created_at": created, "updated_at": created, "revision_number": 1,
        "security_group_rules": [
            {"id": f"6f1d3e2b-0c8e-4d4f-9b7a-00000000000{i}", "security_group_id": SECURITY_GROUP_ID,
             "direction": direction, "ethertype": "IPv4", "protocol": None, "port_range_min": None,
             "port_range_max": None, "remote_ip_prefix": None,
             "remote_group_id": SECURITY_GROUP_ID if direction == "ingress" else None,
             "remote_address_group_id": None, "normalized_cidr": None, "description": "",
             "project_id": PROJECT_ID, "tenant_id": PROJECT_ID, "tags": [], "created_at": created,
             "updated_at": created, "revision_number": 0, "belongs_to_default_sg": True}
            for i, direction in enumerate(("ingress", "egress"), start=1)
        ],
    }

    def servant_ports() -> list[dict[str, Any]]:
        """Nova's ports: one per servant with an address on hq-net."""
        with model.lock:
            live = [s for s in model.servants.values() if s.status not in (DELETED, BUILD) and s.ip]
        return [
            port_body({
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"port:{s.id}")), "name": "",
                "network_id": NETWORKS[0]["id"], "device_id": s.id, "device_owner": "compute:nova",
                "mac_address": mac(s.ip), "fixed_ips": [{"subnet_id": SUBNET_ID, "ip_address": s.ip}],
                "status": "ACTIVE", "security_groups": [SECURITY_GROUP_ID],
            })
            for s in live
        ]

    def port_body(p: dict[str, Any]) -> dict[str, Any]:
        return {
            "admin_state_up": True, "allowed_address_pairs": [], "binding:vnic_type": "normal",
            "description": "", "device_id": "", "device_owner": "", "extra_dhcp_opts": [],
            "port_security_enabled": True, "project_id": PROJECT_ID, "tenant_id": PROJECT_ID,
            "tags": [], "created_at": created, "updated_at": created, "revision_number": 1,
            "ip_allocation": "immediate", "dns_name": "", "dns_assignment": [], "qos_policy_id": None,
            "status": "DOWN", "security_groups": [SECURITY_GROUP_ID], **p,
        }

    def everything(kind: str) -> list[dict[str, Any]]:
        with lock:
            extra = [dict(x) for x in made.get(kind, {}).values()]
        if kind == "networks":
            return [network(n) for n in NETWORKS] + extra
        if kind == "subnets":
            return [dict(subnet), *extra]
        if kind == "ports":
            return servant_ports() + extra
        if kind == "security-groups":
            return [dict(security_group)]
        if kind == "security-group-rules":
            return [dict(r) for r in security_group["security_group_rules"]]
        return []  # routers: the testbed has none

    def shaped(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Neutron's query: filter on any attribute given (repeatable), keep only ``fields``."""
        for key in set(request.args) - {"fields", "limit", "marker", "sort_key", "sort_dir"}:
            wanted = request.args.getlist(key)
            low = {w.lower() for w in wanted}
            items = [i for i in items if key in i and (
                str(i[key]).lower() in low
                or (isinstance(i[key], list) and bool(low & {str(x).lower() for x in i[key]}))
            )]
        fields = request.args.getlist("fields")
        if fields:
            items = [{k: x for k, x in i.items() if k in fields} for i in items]
        return items

    def one(kind: str, rid: str) -> dict[str, Any] | None:
        return next((i for i in everything(kind) if i["id"] == rid), None)

    def not_found(kind: str, rid: str) -> Any:
        word = {"networks": "Network", "subnets": "Subnet", "ports": "Port", "routers": "Router",
                "security-groups": "Security group", "security-group-rules": "Security group rule"}[kind]
        return _fault(404, f"{word} {rid} could not be found.")

    def bodies(kind: str) -> list[dict[str, Any]] | Any:
        """The resource(s) of a POST: ``{"network": {...}}`` or bulk ``{"networks": [...]}``."""
        body = request.get_json(silent=True)
        key = KINDS[kind]
        if isinstance(body, dict) and isinstance(body.get(kind), list):
            items = body[kind]
        elif isinstance(body, dict) and isinstance(body.get(key), dict):
            items = [body[key]]
        else:
            return _fault(400, f"Resource body required: {{'{key}': {{...}}}}")
        if not all(isinstance(i, dict) for i in items):
            return _fault(400, "Invalid input: each resource must be an object")
        return items

    def new_network(spec: dict[str, Any]) -> dict[str, Any]:
        n = network({"id": str(uuid.uuid4()), "name": spec.get("name", "")})
        n.update(subnets=[], description=spec.get("description", ""),
                 admin_state_up=bool(spec.get("admin_state_up", True)),
                 shared=bool(spec.get("shared", False)),
                 port_security_enabled=bool(spec.get("port_security_enabled", True)))
        return n

    def new_subnet(spec: dict[str, Any]) -> dict[str, Any] | str:
        net = one("networks", spec.get("network_id", ""))
        if net is None:
            return f"404:Network {spec.get('network_id')} could not be found."
        try:
            cidr = ipaddress.ip_network(str(spec.get("cidr")), strict=False)
        except ValueError:
            return f"400:Invalid input for cidr. Reason: '{spec.get('cidr')}' is not a valid IP subnet."
        if int(spec.get("ip_version", 4)) != cidr.version:
            return "400:Invalid input for operation: ip_version and cidr do not match."
        for other in everything("subnets"):
            if other["network_id"] == net["id"] and ipaddress.ip_network(other["cidr"]).overlaps(cidr):
                return (f"400:Invalid input for operation: Requested subnet with cidr: {cidr} for network: "
                        f"{net['id']} overlaps with another subnet.")
        hosts = cidr.hosts() if cidr.num_addresses > 2 else iter(())
        first = next(hosts, cidr.network_address)
        gateway = spec["gateway_ip"] if "gateway_ip" in spec else str(first)
        if gateway is not None:
            try:
                if ipaddress.ip_address(gateway) not in cidr:
                    raise ValueError
            except ValueError:
                return f"400:Invalid input for operation: Gateway IP {gateway} is not in subnet {cidr}."
        pools = spec.get("allocation_pools")
        if pools is None:
            start = ipaddress.ip_address(gateway) + 1 if gateway == str(first) else first
            last = cidr.broadcast_address - 1 if cidr.version == 4 else cidr.broadcast_address
            pools = [{"start": str(start), "end": str(last)}]
        s = dict(subnet)
        s.update(
            id=str(uuid.uuid4()), name=spec.get("name", ""), network_id=net["id"], ip_version=cidr.version,
            cidr=str(cidr), gateway_ip=gateway, enable_dhcp=bool(spec.get("enable_dhcp", True)),
            allocation_pools=pools, dns_nameservers=list(spec.get("dns_nameservers", [])),
            host_routes=list(spec.get("host_routes", [])), description=spec.get("description", ""),
            ipv6_ra_mode=spec.get("ipv6_ra_mode"), ipv6_address_mode=spec.get("ipv6_address_mode"),
        )
        return s

    def new_port(spec: dict[str, Any]) -> dict[str, Any] | str:
        net = one("networks", spec.get("network_id", ""))
        if net is None:
            return f"404:Network {spec.get('network_id')} could not be found."
        pid = str(uuid.uuid4())
        ips = []
        for sub in everything("subnets"):
            if sub["network_id"] == net["id"] and sub["allocation_pools"]:
                used = {ip["ip_address"] for p in everything("ports") for ip in p["fixed_ips"]}
                addr = ipaddress.ip_address(sub["allocation_pools"][0]["start"])
                while str(addr) in used:
                    addr += 1
                ips.append({"subnet_id": sub["id"], "ip_address": str(addr)})
                break
        hexes = pid.replace("-", "")
        return port_body({
            "id": pid, "name": spec.get("name", ""), "network_id": net["id"],
            "mac_address": f"fa:16:3e:{hexes[0:2]}:{hexes[2:4]}:{hexes[4:6]}",
            "fixed_ips": spec.get("fixed_ips", ips), "device_id": spec.get("device_id", ""),
            "device_owner": spec.get("device_owner", ""), "description": spec.get("description", ""),
            "admin_state_up": bool(spec.get("admin_state_up", True)),
        })

    makers: dict[str, Callable[[dict[str, Any]], dict[str, Any] | str]] = {
        "networks": new_network, "subnets": new_subnet, "ports": new_port,
    }

    @app.get("/")
    def versions() -> Any:
        href = request.host_url.rstrip("/") + "/v2.0/"
        return jsonify(
            {"versions": [{"status": "CURRENT", "id": "v2.0", "links": [{"href": href, "rel": "self"}]}]}
        )

    @app.get("/v2.0/<any(networks, subnets, ports, routers, 'security-groups', 'security-group-rules'):kind>")
    def list_resources(kind: str) -> Any:
        return jsonify({kind.replace("-", "_"): shaped(everything(kind))})

    @app.get("/v2.0/<any(networks, subnets, ports, routers, 'security-groups', 'security-group-rules'):kind>"
             "/<rid>")
    def show_resource(kind: str, rid: str) -> Any:
        item = one(kind, rid)
        if item is None:
            return not_found(kind, rid)
        fields = request.args.getlist("fields")
        if fields:
            item = {k: x for k, x in item.items() if k in fields}
        return jsonify({KINDS[kind]: item})

    @app.post("/v2.0/<any(networks, subnets, ports):kind>")
    def create_resources(kind: str) -> Any:
        specs = bodies(kind)
        if not isinstance(specs, list):
            return specs
        out: list[dict[str, Any]] = []
        for spec in specs:
            item = makers[kind](spec)
            if isinstance(item, str):
                status, message = item.split(":", 1)
                for done in out:  # bulk create is all or nothing
                    with lock:
                        made[kind].pop(done["id"], None)
                return _fault(int(status), message)
            with lock:
                made[kind][item["id"]] = item
                if kind == "subnets" and item["network_id"] in made["networks"]:
                    made["networks"][item["network_id"]]["subnets"].append(item["id"])
            out.append(item)
        if len(specs) == 1 and KINDS[kind] in (request.get_json(silent=True) or {}):
            return jsonify({KINDS[kind]: out[0]}), 201
        return jsonify({kind: out}), 201

    @app.put("/v2.0/<any(networks, subnets, ports):kind>/<rid>")
    def update_resource(kind: str, rid: str) -> Any:
        body = request.get_json(silent=True)
        spec = body.get(KINDS[kind]) if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            return _fault(400, f"Resource body required: {{'{KINDS[kind]}': {{...}}}}")
        with lock:
            item = made[kind].get(rid)
        if item is None:
            if one(kind, rid) is not None:
                return _fault(403, f"The {KINDS[kind]} {rid} is the testbed's own: it cannot be changed.")
            return not_found(kind, rid)
        readonly = {"id", "network_id", "cidr", "ip_version", "project_id", "tenant_id", "created_at"}
        bad = sorted(set(spec) & readonly)
        if bad:
            return _fault(400, f"Cannot update read-only attribute {bad[0]}")
        with lock:
            item.update(spec)
            item["revision_number"] = item.get("revision_number", 0) + 1
        return jsonify({KINDS[kind]: dict(item)})

    @app.delete("/v2.0/<any(networks, subnets, ports):kind>/<rid>")
    def delete_resource(kind: str, rid: str) -> Any:
        with lock:
            item = made[kind].pop(rid, None)
            if item is not None and kind == "networks":  # its subnets and ports go with it
                for sub in [k for k, x in made["subnets"].items() if x["network_id"] == rid]:
                    del made["subnets"][sub]
                for port in [k for k, x in made["ports"].items() if x["network_id"] == rid]:
                    del made["ports"][port]
            if item is not None and kind == "subnets" and item["network_id"] in made["networks"]:
                subs = made["networks"][item["network_id"]]["subnets"]
                if rid in subs:
                    subs.remove(rid)
        if item is None:
            if one(kind, rid) is not None:
                return _fault(409, f"The {KINDS[kind]} {rid} is in use by the testbed's servants.")
            return not_found(kind, rid)
        return "", 204

    @app.post("/v2.0/<any(routers, 'security-groups', 'security-group-rules'):kind>")
    @app.put("/v2.0/<any(routers, 'security-groups', 'security-group-rules'):kind>/<rid>")
    @app.delete("/v2.0/<any(routers, 'security-groups', 'security-group-rules'):kind>/<rid>")
    def read_only(kind: str, rid: str = "") -> Any:
        """The testbed models no routing and no security group changes: a clean policy refusal."""
        verb = {"POST": "create", "PUT": "update", "DELETE": "delete"}[request.method]
        message = (f"(rule:{verb}_{KINDS[kind]}) is disallowed by policy: the testbed's "
                   f"{kind.replace('-', ' ')} are read-only")
        fault = {"type": "PolicyNotAuthorized", "message": message, "detail": ""}
        return jsonify({"NeutronError": fault}), 403

    @app.get("/v2.0/quotas/<project_id>")
    @app.get("/v2.0/quotas/<project_id>/details.json")
    @app.get("/v2.0/quotas/<project_id>/details")
    def quotas(project_id: str) -> Any:
        limits = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
                  "security_group": 10, "security_group_rule": 100, "rbac_policy": 10, "subnetpool": -1}
        if "details" in request.path:
            used = {"network": len(everything("networks")), "subnet": len(everything("subnets")),
                    "port": len(everything("ports")), "security_group": 1, "security_group_rule": 2}
            return jsonify({"quota": {k: {"limit": x, "used": used.get(k, 0), "reserved": 0}
                                      for k, x in limits.items()}})
        return jsonify({"quota": limits})

    @app.get("/v2.0/extensions")
    def extensions() -> Any:
        names = ["quotas", "security-group", "router", "external-net", "port-security", "standard-attr-tag",
                 "standard-attr-description", "standard-attr-timestamp", "standard-attr-revisions",
                 "project-id", "availability_zone", "network_availability_zone", "net-mtu", "binding",
                 "allowed-address-pairs", "extra_dhcp_opt", "subnet_allocation", "dns-integration"]
        return jsonify({"extensions": [{"alias": n, "name": n, "description": n, "links": [],
                                        "updated": "2013-01-01T10:00:00-00:00"} for n in names]})

    return app
