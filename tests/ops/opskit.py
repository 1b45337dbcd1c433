"""Helpers of the ops tests: scrape /metrics, list exported names, pull metric names out of PromQL."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
OPS = REPO / "ops"
DASHBOARD = OPS / "grafana" / "dashboards" / "arca-loop.json"
PROMETHEUS_YML = OPS / "prometheus" / "prometheus.yml"

PROMETHEUS_SYNTHETIC = frozenset({"up"})
"""Series Prometheus makes itself for each scrape target (allowed in dashboard queries)."""

_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "offset", "inf", "nan",
})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def scrape(port: int, host: str = "127.0.0.1") -> str:
    r = requests.get(f"http://{host}:{port}/metrics", timeout=5)
    r.raise_for_status()
    return r.text


def exported_names(exposition: str) -> set[str]:
    """Every series name a scrape of this exposition yields (histogram/counter suffixes included)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
            elif kind == "counter":
                names |= {name if name.endswith("_total") else f"{name}_total",
                          name.removesuffix("_total") + "_created"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels, keywords, strings removed)."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)       # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)      # range selectors / subqueries
    text = _GROUPING.sub(" ", text)              # by (...), on (...), group_left (...)
    text = re.sub(r"\$\w+", " ", text)           # Grafana variables outside selectors
    names = set()
    for m in _IDENT.finditer(text):
        ident, call = m.group(1), m.group(2)
        if call or ident.lower() in _KEYWORDS:
            continue
        names.add(ident)
    return names


def _walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _walk_panels(p.get("panels", []))


def dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def dashboard_queries(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every templating query (label_values unwrapped)."""
    out: list[tuple[str, str]] = []
    for p in _walk_panels(doc.get("panels", [])):
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f"panel {p['title']!r} {t['refId']}", t["expr"]))
    for var in doc.get("templating", {}).get("list", []):
        query = var.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        if var.get("type") == "query" and text:
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", text)
            out.append((f"variable {var['name']}", m.group(1) if m else text))
    return out


def grafana_to_promql(expr: str) -> str:
    """Substitute Grafana's variables so promtool can parse the expression."""
    return (expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
            .replace("$system", "emergency"))


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True, timeout=60)
