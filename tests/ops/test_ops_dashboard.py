"""The Grafana dashboard and provisioning: queries parse and refer only to exported metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from opskit import (
    OPS,
    PROMETHEUS_SYNTHETIC,
    dashboard,
    dashboard_queries,
    exported_names,
    grafana_to_promql,
    metric_names,
    promtool,
    scrape,
)

from arca import metrics

REQUIRED = {
    "demand": "arca_demand_requests_per_second",
    "load": "arca_average_load_ratio",
    "servants desired": "arca_servants_desired",
    "servants active": "arca_servants_active",
    "servants booting": "arca_servants_booting",
    "MSA": "arca_msa_servants",
    "incident severity": "arca_incident_severity",
    "discard ratio": "arca_discard_ratio",
    "event -> decision": "arca_event_to_decision_seconds_bucket",
    "decision -> enforcement": "arca_decision_to_enforcement_seconds_bucket",
    "incident -> capacity": "arca_incident_to_capacity_seconds_bucket",
    "message rates": "arca_messages_published_total",
    "rejections by reason": "arca_messages_rejected_total",
    "model fit time": "arca_model_fit_seconds_bucket",
    "learned samples": "arca_learned_samples",
}


@pytest.fixture(scope="module")
def in_process_exposition() -> Iterator[str]:
    """What a service process serves: the registry scraped over HTTP from ``metrics.serve``."""
    server, port = metrics.serve(0, "127.0.0.1")
    try:
        yield scrape(port)
    finally:
        server.shutdown()
        server.server_close()


def all_names() -> set[str]:
    return set().union(*(metric_names(expr) for _, expr in dashboard_queries(dashboard())))


def test_dashboard_has_a_system_variable_and_uses_the_provisioned_datasource() -> None:
    doc = dashboard()
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert "system" in variables
    uid = yaml.safe_load((OPS / "grafana/provisioning/datasources/prometheus.yaml").read_text())[
        "datasources"][0]["uid"]
    for where, _ in dashboard_queries(doc):
        assert where  # every query has a place
    panels = [p for p in doc["panels"] if p["type"] != "row"]
    assert panels and all(p["datasource"]["uid"] == uid for p in panels)
    per_system = [expr for _, expr in dashboard_queries(doc) if '$system' in expr]
    assert len(per_system) >= 8


def test_dashboard_shows_every_part_of_the_loop() -> None:
    names = all_names()
    missing = {what: name for what, name in REQUIRED.items() if name not in names}
    assert not missing


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries(dashboard())
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)}
        for i, (_, expr) in enumerate(queries)]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries)} rules found" in result.stdout


def test_every_dashboard_query_refers_only_to_exported_metrics(in_process_exposition: str) -> None:
    exported = exported_names(in_process_exposition) | PROMETHEUS_SYNTHETIC
    unknown = {
        where: sorted(metric_names(expr) - exported)
        for where, expr in dashboard_queries(dashboard())
        if metric_names(expr) - exported
    }
    assert not unknown


def test_provisioning_points_grafana_at_the_dashboards_directory() -> None:
    provider = yaml.safe_load((OPS / "grafana/provisioning/dashboards/arca.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((OPS / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    json.loads((OPS / "grafana/dashboards/arca-loop.json").read_text())  # valid JSON


def test_panels_fit_the_grid_without_overlapping() -> None:
    boxes = [(p["title"], p["gridPos"]) for p in dashboard()["panels"]]
    cells: dict[tuple[int, int], str] = {}
    for title, g in boxes:
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, title
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{title!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = title
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
