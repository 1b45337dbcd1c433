"""Emulated Nova (compute v2.1): version documents, servers, flavors, images (a faithful subset).

Servers created here become servants of the model: BUILD until the model's boot delay has passed
in *simulated* time, then ACTIVE. Fault injection: metadata ``testbed_never_active: "true"`` (or
the control API's ``never-active`` counter) keeps a server in BUILD forever.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, jsonify, request

from testbed.api.common import PROJECT_ID, USER_ID, Cloud, error, guard
from testbed.model import ACTIVE, BUILD, DELETED, ERROR, Servant, TestbedModel

MAX_MICROVERSION = "2.96"
MIN_MICROVERSION = "2.1"
FLAVORS = [
    {"id": "5f1e4e4c-1b8e-4e39-9a4e-000000000001", "name": "m1.servant", "ram": 2048, "vcpus": 2, "disk": 20},
    {"id": "5f1e4e4c-1b8e-4e39-9a4e-000000000002", "name": "m1.small", "ram": 1024, "vcpus": 1, "disk": 10},
]
IMAGES = [
    {"id": "7a3b0c1d-2e4f-4a5b-8c6d-000000000001", "name": "emergency-servant"},
    {"id": "7a3b0c1d-2e4f-4a5b-8c6d-000000000002", "name": "cirros-0.6.2-x86_64-disk"},
]
NETWORKS = [{"id": "3c6a2a1e-6f1e-4b2c-9d3e-000000000001", "name": "hq-net"}]
STATE = {BUILD: ("building", "spawning", 0), ACTIVE: ("active", None, 1), ERROR: ("error", None, 4)}


def mac(ip: str) -> str:
    a, b, c = (int(x) % 256 for x in ip.split(".")[1:])
    return f"fa:16:3e:{a:02x}:{b:02x}:{c:02x}"


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _flavor(f: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "id": f["id"],
        "name": f["name"],
        "ram": f["ram"],
        "vcpus": f["vcpus"],
        "disk": f["disk"],
        "OS-FLV-EXT-DATA:ephemeral": 0,
        "swap": 0,
        "rxtx_factor": 1.0,
        "os-flavor-access:is_public": True,
        "OS-FLV-DISABLED:disabled": False,
        "description": None,
        "extra_specs": {},
        "links": [{"rel": "self", "href": f"{base}/flavors/{f['id']}"}],
    }


def _image(i: dict[str, Any], base: str, model: TestbedModel) -> dict[str, Any]:
    ts = iso(model.start)
    return {
        "id": i["id"],
        "name": i["name"],
        "status": "ACTIVE",
        "minDisk": 0,
        "minRam": 0,
        "progress": 100,
        "metadata": {},
        "created": ts,
        "updated": ts,
        "OS-EXT-IMG-SIZE:size": 21430272,
        "links": [{"rel": "self", "href": f"{base}/images/{i['id']}"}],
    }


def server_body(s: Servant, model: TestbedModel, base: str) -> dict[str, Any]:
    flavor = next((f for f in FLAVORS if f["id"] == s.flavor_id), FLAVORS[0])
    net = next((n for n in NETWORKS if n["id"] == s.network_id), NETWORKS[0])
    image_id = s.image_id or IMAGES[0]["id"]
    vm_state, task, power = STATE.get(s.status, ("deleted", None, 0))
    changed = max(x for x in (s.created_s, s.active_s or 0.0, s.died_s or 0.0, s.deleted_s or 0.0))
    body: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "tenant_id": PROJECT_ID,
        "user_id": USER_ID,
        "metadata": dict(s.metadata),
        "hostId": "9f1b" + "0" * 52,
        "host_status": "UP",
        "image": {"id": image_id, "links": [{"rel": "bookmark", "href": f"{base}/images/{image_id}"}]},
        "flavor": {
            "vcpus": flavor["vcpus"],
            "ram": flavor["ram"],
            "disk": flavor["disk"],
            "ephemeral": 0,
            "swap": 0,
            "original_name": flavor["name"],
            "extra_specs": {},
        },
        "created": iso(model.time_of(s.created_s)),
        "updated": iso(model.time_of(changed)),
        "addresses": {
            net["name"]: [
                {
                    "version": 4,
                    "addr": s.ip,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": mac(s.ip),
                }
            ]
        }
        if s.status != BUILD
        else {},
        "accessIPv4": "",
        "accessIPv6": "",
        "OS-DCF:diskConfig": "MANUAL",
        "progress": 0 if s.status == BUILD else 100,
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "",
        "key_name": None,
        "OS-SRV-USG:launched_at": iso(model.time_of(s.active_s)) if s.active_s is not None else None,
        "OS-SRV-USG:terminated_at": iso(model.time_of(s.deleted_s)) if s.deleted_s is not None else None,
        "security_groups": [{"name": "default"}],
        "OS-EXT-STS:task_state": task,
        "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": power,
        "os-extended-volumes:volumes_attached": [],
        "locked": False,
        "locked_reason": None,
        "description": None,
        "tags": list(s.tags),
        "trusted_image_certificates": None,
        "server_groups": [],
        "pinned_availability_zone": None,
        "links": [
            {"rel": "self", "href": f"{base}/servers/{s.id}"},
            {"rel": "bookmark", "href": f"{base}/servers/{s.id}"},
        ],
    }
    if s.status == ERROR:
        body["fault"] = {
            "code": 500,
            "created": iso(model.time_of(s.died_s or s.created_s)),
            "message": "Instance crashed (failure injected by the testbed)",
        }
    return body


def _version_doc(base: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": MAX_MICROVERSION,
        "min_version": MIN_MICROVERSION,
        "updated": "2013-07-23T11:33:21Z",
        "links": [
            {"rel": "self", "href": f"{base}/v2.1/"},
            {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
        ],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
        ],
    }


def create_app(cloud: Cloud) -> Flask:
    app = Flask("testbed-nova")
    model = cloud.model
    guard(app, cloud, "compute", open_paths=("/", "/v2.1"))

    def root() -> str:
        return request.host_url.rstrip("/")

    def base() -> str:
        return root() + "/v2.1"

    @app.after_request
    def microversion(resp: Any) -> Any:
        resp.headers["OpenStack-API-Version"] = f"compute {MAX_MICROVERSION}"
        resp.headers["X-OpenStack-Nova-API-Version"] = MAX_MICROVERSION
        resp.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return resp

    @app.get("/")
    def versions() -> Any:
        v2 = {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [{"rel": "self", "href": f"{root()}/v2/"}],
        }
        return jsonify({"versions": [v2, _version_doc(root())]})

    @app.get("/v2.1")
    @app.get("/v2.1/")
    def version() -> Any:
        return jsonify({"version": _version_doc(root())})

    def find(server_id: str) -> Servant | None:
        with model.lock:
            s = model.servants.get(server_id)
            return s if s is not None and s.status != DELETED else None

    def visible(args: Any) -> list[Servant]:
        with model.lock:
            out = [s for s in model.servants.values() if s.status != DELETED]
        out.sort(key=lambda s: (s.created_s, s.id))
        if "name" in args:
            rx = re.compile(args["name"])
            out = [s for s in out if rx.search(s.name)]
        if "status" in args:
            out = [s for s in out if s.status == args["status"].upper()]
        if "tags" in args:
            want = set(args["tags"].split(","))
            out = [s for s in out if want <= set(s.tags)]
        if "tags-any" in args:
            anyof = set(args["tags-any"].split(","))
            out = [s for s in out if anyof & set(s.tags)]
        if "marker" in args:
            ids = [s.id for s in out]
            if args["marker"] not in ids:
                return []
            out = out[ids.index(args["marker"]) + 1 :]
        if "limit" in args:
            out = out[: int(args["limit"])]
        return out

    @app.get("/v2.1/servers")
    def list_servers() -> Any:
        return jsonify(
            {
                "servers": [
                    {"id": s.id, "name": s.name, "links": server_body(s, model, base())["links"]}
                    for s in visible(request.args)
                ]
            }
        )

    @app.get("/v2.1/servers/detail")
    def list_servers_detail() -> Any:
        return jsonify({"servers": [server_body(s, model, base()) for s in visible(request.args)]})

    @app.get("/v2.1/servers/<server_id>")
    def show_server(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return error(404, f"Instance {server_id} could not be found.")
        return jsonify({"server": server_body(s, model, base())})

    @app.post("/v2.1/servers")
    def create_server() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
            return error(400, "Invalid input for field/attribute server.")
        spec = body["server"]
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            return error(400, "Invalid input for field/attribute name.")
        image = spec.get("imageRef", "")
        if not any(i["id"] == image for i in IMAGES):
            return error(400, "Invalid imageRef provided.")
        flavor = spec.get("flavorRef", "")
        if not any(f["id"] == flavor for f in FLAVORS):
            return error(400, f"Flavor {flavor} could not be found.")
        networks = spec.get("networks", "auto")
        net_id = NETWORKS[0]["id"]
        if isinstance(networks, list):
            for n in networks:
                uuid_ = n.get("uuid") if isinstance(n, dict) else None
                if uuid_ is not None and not any(x["id"] == uuid_ for x in NETWORKS):
                    return error(400, f"Network {uuid_} could not be found.")
                if uuid_:
                    net_id = uuid_
        elif networks not in ("auto", "none"):
            return error(400, "Invalid input for field/attribute networks.")
        metadata = spec.get("metadata") or {}
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 255 and len(v) <= 255
            for k, v in metadata.items()
        ):
            return error(400, "Invalid input for field/attribute metadata.")
        tags = spec.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 60 for t in tags):
            return error(400, "Invalid input for field/attribute tags.")
        s = model.create_servant(
            name, metadata=metadata, tags=tags, image_id=image, flavor_id=flavor, network_id=net_id
        )
        model.flush_events()
        resp = jsonify(
            {
                "server": {
                    "id": s.id,
                    "OS-DCF:diskConfig": "MANUAL",
                    "security_groups": [{"name": "default"}],
                    "adminPass": "t3stb3d",
                    "links": [{"rel": "self", "href": f"{base()}/servers/{s.id}"}],
                }
            }
        )
        resp.status_code = 202
        resp.headers["Location"] = f"{base()}/servers/{s.id}"
        return resp

    @app.delete("/v2.1/servers/<server_id>")
    def delete_server(server_id: str) -> Any:
        if find(server_id) is None:
            return error(404, f"Instance {server_id} could not be found.")
        model.delete_servant(server_id)
        model.flush_events()
        return "", 204

    @app.get("/v2.1/servers/<server_id>/tags")
    def get_tags(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return error(404, f"Instance {server_id} could not be found.")
        return jsonify({"tags": list(s.tags)})

    @app.put("/v2.1/servers/<server_id>/tags/<tag>")
    def add_tag(server_id: str, tag: str) -> Any:
        s = find(server_id)
        if s is None:
            return error(404, f"Instance {server_id} could not be found.")
        with model.lock:
            if tag not in s.tags:
                s.tags.append(tag)
        return "", 201

    @app.get("/v2.1/flavors")
    def list_flavors() -> Any:
        return jsonify(
            {
                "flavors": [
                    {
                        "id": f["id"],
                        "name": f["name"],
                        "description": None,
                        "links": _flavor(f, base())["links"],
                    }
                    for f in FLAVORS
                ]
            }
        )

    @app.get("/v2.1/flavors/detail")
    def list_flavors_detail() -> Any:
        return jsonify({"flavors": [_flavor(f, base()) for f in FLAVORS]})

    @app.get("/v2.1/flavors/<flavor_id>")
    def show_flavor(flavor_id: str) -> Any:
        for f in FLAVORS:
            if flavor_id in (f["id"], f["name"]):
                return jsonify({"flavor": _flavor(f, base())})
        return error(404, f"Flavor {flavor_id} could not be found.")

    @app.get("/v2.1/images")
    @app.get("/v2.1/images/detail")
    def list_images() -> Any:
        return jsonify({"images": [_image(i, base(), model) for i in IMAGES]})

    @app.get("/v2.1/images/<image_id>")
    def show_image(image_id: str) -> Any:
        for i in IMAGES:
            if image_id == i["id"]:
                return jsonify({"image": _image(i, base(), model)})
        return error(404, f"Image {image_id} could not be found.")

    @app.get("/v2.1/limits")
    def limits() -> Any:
        used = len(visible({}))
        return jsonify(
            {
                "limits": {
                    "rate": [],
                    "absolute": {
                        "maxTotalInstances": 20,
                        "totalInstancesUsed": used,
                        "maxTotalCores": 40,
                        "totalCoresUsed": 2 * used,
                        "maxTotalRAMSize": 51200,
                        "totalRAMUsed": 2048 * used,
                        "maxServerMeta": 128,
                        "maxServerGroups": 10,
                        "maxServerGroupMembers": 10,
                        "totalServerGroupsUsed": 0,
                        "maxPersonality": 5,
                        "maxPersonalitySize": 10240,
                        "maxImageMeta": 128,
                        "maxTotalKeypairs": 100,
                        "maxSecurityGroups": 10,
                        "maxSecurityGroupRules": 20,
                        "maxTotalFloatingIps": 10,
                        "totalFloatingIpsUsed": 0,
                        "totalSecurityGroupsUsed": 1,
                    },
                }
            }
        )

    return app
