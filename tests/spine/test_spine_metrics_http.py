"""Issue 25 (item 6): the metrics server answers ``/metrics``, ``/healthz`` and ``/readyz`` and 404 on
every other path (it used to answer the metrics text on any path), over real HTTP."""

from __future__ import annotations

import http.client
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest

from arca import metrics
from arca.config import OpsSettings

ROOT = Path(__file__).resolve().parents[2]  # the checkout


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server, bound = metrics.serve(0, "127.0.0.1", health=lambda: {"ready": True, "bus": True})
    try:
        yield bound
    finally:
        server.shutdown()
        server.server_close()


def get(port: int, path: str) -> tuple[int, str, str]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read().decode()
    finally:
        conn.close()


SERVED = [
    ("metrics", "/metrics", 200, "arca_service_info"),
    ("metrics-query", "/metrics?name[]=arca_service_info", 200, "arca_service_info"),
    ("healthz", "/healthz", 200, '"ready"'),
    ("readyz", "/readyz", 200, '"bus"'),
]


@pytest.mark.parametrize("path,status,text", [c[1:] for c in SERVED], ids=[c[0] for c in SERVED])
def test_the_three_endpoints_answer(port: int, path: str, status: int, text: str) -> None:
    code, _, body = get(port, path)
    assert code == status and text in body


ELSEWHERE = ["/", "/admin", "/../../etc/passwd", "/metrics/", "/metricsx", "/healthz/extra", "/favicon.ico",
             "/%2e%2e/%2e%2e/etc/passwd"]


@pytest.mark.parametrize("path", ELSEWHERE, ids=ELSEWHERE)
def test_any_other_path_is_404_without_the_metrics(port: int, path: str) -> None:
    code, kind, body = get(port, path)
    assert code == 404, body[:200]
    assert kind.startswith("text/plain") and "arca_" not in body


def test_the_default_host_is_loopback_in_the_settings_the_server_and_the_docs() -> None:
    assert OpsSettings().metrics_host == "127.0.0.1"
    assert inspect.signature(metrics.serve).parameters["host"].default == "127.0.0.1"
    ops = (ROOT / "docs" / "ops.md").read_text()
    assert "`ARCA_OPS__METRICS_HOST` (default `127.0.0.1`" in ops
