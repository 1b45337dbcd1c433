"""What the demo's figures share: the page size budget, one colour and one plain-words description per
strategy, the families the timeline figure groups its panels by, and how a result's discard and cost
are written (the same precision as the table, so a figure and the table can be read side by side).

Pure data and string functions: importing it imports no matplotlib. A figure module (the timeline
figure, ``plot.py``; the trade-off figure) takes its strategy colours and labels from here, so one
strategy looks the same in every figure, and saves through ``save`` (format from the suffix).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from arca.app.demo.metrics import RunMetrics

DPI = 90
"""Dots per inch of the PNG files (SVG and PDF are vector)."""
MAX_PAGE_IN = 1600 / DPI
"""Tallest page a figure may draw (1,600 px at ``DPI``): it fits a screen with little scrolling."""
FORMATS = (".png", ".svg", ".pdf")

TIMES = "\N{MULTIPLICATION SIGN}"
"""How many times the oracle's cost (a figure can print the real sign)."""
REFERENCE = "oracle"
"""The strategy every cost is relative to (``metrics.with_cost``)."""

STRATEGY_COLORS: dict[str, str] = {
    "oracle": "#444444",
    "oracle-notified": "#7f7f7f",
    "oracle-warm": "#b0b0b0",
    "arca": "tab:blue",
    "arca-warm": "tab:cyan",
    "arca-reactive": "tab:purple",
    "threshold-paper": "tab:red",
    "threshold-repo": "tab:orange",
    "proportional": "tab:brown",
    "static": "tab:olive",
}
"""One colour per strategy, the same in every figure (unknown names: ``color``)."""

STRATEGY_BLURBS: dict[str, str] = {
    "oracle": "clairvoyant: knows demand and failures",
    "oracle-notified": "exact need from each detector's notice",
    "oracle-warm": "oracle's need, with a warm pool",
    "arca": "learned anticipation, then reactive",
    "arca-warm": "arca with a warm pool",
    "arca-reactive": "arca's reactive rules alone",
    "threshold-paper": "Ukko paper: 70 %/30 %, 300 s cool-off",
    "threshold-repo": "Ukko repo: +1 above 50 %, 120 s",
    "proportional": "Kubernetes HPA, target 70 %",
    "static": "always the maximum (15)",
}
"""What each strategy is, in a few words a newcomer reads (README, "What `arca demo` shows")."""

ANTICIPATING = ("oracle", "oracle-notified", "arca", "oracle-warm", "arca-warm")
"""Strategies that act on the incident (the oracles, ARCA): the timeline figure's first column,
each ARCA strategy under the oracle it is measured against."""
REACTIVE = ("arca-reactive", "threshold-paper", "threshold-repo", "proportional", "static")
"""Strategies that wait for the load (or never scale): the second column."""

_FALLBACK_COLORS = ("tab:pink", "tab:green", "tab:gray", "gold", "navy", "teal")


def color(name: str) -> str:
    """The strategy's colour; an unknown name gets a stable one of a few spare colours."""
    if name in STRATEGY_COLORS:
        return STRATEGY_COLORS[name]
    return _FALLBACK_COLORS[sum(name.encode()) % len(_FALLBACK_COLORS)]


def blurb(name: str) -> str:
    """The strategy in a few words ('' for an unknown name)."""
    return STRATEGY_BLURBS.get(name, "")


def family(name: str) -> str:
    """``anticipating`` or ``reactive`` (an unknown name: by its prefix, ``arca``/``oracle`` anticipate)."""
    if name in REACTIVE:
        return "reactive"
    if name in ANTICIPATING or name.startswith(("arca", "oracle")):
        return "anticipating"
    return "reactive"


def discard_text(m: RunMetrics) -> str:
    """``discard 7.772 %`` (the table's precision)."""
    return f"discard {m.discard_ratio * 100:.3f} %"


def cost_text(m: RunMetrics, name: str = "") -> str:
    """``1,772 servant-s = 0.956x oracle`` and, with a warm pool, ``weighted 1.132x`` (``x``: ``TIMES``)."""
    text = f"{m.servant_seconds:,.0f} servant-s"
    if name == REFERENCE:
        text += f" (the reference, 1.000{TIMES})"
    elif m.cost_vs_oracle is not None:
        text += f" = {m.cost_vs_oracle:.3f}{TIMES} {REFERENCE}"
    if m.standby_seconds and m.weighted_cost_vs_oracle is not None:
        text += f", weighted {m.weighted_cost_vs_oracle:.3f}{TIMES}"
    return text


def result_text(m: RunMetrics, name: str = "") -> str:
    """What a figure says of one result: discard, then cost."""
    return f"{discard_text(m)}   {cost_text(m, name)}"


def check_format(path: str) -> str:
    """The file's format from its suffix (``png``, ``svg``, ``pdf``); ``ValueError`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: a figure must end with {', '.join(FORMATS)}")
    return suffix[1:]


def save(fig: Any, path: str) -> None:
    """Write a matplotlib figure at ``DPI`` (format from the suffix)."""
    fig.savefig(path, dpi=DPI, format=check_format(path))
