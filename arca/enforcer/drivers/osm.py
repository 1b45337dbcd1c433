"""OSM driver: the NBI REST client (requests) for scale, heal and operation polling.

``POST /osm/admin/v1/tokens`` gives a bearer token (renewed once on a 401);
``GET /osm/vnfpkgm/v1/vnf_packages_content/{vnfd id}`` reads a VNFD (its scaling aspects);
``POST /osm/nslcm/v1/ns_instances/{id}/scale`` with ``scaleType: SCALE_VNF`` and ``scaleVnfData``
applies one scaling aspect (``scaling-group-descriptor``: its whole delta, one or more VDUs);
``POST .../heal`` with ``healVnfData`` heals a VNF instance;
both answer an operation id polled at ``GET /osm/nslcm/v1/ns_lcm_op_occs/{id}`` until
``operationState`` is COMPLETED or FAILED. Every call is a single short request (no waiting):
the action polls again on the next tick. 5xx, timeouts and connection errors -> ``TransientError``.
"""

from __future__ import annotations

from typing import Any

import requests

from arca.enforcer.drivers.base import PermanentError, TransientError
from arca.enforcer.settings import EnforcerSettings

_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


class OsmClient:
    """A thin OSM NBI client."""

    name = "osm"

    def __init__(self, settings: EnforcerSettings, session: requests.Session | None = None) -> None:
        self.settings = settings
        self.base = settings.osm_url.rstrip("/")
        self.http = session or requests.Session()
        self.token: str | None = None

    def _authenticate(self) -> None:
        s = self.settings
        body = {"username": s.osm_username, "password": s.osm_password, "project_id": s.osm_project}
        data = self._send("POST", "/osm/admin/v1/tokens", body, auth=False)
        token = data.get("id") or data.get("_id")
        if not token:
            raise PermanentError("OSM token answer carries no id")
        self.token = str(token)

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None, *,
              auth: bool = True) -> Any:
        if auth and self.token is None:
            self._authenticate()
        for attempt in (1, 2):
            headers = dict(_JSON)
            if auth:
                headers["Authorization"] = f"Bearer {self.token}"
            try:
                resp = self.http.request(method, self.base + path, json=body, headers=headers,
                                         timeout=self.settings.api_timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"OSM {method} {path}: {type(exc).__name__}: {exc}") from exc
            if resp.status_code == 401 and auth and attempt == 1:
                self._authenticate()
                continue
            if resp.status_code >= 500 or resp.status_code == 429:
                raise TransientError(f"OSM {method} {path}: HTTP {resp.status_code} {resp.text[:200]}")
            if resp.status_code >= 400:
                raise PermanentError(f"OSM {method} {path}: HTTP {resp.status_code} {resp.text[:200]}")
            if not resp.content:
                return {}
            try:
                return resp.json()
            except ValueError as exc:
                raise TransientError(f"OSM {method} {path}: answer is not JSON") from exc
        raise PermanentError(f"OSM {method} {path}: unauthorised")

    # --- reading --------------------------------------------------------------------------------
    def ns_instances(self) -> list[dict[str, Any]]:
        data = self._send("GET", "/osm/nslcm/v1/ns_instances_content")
        return list(data) if isinstance(data, list) else []

    def vnf_instances(self, ns_id: str) -> list[dict[str, Any]]:
        data = self._send("GET", f"/osm/nslcm/v1/vnf_instances?nsr-id-ref={ns_id}")
        items = list(data) if isinstance(data, list) else []
        return [v for v in items if v.get("nsr-id-ref", ns_id) == ns_id]

    def ns_instance(self, ns_id: str) -> dict[str, Any]:
        data = self._send("GET", f"/osm/nslcm/v1/ns_instances_content/{ns_id}")
        return dict(data) if isinstance(data, dict) else {}

    def vnfd(self, vnfd_id: str) -> dict[str, Any]:
        data = self._send("GET", f"/osm/vnfpkgm/v1/vnf_packages_content/{vnfd_id}")
        return dict(data) if isinstance(data, dict) else {}

    def operation(self, op_id: str) -> dict[str, Any]:
        data = self._send("GET", f"/osm/nslcm/v1/ns_lcm_op_occs/{op_id}")
        return dict(data) if isinstance(data, dict) else {}

    def operation_state(self, op_id: str) -> str:
        return str(self.operation(op_id).get("operationState", "PROCESSING"))

    # --- changing -----------------------------------------------------------------------------------
    def scale(self, ns_id: str, scaling_group: str, member_vnf_index: str, direction: str) -> str:
        if direction not in ("SCALE_OUT", "SCALE_IN"):
            raise PermanentError(f"scale direction must be SCALE_OUT or SCALE_IN, not {direction!r}")
        body = {
            "scaleType": "SCALE_VNF",
            "scaleVnfData": {
                "scaleVnfType": direction,
                "scaleByStepData": {
                    "scaling-group-descriptor": scaling_group,
                    "member-vnf-index": member_vnf_index,
                },
            },
        }
        return self._op_id(self._send("POST", f"/osm/nslcm/v1/ns_instances/{ns_id}/scale", body))

    def heal(self, ns_id: str, vnf_instance_id: str, vdu_id: str | None = None) -> str:
        item: dict[str, Any] = {"vnfInstanceId": vnf_instance_id, "cause": "arca: VNF reported dead"}
        if vdu_id:
            item["additionalParams"] = {"run-day1": False, "vdu": [{"vdu-id": vdu_id}]}
        body = {"healVnfData": [item]}
        return self._op_id(self._send("POST", f"/osm/nslcm/v1/ns_instances/{ns_id}/heal", body))

    @staticmethod
    def _op_id(data: Any) -> str:
        op = data.get("id") if isinstance(data, dict) else None
        if not op:
            raise PermanentError("OSM answered without an operation id")
        return str(op)
