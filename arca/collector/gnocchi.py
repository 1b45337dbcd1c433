"""Gnocchi CPU utilisation of the servants -> ``Observation`` (metric ``cpu_util``, ratio 0..1).

Servants are Nova servers whose metadata names an ``arca_system``. For each, the poller reads the
``cpu_util`` measures of Gnocchi resource ``instance/<server id>`` (percent) and publishes the ones
newer than the last it published for that server. The I/O is two injected functions, so the logic
is tested on recorded JSON; ``openstack_fetchers`` builds them from an openstacksdk connection
(keystoneauth session, endpoint of service type ``metric`` from the catalog).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from arca.collector.errors import IngestError
from arca.collector.events import parse_datetime
from arca.messages import Observation

SYSTEM_KEY = "arca_system"

ListServers = Callable[[], Iterable[Mapping[str, Any]]]
FetchMeasures = Callable[[str, datetime | None], list[Any]]


def measures_path(server_id: str) -> str:
    return f"/v1/resource/instance/{server_id}/metric/cpu_util/measures"


def server_rows(data: Any) -> list[dict[str, Any]]:
    """``{"id", "name", "metadata"}`` of each server of a Nova ``GET /servers/detail`` answer."""
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        raise IngestError("gnocchi", "/servers", "the server list must be an object with a 'servers' array")
    rows = []
    for i, s in enumerate(data["servers"]):
        if not isinstance(s, dict) or not isinstance(s.get("id"), str):
            raise IngestError("gnocchi", f"/servers/{i}/id", "a server needs a string id")
        meta = s.get("metadata")
        rows.append({"id": s["id"], "name": str(s.get("name") or ""),
                     "metadata": dict(meta) if isinstance(meta, dict) else {}})
    return rows


def _more(data: Mapping[str, Any], got: int, page_size: int) -> bool:
    """Whether Nova has a next page: a ``servers_links`` rel ``next``, or a full page."""
    links = data.get("servers_links")
    linked = isinstance(links, list) and any(isinstance(x, dict) and x.get("rel") == "next" for x in links)
    return got > 0 and (linked or got >= page_size)


def openstack_fetchers(conn: Any, page_size: int = 1000) -> tuple[ListServers, FetchMeasures]:
    """(list_servers, fetch_measures) over an ``openstack.connection.Connection``.

    Servers are listed as JSON on the SDK's session (``GET /servers/detail`` through the compute
    proxy, which adds auth, endpoint and microversion), ``page_size`` at a time (``limit`` and
    ``marker``, as Nova pages): building openstacksdk ``Server`` resources for every server on every
    poll cost ~20x the request itself (80 vs 3.8 ms for 15 servers).
    """

    def list_servers() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": page_size}
        while True:
            resp = conn.compute.get("/servers/detail", params=params)
            resp.raise_for_status()
            data = resp.json()
            page = server_rows(data)
            rows.extend(page)
            if not _more(data, len(page), page_size) or page[-1]["id"] == params.get("marker"):
                return rows
            params = {"limit": page_size, "marker": page[-1]["id"]}

    def fetch_measures(server_id: str, start: datetime | None) -> list[Any]:
        params = {"start": start.isoformat()} if start else None
        resp = conn.session.get(
            measures_path(server_id), endpoint_filter={"service_type": "metric"}, params=params
        )
        if resp.status_code == 404:  # no measures yet for a new server
            return []
        resp.raise_for_status()
        data: list[Any] = resp.json()
        return data

    return list_servers, fetch_measures


def parse_measures(data: Any, path: str = "") -> list[tuple[datetime, float, float]]:
    """Gnocchi measures ``[[timestamp, granularity, value], ...]`` of the finest granularity."""
    if not isinstance(data, list):
        raise IngestError("gnocchi", path or "/", "measures must be a JSON array")
    rows = []
    for i, item in enumerate(data):
        if not (isinstance(item, list) and len(item) == 3):
            raise IngestError("gnocchi", f"{path}/{i}", "a measure is [timestamp, granularity, value]")
        ts, gran, value = item
        if not isinstance(value, int | float) or not isinstance(gran, int | float):
            raise IngestError("gnocchi", f"{path}/{i}", "granularity and value must be numbers")
        rows.append((parse_datetime(ts, f"{path}/{i}/0"), float(gran), float(value)))
    if not rows:
        return rows
    finest = min(r[1] for r in rows)
    return sorted(r for r in rows if r[1] == finest)


class GnocchiPoller:
    """Polls every ``interval_s`` (event time); remembers the last measure published per server."""

    def __init__(
        self,
        list_servers: ListServers,
        fetch_measures: FetchMeasures,
        *,
        interval_s: float = 10.0,
        producer: str = "collector",
    ) -> None:
        self._list = list_servers
        self._fetch = fetch_measures
        self.interval = timedelta(seconds=interval_s)
        self.producer = producer
        self.last: dict[str, datetime] = {}
        self.next_poll: datetime | None = None
        self.systems_seen: set[str] = set()
        """The ``arca_system`` values of the servers the last poll listed."""

    def due(self, now: datetime) -> bool:
        return self.next_poll is None or now >= self.next_poll

    def poll(self, now: datetime) -> list[Observation]:
        """One poll: new ``cpu_util`` observations of every servant (measure time = event time)."""
        self.next_poll = now + self.interval
        out: list[Observation] = []
        seen: set[str] = set()
        systems: set[str] = set()
        for server in self._list():
            system = (server.get("metadata") or {}).get(SYSTEM_KEY)
            if not system:
                continue
            systems.add(str(system))
            sid = str(server["id"])
            seen.add(sid)
            last = self.last.get(sid)
            for ts, _gran, pct in parse_measures(self._fetch(sid, last), measures_path(sid)):
                if last is not None and ts <= last:
                    continue
                out.append(Observation(
                    event_time=ts, producer=self.producer, system=str(system), metric="cpu_util",
                    value=max(0.0, pct / 100.0), unit="ratio", resource=sid,
                ))
                last = ts
            if last is not None:
                self.last[sid] = last
        for gone in set(self.last) - seen:  # forget deleted servers
            del self.last[gone]
        self.systems_seen = systems
        return out
