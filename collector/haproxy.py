"""HAProxy statistics (``show stat`` CSV) -> ``Observation`` per load balancer.

From the FRONTEND row: ``req_tot`` (cumulative HTTP requests; ``stot`` sessions in TCP mode) and
the refused requests ``dreq`` (denied) + ``ereq`` (request errors); from the BACKEND row: ``qcur``
(requests queued for a servant) and ``econ`` (requests whose connection to a servant failed,
refused too). A FRONTEND is paired with the BACKEND of the same name, else with the only BACKEND.
Rates are derived from two polls' cumulative counters over event time:
``request_rate`` and ``discard_rate`` (req/s), plus ``queue_length`` (requests) every poll.
A counter going backwards (HAProxy reloaded) restarts the derivation.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from arca.messages import Observation
from collector.errors import IngestError


@dataclass(frozen=True)
class LbCounters:
    """One poll of one proxy."""

    at: datetime
    requests: int
    refused: int
    queue: int


def _int(row: dict[str, str], name: str, where: str) -> int:
    text = (row.get(name) or "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise IngestError("haproxy", f"{where}/{name}", f"not an integer: {text!r}") from None


def parse_stats(text: str, at: datetime) -> dict[str, LbCounters]:
    """Counters of every proxy that has a FRONTEND row, from ``show stat`` CSV."""
    if not text.startswith("# "):
        raise IngestError("haproxy", "/", "not HAProxy stats CSV (header '# pxname,svname,...' missing)")
    reader = csv.DictReader(io.StringIO(text[2:]))
    fields = set(reader.fieldnames or [])
    missing = {"pxname", "svname", "qcur", "stot", "dreq", "ereq"} - fields
    if missing:
        raise IngestError("haproxy", "/header", f"missing columns: {', '.join(sorted(missing))}")
    fronts: dict[str, dict[str, str]] = {}
    backs: dict[str, dict[str, str]] = {}
    for row in reader:
        name, kind = row.get("pxname") or "", row.get("svname") or ""
        if kind == "FRONTEND":
            fronts[name] = row
        elif kind == "BACKEND":
            backs[name] = row
    out: dict[str, LbCounters] = {}
    for name, row in fronts.items():
        where = f"/{name}/FRONTEND"
        req = _int(row, "req_tot", where) if (row.get("req_tot") or "").strip() else _int(row, "stot", where)
        back = backs.get(name) or (next(iter(backs.values())) if len(backs) == 1 else {})
        bwhere = f"/{name}/BACKEND"
        out[name] = LbCounters(
            at=at,
            requests=req,
            refused=_int(row, "dreq", where) + _int(row, "ereq", where) + _int(back, "econ", bwhere),
            queue=_int(back, "qcur", bwhere),
        )
    return out


class HaproxyPoller:
    """Keeps the previous poll per load balancer and derives rates from the counters."""

    def __init__(
        self,
        fetch: Callable[[], str],
        *,
        system: str,
        lb_name: str,
        domain: str | None = None,
        interval_s: float = 10.0,
        producer: str = "collector",
    ) -> None:
        self._fetch = fetch
        self.system = system
        self.lb_name = lb_name
        self.domain = domain
        self.interval_s = interval_s
        self.producer = producer
        self.previous: dict[str, LbCounters] = {}
        self.next_poll: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.next_poll is None or now >= self.next_poll

    def poll(self, now: datetime) -> list[Observation]:
        self.next_poll = now + timedelta(seconds=self.interval_s)
        return self.observe(parse_stats(self._fetch(), now))

    def observe(self, counters: dict[str, LbCounters]) -> list[Observation]:
        out: list[Observation] = []
        many = len(counters) > 1
        for proxy, cur in sorted(counters.items()):
            resource = f"{self.lb_name}/{proxy}" if many else self.lb_name

            def obs(metric: str, value: float, unit: str, at: datetime = cur.at, res: str = resource) -> None:
                out.append(Observation(
                    event_time=at, producer=self.producer, system=self.system, metric=metric,
                    value=value, unit=unit, resource=res, domain=self.domain,
                ))

            obs("queue_length", float(cur.queue), "requests")
            prev = self.previous.get(proxy)
            self.previous[proxy] = cur
            if prev is None:
                continue
            dt = (cur.at - prev.at).total_seconds()
            if dt <= 0 or cur.requests < prev.requests or cur.refused < prev.refused:
                continue  # no time elapsed, or counters reset by a reload
            obs("request_rate", (cur.requests - prev.requests) / dt, "req/s")
            obs("discard_rate", (cur.refused - prev.refused) / dt, "req/s")
        return out
