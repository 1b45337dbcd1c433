"""Emulated Nova (compute v2.1): version documents, servers, flavors, images (a faithful subset).

Servers created here become servants of the model: BUILD until the model's boot delay has passed
in *simulated* time, then ACTIVE. Fault injection: metadata ``testbed_never_active: "true"`` (or
the control API's ``never-active`` counter) keeps a server in BUILD forever.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import secrets
import string
import threading
import uuid
from datetime import UTC, datetime
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
FLAVORS: list[dict[str, Any]] = [
    {"id": "5f1e4e4c-1b8e-4e39-9a4e-000000000001", "name": "m1.servant", "ram": 2048, "vcpus": 2, "disk": 20},
    {"id": "5f1e4e4c-1b8e-4e39-9a4e-000000000002", "name": "m1.small", "ram": 1024, "vcpus": 1, "disk": 10},
]
IMAGES: list[dict[str, Any]] = [
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
        "status": str(i.get("status", "active")).upper(),
        "minDisk": int(i.get("min_disk") or 0),
        "minRam": int(i.get("min_ram") or 0),
        "progress": 100,
        "metadata": {},
        "created": ts,
        "updated": ts,
        "OS-EXT-IMG-SIZE:size": 21430272,
        "links": [{"rel": "self", "href": f"{base}/images/{i['id']}"}],
    }


def server_body(
    s: Servant,
    model: TestbedModel,
    base: str,
    mv: Version = V2_1,
    *,
    show: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A server as Nova shows it to a project member at microversion ``mv`` (``show``: GET one server).

    Fields appear at the microversion that introduced them: ``locked`` 2.9, ``description`` 2.19,
    ``tags`` 2.26, the embedded flavor 2.47 (before: ``{"id", "links"}``), ``trusted_image_certificates``
    2.63, ``server_groups`` 2.71 (show/update/rebuild only), ``locked_reason`` 2.73,
    ``OS-EXT-SRV-ATTR:hostname`` 2.90 (for non-admins), ``pinned_availability_zone`` 2.96;
    ``delete_on_termination`` in attached volumes 2.3. Admin-only fields (``host_status``, the other
    ``OS-EXT-SRV-ATTR:*``) are not shown: the testbed's user is a member. ``extra``: what the Nova
    app keeps beside the model (access IPs, key name, lock, security groups, description).
    """
    x = extra or {}
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
        "accessIPv4": x.get("accessIPv4", ""),
        "accessIPv6": x.get("accessIPv6", ""),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "",
        "key_name": x.get("key_name"),
        "OS-SRV-USG:launched_at": iso(model.time_of(s.active_s)) if s.active_s is not None else None,
        "OS-SRV-USG:terminated_at": iso(model.time_of(s.deleted_s)) if s.deleted_s is not None else None,
        "OS-EXT-STS:task_state": task,
        "OS-EXT-STS:vm_state": vm_state,
        "OS-EXT-STS:power_state": power,
        "os-extended-volumes:volumes_attached": [],
        "links": [
            {"rel": "self", "href": f"{base}/servers/{s.id}"},
            {"rel": "bookmark", "href": f"{base}/servers/{s.id}"},
        ],
    }
    groups = x.get("security_groups", ["default"])
    if groups:  # Nova leaves the key out once every group is removed
        body["security_groups"] = [{"name": n} for n in groups]
    if s.status in (BUILD, ACTIVE):
        body["progress"] = 0 if s.status == BUILD else 100
    if mv >= v("2.9"):
        body["locked"] = bool(x.get("locked"))
    if mv >= v("2.19"):
        body["description"] = x.get("description")
    if mv >= v("2.26"):
        body["tags"] = list(s.tags)
    if mv >= v("2.63"):
        body["trusted_image_certificates"] = None
    if show and mv >= v("2.71"):
        body["server_groups"] = []
    if mv >= v("2.73"):
        body["locked_reason"] = x.get("locked_reason")
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


CONSOLE_LOG = [
    "[    0.000000] Linux version 6.1.0-testbed (arca@testbed) #1 SMP",
    "[    0.000000] Command line: BOOT_IMAGE=/vmlinuz root=/dev/vda1 console=ttyS0",
    "[    0.812345] Run /sbin/init as init process",
    "[    1.204511] cloud-init[214]: Cloud-init v. 23.4 running 'init-local'",
    "[    2.301288] cloud-init[231]: ci-info: ++++++++++++Net device info++++++++++++",
    "[    2.905613] cloud-init[231]: Cloud-init v. 23.4 running 'modules:config'",
    "[    3.118844] relay[302]: emergency relay listening on :8080",
    "[    3.301577] cloud-init[340]: Cloud-init v. 23.4 finished",
    "login: ",
]
"""What ``os-getConsoleOutput`` returns: a guest's boot log (the servants are simulated)."""

UNSUPPORTED_ACTIONS = {
    "createImage", "createBackup", "resize", "confirmResize", "revertResize", "changePassword", "rescue",
    "unrescue", "migrate", "os-migrateLive", "evacuate", "os-getVNCConsole", "os-getSPICEConsole",
    "os-getSerialConsole", "os-getRDPConsole", "addFixedIp", "removeFixedIp", "addFloatingIp",
    "removeFloatingIp", "os-resetState", "injectNetworkInfo", "resetNetwork", "shelveOffload",
    "restore", "forceDelete", "trigger_crash_dump",
}
"""Nova actions the testbed does not model: Nova's answer for a feature its cloud lacks
(``common.raise_feature_not_supported``: 400 "The requested functionality is not supported.")."""

MAX_SERVER_META = 128
MEMBER_FORBIDDEN = {
    "/v2.1/os-availability-zone/detail": "os_compute_api:os-availability-zone:detail",
    "/v2.1/os-hypervisors": "os_compute_api:os-hypervisors:list",
    "/v2.1/os-hypervisors/detail": "os_compute_api:os-hypervisors:list-detail",
    "/v2.1/os-services": "os_compute_api:os-services:list",
    "/v2.1/os-aggregates": "os_compute_api:os-aggregates:index",
    "/v2.1/os-simple-tenant-usage": "os_compute_api:os-simple-tenant-usage:list",
}
"""Admin-only reads (Nova's default policy): a project member gets 403 naming the rule."""


UPDATE_VIEW = {
    "id", "name", "status", "image", "flavor", "user_id", "tenant_id", "created", "updated", "metadata",
    "links", "addresses", "hostId", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig", "progress", "fault",
    "locked", "description", "tags", "trusted_image_certificates", "server_groups", "locked_reason",
    "pinned_availability_zone", "user_data",
}
"""What update and rebuild answer before 2.75 (Nova's view without the extended attributes)."""


def update_view(body: dict[str, Any], mv: Version) -> dict[str, Any]:
    """The server as ``PUT /servers/{id}`` and ``rebuild`` answer it (2.75+: as ``GET`` shows it)."""
    if mv >= v("2.75"):
        return body
    out = {k: x for k, x in body.items() if k in UPDATE_VIEW}
    out["addresses"] = {  # without the OS-EXT-IPS extensions (Nova: extend_address=False)
        net: [{"version": a["version"], "addr": a["addr"]} for a in addrs]
        for net, addrs in body.get("addresses", {}).items()
    }
    return out


def images_of(cloud: Cloud) -> list[dict[str, Any]]:
    """Every image the cloud has: the fixed ones and those made while it runs (``Cloud.images``)."""
    with cloud.lock:
        made = [dict(i) for i in cloud.images.values()]
    fixed = [{**i, "status": "active", "min_ram": 0, "min_disk": 0} for i in IMAGES]
    return fixed + made


def _date_time(name: str, value: str) -> datetime | Any:
    """A query parameter that must be an ISO 8601 date-time (Nova's schema), or Nova's 400."""
    try:
        t = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        return error(400, f"Invalid input for query parameters {name}. Value: {value}. "
                          f"'{value}' is not a 'date-time'")
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _ip_field(spec: dict[str, Any], key: str) -> Any:
    """``accessIPv4``/``accessIPv6`` of a create/update/rebuild body validated, or Nova's 400."""
    value = spec.get(key, "")
    kind = ipaddress.IPv4Address if key == "accessIPv4" else ipaddress.IPv6Address
    if value in ("", None):
        return ""
    try:
        return str(kind(value))
    except (ValueError, TypeError):
        fmt = "ipv4" if key == "accessIPv4" else "ipv6"
        return error(400, f"Invalid input for field/attribute {key}. Value: {value}. "
                          f"'{value}' is not a '{fmt}'")


def _keypair(name: str, public_key: str | None, key_type: str) -> dict[str, Any]:
    """A key pair as Nova stores it; without ``public_key`` one is generated (with its private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = None
    if public_key is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_key = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode() + " Generated-by-Nova"
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
    parts = public_key.split()
    blob = base64.b64decode(parts[1]) if len(parts) > 1 else public_key.encode()
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    out: dict[str, Any] = {
        "name": name,
        "public_key": public_key,
        "fingerprint": ":".join(digest[i : i + 2] for i in range(0, 32, 2)),
        "user_id": USER_ID,
        "type": key_type,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000"),
        "deleted": False,
        "deleted_at": None,
        "updated_at": None,
        "id": 0,
    }
    if private is not None:
        out["private_key"] = private
    return out



def paginate(out: list[Any], ids: list[str], args: Any) -> Any:
    """Nova's ``marker`` and ``limit`` over ``out`` (whose ids are ``ids``): the page, or a 400."""
    if "marker" in args:
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

def create_app(cloud: Cloud) -> Flask:
    """The Nova app; microversions negotiated per request up to ``cloud.compute_max_microversion``."""
    app = Flask("testbed-nova")
    model = cloud.model
    guard(app, cloud, "compute", open_paths=("/", "/v2.1", "/v2"),
          request_id_headers=("x-openstack-request-id", "x-compute-request-id"))
    json_errors(app, error, "compute", cloud)
    maximum = v(cloud.compute_max_microversion)
    if not V2_1 <= maximum <= v(MAX_MICROVERSION):
        raise ValueError(f"compute_max_microversion must be within 2.1..{MAX_MICROVERSION}")
    extras: dict[str, dict[str, Any]] = {}
    """Server id -> what Nova keeps that the model does not (access IPs, key, lock, groups, events)."""
    keypairs: dict[str, dict[str, Any]] = {}
    state = threading.Lock()

    def root() -> str:
        return request.host_url.rstrip("/")

    def base() -> str:
        return root() + "/v2.1"

    def mv() -> Version:
        return getattr(g, "mv", V2_1)

    def extra(sid: str) -> dict[str, Any]:
        with state:
            return extras.setdefault(sid, {"security_groups": ["default"], "events": []})

    def event(sid: str, action: str) -> None:
        """Record an instance action (``os-instance-actions``) under this request's id."""
        rec = {
            "action": action,
            "instance_uuid": sid,
            "request_id": getattr(g, "request_id", ""),
            "user_id": USER_ID,
            "project_id": PROJECT_ID,
            "start_time": iso(model.time_of(model.t)).replace("Z", ".000000"),
            "message": None,
        }
        if mv() >= v("2.58"):
            rec["updated_at"] = rec["start_time"]
        extra(sid)["events"].append(rec)

    def body_of(s: Servant, *, show: bool = False) -> dict[str, Any]:
        return server_body(s, model, base(), mv(), show=show, extra=extras.get(s.id))

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

    @app.before_request
    def member_forbidden() -> Any:
        rule = MEMBER_FORBIDDEN.get(request.path.rstrip("/"))
        if rule is not None:
            return error(403, f"Policy doesn't allow {rule} to be performed.")
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

    def v2_doc() -> dict[str, Any]:
        """The legacy v2.0 API (Nova serves it at ``/v2/``: the v2.1 code without microversions)."""
        return {
            "id": "v2.0",
            "status": "SUPPORTED",
            "version": "",
            "min_version": "",
            "updated": "2011-01-21T11:33:21Z",
            "links": [
                {"rel": "self", "href": f"{root()}/v2/"},
                {"rel": "describedby", "type": "text/html", "href": "http://docs.openstack.org/"},
            ],
            "media-types": [
                {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2"}
            ],
        }

    @app.get("/")
    def versions() -> Any:
        v2 = {k: x for k, x in v2_doc().items() if k != "media-types"}
        v2["links"] = v2["links"][:1]
        return jsonify({"versions": [v2, _version_doc(root(), str(maximum))]})

    @app.get("/v2")
    @app.get("/v2/")
    def version_2() -> Any:
        return jsonify({"version": v2_doc()})

    @app.get("/v2.1")
    @app.get("/v2.1/")
    def version() -> Any:
        return jsonify({"version": _version_doc(root(), str(maximum))})

    def alien() -> bool:
        """The caller's project is the other one: it owns none of the servants."""
        return cloud.alt(request.headers.get("X-Auth-Token"))

    def find(server_id: str) -> Servant | None:
        if alien():
            return None
        with model.lock:
            s = model.servants.get(server_id)
            return s if s is not None and s.status != DELETED else None

    def missing(server_id: str) -> Any:
        return error(404, f"Instance {server_id} could not be found.")

    def visible(args: Any) -> list[Servant] | Any:
        with model.lock:
            out = [s for s in model.servants.values() if s.status != DELETED and not alien()]
        out.sort(key=lambda s: (s.created_s, s.id))
        if "name" in args:
            try:
                rx = re.compile(args["name"])
            except re.error:
                return error(400, f"Invalid input for query parameters name. Value: {args['name']}.")
            out = [s for s in out if rx.search(s.name)]
        if "status" in args:
            out = [s for s in out if s.status == args["status"].upper()]
        if "image" in args:
            ref = args["image"].rstrip("/").rsplit("/", 1)[-1]
            out = [s for s in out if (s.image_id or IMAGES[0]["id"]) == ref]
        if "flavor" in args:
            ref = args["flavor"].rstrip("/").rsplit("/", 1)[-1]
            out = [s for s in out if (s.flavor_id or FLAVORS[0]["id"]) == ref]
        if "ip" in args:
            try:
                ip_rx = re.compile(args["ip"])
            except re.error:
                return error(400, f"Invalid input for query parameters ip. Value: {args['ip']}.")
            out = [s for s in out if s.ip and s.status not in (BUILD,) and ip_rx.match(s.ip)]
        if "ip6" in args:
            out = []  # the testbed's network is IPv4 only
        for key, newer in (("changes-since", True), ("changes-before", False)):
            if key not in args or (key == "changes-before" and mv() < v("2.66")):
                continue
            when = _date_time(key, args[key])
            if not isinstance(when, datetime):
                return when
            def changed(s: Servant) -> datetime:
                t = max(x for x in (s.created_s, s.active_s or 0.0, s.died_s or 0.0))
                return model.time_of(t).replace(microsecond=0)
            out = [s for s in out if (changed(s) >= when) == newer or changed(s) == when]
        # tag filters exist from 2.26 on; before, Nova drops unknown filters for non-admins
        if "tags" in args and mv() >= v("2.26"):
            want = set(args["tags"].split(","))
            out = [s for s in out if want <= set(s.tags)]
        if "tags-any" in args and mv() >= v("2.26"):
            anyof = set(args["tags-any"].split(","))
            out = [s for s in out if anyof & set(s.tags)]
        if "not-tags" in args and mv() >= v("2.26"):
            nots = set(args["not-tags"].split(","))
            out = [s for s in out if not nots <= set(s.tags)]
        if "not-tags-any" in args and mv() >= v("2.26"):
            notany = set(args["not-tags-any"].split(","))
            out = [s for s in out if not notany & set(s.tags)]
        return paginate(out, [s.id for s in out], args)

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
        return jsonify({"servers": [body_of(s) for s in found]})

    @app.get("/v2.1/servers/<server_id>")
    def show_server(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        return jsonify({"server": body_of(s, show=True)})

    def server_spec() -> dict[str, Any] | Any:
        """The ``server`` object of a create/update body, or Nova's 400 for a malformed one."""
        body = request.get_json(silent=True)
        if body is None:
            return error(400, "Malformed request body")
        if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
            return error(400, f"Invalid input for field/attribute server. Value: {body}. "
                              "'server' is a required property")
        return body["server"]

    def valid_name(name: Any) -> bool:
        return isinstance(name, str) and bool(name.strip()) and len(name) <= 255

    @app.post("/v2.1/servers")
    def create_server() -> Any:
        spec = server_spec()
        if not isinstance(spec, dict):
            return spec
        if alien():
            return error(403, "Quota exceeded for instances: Requested 1, but already used 0 of 0 instances")
        for key in spec:
            since = _CREATE_SINCE.get(key)
            if key not in SERVER_CREATE_FIELDS and (since is None or mv() < v(since)):
                return error(
                    400,
                    "Invalid input for field/attribute server. Value: {...}. "
                    f"Additional properties are not allowed ('{key}' was unexpected)",
                )
        name = spec.get("name")
        if not isinstance(name, str) or not valid_name(name):
            return error(400, f"Invalid input for field/attribute name. Value: {name}.")
        image = spec.get("imageRef", "")
        img = next((i for i in images_of(cloud) if i["id"] == image and i["status"] == "active"), None)
        if img is None:
            return error(400, "Invalid imageRef provided.")
        flavor = spec.get("flavorRef", "")
        flv = next((f for f in FLAVORS if f["id"] == flavor), None)
        if flv is None:
            return error(400, f"Flavor {flavor} could not be found.")
        if int(img.get("min_ram") or 0) > flv["ram"]:
            return error(400, "Flavor's memory is too small for requested image.")
        if int(img.get("min_disk") or 0) > flv["disk"]:
            return error(400, "Flavor's disk is too small for requested image.")
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
        if len(metadata) > MAX_SERVER_META:
            return error(403, f"Quota exceeded for metadata_items: Requested {len(metadata)}, but already "
                              f"used 0 of {MAX_SERVER_META} metadata_items")
        tags = spec.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 60 for t in tags):
            return error(400, "Invalid input for field/attribute tags.")
        access = {}
        for key in ("accessIPv4", "accessIPv6"):
            ip = _ip_field(spec, key)
            if not isinstance(ip, str):
                return ip
            access[key] = ip
        key_name = spec.get("key_name")
        if key_name is not None and key_name not in keypairs:
            return error(400, "Invalid key_name provided.")
        groups = []
        for grp in spec.get("security_groups") or [{"name": "default"}]:
            gname = grp.get("name") if isinstance(grp, dict) else None
            if gname != "default":
                return error(400, f"Security group {gname} not found for project {PROJECT_ID}.")
            groups.append(gname)
        password = spec.get("adminPass")
        if password is not None and not isinstance(password, str):
            return error(400, "Invalid input for field/attribute adminPass.")
        password = password or "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(12)
        )
        s = model.create_servant(
            name, metadata=metadata, tags=tags, image_id=image, flavor_id=flavor, network_id=net_id
        )
        model.flush_events()
        x = extra(s.id)
        x.update(access, key_name=key_name, security_groups=sorted(set(groups)),
                 description=spec.get("description"))
        event(s.id, "create")
        resp = jsonify(
            {
                "server": {
                    "id": s.id,
                    "OS-DCF:diskConfig": "MANUAL",
                    "security_groups": [{"name": n} for n in x["security_groups"]],
                    "adminPass": password,
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

    @app.put("/v2.1/servers/<server_id>")
    def update_server(server_id: str) -> Any:
        spec = server_spec()
        if not isinstance(spec, dict):
            return spec
        allowed = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
        if mv() >= v("2.19"):
            allowed.add("description")
        if mv() >= v("2.90"):
            allowed.add("hostname")
        for key in spec:
            if key not in allowed:
                return error(400, "Invalid input for field/attribute server. Value: {...}. "
                                  f"Additional properties are not allowed ('{key}' was unexpected)")
        if "name" in spec and not valid_name(spec["name"]):
            return error(400, f"Invalid input for field/attribute name. Value: {spec['name']}.")
        access = {}
        for key in ("accessIPv4", "accessIPv6"):
            if key in spec:
                ip = _ip_field(spec, key)
                if not isinstance(ip, str):
                    return ip
                access[key] = ip
        s = find(server_id)
        if s is None:
            return missing(server_id)
        with model.lock:
            if "name" in spec:
                s.name = spec["name"]
        x = extra(server_id)
        x.update(access)
        if "description" in spec:
            x["description"] = spec["description"]
        event(server_id, "update")
        return jsonify({"server": update_view(body_of(s, show=True), mv())})

    @app.delete("/v2.1/servers/<server_id>")
    def delete_server(server_id: str) -> Any:
        if find(server_id) is None:
            return missing(server_id)
        if extra(server_id).get("locked"):
            return error(409, f"Instance {server_id} is locked")
        drop_shelved_image(server_id)
        model.delete_servant(server_id)
        model.flush_events()
        event(server_id, "delete")
        return "", 204

    def shelved_image(s: Servant) -> None:
        """Shelving snapshots the server into a ``<name>-shelved`` image (deleted when unshelved)."""
        flv = next((f for f in FLAVORS if f["id"] == s.flavor_id), FLAVORS[0])
        image_id = str(uuid.uuid4())
        with cloud.lock:
            cloud.images[image_id] = {
                "id": image_id, "name": f"{s.name}-shelved", "status": "active", "visibility": "private",
                "min_ram": flv["ram"], "min_disk": flv["disk"], "container_format": "bare",
                "disk_format": "qcow2", "size": 1073741824,
                "properties": {"instance_uuid": s.id, "image_type": "snapshot",
                               "base_image_ref": s.image_id or IMAGES[0]["id"]},
            }
        extra(s.id)["shelved_image"] = image_id

    def drop_shelved_image(server_id: str) -> None:
        image_id = extra(server_id).pop("shelved_image", None)
        if image_id is not None:
            with cloud.lock:
                cloud.images.pop(image_id, None)

    def rebuild(s: Servant, arg: Any) -> Any:
        if not isinstance(arg, dict):
            return error(400, "Invalid input for field/attribute rebuild.")
        image = arg.get("imageRef", "")
        if not any(i["id"] == image and i["status"] == "active" for i in images_of(cloud)):
            return error(400, "Invalid imageRef provided.")
        if "name" in arg and not valid_name(arg["name"]):
            return error(400, f"Invalid input for field/attribute name. Value: {arg['name']}.")
        access = {}
        for key in ("accessIPv4", "accessIPv6"):
            if key in arg:
                ip = _ip_field(arg, key)
                if not isinstance(ip, str):
                    return ip
                access[key] = ip
        metadata = arg.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > MAX_SERVER_META):
            return error(400, "Invalid input for field/attribute metadata.")
        with model.lock:
            if s.status not in (ACTIVE, lifecycle.SHUTOFF, ERROR) or s.task_state is not None:
                return error(409, f"Cannot 'rebuild' instance {s.id} while it is in vm_state "
                                  f"{lifecycle.VM_STATE.get(s.status, s.status.lower())}")
            s.image_id = image
            if "name" in arg:
                s.name = arg["name"]
            if metadata is not None:
                s.metadata = dict(metadata)
        x = extra(s.id)
        x.update(access)
        if "description" in arg and mv() >= v("2.19"):
            x["description"] = arg["description"]
        if "key_name" in arg and mv() >= v("2.54"):
            x["key_name"] = arg["key_name"]
        out = body_of(s, show=True)
        if mv() >= v("2.57"):
            out["user_data"] = arg.get("user_data")
        out = update_view(out, mv())
        out["adminPass"] = arg.get("adminPass") or "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(12)
        )
        return jsonify({"server": out}), 202

    def console_output(arg: Any) -> Any:
        length = arg.get("length") if isinstance(arg, dict) else None
        if length is not None:
            try:
                length = int(length)
                if length < -1:
                    raise ValueError
            except (TypeError, ValueError):
                return error(400, f"Invalid input for field/attribute length. Value: {length}.")
        lines = CONSOLE_LOG if length in (None, -1) else CONSOLE_LOG[-length:] if length else []
        return jsonify({"output": "\n".join(lines)})

    @app.post("/v2.1/servers/<server_id>/action")
    def server_action(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        body = request.get_json(silent=True)
        if body is None:
            return error(400, "Malformed request body")
        if not isinstance(body, dict) or len(body) != 1:
            return error(400, "Malformed request body: one action expected")
        (name, arg), = body.items()
        x = extra(server_id)
        if name == "os-getConsoleOutput":
            return console_output(arg)
        if name == "lock":
            x["locked"] = True
            if mv() >= v("2.73") and isinstance(arg, dict):
                x["locked_reason"] = arg.get("locked_reason")
            event(server_id, "lock")
            return "", 202
        if name == "unlock":
            x["locked"] = False
            x["locked_reason"] = None
            event(server_id, "unlock")
            return "", 202
        if x.get("locked"):
            return error(409, f"Instance {server_id} is locked")
        if name in ("addSecurityGroup", "removeSecurityGroup"):
            gname = arg.get("name") if isinstance(arg, dict) else None
            if gname != "default":
                return error(404, f"Security group {gname} not found.")
            groups = set(x["security_groups"])
            if name == "removeSecurityGroup":
                if gname not in groups:
                    return error(400, f"Security group {gname} not associated with the instance")
                groups.discard(gname)
            else:
                groups.add(gname)
            x["security_groups"] = sorted(groups)
            return "", 202
        if name == "rebuild":
            out = rebuild(s, arg)
            if isinstance(out, tuple) and out[1] == 202:
                event(server_id, "rebuild")
            return out
        if name == "reboot":
            kind = arg.get("type") if isinstance(arg, dict) else None
            if kind not in ("SOFT", "HARD", "soft", "hard"):
                choices = "['HARD', 'Hard', 'hard', 'SOFT', 'Soft', 'soft']"
                return error(400, f"Invalid input for field/attribute type. Value: {kind}. "
                                  f"'{kind}' is not one of {choices}")
            action = f"reboot:{kind.upper()}"
        elif name in ACTIONS:
            action = ACTIONS[name]
        elif name in UNSUPPORTED_ACTIONS:
            return error(400, "The requested functionality is not supported.")
        else:
            return error(400, f"There is no such action: {name}")
        try:
            model.server_action(server_id, action)
        except lifecycle.Conflict as exc:
            return error(409, str(exc))
        model.flush_events()
        if name == "shelve":
            shelved_image(s)
        elif name == "unshelve":
            drop_shelved_image(server_id)
        event(server_id, name.removeprefix("os-"))
        return "", 202

    @app.get("/v2.1/servers/<server_id>/os-instance-actions")
    def instance_actions(server_id: str) -> Any:
        if find(server_id) is None:
            return missing(server_id)
        events = list(reversed(extra(server_id)["events"]))
        return jsonify({"instanceActions": events})

    @app.get("/v2.1/servers/<server_id>/os-instance-actions/<request_id>")
    def instance_action(server_id: str, request_id: str) -> Any:
        if find(server_id) is None:
            return missing(server_id)
        for rec in extra(server_id)["events"]:
            if rec["request_id"] == request_id:
                step = {"event": f"compute_{rec['action']}_instance", "start_time": rec["start_time"],
                        "finish_time": rec["start_time"], "result": "Success"}
                if mv() >= v("2.62"):
                    step["host"] = ""  # members see no host (Nova hides it; hostId below)
                    step["hostId"] = "9f1b" + "0" * 52
                return jsonify({"instanceAction": {**rec, "events": [step] if mv() >= v("2.51") else []}})
        return error(404, f"Action for request_id {request_id} on instance {server_id} not found")

    def tags_route() -> Any:
        return mv() >= v("2.26")

    def valid_tag(tag: Any) -> bool:
        return isinstance(tag, str) and 0 < len(tag) <= 60 and "," not in tag and "/" not in tag

    @app.get("/v2.1/servers/<server_id>/tags")
    def get_tags(server_id: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        return jsonify({"tags": list(s.tags)})

    @app.put("/v2.1/servers/<server_id>/tags")
    def replace_tags(server_id: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        body = request.get_json(silent=True)
        if body is None:
            return error(400, "Malformed request body")
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list) or not all(valid_tag(t) for t in tags) or len(tags) > 50:
            return error(400, f"Invalid input for field/attribute tags. Value: {tags}.")
        with model.lock:
            s.tags[:] = list(dict.fromkeys(tags))
            out = list(s.tags)
        return jsonify({"tags": out})

    @app.delete("/v2.1/servers/<server_id>/tags")
    def delete_tags(server_id: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        with model.lock:
            s.tags.clear()
        return "", 204

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
        if not valid_tag(tag):
            return error(400, f"Tag '{tag}' is invalid.")
        with model.lock:
            if tag in s.tags:
                return "", 204
            if len(s.tags) >= 50:
                return error(400, "The number of tags exceeded the per-server limit 50")
            s.tags.append(tag)
        resp = app.make_response(("", 201))
        resp.headers["Location"] = f"{base()}/servers/{server_id}/tags/{tag}"
        return resp

    @app.delete("/v2.1/servers/<server_id>/tags/<tag>")
    def delete_tag(server_id: str, tag: str) -> Any:
        if not tags_route():
            return not_found()
        s = find(server_id)
        if s is None:
            return missing(server_id)
        with model.lock:
            if tag not in s.tags:
                return error(404, f"Tag {tag} could not be found for server {server_id}.")
            s.tags.remove(tag)
        return "", 204

    @app.get("/v2.1/servers/<server_id>/metadata")
    def get_metadata(server_id: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        return jsonify({"metadata": dict(s.metadata)})

    def metadata_body(key: str = "metadata") -> dict[str, str] | Any:
        body = request.get_json(silent=True)
        if body is None:
            return error(400, "Malformed request body")
        meta = body.get(key) if isinstance(body, dict) else None
        if not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(x, str) and 0 < len(k) <= 255 and len(x) <= 255
            for k, x in meta.items()
        ):
            return error(400, f"Invalid input for field/attribute {key}. Value: {meta}.")
        return meta

    @app.post("/v2.1/servers/<server_id>/metadata")
    @app.put("/v2.1/servers/<server_id>/metadata")
    def set_metadata(server_id: str) -> Any:
        meta = metadata_body()
        if not isinstance(meta, dict):
            return meta
        s = find(server_id)
        if s is None:
            return missing(server_id)
        with model.lock:
            new = dict(meta) if request.method == "PUT" else {**s.metadata, **meta}
            if len(new) > MAX_SERVER_META:
                return error(403, f"Quota exceeded for metadata_items: Requested {len(new)}, but already "
                                  f"used 0 of {MAX_SERVER_META} metadata_items")
            s.metadata = new
            return jsonify({"metadata": dict(new)})

    @app.get("/v2.1/servers/<server_id>/metadata/<key>")
    def get_metadata_item(server_id: str, key: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        if key not in s.metadata:
            return error(404, "Metadata item was not found")
        return jsonify({"meta": {key: s.metadata[key]}})

    @app.put("/v2.1/servers/<server_id>/metadata/<key>")
    def set_metadata_item(server_id: str, key: str) -> Any:
        meta = metadata_body("meta")
        if not isinstance(meta, dict):
            return meta
        if list(meta) != [key]:
            return error(400, "Request body and URI mismatch")
        s = find(server_id)
        if s is None:
            return missing(server_id)
        with model.lock:
            s.metadata = {**s.metadata, **meta}
        return jsonify({"meta": meta})

    @app.delete("/v2.1/servers/<server_id>/metadata/<key>")
    def delete_metadata_item(server_id: str, key: str) -> Any:
        s = find(server_id)
        if s is None:
            return missing(server_id)
        with model.lock:
            if key not in s.metadata:
                return error(404, "Metadata item was not found")
            s.metadata = {k: x for k, x in s.metadata.items() if k != key}
        return "", 204

    @app.get("/v2.1/os-availability-zone")
    def availability_zones() -> Any:
        return jsonify({"availabilityZoneInfo": [{"zoneName": "nova", "zoneState": {"available": True},
                                                  "hosts": None}]})

    def keypair_view(k: dict[str, Any], detail: bool) -> dict[str, Any]:
        out = dict(k)
        out.pop("private_key", None)
        if mv() < v("2.2"):
            out.pop("type", None)
        if not detail:
            return {"name": out["name"], "public_key": out["public_key"], "fingerprint": out["fingerprint"],
                    **({"type": out["type"]} if "type" in out else {})}
        return out

    @app.get("/v2.1/os-keypairs")
    def list_keypairs() -> Any:
        with state:
            items = sorted(keypairs.values(), key=lambda k: k["name"])
        return jsonify({"keypairs": [{"keypair": keypair_view(k, False)} for k in items]})

    @app.post("/v2.1/os-keypairs")
    def create_keypair() -> Any:
        body = request.get_json(silent=True)
        if body is None:
            return error(400, "Malformed request body")
        spec = body.get("keypair") if isinstance(body, dict) else None
        if not isinstance(spec, dict):
            return error(400, f"Invalid input for field/attribute keypair. Value: {body}. "
                              "'keypair' is a required property")
        name = spec.get("name")
        valid = isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9 _.@-]{1,255}", name) and name.strip()
        if not valid or not isinstance(name, str):
            return error(400, f"Invalid input for field/attribute name. Value: {name}.")
        key_type = spec.get("type", "ssh") if mv() >= v("2.2") else "ssh"
        if key_type not in ("ssh", "x509"):
            return error(400, f"Invalid input for field/attribute type. Value: {key_type}.")
        public_key = spec.get("public_key")
        if public_key is None and mv() >= v("2.92"):
            return error(400, "Invalid input for field/attribute keypair. Value: {...}. "
                              "'public_key' is a required property")
        if public_key is not None and (not isinstance(public_key, str) or len(public_key.split()) < 2):
            return error(400, "Keypair data is invalid: failed to generate fingerprint")
        with state:
            if name in keypairs:
                return error(409, f"Key pair '{name}' already exists.")
        k = _keypair(name, public_key, key_type)
        with state:
            keypairs[name] = k
        out = {key: x for key, x in k.items() if key in ("name", "public_key", "fingerprint", "user_id",
                                                          "private_key", "type")}
        if mv() < v("2.2"):
            out.pop("type")
        status = 201 if mv() >= v("2.2") else 200
        return jsonify({"keypair": out}), status

    @app.get("/v2.1/os-keypairs/<name>")
    def show_keypair(name: str) -> Any:
        with state:
            k = keypairs.get(name)
        if k is None:
            return error(404, f"Keypair {name} not found for user {USER_ID}")
        return jsonify({"keypair": keypair_view(k, True)})

    @app.delete("/v2.1/os-keypairs/<name>")
    def delete_keypair(name: str) -> Any:
        with state:
            if keypairs.pop(name, None) is None:
                return error(404, f"Keypair {name} not found for user {USER_ID}")
        return "", 202 if mv() < v("2.2") else 204

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

    def flavors_of(args: Any) -> list[dict[str, Any]] | Any:
        """Nova's flavor list: sorted by flavorid, ``minDisk``/``minRam`` at least, ``marker``, ``limit``."""
        out = sorted(FLAVORS, key=lambda f: f["id"])
        for key, field in (("minDisk", "disk"), ("minRam", "ram")):
            if key in args:
                try:
                    least = int(args[key])
                    if least < 0:
                        raise ValueError
                except ValueError:
                    return error(400, f"Invalid input for query parameters {key}. Value: {args[key]}.")
                out = [f for f in out if f[field] >= least]
        if "is_public" in args and args["is_public"].lower() in ("false", "0", "no", "f", "n", "off"):
            out = []  # every flavor of the testbed is public (members see private ones only with access)
        return paginate(out, [f["id"] for f in out], args)

    @app.get("/v2.1/flavors")
    def list_flavors() -> Any:
        found = flavors_of(request.args)
        if not isinstance(found, list):
            return found
        return jsonify({"flavors": [flavor_view(f, False) for f in found]})

    @app.get("/v2.1/flavors/detail")
    def list_flavors_detail() -> Any:
        found = flavors_of(request.args)
        if not isinstance(found, list):
            return found
        return jsonify({"flavors": [flavor_view(f, True) for f in found]})

    @app.get("/v2.1/flavors/<flavor_id>")
    def show_flavor(flavor_id: str) -> Any:
        for f in FLAVORS:
            if flavor_id == f["id"]:
                return jsonify({"flavor": flavor_view(f, True)})
        return error(404, f"Flavor {flavor_id} could not be found.")

    @app.get("/v2.1/flavors/<flavor_id>/os-extra_specs")
    def flavor_extra_specs(flavor_id: str) -> Any:
        if not any(flavor_id == f["id"] for f in FLAVORS):
            return error(404, f"Flavor {flavor_id} could not be found.")
        return jsonify({"extra_specs": {}})

    @app.get("/v2.1/flavors/<flavor_id>/os-extra_specs/<key>")
    def flavor_extra_spec(flavor_id: str, key: str) -> Any:
        if not any(flavor_id == f["id"] for f in FLAVORS):
            return error(404, f"Flavor {flavor_id} could not be found.")
        return error(404, f"Flavor {flavor_id} has no extra specs with key {key}.")

    def image_proxy() -> bool:
        return mv() < v("2.36")  # the image proxy API is gone from 2.36 on (404)

    @app.get("/v2.1/images")
    @app.get("/v2.1/images/detail")
    def list_images() -> Any:
        if not image_proxy():
            return not_found()
        detail = request.path.endswith("/detail")
        items = [_image(i, base(), model) for i in images_of(cloud)]
        if not detail:
            items = [{"id": i["id"], "name": i["name"], "links": i["links"]} for i in items]
        return jsonify({"images": items})

    @app.get("/v2.1/images/<image_id>")
    def show_image(image_id: str) -> Any:
        if not image_proxy():
            return not_found()
        for i in images_of(cloud):
            if image_id == i["id"]:
                return jsonify({"image": _image(i, base(), model)})
        return error(404, f"Image {image_id} could not be found.")

    @app.get("/v2.1/limits")
    def limits() -> Any:
        found = visible({})
        return jsonify(_limits(len(found) if isinstance(found, list) else 0, mv()))

    @app.get("/v2.1/os-quota-sets/<project_id>")
    @app.get("/v2.1/os-quota-sets/<project_id>/detail")
    def quota_set(project_id: str) -> Any:
        found = visible({})
        used = len(found) if isinstance(found, list) else 0
        limits_ = {"instances": 20, "cores": 40, "ram": 51200, "metadata_items": MAX_SERVER_META,
                   "key_pairs": 100, "server_groups": 10, "server_group_members": 10}
        if mv() < v("2.57"):
            limits_.update(injected_files=5, injected_file_content_bytes=10240,
                           injected_file_path_bytes=255)
        if mv() < v("2.36"):
            limits_.update(fixed_ips=-1, floating_ips=10, security_groups=10, security_group_rules=20)
        if request.path.endswith("/detail"):
            in_use = {"instances": used, "cores": 2 * used, "ram": 2048 * used}
            out: dict[str, Any] = {k: {"limit": x, "in_use": in_use.get(k, 0), "reserved": 0}
                                   for k, x in limits_.items()}
        else:
            out = dict(limits_)
        return jsonify({"quota_set": {"id": project_id, **out}})

    return app
