"""HAProxy statistics (``show stat`` CSV) -> ``Observation`` per load balancer.

From the FRONTEND row: ``req_tot`` (cumulative HTTP requests; ``stot`` sessions in TCP mode) and
the refused requests ``dreq`` (denied) + ``ereq`` (request errors); from the BACKEND row: ``qcur``
(requests queued for a servant) and ``econ`` (requests whose connection to a servant failed,
refused too). The FRONTEND and BACKEND are named per load balancer (settings
``haproxy_proxies``), else the only ones besides HAProxy's own ``stats`` proxy are used.
Rates are derived from two polls' cumulative counters over event time:
``request_rate`` and ``discard_rate`` (req/s), plus ``queue_length`` (requests) every poll.
A counter going backwards (HAProxy reloaded) restarts the derivation.

The window's peak (issue 23): with ``peak_interval_s`` (e.g. 1 s) the poller also reads the counters
between two published polls, every ``peak_interval_s``, and publishes with each window's rates
``request_rate_peak``: the highest request rate over one such sub-interval, stamped at that
sub-interval's middle (what a Prometheus ``max_over_time(rate(...[1s])[10s:1s])`` gives). A window's
mean hides the top of a short burst: a severity-1 burst needs 3 servants for ~3 s around its peak
and 2 on average over the 10 s window that contains it. Without ``peak_interval_s`` nothing changes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from arca.collector.errors import IngestError
from arca.messages import Observation


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


def parse_stats(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """FRONTEND and BACKEND rows of ``show stat`` CSV, by (pxname, svname)."""
    if not text.startswith("# "):
        raise IngestError("haproxy", "/", "not HAProxy stats CSV (header '# pxname,svname,...' missing)")
    reader = csv.DictReader(io.StringIO(text[2:]))
    missing = {"pxname", "svname", "qcur", "stot", "dreq", "ereq", "econ"} - set(reader.fieldnames or [])
    if missing:
        raise IngestError("haproxy", "/header", f"missing columns: {', '.join(sorted(missing))}")
    return {
        (row["pxname"], row["svname"]): row
        for row in reader
        if row.get("svname") in ("FRONTEND", "BACKEND")
    }


Rows = dict[tuple[str, str], dict[str, str]]


def _pick(rows: Rows, kind: str, name: str | None) -> tuple[str, dict[str, str]]:
    if name is not None:
        row = rows.get((name, kind))
        if row is None:
            raise IngestError("haproxy", f"/{name}/{kind}", f"no {kind} row for proxy {name!r}")
        return name, row
    candidates = [(px, row) for (px, sv), row in rows.items() if sv == kind and px != "stats"]
    if len(candidates) != 1:
        raise IngestError(
            "haproxy", f"/{kind}", f"{len(candidates)} {kind} proxies besides 'stats': name the one to use"
        )
    return candidates[0]


def counters(
    rows: dict[tuple[str, str], dict[str, str]], at: datetime,
    frontend: str | None = None, backend: str | None = None,
) -> LbCounters:
    """The load balancer's counters: requests and refusals of its FRONTEND, queue of its BACKEND."""
    fe_name, fe = _pick(rows, "FRONTEND", frontend)
    be_name, be = _pick(rows, "BACKEND", backend)
    fw, bw = f"/{fe_name}/FRONTEND", f"/{be_name}/BACKEND"
    requests = _int(fe, "req_tot", fw) if (fe.get("req_tot") or "").strip() else _int(fe, "stot", fw)
    return LbCounters(
        at=at,
        requests=requests,
        refused=_int(fe, "dreq", fw) + _int(fe, "ereq", fw) + _int(be, "econ", bw),
        queue=_int(be, "qcur", bw),
    )


class HaproxyPoller:
    """Keeps the previous poll per load balancer and derives rates from the counters."""

    def __init__(
        self,
        fetch: Callable[[], str],
        *,
        system: str,
        lb_name: str,
        domain: str | None = None,
        frontend: str | None = None,
        backend: str | None = None,
        interval_s: float = 10.0,
        producer: str = "collector",
        peak_interval_s: float | None = None,
        peek: Callable[[], str] | None = None,
    ) -> None:
        self._fetch = fetch
        self._peek = peek or fetch
        """What the reads between two published polls fetch with (the in-process demo reads its
        emulated load balancer without HTTP there: a request per simulated second and balancer cost
        the demo half its time); the published polls always use ``fetch``."""
        self.system = system
        self.lb_name = lb_name
        self.domain = domain
        self.frontend = frontend
        self.backend = backend
        self.interval_s = interval_s
        self.producer = producer
        self.previous: LbCounters | None = None
        self.next_poll: datetime | None = None
        self.peak_interval_s = peak_interval_s if peak_interval_s and peak_interval_s < interval_s else None
        self.next_publish: datetime | None = None
        self.last_read: LbCounters | None = None
        """The counters of the latest read (published or not): what a sub-interval's rate is from."""
        self.peak: tuple[float, datetime] | None = None
        """The highest sub-interval request rate since the last publication, and its middle."""

    def due(self, now: datetime) -> bool:
        return self.next_poll is None or now >= self.next_poll

    def poll(self, now: datetime) -> list[Observation]:
        """One poll at event time ``now``: queue length, and rates since the previous published poll
        (with ``peak_interval_s``, a read between two published polls only tracks the peak)."""
        self.next_poll = now + timedelta(seconds=self.peak_interval_s or self.interval_s)
        publish = self.peak_interval_s is None or self.next_publish is None or now >= self.next_publish
        cur = counters(parse_stats((self._fetch if publish else self._peek)()), now, self.frontend,
                       self.backend)
        if self.peak_interval_s is None:
            return self.observe(cur)
        self.track_peak(cur)
        if not publish:
            return []
        self.next_publish = now + timedelta(seconds=self.interval_s)
        return self.observe(cur)

    def track_peak(self, cur: LbCounters) -> None:
        """The sub-interval's rate since the last read, kept if it is the window's highest so far."""
        last, self.last_read = self.last_read, cur
        if last is None:
            return
        dt = (cur.at - last.at).total_seconds()
        if dt <= 0 or cur.requests < last.requests:
            return
        rate, middle = (cur.requests - last.requests) / dt, last.at + (cur.at - last.at) / 2
        if self.peak is None or rate > self.peak[0]:
            self.peak = (rate, middle)

    def observe(self, cur: LbCounters) -> list[Observation]:
        out: list[Observation] = []

        def obs(metric: str, value: float, unit: str) -> None:
            out.append(Observation(
                event_time=cur.at, producer=self.producer, system=self.system, metric=metric,
                value=value, unit=unit, resource=self.lb_name, domain=self.domain,
            ))

        obs("queue_length", float(cur.queue), "requests")
        prev, self.previous = self.previous, cur
        peak, self.peak = self.peak, None  # each window's peak is its own
        if prev is None:
            return out
        dt = (cur.at - prev.at).total_seconds()
        if dt <= 0 or cur.requests < prev.requests or cur.refused < prev.refused:
            return out  # no time elapsed, or counters reset by a reload
        if peak is not None:  # read since the previous publication: inside the window; before its rate
            out.append(Observation(
                event_time=peak[1], producer=self.producer, system=self.system, metric="request_rate_peak",
                value=peak[0], unit="req/s", resource=self.lb_name, domain=self.domain,
            ))
        obs("request_rate", (cur.requests - prev.requests) / dt, "req/s")
        obs("discard_rate", (cur.refused - prev.refused) / dt, "req/s")
        return out
