"""Emulated OSM: an Ukko-style network service, its LCM operations, and MON/POL alarm webhooks.

The NS ``emergency-ns`` has two VNFs: member-vnf-index ``1`` (load balancer, VDU ``haproxy``, not a
servant) and ``2`` (relay, VDU ``relay``). The relay VNFD (SOL006, as OSM's IM keeps it) has one relay
at instantiation, ``vdu-profile`` min 1 / max ``1 + max_scale`` (11), and one ``scaling-aspect`` per
entry of ``aspects`` (name -> ``vdu-delta`` ``number-of-instances``): by default only
``relay-scaling``, one VDU per operation, as Ukko's VNFD ships; an admin may onboard more (e.g. a
``relay-scaling-4`` aspect adding four relays per operation). A scale request names an aspect as
its ``scaling-group-descriptor`` and applies its whole delta in one LCM operation, as OSM LCM does:
the aspect's VDUs boot together in ``osm_boot_delay_s`` (42 s, Ukko's measurement) of simulated time
and the operation goes PROCESSING -> COMPLETED when all of them are ACTIVE (FAILED if one dies, never
boots within ``op_timeout_s``, or the aspect is at its bound). Like OSM LCM, ``nb-scale-op`` counts
the *instances* each aspect added, and the bound is checked per aspect: ``nb-scale-op`` + delta + the
instantiation level must stay within the ``vdu-profile``'s max (out) and min (in); a scale-in removes
the aspect's delta of relays, the newest first. Operations of one NS run one at a time, in order
(OSM LCM waits for the NS's running operation before it starts the next).

Fault management as OSM MON/POL does it: MON checks VM status every ``alarm_period_s`` (30 s); a dead
relay VDU turns its alarm to ``insufficient-data`` and POL posts the webhook; a healed one back to
``ok``. The webhook body is a JSON *string* containing the JSON notification (POL does
``requests.post(url, json=json.dumps(payload))``)::

    {"schema_version": "1.1", "schema_type": "notify_alarm", "notify_details": {
        "alarm_uuid": ..., "vdu_name": ..., "vnf_member_index": "2", "ns_id": ...,
        "metric_name": "vm_status", "threshold_value": 1.0, "operation": "LT",
        "severity": "critical", "status": "insufficient-data", "start_date": "22-11-2026 02:07:30"}}
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from arca.testbed.model import ACTIVE, BUILD, DELETED, ERROR, Servant, TestbedEvent, TestbedModel
from arca.testbed.sinks import Sink

_NS = uuid.UUID("6ba7b813-9dad-11d1-80b4-00c04fd430c8")
SCALING_GROUP = "relay-scaling"
"""The one-VDU scaling aspect of Ukko's relay VNFD (the default VNFD's only one)."""
RELAY_INDEX = "2"
LB_INDEX = "1"
RELAY_VNFD = "ukko_relay_vnfd"
INITIAL_RELAYS = 1
"""Relays of the VNFD's instantiation level (``vdu-profile`` min)."""


def check_aspects(aspects: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """The aspects of a relay VNFD, checked: non-empty unique names, ``number-of-instances`` >= 1."""
    out = tuple((str(n), d) for n, d in aspects)
    if not out:
        raise ValueError("osm scaling aspects: the relay VNFD needs at least one scaling-aspect")
    names = [n for n, _ in out]
    for name, delta in out:
        if not name.strip():
            raise ValueError("osm scaling aspects: an aspect needs a name")
        if names.count(name) > 1:
            raise ValueError(f"osm scaling aspects: aspect {name!r} is defined twice")
        if isinstance(delta, bool) or not isinstance(delta, int) or delta < 1:
            raise ValueError(f"osm scaling aspect {name!r}: vdu-delta number-of-instances must be an "
                             f"integer >= 1, not {delta!r}")
    return out


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


@dataclass
class Vdur:
    vdu: str
    count_index: int
    servant_id: str | None
    alarm_status: str = "ok"


@dataclass
class Vnfr:
    id: str
    member_index: str
    vnfd: str
    vdu: str
    vdurs: list[Vdur] = field(default_factory=list)


@dataclass
class NsInstance:
    id: str
    name: str
    nsd: str
    vnfrs: dict[str, Vnfr]
    scaled: dict[str, int] = field(default_factory=dict)
    """``nb-scale-op`` per scaling aspect: relay instances it has added (and not removed)."""

    @property
    def scale_ops(self) -> int:
        """Relay instances added by scaling, every aspect together."""
        return sum(self.scaled.values())


@dataclass
class Operation:
    id: str
    ns_id: str
    kind: str
    """``scale`` or ``heal``."""
    params: dict[str, Any]
    created_s: float
    state: str = "PROCESSING"
    entered_s: float = 0.0
    started: bool = False
    detail: str = "In queue"
    waiting: list[str] = field(default_factory=list)
    done_at_s: float | None = None
    deadline_s: float | None = None


class OsmError(Exception):
    """Refused request: HTTP status and an OSM-style code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


class Osm:
    """OSM's view of the NS, driven by the model's clock (step hook)."""

    def __init__(
        self,
        model: TestbedModel,
        *,
        boot_delay_s: float | None = None,
        max_scale: int = 10,
        scale_in_delay_s: float = 5.0,
        op_timeout_s: float = 600.0,
        alarm_period_s: float = 30.0,
        alarm_sink: Sink | None = None,
        threshold_value: float = 50.0,
        aspects: Sequence[tuple[str, int]] | None = None,
    ) -> None:
        self.model = model
        self.aspects = dict(check_aspects(model.params.osm_scaling_aspects if aspects is None else aspects))
        """The relay VNFD's scaling aspects: name -> relays added per operation."""
        self.boot_delay_s = model.params.osm_boot_delay_s if boot_delay_s is None else boot_delay_s
        self.max_scale = max_scale
        self.scale_in_delay_s = scale_in_delay_s
        self.op_timeout_s = op_timeout_s
        self.alarm_period_s = alarm_period_s
        self.alarm_sink = alarm_sink
        self.threshold_value = threshold_value
        self.ops: dict[str, Operation] = {}
        self.alarms_sent: list[dict[str, Any]] = []
        ns_id = _uid("ns", "emergency")
        lb = Vnfr(
            _uid("vnfr", ns_id, LB_INDEX),
            LB_INDEX,
            "ukko_haproxy_vnfd",
            "haproxy",
            [Vdur("haproxy", 0, None)],
        )
        relay = Vnfr(_uid("vnfr", ns_id, RELAY_INDEX), RELAY_INDEX, RELAY_VNFD, "relay")
        self.ns = NsInstance(ns_id, "emergency-ns", "ukko_nsd", {LB_INDEX: lb, RELAY_INDEX: relay},
                             scaled=dict.fromkeys(self.aspects, 0))
        with model.lock:
            for s in list(model.servants.values()):
                if model.params.initial_owner == "osm" and s.status != DELETED:
                    self._adopt(s, relay)
            model.step_hooks.append(self._progress)
        model.subscribe(self._on_event)
        model.subscribe(self.send_alarm)

    # -- naming ----------------------------------------------------------------------------------
    def vdu_name(self, vnfr: Vnfr, count_index: int) -> str:
        return f"{self.ns.name}-{vnfr.member_index}-{vnfr.vdu}-{count_index}"

    def _adopt(self, s: Servant, vnfr: Vnfr) -> None:
        ci = len(vnfr.vdurs)
        s.owner = "osm"
        s.name = self.vdu_name(vnfr, ci)
        s.tags = []
        s.metadata = self._metadata(vnfr)
        vnfr.vdurs.append(Vdur(vnfr.vdu, ci, s.id))

    def _metadata(self, vnfr: Vnfr) -> dict[str, str]:
        return {
            "arca_system": self.model.params.system,
            "osm_ns_id": self.ns.id,
            "osm_vnf_member_index": vnfr.member_index,
            "osm_vdu": vnfr.vdu,
        }

    def servant(self, vdur: Vdur) -> Servant | None:
        return self.model.servants.get(vdur.servant_id) if vdur.servant_id else None

    # -- requests --------------------------------------------------------------------------------
    def _ns(self, ns_id: str) -> NsInstance:
        if ns_id != self.ns.id:
            raise OsmError(404, "NOT_FOUND", f"nsrs '{ns_id}' not found")
        return self.ns

    def scale(self, ns_id: str, body: Any) -> Operation:
        ns = self._ns(ns_id)
        if not isinstance(body, dict):
            raise OsmError(422, "UNPROCESSABLE_ENTITY", "Format error: body must be an object")
        if body.get("scaleType") != "SCALE_VNF":
            raise OsmError(
                422,
                "UNPROCESSABLE_ENTITY",
                f"Format error at 'scaleType' ''{body.get('scaleType')}' is not one of ['SCALE_VNF']'",
            )
        data = body.get("scaleVnfData")
        if not isinstance(data, dict):
            raise OsmError(422, "UNPROCESSABLE_ENTITY", "Format error at 'scaleVnfData' 'required'")
        if data.get("scaleVnfType") not in ("SCALE_OUT", "SCALE_IN"):
            raise OsmError(
                422,
                "UNPROCESSABLE_ENTITY",
                f"Format error at 'scaleVnfData:scaleVnfType' '{data.get('scaleVnfType')!r} is not "
                "one of ['SCALE_OUT', 'SCALE_IN']'",
            )
        extra = sorted(set(data) - {"vnfInstanceId", "scaleVnfType", "scaleByStepData"})
        if extra:
            raise OsmError(
                422,
                "UNPROCESSABLE_ENTITY",
                "Format error at 'scaleVnfData' 'Additional properties are not allowed "
                f"({', '.join(repr(e) for e in extra)} {'was' if len(extra) == 1 else 'were'} unexpected)'",
            )
        step = data.get("scaleByStepData")
        if not isinstance(step, dict):
            raise OsmError(
                422, "UNPROCESSABLE_ENTITY", "Format error at 'scaleVnfData:scaleByStepData' 'required'"
            )
        extra = sorted(set(step) - {"scaling-group-descriptor", "member-vnf-index", "scaling-policy"})
        if extra:  # OSM scales by one aspect per request: no numberOfSteps (SOL005) nor a count
            raise OsmError(
                422,
                "UNPROCESSABLE_ENTITY",
                "Format error at 'scaleVnfData:scaleByStepData' 'Additional properties are not allowed "
                f"({', '.join(repr(e) for e in extra)} {'was' if len(extra) == 1 else 'were'} unexpected)'",
            )
        for key in ("scaling-group-descriptor", "member-vnf-index"):
            if not isinstance(step.get(key), str) or not step[key]:
                raise OsmError(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    f"Format error at 'scaleVnfData:scaleByStepData:{key}' "
                    f"'{step.get(key)!r} is not a non-empty string'",
                )
        index = step["member-vnf-index"]
        if index not in ns.vnfrs:
            raise OsmError(
                422,
                "UNPROCESSABLE_ENTITY",
                f"Invalid 'member-vnf-index'='{index}' not present at nsd:constituent-vnfd",
            )
        group = step["scaling-group-descriptor"]
        if index != RELAY_INDEX or group not in self.aspects:
            raise OsmError(
                422,
                "UNPROCESSABLE_ENTITY",
                f"Invalid scaleVnfData:scaleByStepData:scaling-group-descriptor '{group}' is not present "
                f"at vnfd:scaling-aspect of member-vnf-index '{index}' (aspects: "
                f"{', '.join(sorted(self.aspects)) if index == RELAY_INDEX else 'none'})",
            )
        return self._queue(ns, "scale", body)

    def heal(self, ns_id: str, body: Any) -> Operation:
        ns = self._ns(ns_id)
        items = body.get("healVnfData") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise OsmError(422, "UNPROCESSABLE_ENTITY", "Format error at 'healVnfData' 'required'")
        for i, item in enumerate(items):
            vid = item.get("vnfInstanceId") if isinstance(item, dict) else None
            if not any(v.id == vid for v in ns.vnfrs.values()):
                raise OsmError(
                    422,
                    "UNPROCESSABLE_ENTITY",
                    f"Invalid 'healVnfData[{i}]:vnfInstanceId'='{vid}': not a VNF of the NS",
                )
        return self._queue(ns, "heal", body)

    def _queue(self, ns: NsInstance, kind: str, params: dict[str, Any]) -> Operation:
        with self.model.lock:
            op = Operation(
                _uid("op", str(len(self.ops)), ns.id, str(self.model.timeline.seed)),
                ns.id,
                kind,
                params,
                created_s=self.model.t,
                entered_s=self.model.t,
            )
            self.ops[op.id] = op
            self._progress()
        self.model.flush_events()
        return op

    # -- progress (model step hook, under the model lock) ------------------------------------------
    def _progress(self) -> None:
        for op in self.ops.values():
            if op.state != "PROCESSING":
                continue
            if not op.started:
                self._start(op)
            if op.state == "PROCESSING":
                self._check(op)
            if op.state == "PROCESSING":
                return  # one operation at a time per NS

    def _finish(self, op: Operation, state: str, detail: str) -> None:
        op.state, op.detail, op.entered_s = state, detail, self.model.t

    def _start(self, op: Operation) -> None:
        op.started = True
        op.deadline_s = self.model.t + self.op_timeout_s
        relay = self.ns.vnfrs[RELAY_INDEX]
        if op.kind == "scale":
            kind = op.params["scaleVnfData"]["scaleVnfType"]
            aspect = op.params["scaleVnfData"]["scaleByStepData"]["scaling-group-descriptor"]
            delta, done = self.aspects[aspect], self.ns.scaled.get(aspect, 0)
            if kind == "SCALE_OUT":
                if done + delta + INITIAL_RELAYS > self.max_relays:  # OSM LCM's check, per aspect
                    self._finish(
                        op,
                        "FAILED",
                        f"reached the limit of {done + delta} (max-instance-count) scaling-out operations "
                        f"for the scaling-group-descriptor '{aspect}'",
                    )
                    return
                self.ns.scaled[aspect] = done + delta
                names = []
                for _ in range(delta):
                    ci = max((v.count_index for v in relay.vdurs), default=-1) + 1
                    s = self._boot(relay, ci)
                    relay.vdurs.append(Vdur(relay.vdu, ci, s.id))
                    op.waiting.append(s.id)
                    names.append(s.name)
                op.detail = f"Scaling out {aspect}: creating VDU {', '.join(names)}"
            else:
                if done - delta + INITIAL_RELAYS < INITIAL_RELAYS:  # OSM LCM's check, per aspect
                    self._finish(
                        op,
                        "FAILED",
                        f"reached the limit of {done - delta} (min-instance-count) scaling-in operations "
                        f"for the scaling-group-descriptor '{aspect}'",
                    )
                    return
                self.ns.scaled[aspect] = done - delta
                names = []
                for _ in range(delta):
                    vdur = relay.vdurs.pop()
                    if vdur.servant_id:
                        self.model.delete_servant(vdur.servant_id)
                    names.append(self.vdu_name(relay, vdur.count_index))
                op.done_at_s = self.model.t + self.scale_in_delay_s
                op.detail = f"Scaling in {aspect}: deleting VDU {', '.join(names)}"
        else:
            targets: list[tuple[Vnfr, Vdur]] = []
            for item in op.params["healVnfData"]:
                vnfr = next(v for v in self.ns.vnfrs.values() if v.id == item["vnfInstanceId"])
                wanted = ((item.get("additionalParams") or {}).get("vdu")) or []
                for vdur in vnfr.vdurs:
                    cur = self.servant(vdur)
                    if wanted:
                        hit = any(
                            w.get("vdu-id") == vdur.vdu and int(w.get("count-index", 0)) == vdur.count_index
                            for w in wanted
                            if isinstance(w, dict)
                        )
                    else:
                        hit = vnfr.member_index == RELAY_INDEX and (
                            cur is None or cur.status in (ERROR, DELETED)
                        )
                    if hit and vnfr.member_index == RELAY_INDEX:
                        targets.append((vnfr, vdur))
            if not targets:
                self._finish(op, "COMPLETED", "Done: nothing to heal")
                return
            for vnfr, vdur in targets:
                old = self.servant(vdur)
                if old is not None and old.status != DELETED:
                    self.model.delete_servant(old.id)
                s = self._boot(vnfr, vdur.count_index)
                vdur.servant_id = s.id
                op.waiting.append(s.id)
            op.detail = "Healing: recreating " + ", ".join(
                self.vdu_name(v, d.count_index) for v, d in targets
            )

    @property
    def max_relays(self) -> int:
        """The relay ``vdu-profile``'s max-number-of-instances."""
        return INITIAL_RELAYS + self.max_scale

    def _boot(self, vnfr: Vnfr, count_index: int) -> Servant:
        return self.model.create_servant(
            self.vdu_name(vnfr, count_index),
            boot_delay_s=self.boot_delay_s,
            metadata=self._metadata(vnfr),
            owner="osm",
        )

    def _check(self, op: Operation) -> None:
        t = self.model.t
        if op.done_at_s is not None:
            if t >= op.done_at_s - 1e-9:
                self._finish(op, "COMPLETED", "Done")
            return
        servants = [self.model.servants[sid] for sid in op.waiting]
        if any(s.status in (ERROR, DELETED) for s in servants):
            self._finish(op, "FAILED", "VDU went to ERROR while the operation was running")
        elif all(s.status == ACTIVE for s in servants):
            self._finish(op, "COMPLETED", "Done")
        elif op.deadline_s is not None and t >= op.deadline_s:
            self._finish(op, "FAILED", f"Timeout: VDU not ACTIVE after {self.op_timeout_s:.0f} s")

    # -- alarms -----------------------------------------------------------------------------------
    def _relay_vdur(self, sid: str) -> Vdur | None:
        return next((d for d in self.ns.vnfrs[RELAY_INDEX].vdurs if d.servant_id == sid), None)

    def _on_event(self, ev: TestbedEvent) -> None:
        s = ev.servant
        if s is None or s.owner != "osm" or ev.kind not in ("servant.died", "servant.active"):
            return
        # MON evaluates VM status every alarm_period_s: the alarm changes at the next evaluation
        at = math.floor(ev.t / self.alarm_period_s + 1) * self.alarm_period_s
        self.model.schedule(at, lambda: self._evaluate(s.id))

    def _evaluate(self, sid: str) -> None:
        with self.model.lock:
            vdur = self._relay_vdur(sid)
            s = self.model.servants.get(sid)
            if vdur is None or s is None:
                return
            status = "insufficient-data" if s.status in (ERROR,) else ("ok" if s.status == ACTIVE else None)
            if status is None or status == vdur.alarm_status:
                return
            vdur.alarm_status = status
            relay = self.ns.vnfrs[RELAY_INDEX]
            payload = {
                "schema_version": "1.1",
                "schema_type": "notify_alarm",
                "notify_details": {
                    "alarm_uuid": _uid(
                        "alarm", self.ns.id, relay.member_index, vdur.vdu, str(vdur.count_index)
                    ),
                    "vdu_name": self.vdu_name(relay, vdur.count_index),
                    "vnf_member_index": relay.member_index,
                    "ns_id": self.ns.id,
                    "metric_name": "vm_status",
                    "threshold_value": 1.0,
                    "operation": "LT",
                    "severity": "critical",
                    "status": status,
                    "start_date": self.model.now().strftime("%d-%m-%Y %H:%M:%S"),
                },
            }
            self.alarms_sent.append(payload)
            self.model.emit("osm.alarm", s, payload=payload)

    def send_alarm(self, ev: TestbedEvent) -> None:
        if ev.kind == "osm.alarm" and self.alarm_sink is not None:
            self.alarm_sink.send(webhook_body(ev.data["payload"]))

    # -- documents (NBI) ----------------------------------------------------------------------------
    def vdur_doc(self, vnfr: Vnfr, vdur: Vdur) -> dict[str, Any]:
        s = self.servant(vdur)
        status = s.status if s is not None else ("ACTIVE" if vnfr.member_index == LB_INDEX else "DELETED")
        ip = s.ip if s is not None else "10.1.0.2"
        return {
            "_id": _uid("vdur", vnfr.id, str(vdur.count_index)),
            "vdu-id-ref": vdur.vdu,
            "count-index": vdur.count_index,
            "name": self.vdu_name(vnfr, vdur.count_index),
            "vim-id": s.id if s is not None else _uid("vm", vnfr.id),
            "status": status,  # no "status-detailed": the NBI's OpenAPI types it a string (VIM error text)
            "ip-address": ip,
            "interfaces": [{"name": "eth0", "ip-address": ip, "mgmt-vnf": True, "ns-vld-id": "mgmtnet"}],
        }

    def vnfr_doc(self, vnfr: Vnfr) -> dict[str, Any]:
        vdurs = [self.vdur_doc(vnfr, d) for d in vnfr.vdurs]
        return {
            "_id": vnfr.id,
            "id": vnfr.id,
            "nsr-id-ref": self.ns.id,
            "member-vnf-index-ref": vnfr.member_index,
            "vnfd-ref": vnfr.vnfd,
            "vnfd-id": _uid("vnfd", vnfr.vnfd),
            "vim-account-id": _uid("vim", "hq"),
            "ip-address": vdurs[0]["ip-address"] if vdurs else None,
            "vdur": vdurs,
            "connection-point": [{"name": "eth0", "connection-point-id": "eth0"}],
            "_admin": {
                "nsState": "INSTANTIATED",
                "created": self.model.start.timestamp(),
                "modified": self.model.now().timestamp(),
            },
        }

    def ns_doc(self) -> dict[str, Any]:
        ns = self.ns
        created = self.model.start.timestamp()
        return {
            "_id": ns.id,
            "id": ns.id,
            "name": ns.name,
            "name-ref": ns.name,
            "short-name": ns.name,
            "description": "Ukko-style emergency service: HAProxy load balancer + relay servants",
            "admin-status": "ENABLED",
            "nsState": "READY",
            "operational-status": "running",
            "config-status": "configured",
            "detailed-status": "Done",
            "nsd-name-ref": ns.nsd,
            "nsd-id": _uid("nsd", ns.nsd),
            "nsd-ref": ns.nsd,
            "nsd": {
                "id": ns.nsd,
                "name": ns.nsd,
                "df": [
                    {
                        "id": "default-df",
                        "vnf-profile": [
                            {"id": LB_INDEX, "vnfd-id": ns.vnfrs[LB_INDEX].vnfd},
                            {"id": RELAY_INDEX, "vnfd-id": ns.vnfrs[RELAY_INDEX].vnfd},
                        ],
                    }
                ],
            },
            "constituent-vnfr-ref": [v.id for v in ns.vnfrs.values()],
            "datacenter": _uid("vim", "hq"),
            "resource-orchestrator": "osmopenmano",
            "create-time": created,
            "vld": [{"id": "mgmtnet", "name": "mgmtnet", "status": "ACTIVE"}],
            "_admin": {
                "nsState": "INSTANTIATED",
                "created": created,
                "modified": self.model.now().timestamp(),
                "scaling-group": [
                    {"name": name, "nb-scale-op": ns.scaled.get(name, 0), "vnf_index": RELAY_INDEX}
                    for name in self.aspects
                ],
                "deployed": {"VCA": [], "RO": {"nsr_status": "ACTIVE"}},
            },
        }

    def vnfd_ids(self) -> dict[str, str]:
        """VNFD ``_id`` -> descriptor id of every VNF of the NS."""
        return {_uid("vnfd", v.vnfd): v.vnfd for v in self.ns.vnfrs.values()}

    def vnfd_doc(self, vnfd: str) -> dict[str, Any]:
        """A VNFD as OSM keeps it (SOL006, OSM IM ``etsi-nfv-vnfd``): what ``vnf_packages_content`` gives."""
        relay = vnfd == RELAY_VNFD
        vdu = "relay" if relay else "haproxy"
        df: dict[str, Any] = {
            "id": "default-df",
            "vdu-profile": [
                {"id": vdu, "min-number-of-instances": INITIAL_RELAYS if relay else 1,
                 "max-number-of-instances": self.max_relays if relay else 1}
            ],
            "instantiation-level": [
                {"id": "default-instantiation-level",
                 "vdu-level": [{"vdu-id": vdu, "number-of-instances": INITIAL_RELAYS if relay else 1}]}
            ],
        }
        if relay:
            df["scaling-aspect"] = [
                {
                    "id": name,
                    "name": name,
                    "max-scale-level": self.max_scale // delta,
                    "aspect-delta-details": {
                        "deltas": [
                            {"id": f"{name}-delta", "vdu-delta": [{"id": vdu, "number-of-instances": delta}]}
                        ]
                    },
                }
                for name, delta in self.aspects.items()
            ]
        created = self.model.start.timestamp()
        return {
            "_id": _uid("vnfd", vnfd),
            "id": vnfd,
            "product-name": vnfd,
            "provider": "Ukko",
            "version": "1.0",
            "mgmt-cp": "eth0-ext",
            "vdu": [{"id": vdu, "name": vdu, "sw-image-desc": f"{vdu}-image",
                     "virtual-compute-desc": f"{vdu}-compute"}],
            "ext-cpd": [{"id": "eth0-ext", "int-cpd": {"vdu-id": vdu, "cpd": "eth0-int"}}],
            "df": [df],
            "_admin": {"created": created, "modified": created, "onboardingState": "ONBOARDED",
                       "operationalState": "ENABLED", "usageState": "IN_USE"},
        }

    def op_doc(self, op: Operation) -> dict[str, Any]:
        base = "/osm/nslcm/v1"
        queue = [o.id for o in self.ops.values() if o.state == "PROCESSING" and not o.started]
        return {
            "_id": op.id,
            "id": op.id,
            "operationState": op.state,
            "queuePosition": (queue.index(op.id) if op.id in queue else 0),
            "stage": op.detail,
            "errorMessage": op.detail if op.state == "FAILED" else None,
            "detailed-status": op.detail,
            "statusEnteredTime": self.model.time_of(op.entered_s).timestamp(),
            "nsInstanceId": op.ns_id,
            "lcmOperationType": op.kind,
            "startTime": self.model.time_of(op.created_s).timestamp(),
            "isAutomaticInvocation": False,
            "operationParams": op.params,
            "isCancelPending": False,
            "links": {
                "self": f"{base}/ns_lcm_op_occs/{op.id}",
                "nsInstance": f"{base}/ns_instances/{op.ns_id}",
            },
            "_admin": {
                "created": self.model.time_of(op.created_s).timestamp(),
                "modified": self.model.time_of(op.entered_s).timestamp(),
            },
        }


def webhook_body(payload: dict[str, Any]) -> bytes:
    """OSM POL's webhook body: a JSON string whose content is the JSON notification."""
    return json.dumps(json.dumps(payload)).encode()


def relay_servants(osm: Osm) -> list[Servant]:
    """The servants behind the NS's relay VDUs (for tests and the demo)."""
    with osm.model.lock:
        return [s for d in osm.ns.vnfrs[RELAY_INDEX].vdurs if (s := osm.servant(d)) is not None]


__all__ = ["BUILD", "Osm", "OsmError", "relay_servants", "webhook_body"]
