"""The shipped Prometheus configuration: promtool accepts it and it scrapes every ARCA service."""

from __future__ import annotations

from pathlib import Path

import yaml
from opskit import OPS, PROMETHEUS_YML, promtool

SERVICES = ("collector", "analyzer", "decider", "enforcer")


def test_promtool_check_config_accepts_the_config_and_its_rule_files() -> None:
    result = promtool("check", "config", str(PROMETHEUS_YML))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    rule_files = sorted((OPS / "prometheus" / "rules").glob("*.yml"))
    assert rule_files, "no rule files shipped"
    assert f"{len(rule_files)} rule files found" in result.stdout


def test_promtool_check_rules_accepts_every_rule_file() -> None:
    for path in sorted((OPS / "prometheus" / "rules").glob("*.yml")):
        result = promtool("check", "rules", str(path))
        assert result.returncode == 0, f"{path}: {result.stdout}{result.stderr}"


def test_every_service_and_rabbitmq_are_scraped_by_compose_name() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    for service in SERVICES:
        assert targets.get(service) == [f"{service}:9100"], f"job {service}: {targets.get(service)}"
    assert targets.get("rabbitmq") == ["rabbitmq:15692"]


def test_a_broken_config_is_refused_by_the_same_check(tmp_path: Path) -> None:
    bad = tmp_path / "prometheus.yml"
    bad.write_text(PROMETHEUS_YML.read_text().replace("scrape_interval: 5s", "scrape_interval: 5 sec", 1))
    result = promtool("check", "config", str(bad))
    assert result.returncode != 0


def test_the_discard_alert_fires_above_one_percent(tmp_path: Path) -> None:
    """promtool's rule unit test: 2 % discard for 2 minutes fires, 0.5 % does not."""
    test = tmp_path / "discard_test.yml"
    test.write_text(yaml.safe_dump({
        "rule_files": [str(OPS / "prometheus" / "rules" / "arca.yml")],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": "15s",
            "input_series": [
                {"series": 'arca_discard_ratio{system="emergency", job="analyzer"}', "values": "0.02x10"},
                {"series": 'arca_discard_ratio{system="quiet", job="analyzer"}', "values": "0.005x10"},
            ],
            "alert_rule_test": [{
                "eval_time": "2m",
                "alertname": "ArcaDiscardRatioHigh",
                "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "system": "emergency"},
                    "exp_annotations": {
                        "summary": "System emergency discards 2% of requests",
                        "description": "The discard ratio target is below 1 %; the loop is not keeping up.",
                    },
                }],
            }],
        }],
    }))
    result = promtool("test", "rules", str(test))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_mounts_the_ops_files_where_their_configs_point() -> None:
    compose = yaml.safe_load((OPS.parent / "compose.yaml").read_text())
    services = compose["services"]
    for service in SERVICES:  # each scrape target exists and serves on 9100
        env = services[service]["environment"]
        assert str(env["ARCA_OPS__METRICS_PORT"]) == "9100", service
    assert "rabbitmq" in services
    prom = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"]}
    assert prom["/etc/prometheus/prometheus.yml"] == "./ops/prometheus/prometheus.yml"
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    for pattern in config["rule_files"]:  # relative to the config file, inside the container
        directory = "/etc/prometheus/" + pattern.rsplit("/", 1)[0]
        assert prom[directory] == "./ops/prometheus/" + pattern.rsplit("/", 1)[0]
    graf = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert graf["/etc/grafana/provisioning"] == "./ops/grafana/provisioning"
    provider = yaml.safe_load((OPS / "grafana/provisioning/dashboards/arca.yaml").read_text())
    assert graf[provider["providers"][0]["options"]["path"]] == "./ops/grafana/dashboards"
