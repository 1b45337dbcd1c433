"""Emulated Neutron v2.0 (read-only networks, subnets): clients find the servants' network by name."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request

from arca.testbed.api.common import PROJECT_ID, Cloud, guard, json_errors
from arca.testbed.api.nova import NETWORKS, iso
from arca.testbed.api.octavia import SUBNET_ID


def _fault(status: int, message: str) -> tuple[Any, int]:
    kind = {400: "BadRequest", 401: "Unauthorized", 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed",
            500: "HTTPInternalServerError"}.get(status, "ServiceUnavailable")
    if "Network " in message and status == 404:
        kind = "NetworkNotFound"
    elif "Subnet " in message and status == 404:
        kind = "SubnetNotFound"
    return jsonify({"NeutronError": {"type": kind, "message": message, "detail": ""}}), status


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-neutron")
    guard(app, cloud, "network", open_paths=("/", "/v2.0"), on_error=lambda s, m: _fault(s, m))
    json_errors(app, _fault, "network", cloud)
    created = iso(cloud.model.start)

    def network(n: dict[str, str]) -> dict[str, Any]:
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

    @app.get("/")
    def versions() -> Any:
        href = request.host_url.rstrip("/") + "/v2.0/"
        return jsonify(
            {"versions": [{"status": "CURRENT", "id": "v2.0", "links": [{"href": href, "rel": "self"}]}]}
        )

    @app.get("/v2.0/networks")
    def networks() -> Any:
        name = request.args.get("name")
        return jsonify({"networks": [network(n) for n in NETWORKS if name in (None, n["name"])]})

    @app.get("/v2.0/networks/<nid>")
    def show_network(nid: str) -> Any:
        for n in NETWORKS:
            if n["id"] == nid:
                return jsonify({"network": network(n)})
        return _fault(404, f"Network {nid} could not be found.")

    @app.get("/v2.0/subnets")
    def subnets() -> Any:
        name = request.args.get("name")
        return jsonify({"subnets": [subnet] if name in (None, subnet["name"]) else []})

    @app.get("/v2.0/subnets/<sid>")
    def show_subnet(sid: str) -> Any:
        if sid == SUBNET_ID:
            return jsonify({"subnet": subnet})
        return _fault(404, f"Subnet {sid} could not be found.")

    return app
