"""A load-balancer or poller mapping that matches nothing is an error at start, not a silent zero.

Issue 19: the HAProxy keys are the load balancers' names (``lb-building-2``) while the testbed prints
``haproxy:building-2``; a key of ``haproxy_domains``/``haproxy_proxies`` that names no
``haproxy_urls`` entry was ignored, and stats without the proxies a key maps to were only counted.
Now the settings refuse such keys (``arca run collector`` exits 1 naming the key), and at start the
collector polls every load balancer once: a mapping the stats do not match is logged as an error
naming the key and ``/readyz`` says not ready with the reason, until a poll matches.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from arca.app.cli.main import main
from arca.app.runtime import readiness
from arca.app.settings import ArcaSettings
from arca.bus import InMemoryBus
from arca.clock import SimClock
from arca.collector.gnocchi import GnocchiPoller
from arca.collector.service import CollectorService
from arca.collector.settings import CollectorSettings, mapping_problems
from arca.kb import EmbeddedKnowledgeBase
from arca.service import Deps
from arca.testbed.platform import Testbed

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
URL = "http://127.0.0.1:1/haproxy/lb-building-2/stats;csv"

PROBLEMS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "all-keys-match": (
        {"haproxy_urls": {"lb-building-2": URL}, "haproxy_domains": {"lb-building-2": "building-2"},
         "haproxy_proxies": {"lb-building-2": "lb-building-2,servants"}}, []),
    "domain-keyed-by-the-testbed-label": (
        {"haproxy_urls": {"lb-building-2": URL}, "haproxy_domains": {"haproxy:building-2": "building-2"}},
        ["collector.haproxy_domains key 'haproxy:building-2' names no load balancer of "
         "collector.haproxy_urls (its keys: 'lb-building-2')"]),
    "proxies-for-an-unknown-lb": (
        {"haproxy_urls": {"lb-building-2": URL}, "haproxy_proxies": {"lb-building-3": "a,b"}},
        ["collector.haproxy_proxies key 'lb-building-3' names no load balancer of "
         "collector.haproxy_urls (its keys: 'lb-building-2')"]),
    "proxies-without-a-backend": (
        {"haproxy_urls": {"lb-building-2": URL}, "haproxy_proxies": {"lb-building-2": "lb-building-2"}},
        ["collector.haproxy_proxies['lb-building-2'] = 'lb-building-2': expected 'frontend,backend'"]),
    "policy-routing-needs-every-lb-domain": (
        {"routing": "policies", "haproxy_urls": {"lb-building-2": URL}},
        ["collector.haproxy_urls key 'lb-building-2' has no domain in collector.haproxy_domains: with "
         "routing 'policies' its statistics would concern no system"]),
    "no-load-balancer-at-all": ({}, []),
}


@pytest.mark.parametrize("case", sorted(PROBLEMS), ids=sorted(PROBLEMS))
def test_mapping_problems_name_the_key(case: str) -> None:
    fields, expected = PROBLEMS[case]
    assert mapping_problems(CollectorSettings.model_construct(**{
        **CollectorSettings().model_dump(), **fields})) == expected
    if expected:
        with pytest.raises(ValueError, match=r"names no|expected|has no domain"):
            CollectorSettings(**fields)


def test_arca_run_collector_refuses_a_key_that_matches_nothing(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("ARCA_CONFIG_FILE", raising=False)
    monkeypatch.setenv("ARCA_COLLECTOR__HAPROXY_URLS", json.dumps({"lb-building-2": URL}))
    monkeypatch.setenv("ARCA_COLLECTOR__HAPROXY_DOMAINS", json.dumps({"haproxy:building-2": "building-2"}))
    assert main(["run", "collector"]) == 1
    err = capsys.readouterr().err
    assert "haproxy_domains key 'haproxy:building-2' names no load balancer" in err, err


def service_for(cfg: dict[str, Any], gnocchi: GnocchiPoller | None = None) -> tuple[CollectorService, Deps]:
    deps = Deps(bus=InMemoryBus(), kb=EmbeddedKnowledgeBase(None), clock=SimClock(T0),
                settings=ArcaSettings(collector=CollectorSettings(allow_unauthenticated=True, **cfg)))
    service = CollectorService(deps, gnocchi=gnocchi)
    service.attach()
    return service, deps


def test_stats_without_the_mapped_proxies_are_reported_at_start(testbed: Testbed,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    url = testbed.urls()["haproxy:building-2"]
    wrong = {"haproxy_urls": {"lb-building-2": url},
             "haproxy_proxies": {"lb-building-2": "haproxy:building-2,servants"}}
    with caplog.at_level(logging.ERROR, logger="arca.collector.service"):
        service, deps = service_for(wrong)
    try:
        assert list(service.problems) == ["haproxy:lb-building-2"]
        lines = [r.getMessage() for r in caplog.records]
        assert any("collector.haproxy_urls['lb-building-2']" in m and "'haproxy:building-2'" in m
                   for m in lines), lines
        report = readiness(deps, service)
        assert report["ready"] is False
        assert "lb-building-2" in report["problems"]["haproxy:lb-building-2"]
    finally:
        service.close()
    right = {"haproxy_urls": {"lb-building-2": url},
             "haproxy_proxies": {"lb-building-2": "lb-building-2,servants"}}
    service, deps = service_for(right)
    try:
        assert service.problems == {}
        assert readiness(deps, service)["ready"] is True
    finally:
        service.close()


def test_a_gnocchi_listing_only_other_systems_servants_is_a_problem() -> None:
    servers = [{"id": "s1", "name": "a", "metadata": {"arca_system": "other"}}]
    poller = GnocchiPoller(lambda: servers, lambda sid, start: [], interval_s=10)
    service, deps = service_for({"system": "emergency"}, gnocchi=poller)
    service.tick(T0)
    assert "arca_system='emergency'" in service.problems["gnocchi"]
    assert readiness(deps, service)["ready"] is False
    servers.append({"id": "s2", "name": "b", "metadata": {"arca_system": "emergency"}})
    service.tick(T0.replace(minute=1))
    assert service.problems == {}
