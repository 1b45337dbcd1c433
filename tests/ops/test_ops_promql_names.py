"""The PromQL name extraction the dashboard test relies on."""

from __future__ import annotations

import pytest
from opskit import exported_names, metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('max by (system) (arca_servants_desired{system=~"$system"})', {"arca_servants_desired"}),
        ("histogram_quantile(0.99, sum by (service, le) (rate(arca_handler_duration_seconds_bucket"
         "[$__rate_interval])))", {"arca_handler_duration_seconds_bucket"}),
        ('up{job=~"collector|analyzer"} == 0', {"up"}),
        ("max by (system) (a_x) - on (system) group_left (rule) b_y offset 5m", {"a_x", "b_y"}),
        ('sum(rate(x_total{reason="by (bad)"}[1m])) / ignoring(reason) y', {"x_total", "y"}),
        ("label_replace(m, \"dst\", \"$1\", \"src\", \"(.*)\") > bool 1e3", {"m"}),
    ],
    ids=["selector-with-variable", "histogram-quantile", "prometheus-up", "vector-matching",
         "strings-and-ignoring", "string-args-and-numbers"],
)
def test_metric_names_of_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_exported_names_add_histogram_and_counter_series() -> None:
    text = (
        "# HELP a_seconds x\n# TYPE a_seconds histogram\na_seconds_bucket{le=\"1\"} 0\n"
        "# HELP b_total y\n# TYPE b_total counter\n# HELP c z\n# TYPE c gauge\nc{s=\"1\"} 2\n"
    )
    names = exported_names(text)
    assert {"a_seconds_bucket", "a_seconds_sum", "a_seconds_count", "b_total", "c"} <= names
    assert "a_seconds_total" not in names
