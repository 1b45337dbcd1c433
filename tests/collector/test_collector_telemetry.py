"""Telemetry and lifecycle adapters on recorded real-format data: Gnocchi, Nova, OSM, HAProxy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from arca.collector import nova
from arca.collector.errors import IngestError
from arca.collector.gnocchi import GnocchiPoller, parse_measures
from arca.collector.haproxy import HaproxyPoller, counters, parse_stats
from arca.collector.ingest import Ingestor
from arca.collector.osm import parse_webhook, to_alarm
from arca.collector.settings import CollectorSettings
from arca.messages import decode, encode

DATA = Path(__file__).resolve().parents[1] / "data" / "collector"
T0 = datetime(2026, 11, 22, 2, 6, 25, tzinfo=UTC)
SERVER_1 = "178b0921-8f85-4257-88b6-2e743b5a975c"
SERVER_2 = "9d3a7f3e-4b1c-4f0e-9a51-2f6f1c0d7b42"


# --- Gnocchi ----------------------------------------------------------------------------------
class RecordedGnocchi:
    """Serves the recorded measures, honouring Gnocchi's ``start`` (inclusive) like the real API."""

    def __init__(self) -> None:
        self.servers = json.loads((DATA / "gnocchi" / "servers.json").read_text())["servers"]
        self.polls = [json.loads((DATA / "gnocchi" / f"measures-poll{i}.json").read_text()) for i in (1, 2)]
        self.poll = 0
        self.requests: list[tuple[str, datetime | None]] = []

    def list_servers(self) -> list[dict[str, Any]]:
        return list(self.servers)

    def fetch(self, server_id: str, start: datetime | None) -> list[Any]:
        self.requests.append((server_id, start))
        rows = self.polls[self.poll].get(server_id, [])
        if start is None:
            return list(rows)
        return [r for r in rows if datetime.fromisoformat(r[0]) >= start]


def test_gnocchi_poller_publishes_only_new_cpu_util_of_servants_as_ratios() -> None:
    api = RecordedGnocchi()
    poller = GnocchiPoller(api.list_servers, api.fetch, interval_s=10)
    first = poller.poll(T0)
    # finest granularity only (10 s), percent -> ratio, measure time = event time
    assert [(o.resource, o.event_time.second, o.value) for o in first] == [
        (SERVER_1, 0, 0.355), (SERVER_1, 10, 0.4725), (SERVER_1, 20, 0.52),
        (SERVER_2, 10, 0.125), (SERVER_2, 20, 0.18),
    ]
    assert {o.metric for o in first} == {"cpu_util"} and {o.system for o in first} == {"emergency"}
    assert all(decode(encode(o)) == o for o in first)
    assert "5e0c0a59-1d57-4c4b-8d43-7c46c3a4c2a1" not in {r[0] for r in api.requests}  # not a servant
    api.poll = 1
    assert not poller.due(T0 + timedelta(seconds=9)) and poller.due(T0 + timedelta(seconds=10))
    second = poller.poll(T0 + timedelta(seconds=10))
    assert [(o.resource, o.event_time.second, o.value) for o in second] == [(SERVER_1, 30, 0.8875)]
    assert (SERVER_1, datetime(2026, 11, 22, 2, 6, 20, tzinfo=UTC)) in api.requests


def test_gnocchi_poller_forgets_deleted_servers() -> None:
    api = RecordedGnocchi()
    poller = GnocchiPoller(api.list_servers, api.fetch)
    poller.poll(T0)
    api.servers = [s for s in api.servers if s["id"] != SERVER_2]
    poller.poll(T0 + timedelta(seconds=10))
    assert set(poller.last) == {SERVER_1}


@pytest.mark.parametrize(
    ("data", "path"),
    [({"x": 1}, "/"), ([["2026-11-22T02:00:00+00:00", 10.0]], "/0"),
     ([["2026-11-22T02:00:00+00:00", 10.0, "high"]], "/0"), ([["not-a-date", 10.0, 1.0]], "/0/0")],
    ids=["not-array", "short-row", "value-not-number", "bad-timestamp"],
)
def test_gnocchi_bad_measures_are_refused_with_the_path(data: Any, path: str) -> None:
    with pytest.raises(IngestError) as err:
        parse_measures(data)
    assert err.value.path == path


# --- Nova -------------------------------------------------------------------------------------
def nova_bodies() -> list[bytes]:
    return (DATA / "nova" / "lifecycle-ip-reuse.jsonl").read_bytes().splitlines()


def test_nova_lifecycle_follows_instance_uuid_not_ip() -> None:
    out: list[Any] = []
    ing = Ingestor(CollectorSettings(), out.append)
    statuses = [ing.nova_notification(body).status for body in nova_bodies()]
    assert statuses == ["accepted", "accepted", "accepted", "ignored", "ignored", "accepted",
                        "duplicate", "accepted", "accepted", "accepted"]
    assert [(c.server_id[:8], c.state, c.address) for c in out] == [
        ("178b0921", "building", "10.10.0.11"), ("178b0921", "building", "10.10.0.11"),
        ("178b0921", "active", "10.10.0.11"), ("178b0921", "deleted", "10.10.0.11"),
        ("9d3a7f3e", "building", "10.10.0.11"), ("9d3a7f3e", "active", "10.10.0.11"),
        ("9d3a7f3e", "shutoff", "10.10.0.11"),
    ]
    assert out[2].event_time == datetime(2026, 11, 22, 2, 0, 21, 431876, tzinfo=UTC)
    assert out[2].origin_event == "instance.create.end" and out[2].host == "compute-hq-1"
    assert all(c.system == "emergency" for c in out) and all(decode(encode(c)) == c for c in out)


def test_nova_redelivered_notification_is_absorbed() -> None:
    out: list[Any] = []
    ing = Ingestor(CollectorSettings(), out.append)
    body = nova_bodies()[2]
    assert [ing.nova_notification(body).status for _ in range(2)] == ["accepted", "duplicate"]


NOVA_BAD = [
    ("not-json", b"{", "json", "/"),
    ("bad-oslo-version", json.dumps({"oslo.version": "1.0", "oslo.message": "{}"}).encode(), "nova",
     "/oslo.version"),
    ("no-event-type", json.dumps({"oslo.version": "2.0", "oslo.message": "{}"}).encode(), "nova",
     "/event_type"),
    ("no-payload", json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(
        {"event_type": "instance.create.end"})}).encode(), "nova", "/payload/nova_object.data"),
    ("no-uuid", json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(
        {"event_type": "instance.create.end", "payload": {"nova_object.data": {}}})}).encode(), "nova",
     "/payload/nova_object.data/uuid"),
    ("bad-timestamp", json.dumps({"oslo.version": "2.0", "oslo.message": json.dumps(
        {"event_type": "instance.create.end", "timestamp": "yesterday", "payload": {"nova_object.data": {
            "uuid": "u", "metadata": {"arca_system": "emergency"}}}})}).encode(), "datetime", "/timestamp"),
]


@pytest.mark.parametrize(("body", "reason", "path"), [c[1:] for c in NOVA_BAD], ids=[c[0] for c in NOVA_BAD])
def test_nova_bad_notifications_are_refused_and_counted(body: bytes, reason: str, path: str) -> None:
    ing = Ingestor(CollectorSettings(), lambda _m: None)
    with pytest.raises(IngestError) as err:
        ing.nova_notification(body)
    assert (err.value.reason, err.value.path) == (reason, path)
    assert ing.rejections[("nova", reason)] == 1


def test_nova_unwrap_accepts_a_bare_notification() -> None:
    inner = json.loads(json.loads(nova_bodies()[0])["oslo.message"])
    assert nova.unwrap(json.dumps(inner))["event_type"] == "instance.create.start"


# --- OSM --------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 22, 2, 8, tzinfo=UTC)


def test_osm_vm_status_insufficient_data_webhook_is_a_dead_vnf_alarm() -> None:
    body = (DATA / "osm" / "vm-status-insufficient-data.body").read_bytes()
    assert isinstance(json.loads(body), str)  # really a JSON string containing JSON
    alarm = to_alarm(parse_webhook(body), NOW, default_system="emergency")
    assert (alarm.status, alarm.metric, alarm.vdu_name, alarm.vnf_member_index) == (
        "insufficient-data", "vm_status", "emergency_vnfd-VM-1", "1")
    assert alarm.event_time == datetime(2026, 11, 22, 2, 7, 30, tzinfo=UTC)
    assert alarm.threshold == 1.0 and alarm.operation == "LT" and alarm.severity == "critical"
    assert decode(encode(alarm)) == alarm


def test_osm_alarm_system_from_ns_mapping_and_tags_format() -> None:
    body = (DATA / "osm" / "prometheus-tags.body").read_bytes()
    alarm = to_alarm(parse_webhook(body), NOW, default_system="emergency",
                     ns_systems={"a8c4e1f0-2d3b-4c5a-9e8f-7a6b5c4d3e2f": "emergency-ns"})
    assert (alarm.system, alarm.status, alarm.vdu_name) == ("emergency-ns", "ok", "emergency_vnfd-VM-2")
    assert alarm.event_time == datetime(2026, 11, 22, 2, 9, 0, 123000, tzinfo=UTC)


def _osm(details: dict[str, Any], **top: Any) -> bytes:
    doc = {"schema_version": "1.1", "schema_type": "notify_alarm", "notify_details": details, **top}
    return json.dumps(json.dumps(doc)).encode()


GOOD = {"alarm_uuid": "a", "metric_name": "cpu_utilization", "status": "alarm"}
OSM_BAD = [
    ("not-json", b"\"{not json", "json", "/"),
    ("wrong-schema-type", _osm(GOOD, schema_type="notify_metric"), "osm", "/schema_type"),
    ("no-details", json.dumps(json.dumps({"schema_type": "notify_alarm"})).encode(), "osm",
     "/notify_details"),
    ("no-alarm-uuid", _osm({**GOOD, "alarm_uuid": None}), "osm", "/notify_details/alarm_uuid"),
    ("bad-status", _osm({**GOOD, "status": "firing"}), "osm", "/notify_details/status"),
    ("bad-threshold", _osm({**GOOD, "threshold_value": "high"}), "osm", "/notify_details/threshold_value"),
    ("bad-date", _osm({**GOOD, "start_date": "soon"}), "datetime", "/notify_details/start_date"),
]


@pytest.mark.parametrize(("body", "reason", "path"), [c[1:] for c in OSM_BAD], ids=[c[0] for c in OSM_BAD])
def test_osm_bad_webhooks_are_refused_with_the_path(body: bytes, reason: str, path: str) -> None:
    with pytest.raises(IngestError) as err:
        to_alarm(parse_webhook(body), NOW, default_system="emergency")
    assert (err.value.reason, err.value.path) == (reason, path)


# --- HAProxy ----------------------------------------------------------------------------------
def csv_poll(i: int) -> str:
    return (DATA / "haproxy" / f"lb-building-2-poll{i}.csv").read_text()


def test_haproxy_rates_come_from_counters_between_two_polls_in_event_time() -> None:
    texts = iter([csv_poll(1), csv_poll(2)])
    poller = HaproxyPoller(lambda: next(texts), system="emergency", lb_name="lb-building-2",
                           domain="building-2", interval_s=10)
    first = poller.poll(T0)
    assert [(o.metric, o.value) for o in first] == [("queue_length", 5.0)]  # no rate from one poll
    second = poller.poll(T0 + timedelta(seconds=10))
    got = {o.metric: o.value for o in second}
    assert got["queue_length"] == 60.0
    assert got["request_rate"] == pytest.approx((22819 - 18219) / 10)
    assert got["discard_rate"] == pytest.approx(((40 + 5 + 14) - (12 + 3 + 2)) / 10)
    assert {(o.resource, o.domain, o.system) for o in second} == {
        ("lb-building-2", "building-2", "emergency")}
    assert all(decode(encode(o)) == o for o in second)


def test_haproxy_counter_reset_restarts_the_derivation() -> None:
    texts = iter([csv_poll(2), csv_poll(1)])  # counters go down: HAProxy reloaded
    poller = HaproxyPoller(lambda: next(texts), system="emergency", lb_name="lb")
    poller.poll(T0)
    assert [o.metric for o in poller.poll(T0 + timedelta(seconds=10))] == ["queue_length"]


def test_haproxy_named_proxies_and_ambiguity() -> None:
    rows = parse_stats(csv_poll(1))
    assert counters(rows, T0, "fe_emergency", "be_servants").requests == 18219
    assert counters(rows, T0, "stats", "stats").requests == 31
    with pytest.raises(IngestError) as err:
        counters(rows, T0, "fe_nothing")
    assert err.value.path == "/fe_nothing/FRONTEND"


@pytest.mark.parametrize(
    ("text", "path"),
    [("pxname,svname\n", "/"), ("# pxname,svname,qcur\nx,FRONTEND,1\n", "/header")],
    ids=["no-header-marker", "missing-columns"],
)
def test_haproxy_bad_csv_is_refused(text: str, path: str) -> None:
    with pytest.raises(IngestError) as err:
        parse_stats(text)
    assert err.value.path == path


# --- HAProxy: the window's peak (issue 23 item 1) -------------------------------------------------
def stats(requests: int, refused: int = 0) -> str:
    """A minimal ``show stat`` CSV with these FRONTEND counters."""
    return ("# pxname,svname,qcur,stot,dreq,ereq,econ,req_tot,\n"
            f"lb,FRONTEND,,{requests},{refused},0,,{requests},\n"
            "servants,BACKEND,0,0,0,0,0,,\n")


PEAK_CASES = [
    # id, cumulative requests read every second from T0 (11 reads: one window), expected peak (rate, at s)
    ("burst-in-the-middle", [0, 10, 20, 30, 130, 330, 430, 460, 470, 480, 490], (200.0, 4.5)),
    ("flat-the-first-second-wins", [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300], (30.0, 0.5)),
    ("peak-in-the-last-second", [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 190], (100.0, 9.5)),
]


@pytest.mark.parametrize(("counts", "peak"), [c[1:] for c in PEAK_CASES], ids=[c[0] for c in PEAK_CASES])
def test_haproxy_window_peak_from_reads_inside_the_poll(counts: list[int], peak: tuple[float, float]) -> None:
    texts = iter([stats(n) for n in counts])
    poller = HaproxyPoller(lambda: next(texts), system="emergency", lb_name="lb", interval_s=10,
                           peak_interval_s=1.0)
    published = []
    for k in range(len(counts)):
        assert poller.due(T0 + timedelta(seconds=k))  # read every second
        published.append(poller.poll(T0 + timedelta(seconds=k)))
    assert [o.metric for o in published[0]] == ["queue_length"]  # the first poll publishes, as before
    assert all(out == [] for out in published[1:-1])  # reads inside the window publish nothing
    last = {o.metric: o for o in published[-1]}
    assert last["request_rate"].value == pytest.approx(counts[-1] / 10)  # the window's mean, as before
    assert (last["request_rate_peak"].value, last["request_rate_peak"].event_time) == (
        pytest.approx(peak[0]), T0 + timedelta(seconds=peak[1]))
    assert [o.metric for o in published[-1]] == ["queue_length", "request_rate_peak", "request_rate",
                                                 "discard_rate"]


def test_haproxy_each_windows_peak_is_its_own() -> None:
    counts = [0, 10, 20, 30, 330, 340, 350, 360, 370, 380, 390,  # a burst in the first window (300 req/s)
              400, 410, 420, 430, 440, 450, 460, 470, 480, 490, 500]  # a flat second window (10 req/s)
    texts = iter([stats(n) for n in counts])
    poller = HaproxyPoller(lambda: next(texts), system="emergency", lb_name="lb", interval_s=10,
                           peak_interval_s=1.0)
    outs = [poller.poll(T0 + timedelta(seconds=k)) for k in range(len(counts))]
    peaks = [(o.value, o.event_time) for out in outs for o in out if o.metric == "request_rate_peak"]
    assert peaks == [(300.0, T0 + timedelta(seconds=3.5)), (10.0, T0 + timedelta(seconds=10.5))]


def test_haproxy_without_peak_interval_polls_once_per_window() -> None:
    texts = iter([stats(0), stats(100)])
    poller = HaproxyPoller(lambda: next(texts), system="emergency", lb_name="lb", interval_s=10)
    poller.poll(T0)
    assert not poller.due(T0 + timedelta(seconds=1))
    assert "request_rate_peak" not in {o.metric for o in poller.poll(T0 + timedelta(seconds=10))}


def test_haproxy_peak_of_a_reset_window_is_dropped() -> None:
    texts = iter([stats(n) for n in (100, 150, 200, 10, 20, 30, 40, 50, 60, 70, 80)])  # reloaded at 3 s
    poller = HaproxyPoller(lambda: next(texts), system="emergency", lb_name="lb", interval_s=10,
                           peak_interval_s=1.0)
    outs = [poller.poll(T0 + timedelta(seconds=k)) for k in range(11)]
    assert [o.metric for o in outs[-1]] == ["queue_length"]  # counters went back: no rate, no peak


def test_haproxy_reads_inside_the_window_use_peek_the_published_polls_fetch() -> None:
    """``peek`` (the demo's in-process read) serves only the reads between two published polls; the
    published polls go through ``fetch`` (the HTTP read); the figures are the same as with ``fetch``
    alone."""
    counts = [0, 10, 20, 30, 130, 330, 430, 460, 470, 480, 490, 500]
    fetched: list[int] = []
    peeked: list[int] = []
    texts = iter([stats(n) for n in counts])
    poller = HaproxyPoller(lambda: (fetched.append(1), next(texts))[1], system="emergency", lb_name="lb",
                           interval_s=10, peak_interval_s=1.0,
                           peek=lambda: (peeked.append(1), next(texts))[1])

    def figures(p: HaproxyPoller, k: int) -> list[tuple[str, float, datetime]]:
        return [(o.metric, o.value, o.event_time) for o in p.poll(T0 + timedelta(seconds=k))]

    outs = [figures(poller, k) for k in range(len(counts))]
    assert (len(fetched), len(peeked)) == (2, 10)  # the polls at 0 s and 10 s; the reads at 1-9 s and 11 s
    alone = iter([stats(n) for n in counts])
    plain = HaproxyPoller(lambda: next(alone), system="emergency", lb_name="lb", interval_s=10,
                          peak_interval_s=1.0)
    assert outs == [figures(plain, k) for k in range(len(counts))]
    assert any(metric == "request_rate_peak" for out in outs for metric, _, _ in out)
