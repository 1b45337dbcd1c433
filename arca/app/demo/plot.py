"""The demo's figure (matplotlib, Agg): per strategy, demand/capacity/servants/MSA over time, and
the learned MSA surface over (severity x seconds since the incident) as in draft 7.4.

How to read it: in each strategy panel the left axis is requests per second and the right axis is
servants, on one scale (right = left / capacity of one servant), so a servant line at 3 sits exactly
on a capacity of 3 servants' worth of req/s. Incident onsets are dotted vertical lines labelled with
their severity. Every legend sits outside the plotting areas. The learned MSA is drawn clipped at 0;
where the model predicts less than 0 servants the curve is marked with ``v`` at 0.

matplotlib is imported only when a figure is drawn, so importing ``Series`` (the harness does) is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SEVERITY_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")
PANEL_HEIGHT_IN = 2.5
LEGEND_BAND_IN = 0.75


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


def _strategy_panel(ax: Any, name: str, s: Series, capacity_per_servant: float,
                    incidents: Sequence[tuple[float, int]], top: float) -> Any:
    from matplotlib.ticker import MaxNLocator

    ax.fill_between(s.t, s.demand, step="post", color="tab:orange", alpha=0.35, lw=0,
                    label="demand offered (req/s, left)")
    ax.fill_between(s.t, s.discarded, step="post", color="tab:red", alpha=0.7, lw=0,
                    label="demand discarded (req/s, left)")
    ax.step(s.t, s.capacity, where="post", color="tab:blue", lw=1.0,
            label="capacity in service (req/s, left)")
    ax.set_ylabel("requests / s")
    ax.set_xlabel("time since the start of the run (s)", fontsize=8, labelpad=1)
    ax.set_xlim(s.t[0] if s.t else 0, s.t[-1] if s.t else 1)
    ax.set_ylim(0, top)
    ax.tick_params(labelsize=8)
    ax2 = ax.twinx()
    ax2.step(s.t, s.servants, where="post", color="black", lw=1.2,
             label="servants existing (right; booting included, standby not)")
    ax2.step(s.t, s.standby or [0] * len(s.t), where="post", color="tab:purple", lw=1.2, ls="-.",
             label="servants standing by (warm pool, right)")
    ax2.step(s.t, [max(0.0, m) for m in s.msa], where="post", color="tab:green", lw=1.0, ls="--",
             label="MSA: floor the decider asks for (servants, right)")
    ax2.set_ylim(0, top / capacity_per_servant)  # one scale: N servants = N x capacity req/s
    ax2.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax2.set_ylabel(f"servants ({capacity_per_servant:g} req/s each)", fontsize=8)
    ax2.tick_params(labelsize=8)
    span = (s.t[-1] - s.t[0]) if len(s.t) > 1 else 1.0
    row, previous = 0, None
    for at_s, severity in sorted(incidents):
        # labels of close onsets are stepped down so they never print over each other
        row = (row + 1) % 3 if previous is not None and at_s - previous < 0.035 * span else 0
        previous = at_s
        ax.axvline(at_s, color="dimgrey", lw=0.8, ls=":")
        ax.annotate(f"sev {severity}", (at_s, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(2, -2 - 8 * row), textcoords="offset points", ha="left", va="top", fontsize=7,
                    color="dimgrey")
    ax.set_title(name, loc="left", fontsize=10, fontweight="bold")
    return ax2


def _surface_panel(ax: Any, surface: Sequence[Sequence[float]], elapsed: Sequence[float],
                   truth: Sequence[Sequence[float]] | None) -> None:
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
    ax.set_xlabel("seconds since the incident (s)")
    ax.set_ylabel("servants")
    ax.set_title("learned anticipation after training: MSA over (severity x seconds since the incident)",
                 loc="left", fontsize=10, fontweight="bold")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=4, frameon=False)


def figure(runs: Mapping[str, Series], surface: Sequence[Sequence[float]] | None = None,
           surface_elapsed: Sequence[float] = (), truth: Sequence[Sequence[float]] | None = None,
           title: str = "", incidents: Sequence[tuple[float, int]] = (),
           capacity_per_servant: float = 200.0) -> Any:
    """The figure as a matplotlib ``Figure`` (not saved)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    names = list(runs)
    n = len(names) + (1 if surface is not None else 0)
    height = PANEL_HEIGHT_IN * n + LEGEND_BAND_IN + (0.9 if surface is not None else 0.0)
    fig = Figure(figsize=(14, height))
    ratios = [1.0] * len(names) + ([1.35] if surface is not None else [])
    axes = fig.subplots(n, 1, squeeze=False, gridspec_kw={"height_ratios": ratios})[:, 0]
    handles: list[Any] = []
    labels: list[str] = []
    for ax, name in zip(axes, names, strict=False):
        s = runs[name]
        top = 1.1 * max([capacity_per_servant, *s.demand, *s.capacity,
                         *(x * capacity_per_servant for x in (*s.servants, *s.msa, *s.standby))])
        ax2 = _strategy_panel(ax, name, s, capacity_per_servant, incidents, top)
        if not handles:
            for a in (ax, ax2):
                h, lab = a.get_legend_handles_labels()
                handles += h
                labels += lab
    if incidents:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="dimgrey", lw=0.8, ls=":"))
        labels.append("incident onset (sev = severity 1-4)")
    if surface is not None:
        _surface_panel(axes[-1], surface, surface_elapsed, truth)
    band = LEGEND_BAND_IN / height
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.01, 1.0 - 0.35 / height), ncol=4,
               fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, y=1.0 - 0.05 / height, ha="left", va="top")
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - band))
    return fig


def plot(path: str, runs: Mapping[str, Series], surface: Sequence[Sequence[float]] | None = None,
         surface_elapsed: Sequence[float] = (), truth: Sequence[Sequence[float]] | None = None,
         title: str = "", incidents: Sequence[tuple[float, int]] = (),
         capacity_per_servant: float = 200.0) -> None:
    """Write the figure to ``path`` (format from the suffix: PNG, SVG, PDF)."""
    fig = figure(runs, surface, surface_elapsed, truth, title, incidents, capacity_per_servant)
    fig.savefig(path, dpi=90)
