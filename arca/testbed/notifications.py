"""Nova versioned notifications (oslo.messaging 2.0 envelope) emitted as servants come and go.

Published like nova-compute does: topic exchange ``nova``, routing key
``versioned_notifications.info``, body ``{"oslo.version": "2.0", "oslo.message": "<JSON string>"}``
whose inner message has ``event_type`` (``instance.create.start``, ``instance.create.end``,
``instance.update``, ``instance.delete.start``, ``instance.delete.end``), ``publisher_id``,
``priority``, ``timestamp`` and a ``payload`` nova object (``InstanceActionPayload`` /
``InstanceUpdatePayload``) carrying uuid, state, ip_addresses, metadata, tags...
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from arca.testbed import lifecycle
from arca.testbed.api.common import PROJECT_ID, USER_ID
from arca.testbed.api.nova import FLAVORS, IMAGES, NETWORKS, mac
from arca.testbed.model import ACTIVE, BUILD, DELETED, ERROR, Servant, TestbedEvent, TestbedModel
from arca.testbed.sinks import Sink

EXCHANGE = "nova"
ROUTING_KEY = "versioned_notifications.info"
HOST = "compute-hq-1"
_STATES = {**lifecycle.VM_STATE, BUILD: "building", ACTIVE: "active", ERROR: "error", DELETED: "deleted"}
_POWER_NAMES = {0: "pending", 1: "running", 3: "paused", 4: "shutdown", 6: "crashed", 7: "suspended"}
_POWER = {s: _POWER_NAMES[code] for s, code in lifecycle.POWER_STATE.items()} | {DELETED: "shutdown"}
ACTION_EVENTS = {
    "os-stop": "power_off", "os-start": "power_on", "suspend": "suspend", "resume": "resume",
    "pause": "pause", "unpause": "unpause", "shelve": "shelve", "shelve_offload": "shelve_offload",
    "unshelve": "unshelve", "reboot:SOFT": "reboot", "reboot:HARD": "reboot",
}
"""Server action (``arca.testbed.lifecycle``) -> Nova's versioned notification
``instance.<name>.start|end``."""


def _obj(name: str, version: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "nova_object.name": name,
        "nova_object.namespace": "nova",
        "nova_object.version": version,
        "nova_object.data": data,
    }


def _ts(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def instance_payload(
    s: Servant, model: TestbedModel, name: str, version: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    flavor = next((f for f in FLAVORS if f["id"] == s.flavor_id), FLAVORS[0])
    net = next((n for n in NETWORKS if n["id"] == s.network_id), NETWORKS[0])
    ips = (
        []
        if s.status == BUILD
        else [
            _obj(
                "IpPayload",
                "1.0",
                {
                    "address": s.ip,
                    "version": 4,
                    "label": net["name"],
                    "mac": mac(s.ip),
                    "meta": {},
                    "port_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"port/{s.id}")),
                    "device_name": f"tap{s.id[:11]}",
                },
            )
        ]
    )
    data: dict[str, Any] = {
        "uuid": s.id,
        "display_name": s.name,
        "display_description": s.name,
        "host": HOST,
        "node": HOST,
        "host_name": s.name,
        "state": _STATES.get(s.status, "active"),
        "power_state": _POWER.get(s.status, "running"),
        "task_state": s.task_state or ("spawning" if s.status == BUILD else None),
        "tenant_id": PROJECT_ID,
        "user_id": USER_ID,
        "image_uuid": s.image_id or IMAGES[0]["id"],
        "ip_addresses": ips,
        "flavor": _obj(
            "FlavorPayload",
            "1.4",
            {
                "flavorid": flavor["id"],
                "name": flavor["name"],
                "memory_mb": flavor["ram"],
                "vcpus": flavor["vcpus"],
                "root_gb": flavor["disk"],
                "ephemeral_gb": 0,
                "swap": 0,
                "rxtx_factor": 1.0,
                "is_public": True,
                "disabled": False,
                "projects": None,
                "extra_specs": {},
                "description": None,
            },
        ),
        "metadata": dict(s.metadata),
        "tags": list(s.tags),
        "availability_zone": "nova",
        "locked": False,
        "locked_reason": None,
        "kernel_id": "",
        "ramdisk_id": "",
        "os_type": None,
        "architecture": None,
        "progress": 0 if s.status == BUILD else 100,
        "reservation_id": f"r-{s.id[:8]}",
        "created_at": _ts(model.time_of(s.created_s)),
        "launched_at": _ts(model.time_of(s.active_s)) if s.active_s is not None else None,
        "terminated_at": _ts(model.time_of(s.deleted_s)) if s.deleted_s is not None else None,
        "deleted_at": _ts(model.time_of(s.deleted_s)) if s.deleted_s is not None else None,
        "updated_at": _ts(model.now()),
        "request_id": f"req-{uuid.uuid4()}",
        "action_initiator_user": USER_ID,
        "action_initiator_project": PROJECT_ID,
        "block_devices": [],
        "key_name": None,
        "auto_disk_config": "MANUAL",
    }
    data.update(extra or {})
    return _obj(name, version, data)


def envelope(event_type: str, payload: dict[str, Any], when: datetime, priority: str = "INFO") -> bytes:
    """An oslo.messaging 2.0 message: the notification is a JSON *string* inside the envelope."""
    inner = {
        "message_id": str(uuid.uuid4()),
        "publisher_id": f"nova-compute:{HOST}",
        "event_type": event_type,
        "priority": priority,
        "payload": payload,
        "timestamp": when.strftime("%Y-%m-%d %H:%M:%S.%f"),
    }
    return json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(inner)}).encode()


class NovaNotifier:
    """Listens to the model; sends versioned notifications for servant lifecycle changes to ``sink``."""

    def __init__(self, model: TestbedModel, sink: Sink) -> None:
        self.model = model
        self.sink = sink
        model.subscribe(self.on_event)

    def _send(self, event_type: str, payload: dict[str, Any], when: datetime) -> None:
        self.sink.send(envelope(event_type, payload, when), ROUTING_KEY)

    def on_event(self, ev: TestbedEvent) -> None:
        s = ev.servant
        if s is None:
            return
        m = self.model
        if ev.kind == "servant.created":
            start = {"state": "building", "power_state": "pending", "task_state": "spawning"}
            payload = instance_payload(s, m, "InstanceCreatePayload", "1.12", start)
            self._send("instance.create.start", payload, ev.time)
        elif ev.kind == "servant.active":
            fixed: dict[str, Any] = {"state": "active", "power_state": "running", "task_state": None}
            self._send(
                "instance.create.end", instance_payload(s, m, "InstanceCreatePayload", "1.12", fixed), ev.time
            )
        elif ev.kind == "servant.died":
            update = _obj(
                "InstanceStateUpdatePayload",
                "1.0",
                {"old_state": "active", "state": "error", "old_task_state": None, "new_task_state": None},
            )
            payload = instance_payload(
                s,
                m,
                "InstanceUpdatePayload",
                "2.0",
                {
                    "state_update": update,
                    "audit_period": None,
                    "bandwidth": [],
                    "old_display_name": None,
                    "updated_at": _ts(ev.time),
                },
            )
            self._send("instance.update", payload, ev.time)
        elif ev.kind == "servant.action":
            name = ACTION_EVENTS[str(ev.data["action"])]
            phase = "start" if ev.data.get("phase") == "start" else "end"
            self._send(f"instance.{name}.{phase}",
                       instance_payload(s, m, "InstanceActionPayload", "1.8"), ev.time)
        elif ev.kind == "servant.deleted":
            start = {"state": _STATES[ERROR] if s.died_s is not None else "active", "task_state": "deleting"}
            self._send(
                "instance.delete.start",
                instance_payload(s, m, "InstanceActionPayload", "1.8", start),
                ev.time,
            )
            end = {"state": "deleted", "power_state": "shutdown", "task_state": None}
            self._send(
                "instance.delete.end", instance_payload(s, m, "InstanceActionPayload", "1.8", end), ev.time
            )
