"""Nova versioned notifications -> ``TopologyChange``: topology follows the VM lifecycle.

Notifications arrive on OpenStack's bus (topic exchange ``nova``, routing key
``versioned_notifications.info``) in the oslo.messaging envelope
``{"oslo.version": "2.0", "oslo.message": "<JSON string>"}``; the message carries ``event_type``,
``timestamp``, ``message_id`` and ``payload`` (a versioned object whose ``nova_object.data`` holds
the instance: ``uuid``, ``state``, ``metadata``, ``ip_addresses``...). Servers are keyed by instance
uuid, never by address, so an IP reused by a new server is not confused with the old one (NFVMon's
CloudEventNotifier). Only servers with metadata ``arca_system`` belong to a controlled system.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from arca.collector.errors import IngestError
from arca.messages import TopologyChange

SYSTEM_KEY = "arca_system"

EVENT_STATES: dict[str, str] = {
    "instance.create.start": "building",
    "instance.create.end": "active",
    "instance.create.error": "error",
    "instance.delete.end": "deleted",
    "instance.soft_delete.end": "deleted",
    "instance.shutdown.end": "shutoff",
    "instance.power_off.end": "shutoff",
    "instance.power_on.end": "active",
    "instance.reboot.end": "active",
    "instance.rebuild.end": "active",
    "instance.reboot.error": "error",
}
"""Lifecycle event types and the servant state they leave the server in."""

UPDATE_STATES = {"building": "building", "active": "active", "error": "error",
                 "stopped": "shutoff", "deleted": "deleted", "soft-delete": "deleted"}
"""``instance.update``: Nova vm_state -> servant state (other vm states are not lifecycle changes)."""


def unwrap(body: bytes | str) -> dict[str, Any]:
    """The notification inside an oslo.messaging 2.0 envelope (or a bare notification)."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and "oslo.message" in doc:
            if doc.get("oslo.version") != "2.0":
                raise IngestError("nova", "/oslo.version", f"unsupported {doc.get('oslo.version')!r}")
            doc = json.loads(doc["oslo.message"])
    except (UnicodeDecodeError, json.JSONDecodeError, TypeError) as exc:
        raise IngestError("json", "/", f"not an oslo.messaging JSON envelope: {exc}") from None
    if not isinstance(doc, dict):
        raise IngestError("nova", "/", "notification must be a JSON object")
    return doc


def parse_oslo_time(text: Any, path: str) -> datetime:
    """oslo timestamps: ``2018-06-28 10:00:00.123456`` (UTC, naive) or ISO 8601."""
    if not isinstance(text, str):
        raise IngestError("nova", path, "timestamp missing")
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IngestError("datetime", path, f"not a timestamp: {text!r}") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def to_topology(note: dict[str, Any], producer: str = "collector") -> TopologyChange | None:
    """The topology change a notification means, or None (not lifecycle, or not an ARCA servant)."""
    event_type = note.get("event_type")
    if not isinstance(event_type, str):
        raise IngestError("nova", "/event_type", "missing")
    if event_type != "instance.update" and event_type not in EVENT_STATES:
        return None
    payload = note.get("payload")
    data = payload.get("nova_object.data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise IngestError("nova", "/payload/nova_object.data", "missing versioned payload")
    uuid = data.get("uuid")
    if not isinstance(uuid, str) or not uuid:
        raise IngestError("nova", "/payload/nova_object.data/uuid", "missing instance uuid")
    metadata = data.get("metadata") or {}
    system = metadata.get(SYSTEM_KEY) if isinstance(metadata, dict) else None
    if not system:
        return None
    if event_type == "instance.update":
        state = UPDATE_STATES.get(str(data.get("state")))
        if state is None:
            return None
    else:
        state = EVENT_STATES[event_type]
    address = None
    for ip in data.get("ip_addresses") or []:
        ipdata = ip.get("nova_object.data", {}) if isinstance(ip, dict) else {}
        if ipdata.get("address"):
            address = str(ipdata["address"])
            break
    return TopologyChange(
        event_time=parse_oslo_time(note.get("timestamp"), "/timestamp"),
        producer=producer,
        system=str(system),
        server_id=uuid,
        state=state,  # type: ignore[arg-type]
        server_name=data.get("display_name"),
        address=address,
        host=data.get("host"),
        origin_event=event_type,
    )


class LifecycleTracker:
    """Drops redelivered notifications (oslo ``message_id``) and late news about deleted servers."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._deleted: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def accept(self, note: dict[str, Any], change: TopologyChange) -> bool:
        mid = note.get("message_id")
        if isinstance(mid, str):
            if mid in self._seen:
                return False
            self._remember(self._seen, mid)
        if change.server_id in self._deleted:
            return False
        if change.state == "deleted":
            self._remember(self._deleted, change.server_id)
        return True

    def _remember(self, d: OrderedDict[str, None], key: str) -> None:
        d[key] = None
        if len(d) > self._capacity:
            d.popitem(last=False)
