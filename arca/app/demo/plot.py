"""The demo's timeline figure (matplotlib, Agg): one panel per strategy over the run, every panel on
the same scales, and the learned MSA over (severity x seconds since the incident) as in draft 7.4.

How to read it: in each strategy panel the left axis is requests per second and the right axis is
servants, on one scale (right = left / capacity of one servant), so a servant line at 3 sits exactly
on a capacity of 3 servants' worth of req/s. Every panel has the same limits, so panels compare at a
glance; a panel whose peak is far above the others' (``static``'s 15 servants) is cut at the shared
top and says so. The oracle's servants are drawn in every other panel as a wide grey reference line.
Each panel's title gives the strategy's discard and cost (servant-seconds, and over the oracle's)
from the results. With more than ``ONE_COLUMN_MAX`` strategies the panels stand in two columns:
the strategies that act on incidents (the oracles, ARCA) on the left, the reactive peers on the
right, so the page fits a screen (``figstyle.MAX_PAGE_IN``). Incident onsets are dotted vertical
lines labelled with their severity. Legends sit outside the plotting areas. The learned MSA is drawn
clipped at 0; where the model predicts less than 0 servants the curve is marked with ``v`` at 0.

matplotlib is imported only when a figure is drawn, so importing ``Series`` (the harness does) is cheap.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from arca.app.demo import figstyle
from arca.app.demo.metrics import RunMetrics

SEVERITY_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")
PANEL_HEIGHT_IN = 1.7
MIN_PANEL_HEIGHT_IN = 1.2
HEADER_IN = 1.35
"""Suptitle, how-to-read line and the legend above the panels."""
SURFACE_IN = 2.25
ONE_COLUMN_MAX = 4
"""Up to this many strategy panels stand in one column; more go in two."""
OUTLIER_FACTOR = 1.5
"""A panel whose peak exceeds this times the median peak is cut at the shared top."""
ORACLE_LINE: dict[str, Any] = {"color": "0.55", "lw": 4.0, "alpha": 0.35, "solid_capstyle": "butt"}

HOW_TO_READ = ("Every panel is one strategy on the same timeline, drawn on the same scales: requests per "
               "second on the left, servants on the right (one servant serves {cap:g} req/s, so N servants "
               "sit on N x {cap:g} req/s).\nEach title: the requests discarded over the whole run, then the "
               "servant-seconds (what a cloud bills) and their ratio to the clairvoyant oracle's "
               "(1.000 = as costly as the oracle; weighted: a stopped servant counts 0.1).")


@dataclass
class Series:
    """Time series of one run (one point per simulated step)."""

    t: list[float] = field(default_factory=list)
    demand: list[float] = field(default_factory=list)
    capacity: list[float] = field(default_factory=list)
    servants: list[int] = field(default_factory=list)
    in_service: list[int] = field(default_factory=list)
    msa: list[float] = field(default_factory=list)
    target: list[float] = field(default_factory=list)
    discarded: list[float] = field(default_factory=list)
    standby: list[int] = field(default_factory=list)
    """Servants standing by in the warm pool (not in ``servants``)."""


def peak_servants(s: Series, capacity_per_servant: float) -> float:
    """The highest thing a panel draws, in servants (demand and capacity over one servant's capacity)."""
    return max([1.0, *(d / capacity_per_servant for d in (*s.demand, *s.capacity)),
                *s.servants, *s.standby, *s.msa])


def shows_msa(s: Series) -> bool:
    """Whether a panel draws the MSA: only if it ever rises above where it rests (the reactive peers'
    MSA is their constant minimum, which says nothing)."""
    return bool(s.msa) and max(s.msa) > statistics.mode(s.msa)


def shared_top(peaks: Mapping[str, float]) -> tuple[float, list[str]]:
    """The shared servants axis top, and the panels cut at it (peak above ``OUTLIER_FACTOR`` x the
    median peak, when at least three panels make a median)."""
    if not peaks:
        return 1.0, []
    median = statistics.median(peaks.values())
    cut = [n for n, p in peaks.items() if len(peaks) >= 3 and p > OUTLIER_FACTOR * median]
    kept = [p for n, p in peaks.items() if n not in cut]
    top = max(kept)
    return math.ceil(top * 1.12 + 0.3), cut


def columns(names: Sequence[str]) -> list[list[str]]:
    """The panels' columns: one up to ``ONE_COLUMN_MAX``; else the anticipating strategies, then the
    reactive ones (each in ``figstyle``'s order, unknown names last), halved when one family is most."""
    order = {n: i for i, n in enumerate((*figstyle.ANTICIPATING, *figstyle.REACTIVE))}
    ranked = sorted(names, key=lambda n: (order.get(n, len(order)), list(names).index(n)))
    if len(ranked) <= ONE_COLUMN_MAX:
        return [ranked]
    left = [n for n in ranked if figstyle.family(n) == "anticipating"]
    right = [n for n in ranked if n not in left]
    half = math.ceil(len(ranked) / 2)
    if max(len(left), len(right)) > half + 1:
        left, right = ranked[:half], ranked[half:]
    return [c for c in (left, right) if c]


def _strategy_panel(ax: Any, name: str, s: Series, capacity_per_servant: float,
                    incidents: Sequence[tuple[float, int]], top: float, oracle: Series | None,
                    metrics: RunMetrics | None, cut: bool) -> Any:
    from matplotlib.ticker import MaxNLocator

    if oracle is not None:
        ax.step(oracle.t, [x * capacity_per_servant for x in oracle.servants], where="post", zorder=1,
                label="the oracle's servants (the clairvoyant reference)", **ORACLE_LINE)
    ax.fill_between(s.t, s.demand, step="post", color="tab:orange", alpha=0.35, lw=0,
                    label="requests offered (req/s)")
    ax.fill_between(s.t, s.discarded, step="post", color="tab:red", alpha=0.75, lw=0,
                    label="requests discarded: lost for lack of capacity")
    edge = 0.985 * top if cut else math.inf  # a cut panel's lines run just under its top edge

    ax.step(s.t, [min(c, edge * capacity_per_servant) for c in s.capacity], where="post", color="tab:blue",
            lw=1.0, label="capacity in service (req/s)")
    ax.set_ylabel("requests / s", fontsize=8, labelpad=1)
    ax.set_xlim(s.t[0] if s.t else 0, s.t[-1] if s.t else 1)
    ax.set_ylim(0, top * capacity_per_servant)
    ax.tick_params(labelsize=7, pad=1)
    ax2 = ax.twinx()
    ax2.step(s.t, [min(n, edge) for n in s.servants], where="post", color="black", lw=1.2,
             label="servants existing (booting included)")
    if any(s.standby):
        ax2.step(s.t, [min(n, edge) for n in s.standby], where="post", color="tab:purple", lw=1.2, ls="-.",
                 label="servants standing by, stopped (warm pool)")
    if shows_msa(s):
        ax2.step(s.t, [max(0.0, m) for m in s.msa], where="post", color="tab:green", lw=1.0, ls="--",
                 label="MSA: servants the decider asks for as a floor")
    ax2.set_ylim(0, top)  # one scale: N servants = N x capacity req/s
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax2.set_ylabel("servants", fontsize=8, labelpad=2)
    ax2.tick_params(labelsize=7, pad=1)
    span = (s.t[-1] - s.t[0]) if len(s.t) > 1 else 1.0
    row, previous = 0, None
    for at_s, severity in sorted(incidents):
        # labels of close onsets are stepped down so they never print over each other
        row = (row + 1) % 3 if previous is not None and at_s - previous < 0.035 * span else 0
        previous = at_s
        ax.axvline(at_s, color="dimgrey", lw=0.8, ls=":")
        ax.annotate(f"sev {severity}", (at_s, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -2 - 8 * row), textcoords="offset points", ha="left", va="top", fontsize=6.5,
                    color="dimgrey")
    title = name if metrics is None else f"{name}   {figstyle.result_text(metrics, name)}"
    left = ax.set_title(title, loc="left", fontsize=9, fontweight="bold", pad=3)
    if cut:  # says so where the blurb stands: the lines run along the top edge
        peak = max([*s.servants, *s.standby, *(c / capacity_per_servant for c in s.capacity)])
        ax.set_title(f"cut: up to {peak:g} servants, above the shared scale", loc="right", fontsize=7.5,
                     color="darkred", fontweight="bold", pad=3)
    else:
        right = ax.set_title(figstyle.blurb(name), loc="right", fontsize=7.5, color="dimgrey", pad=3)
        renderer = ax.figure.canvas.get_renderer()  # titles' x never move at draw time: measure now
        if left.get_window_extent(renderer).x1 + 6 > right.get_window_extent(renderer).x0:
            right.set_text("")  # the figures come first; the blurb only where it fits beside them
    return ax2


def _surface_panel(ax: Any, surface: Sequence[Sequence[float]], elapsed: Sequence[float],
                   truth: Sequence[Sequence[float]] | None) -> None:
    from matplotlib.lines import Line2D

    for i, row in enumerate(surface):
        color = SEVERITY_COLORS[i % 4]
        ax.plot(elapsed, [max(0.0, v) for v in row], color=color, lw=1.8,
                label=f"learned MSA, severity {i + 1}")
        under = [t for t, v in zip(elapsed, row, strict=False) if v < 0]
        if under:
            ax.plot(under, [0.0] * len(under), ls="none", marker="v", ms=4, color=color,
                    label=f"severity {i + 1}: model < 0 (clipped)")
        if truth is not None:
            ax.step(elapsed, truth[i], where="post", color=color, lw=0.8, ls=":",
                    label=f"needed (noise-free model), severity {i + 1}")
    ax.set_ylim(bottom=-0.3)
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("seconds since the incident (s)", fontsize=8)
    ax.set_ylabel("servants", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title("what arca learned in training: the MSA (servants to provide) by seconds since an "
                 "incident, one curve per severity", loc="left", fontsize=9, fontweight="bold", pad=3)
    handles = [Line2D([], [], color=SEVERITY_COLORS[i], lw=1.8) for i in range(len(surface))]
    labels = [f"severity {i + 1}" for i in range(len(surface))]
    handles += [Line2D([], [], color="black", lw=1.8)]
    labels += ["solid: learned MSA"]
    if truth is not None:
        handles.append(Line2D([], [], color="black", lw=0.8, ls=":"))
        labels.append("dotted: what the noise-free demand needs")
    if any(v < 0 for row in surface for v in row):
        handles.append(Line2D([], [], color="black", ls="none", marker="v", ms=4))
        labels.append("v: the model says < 0 (drawn at 0)")
    ax.legend(handles, labels, fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def page_height_in(panel_rows: int, surface: bool) -> tuple[float, float]:
    """(page height, panel height) in inches: panels shrink (not below ``MIN_PANEL_HEIGHT_IN``) so the
    page stays within ``figstyle.MAX_PAGE_IN``."""
    fixed = HEADER_IN + (SURFACE_IN if surface else 0.0)
    fitting = (figstyle.MAX_PAGE_IN - fixed) / max(panel_rows, 1)
    panel = max(MIN_PANEL_HEIGHT_IN, min(PANEL_HEIGHT_IN, fitting))
    return fixed + panel * panel_rows, panel


def figure(runs: Mapping[str, Series], surface: Sequence[Sequence[float]] | None = None,
           surface_elapsed: Sequence[float] = (), truth: Sequence[Sequence[float]] | None = None,
           title: str = "", incidents: Sequence[tuple[float, int]] = (),
           capacity_per_servant: float = 200.0, metrics: Mapping[str, RunMetrics] | None = None) -> Any:
    """The figure as a matplotlib ``Figure`` (not saved). ``metrics`` (``with_cost``'s) put each
    strategy's discard and cost in its panel's title."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    cols = columns(list(runs))
    rows = max(len(c) for c in cols)
    height, panel_in = page_height_in(rows, surface is not None)
    width = 18.0 if len(cols) > 1 else 14.0
    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # a renderer to measure titles with
    ratios = [panel_in] * rows + ([SURFACE_IN - 0.35] if surface is not None else [])
    grid = fig.add_gridspec(len(ratios), len(cols), height_ratios=ratios,
                            top=1.0 - HEADER_IN / height, bottom=0.45 / height,
                            left=0.7 / width, right=1.0 - (0.55 / width),
                            hspace=0.45 * PANEL_HEIGHT_IN / panel_in, wspace=0.14)
    peaks = {n: peak_servants(s, capacity_per_servant) for n, s in runs.items()}
    top, cut = shared_top(peaks)
    oracle = runs.get(figstyle.REFERENCE)
    first = None
    for c, names in enumerate(cols):
        for r, name in enumerate(names):
            ax = fig.add_subplot(grid[r, c], sharex=first)
            first = first or ax
            _strategy_panel(ax, name, runs[name], capacity_per_servant, incidents, top,
                            None if name == figstyle.REFERENCE else oracle,
                            (metrics or {}).get(name), name in cut)
            if r == len(names) - 1:
                ax.set_xlabel("time since the start of the run (s)", fontsize=8, labelpad=1)
    handles: list[Any] = [
        Patch(color="tab:orange", alpha=0.35, lw=0), Patch(color="tab:red", alpha=0.75, lw=0),
        Line2D([], [], color="tab:blue", lw=1.0), Line2D([], [], color="black", lw=1.2)]
    labels = ["requests offered (req/s)", "requests discarded: lost for lack of capacity",
              "capacity in service (req/s)", "servants existing (booting included)"]
    if any(any(s.standby) for s in runs.values()):
        handles.append(Line2D([], [], color="tab:purple", lw=1.2, ls="-."))
        labels.append("servants standing by, stopped (warm pool)")
    if any(shows_msa(s) for s in runs.values()):
        handles.append(Line2D([], [], color="tab:green", lw=1.0, ls="--"))
        labels.append("MSA: servants the decider asks for as a floor")
    if oracle is not None and len(runs) > 1:
        handles.append(Line2D([], [], **ORACLE_LINE))
        labels.append("the oracle's servants (the clairvoyant reference)")
    if incidents:
        handles.append(Line2D([], [], color="dimgrey", lw=0.8, ls=":"))
        labels.append("incident onset (sev = severity 1-4)")
    if surface is not None:
        # its legend stands to its right: in the empty cell beside it, or a quarter of a single column
        cell = grid[rows, 0] if len(cols) > 1 else grid[rows, 0].subgridspec(1, 2, width_ratios=(3, 1))[0, 0]
        _surface_panel(fig.add_subplot(cell), surface, surface_elapsed, truth)
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.7 / width, 1.0 - 0.62 / height),
               ncol=4, fontsize=8, frameon=False, handlelength=2.2, columnspacing=1.6)
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold", x=0.7 / width, y=1.0 - 0.08 / height,
                     ha="left", va="top")
    fig.text(0.7 / width, 1.0 - 0.36 / height, HOW_TO_READ.format(cap=capacity_per_servant), fontsize=8,
             ha="left", va="top", color="0.25")
    return fig


def plot(path: str, runs: Mapping[str, Series], surface: Sequence[Sequence[float]] | None = None,
         surface_elapsed: Sequence[float] = (), truth: Sequence[Sequence[float]] | None = None,
         title: str = "", incidents: Sequence[tuple[float, int]] = (),
         capacity_per_servant: float = 200.0, metrics: Mapping[str, RunMetrics] | None = None) -> None:
    """Write the figure to ``path`` (format from the suffix: PNG, SVG, PDF)."""
    fig = figure(runs, surface, surface_elapsed, truth, title, incidents, capacity_per_servant, metrics)
    figstyle.save(fig, path)
