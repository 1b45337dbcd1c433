"""Emulated Nova (compute v2.1): version documents, servers, flavors, images (a faithful subset).

Servers created here become servants of the model: BUILD until the model's boot delay has passed
in *simulated* time, then ACTIVE. Fault injection: metadata ``testbed_never_active: "true"`` (or
the control API's ``never-active`` counter) keeps a server in BUILD forever.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, g, jsonify, request

from arca.testbed import lifecycle
from arca.testbed.api.common import PROJECT_ID, USER_ID, Cloud, error, guard, json_errors
from arca.testbed.api.microversion import NotAcceptable, Version, negotiate, requested, v
from arca.testbed.model import ACTIVE, BUILD, DELETED, ERROR, Servant, TestbedModel

MAX_MICROVERSION = "2.96"
"""Nova 2024.1 (Caracal)'s maximum; ``Cloud.compute_max_microversion`` can pin a lower one."""
MIN_MICROVERSION = "2.1"
V2_1 = v(MIN_MICROVERSION)
FLAVORS = [
    {"id": "5f1e4e4c-1b8e-4e39-9a4e-000000000001", "name": "m1.servant", "ram": 2048, "vcpus": 2, "disk": 20},
    {"id": "5f1e4e4c-1b8e-4e39-9a4e-000000000002", "name": "m1.small", "ram": 1024, "vcpus": 1, "disk": 10},
]
IMAGES = [
    {"id": "7a3b0c1d-2e4f-4a5b-8c6d-000000000001", "name": "emergency-servant"},
    {"id": "7a3b0c1d-2e4f-4a5b-8c6d-000000000002", "name": "cirros-0.6.2-x86_64-disk"},
]
NETWORKS = [{"id": "3c6a2a1e-6f1e-4b2c-9d3e-000000000001", "name": "hq-net"}]


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


def server_body(
    s: Servant, model: TestbedModel, base: str, mv: Version = V2_1, *, show: bool = False
) -> dict[str, Any]:
    """A server as Nova shows it to a project member at microversion ``mv`` (``show``: GET one server).

    Fields appear at the microversion that introduced them: ``locked`` 2.9, ``description`` 2.19,
    ``tags`` 2.26, the embedded flavor 2.47 (before: ``{"id", "links"}``), ``trusted_image_certificates``
    2.63, ``server_groups`` 2.71 (show/update/rebuild only), ``locked_reason`` 2.73,
    ``OS-EXT-SRV-ATTR:hostname`` 2.90 (for non-admins), ``pinned_availability_zone`` 2.96;
    ``delete_on_termination`` in attached volumes 2.3. Admin-only fields (``host_status``, the other
    ``OS-EXT-SRV-ATTR:*``) are not shown: the testbed's user is a member.
    """
    flavor = next((f for f in FLAVORS if f["id"] == s.flavor_id), FLAVORS[0])
    net = next((n for n in NETWORKS if n["id"] == s.network_id), NETWORKS[0])
    image_id = s.image_id or IMAGES[0]["id"]
    vm_state = lifecycle.VM_STATE.get(s.status, "active")
    power = lifecycle.POWER_STATE.get(s.status, 1)
    task = s.task_state if s.task_state is not None else ("spawning" if s.status == BUILD else None)
    changed = max(x for x in (s.created_s, s.active_s or 0.0, s.died_s or 0.0, s.deleted_s or 0.0))
    if mv >= v("2.47"):
        flavor_view: dict[str, Any] = {
            "vcpus": flavor["vcpus"],
            "ram": flavor["ram"],
            "disk": flavor["disk"],
            "ephemeral": 0,
            "swap": 0,
            "original_name": flavor["name"],
            "extra_specs": {},
        }
    else:
        link = {"rel": "bookmark", "href": f"{base}/flavors/{flavor['id']}"}
        flavor_view = {"id": flavor["id"], "links": [link]}
    body: dict[str, Any] = {
        "id": s.id,
        "name": s.name,
        "status": s.status,
        "tenant_id": PROJECT_ID,
        "user_id": USER_ID,
        "metadata": dict(s.metadata),
        "hostId": "9f1b" + "0" * 52,
        "image": {"id": image_id, "links": [{"rel": "bookmark", "href": f"{base}/images/{image_id}"}]},
        "flavor": flavor_view,
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
        if s.status not in (BUILD, lifecycle.SHELVED_OFFLOADED)
        else {},
        "accessIPv4": "",
        "accessIPv6": "",
        "OS-DCF:diskConfig": "MANUAL",
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
        "links": [
            {"rel": "self", "href": f"{base}/servers/{s.id}"},
            {"rel": "bookmark", "href": f"{base}/servers/{s.id}"},
        ],
    }
    if s.status in (BUILD, ACTIVE):
        body["progress"] = 0 if s.status == BUILD else 100
    if mv >= v("2.9"):
        body["locked"] = False
    if mv >= v("2.19"):
        body["description"] = None
    if mv >= v("2.26"):
        body["tags"] = list(s.tags)
    if mv >= v("2.63"):
        body["trusted_image_certificates"] = None
    if show and mv >= v("2.71"):
        body["server_groups"] = []
    if mv >= v("2.73"):
        body["locked_reason"] = None
    if mv >= v("2.90"):
        body["OS-EXT-SRV-ATTR:hostname"] = s.name.lower().replace("_", "-")
    if mv >= v("2.96"):
        body["pinned_availability_zone"] = None
    if s.status == ERROR:
        body["fault"] = {
            "code": 500,
            "created": iso(model.time_of(s.died_s or s.created_s)),
            "message": "Instance crashed (failure injected by the testbed)",
        }
    return body


def _version_doc(base: str, maximum: str) -> dict[str, Any]:
    return {
        "id": "v2.1",
        "status": "CURRENT",
        "version": maximum,
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


def _limits(used: int, mv: Version) -> dict[str, Any]:
    """``GET /limits``: 2.36 drops the network-proxy limits, 2.39 ``maxImageMeta``, 2.57 personality."""
    absolute: dict[str, int] = {
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
        "maxTotalKeypairs": 100,
    }
    if mv < v("2.36"):
        absolute.update(maxSecurityGroups=10, maxSecurityGroupRules=20, maxTotalFloatingIps=10,
                        totalFloatingIpsUsed=0, totalSecurityGroupsUsed=1)
    if mv < v("2.39"):
        absolute["maxImageMeta"] = 128
    if mv < v("2.57"):
        absolute.update(maxPersonality=5, maxPersonalitySize=10240)
    return {"limits": {"rate": [], "absolute": absolute}}


SERVER_CREATE_FIELDS = {
    "name", "imageRef", "flavorRef", "networks", "metadata", "OS-DCF:diskConfig", "security_groups",
    "availability_zone", "key_name", "user_data", "config_drive", "accessIPv4", "accessIPv6",
    "min_count", "max_count", "return_reservation_id", "block_device_mapping_v2", "adminPass",
}
"""Fields of ``POST /servers`` at 2.1; later ones per microversion in ``_CREATE_SINCE``."""
_CREATE_SINCE = {"description": "2.19", "tags": "2.52", "trusted_image_certificates": "2.63",
                 "host": "2.74", "hypervisor_hostname": "2.74", "hostname": "2.90"}

ACTIONS = {
    "os-stop": "os-stop", "os-start": "os-start", "suspend": "suspend", "resume": "resume",
    "pause": "pause", "unpause": "unpause", "shelve": "shelve", "unshelve": "unshelve",
}


def create_app(cloud: Cloud) -> Flask:
    """The Nova app; microversions negotiated per request up to ``cloud.compute_max_microversion``."""
    app = Flask("testbed-nova")
    model = cloud.model
    guard(app, cloud, "compute", open_paths=("/", "/v2.1"),
          request_id_headers=("x-openstack-request-id", "x-compute-request-id"))
    json_errors(app, error, "compute", cloud)
    maximum = v(cloud.compute_max_microversion)
    if not V2_1 <= maximum <= v(MAX_MICROVERSION):
        raise ValueError(f"compute_max_microversion must be within 2.1..{MAX_MICROVERSION}")

    def root() -> str:
        return request.host_url.rstrip("/")

    def base() -> str:
        return root() + "/v2.1"

    def mv() -> Version:
        return getattr(g, "mv", V2_1)

    @app.before_request
    def negotiate_version() -> Any:
        if not request.path.startswith("/v2.1"):
            return None
        try:
            g.mv = negotiate(
                requested(request.headers, "compute", "X-OpenStack-Nova-API-Version"), V2_1, maximum
            )
        except NotAcceptable as exc:
            return error(406, str(exc))
        except ValueError as exc:
            return error(400, str(exc))
        return None

    @app.after_request
    def microversion(resp: Any) -> Any:
        if request.path.startswith("/v2.1"):
            served = str(getattr(g, "mv", V2_1))
            resp.headers["OpenStack-API-Version"] = f"compute {served}"
            resp.headers["X-OpenStack-Nova-API-Version"] = served
            resp.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return resp

    def not_found() -> Any:
        return error(404, "The resource could not be found.")

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
        return jsonify({"versions": [v2, _version_doc(root(), str(maximum))]})

    @app.get("/v2.1")
    @app.get("/v2.1/")
    def version() -> Any:
        return jsonify({"version": _version_doc(root(), str(maximum))})

    def find(server_id: str) -> Servant | None:
        with model.lock:
            s = model.servants.get(server_id)
            return s if s is not None and s.status != DELETED else None

    def missing(server_id: str) -> Any:
        return error(404, f"Instance {server_id} could not be found.")

    def visible(args: Any) -> list[Servant] | Any:
        with model.lock:
            out = [s for s in model.servants.values() if s.status != DELETED]
        out.sort(key=lambda s: (s.created_s, s.id))
        if "name" in args:
            try:
                rx = re.compile(args["name"])
            except re.error:
                return error(400, f"Invalid input for query parameters name. Value: {args['name']}.")
            out = [s for s in out if rx.search(s.name)]
        if "status" in args:
            out = [s for s in out if s.status == args["status"].upper()]
        # tag filters exist from 2.26 on; before, Nova drops unknown filters for non-admins
        if "tags" in args and mv() >= v("2.26"):
            want = set(args["tags"].split(","))
            out = [s for s in out if want <= set(s.tags)]
        if "tags-any" in args and mv() >= v("2.26"):
            anyof = set(args["tags-any"].split(","))
            out = [s for s in out if anyof & set(s.tags)]
        if "marker" in args:
            ids = [s.id for s in out]
            if args["marker"] not in ids:
                return error(400, f"marker [{args['marker']}] not found")
            out = out[ids.index(args["marker"]) + 1 :]
        if "limit" in args:
            try:
                limit = int(args["limit"])
                if limit < 0:
                    raise ValueError
            except ValueError:
                return error(400, f"Invalid input for query parameters limit. Value: {args['limit']}.")
            out = out[:limit]
        return out

    @app.get("/v2.1/servers")
    def list_servers() -> Any:
        found = visible(request.args)
        if not isinstance(found, list):
            return found
        links = lambda s: server_body(s, model, base())["links"]  # noqa: E731
        return jsonify({"servers": [{"id": s.id, "name": s.name, "links": links(s)} for s in found]})

    @app.get("/v2.1/servers/detail")
    def list_servers_detail() -> Any:
        found = visible(request.args)
        if not isinstance(found, list):
            return found
        return jsonify({"servers": [server_body(s, model, base(), mv()) for s in found]})

    @app.get("/v2.1/servers/<server_id>")
    def show_server(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        return jsonify({"server": server_body(s, model, base(), mv(), show=True)})

    @app.post("/v2.1/servers")
    def create_server() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
            return error(400, "Invalid input for field/attribute server.")
        spec = body["server"]
        for key in spec:
            since = _CREATE_SINCE.get(key)
            if key not in SERVER_CREATE_FIELDS and (since is None or mv() < v(since)):
                return error(
                    400,
                    "Invalid input for field/attribute server. Value: {...}. "
                    f"Additional properties are not allowed ('{key}' was unexpected)",
                )
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            return error(400, "Invalid input for field/attribute name.")
        image = spec.get("imageRef", "")
        if not any(i["id"] == image for i in IMAGES):
            return error(400, "Invalid imageRef provided.")
        flavor = spec.get("flavorRef", "")
        if not any(f["id"] == flavor for f in FLAVORS):
            return error(400, f"Flavor {flavor} could not be found.")
        if "networks" not in spec and mv() >= v("2.37"):
            return error(400, "Invalid input for field/attribute server. Value: {...}. "
                              "'networks' is a required property")
        networks = spec.get("networks", [])
        if isinstance(networks, str) and mv() < v("2.37"):  # "auto"/"none" are 2.37+
            return error(400, f"Invalid input for field/attribute networks. Value: {networks}. "
                              f"'{networks}' is not of type 'array'")
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
            isinstance(k, str) and isinstance(v_, str) and len(k) <= 255 and len(v_) <= 255
            for k, v_ in metadata.items()
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
                    "links": [
                        {"rel": "self", "href": f"{base()}/servers/{s.id}"},
                        {"rel": "bookmark", "href": f"{root()}/servers/{s.id}"},
                    ],
                }
            }
        )
        resp.status_code = 202
        resp.headers["Location"] = f"{base()}/servers/{s.id}"
        return resp

    @app.delete("/v2.1/servers/<server_id>")
    def delete_server(server_id: str) -> Any:
        if find(server_id) is None:
            return missing(server_id)
        model.delete_servant(server_id)
        model.flush_events()
        return "", 204

    @app.post("/v2.1/servers/<server_id>/action")
    def server_action(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or len(body) != 1:
            return error(400, "Malformed request body: one action expected")
        (name, arg), = body.items()
        if name == "reboot":
            kind = arg.get("type") if isinstance(arg, dict) else None
            if kind not in ("SOFT", "HARD", "soft", "hard"):
                choices = "['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"
                return error(400, f"Invalid input for field/attribute type. Value: {kind}. "
                                  f"'{kind}' is not one of {choices}")
            action = f"reboot:{kind.upper()}"
        elif name in ACTIONS:
            action = ACTIONS[name]
        else:
            return error(400, f"There is no such action: {name}")
        try:
            model.server_action(server_id, action)
        except lifecycle.Conflict as exc:
            return error(409, str(exc))
        model.flush_events()
        return "", 202

    def tags_route() -> Any:
        return mv() >= v("2.26")

    @app.get("/v2.1/servers/<server_id>/tags")
    def get_tags(server_id: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        return jsonify({"tags": list(s.tags)})

    @app.get("/v2.1/servers/<server_id>/tags/<tag>")
    def check_tag(server_id: str, tag: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        if tag not in s.tags:
            return error(404, f"Tag {tag} could not be found for server {server_id}.")
        return "", 204

    @app.put("/v2.1/servers/<server_id>/tags/<tag>")
    def add_tag(server_id: str, tag: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        if not 0 < len(tag) <= 60 or "," in tag or "/" in tag:
            return error(400, f"Tag '{tag}' is invalid.")
        with model.lock:
            if tag in s.tags:
                return "", 204
            s.tags.append(tag)
        resp = app.make_response(("", 201))
        resp.headers["Location"] = f"{base()}/servers/{server_id}/tags/{tag}"
        return resp

    @app.get("/v2.1/servers/<server_id>/metadata")
    def get_metadata(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        return jsonify({"metadata": dict(s.metadata)})

    @app.get("/v2.1/os-availability-zone")
    def availability_zones() -> Any:
        return jsonify({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True},
                                                  "hosts": None}]})

    @app.get("/v2.1/os-keypairs")
    def keypairs() -> Any:
        return jsonify({"keypairs": []})

    def flavor_view(f: dict[str, Any], detail: bool) -> dict[str, Any]:
        links = [
            {"rel": "self", "href": f"{base()}/flavors/{f['id']}"},
            {"rel": "bookmark", "href": f"{root()}/flavors/{f['id']}"},
        ]
        out: dict[str, Any] = {"id": f["id"], "name": f["name"], "links": links}
        if detail:
            out.update({
                "ram": f["ram"],
                "vcpus": f["vcpus"],
                "disk": f["disk"],
                "OS-FLV-EXT-DATA:ephemeral": 0,
                "swap": 0 if mv() >= v("2.75") else "",
                "rxtx_factor": 1.0,
                "os-flavor-access:is_public": True,
                "OS-FLV-DISABLED:disabled": False,
            })
            if mv() >= v("2.61"):
                out["extra_specs"] = {}
        if mv() >= v("2.55"):
            out["description"] = None
        return out

    @app.get("/v2.1/flavors")
    def list_flavors() -> Any:
        return jsonify({"flavors": [flavor_view(f, False) for f in FLAVORS]})

    @app.get("/v2.1/flavors/detail")
    def list_flavors_detail() -> Any:
        return jsonify({"flavors": [flavor_view(f, True) for f in FLAVORS]})

    @app.get("/v2.1/flavors/<flavor_id>")
    def show_flavor(flavor_id: str) -> Any:
        for f in FLAVORS:
            if flavor_id == f["id"]:
                return jsonify({"flavor": flavor_view(f, True)})
        return error(404, f"Flavor {flavor_id} could not be found.")

    def image_proxy() -> bool:
        return mv() < v("2.36")  # the image proxy API is gone from 2.36 on (404)

    @app.get("/v2.1/images")
    @app.get("/v2.1/images/detail")
    def list_images() -> Any:
        if not image_proxy():
            return not_found()
        detail = request.path.endswith("/detail")
        items = [_image(i, base(), model) for i in IMAGES]
        if not detail:
            items = [{"id": i["id"], "name": i["name"], "links": i["links"]} for i in items]
        return jsonify({"images": items})

    @app.get("/v2.1/images/<image_id>")
    def show_image(image_id: str) -> Any:
        if not image_proxy():
            return not_found()
        for i in IMAGES:
            if image_id == i["id"]:
                return jsonify({"image": _image(i, base(), model)})
        return error(404, f"Image {image_id} could not be found.")

    @app.get("/v2.1/limits")
    def limits() -> Any:
        found = visible({})
        return jsonify(_limits(len(found) if isinstance(found, list) else 0, mv()))

    return app
