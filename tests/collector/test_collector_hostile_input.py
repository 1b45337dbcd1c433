"""Issue 13, bad input: every case of the hostile-input table gets a 400 naming what is wrong (HTTP)
and a one-line error with exit 1 (``arca event validate``) — never a 500, never a traceback."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from arca.collector.http import EVENT_PATH
from tests.collector.test_collector_http import DATA, Running, restconf_error, sample, start_collector

ENV = "ietf-restconf:notification"
EV = "ietf-nmrg-nict-resource-anticipation:event"


def edit(fn: Callable[[dict[str, Any]], None], name: str = "bigdata") -> bytes:
    doc = sample(name)
    fn(doc)
    return json.dumps(doc).encode()


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def run(doc: dict[str, Any]) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return run


BIG_INT = "1" * 4301
CASES: dict[str, tuple[bytes, str, str]] = {
    # id: (body, expected reason, a fragment of the path or detail)
    "body-1": (b"1", "envelope", "/"),
    "body-empty-list": (b"[]", "envelope", "/"),
    "body-null": (b"null", "envelope", "/"),
    "body-empty": (b"", "json", "not JSON"),
    "nested-1000": (b"[" * 1000, "json", "levels deep"),
    "nested-object-100": (b'{"a":' * 100 + b"1" + b"}" * 100, "json", "levels deep"),
    "integer-4301-digits": (f'{{"{ENV}": {{"eventTime": {BIG_INT}}}}}'.encode(), "json", "digits"),
    "nan-constant": (b'{"a": NaN}', "json", "NaN"),
    "float-overflow": (b'{"a": 1e999}', "json", "overflows"),
    "not-utf8": (b"\xff\xfe{}", "json", "UTF-8"),
    "eventTime-overflow": (edit(_set((ENV, "eventTime"), "9999-12-31T23:59:59-14:00")), "datetime",
                           "eventTime"),
    "timestamp-year-0": (edit(_set((ENV, EV, "timestamp"), "0000-01-01T00:00:00Z")), "datetime",
                         "timestamp"),
    "payload-not-base64": (edit(_set((ENV, EV, "payload"), "%%% not base64 %%%")), "yang", "payload"),
    "payload-base64-not-json": (edit(_set((ENV, EV, "payload"), base64.b64encode(b"\x00\x01").decode())),
                                "json", "payload"),
    "lone-surrogate-context": (edit(_set((ENV, EV, "context"), "\ud800")), "json", "surrogate"),
    "lone-surrogate-key": (b'{"\\udc00": 1}', "json", "surrogate"),
}


@pytest.fixture(scope="module")
def collector() -> Iterator[Running]:
    running = start_collector()
    yield running
    running.service.close()


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_http_answers_400_naming_the_problem(collector: Running, case: str) -> None:
    body, reason, fragment = CASES[case]
    before = len(collector.received)
    resp = collector.post(EVENT_PATH, body)
    assert resp.status_code == 400, resp.text
    error = restconf_error(resp)
    assert error["error-app-tag"] == reason, error
    assert fragment in error.get("error-path", "/") + error["error-message"], error  # "/": no error-path
    assert len(collector.received) == before


@pytest.mark.parametrize("case", sorted(CASES), ids=sorted(CASES))
def test_cli_event_validate_prints_one_line_and_exits_1(case: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from arca.app.cli.main import main

    body, reason, _ = CASES[case]
    path = tmp_path / "event.json"
    path.write_bytes(body)
    scales = Path(__file__).resolve().parents[2] / "ontology" / "policies" / "severity-scales.ttl"
    assert main(["event", "validate", str(path), "--scales", str(scales)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"rejected ({reason})" in err and "Traceback" not in err


def test_lone_surrogate_event_is_refused_and_not_marked_seen(collector: Running) -> None:
    """Issue 13: this event got 500 and its retry "202 duplicate" (marked seen before the publish);
    now 400 each time, and the same event id sent clean is accepted: nothing was lost."""
    bad = edit(_set((ENV, EV, "context"), "\ud800"))
    for _ in range(2):
        resp = collector.post(EVENT_PATH, bad)
        assert resp.status_code == 400 and restconf_error(resp)["error-app-tag"] == "json"
    clean = collector.post(EVENT_PATH, edit(_set((ENV, EV, "context"), "building-3")))
    assert clean.status_code == 202 and clean.json()["status"] == "accepted", clean.text


@pytest.mark.parametrize("name", ["exercise", "earthquake-alert"])
def test_cap_overflowing_sent_is_400(collector: Running, name: str) -> None:
    xml = (DATA / "cap" / f"{name}.xml").read_text()
    start = xml.index("<sent>") + len("<sent>")
    end = xml.index("</sent>")
    hostile = xml[:start] + "9999-12-31T23:59:59-14:00" + xml[end:]
    resp = collector.post("/cap", hostile, {"Content-Type": "application/cap+xml"})
    assert resp.status_code == 400 and resp.json()["path"] == "/alert/sent", resp.text


def test_cap_nan_magnitude_is_400(collector: Running) -> None:
    xml = (DATA / "cap" / "earthquake-severe.xml").read_text()
    assert "<valueName>magnitude</valueName>" in xml
    start = xml.index("<value>", xml.index("<valueName>magnitude</valueName>")) + len("<value>")
    hostile = xml[:start] + "nan" + xml[xml.index("</value>", start):]
    resp = collector.post("/cap", hostile, {"Content-Type": "application/cap+xml"})
    assert resp.status_code == 400, resp.text
    assert "magnitude" in resp.json()["path"] + resp.json()["detail"]


@pytest.mark.parametrize("body", [b"1", b"[]", b"null", b"[" * 1000, b'"\\ud800"'],
                         ids=["1", "list", "null", "nested", "surrogate"])
def test_osm_webhook_bad_bodies_are_400(collector: Running, body: bytes) -> None:
    resp = collector.post("/osm/alarm", body, {"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
