"""The demo's figure (matplotlib, Agg): per strategy, demand/capacity/servants/MSA over time, and
the learned MSA surface over (severity x seconds since the incident) as in draft 7.4."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


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


def plot(path: str, runs: Mapping[str, Series], surface: Sequence[Sequence[float]] | None = None,
         surface_elapsed: Sequence[float] = (), truth: Sequence[Sequence[float]] | None = None,
         title: str = "") -> None:
    """Write the figure to ``path`` (PNG)."""
    names = list(runs)
    n = len(names) + (1 if surface is not None else 0)
    fig, axes = plt.subplots(n, 1, figsize=(13, 2.6 * n), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=False):
        s = runs[name]
        ax.fill_between(s.t, s.demand, step="post", color="tab:orange", alpha=0.35, label="demand (req/s)")
        ax.fill_between([], [], color="tab:red", alpha=0.6, label="discarded (req/s)")
        ax.step(s.t, s.capacity, where="post", color="tab:blue", lw=1.0, label="capacity in service (req/s)")
        if any(s.discarded):
            ax.fill_between(s.t, s.discarded, step="post", color="tab:red", alpha=0.6)
        ax.set_ylabel("req/s")
        ax.set_xlim(s.t[0] if s.t else 0, s.t[-1] if s.t else 1)
        ax2 = ax.twinx()
        ax2.step(s.t, s.servants, where="post", color="black", lw=1.2, label="servants (existing)")
        ax2.step(s.t, s.msa, where="post", color="tab:green", lw=1.0, ls="--", label="MSA / floor")
        ax2.set_ylabel("servants")
        ax2.set_ylim(0, max([*s.servants, *s.msa, 1]) + 1)
        ax.set_title(name, loc="left", fontsize=10, fontweight="bold")
        if name == names[0]:
            h1, l1 = ax.get_legend_handles_labels()
            h2, l2 = ax2.get_legend_handles_labels()
            fig.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8, ncol=5, frameon=False)
    axes[-1, 0].set_xlabel("seconds")
    if surface is not None:
        ax = axes[-1, 0]
        ax.clear()
        colors = ["tab:blue", "tab:orange", "tab:green", "tab:red"]
        for i, row in enumerate(surface):
            ax.plot(surface_elapsed, row, color=colors[i % 4], lw=1.8, label=f"learned MSA, severity {i + 1}")
            if truth is not None:
                ax.step(surface_elapsed, truth[i], where="post", color=colors[i % 4], lw=0.8, ls=":",
                        label=f"needed (model), severity {i + 1}")
        ax.axhline(10, color="grey", lw=0.6, ls="--")
        ax.set_xlabel("seconds since the incident")
        ax.set_ylabel("servants")
        ax.set_title("learned anticipation: MSA over (severity x elapsed) after training", loc="left",
                     fontsize=10, fontweight="bold")
        ax.legend(fontsize=7, ncol=4, loc="upper right")
    if title:
        fig.suptitle(title, fontsize=11, x=0.01, ha="left")
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - 0.35 / (2.6 * n)))
    fig.savefig(path, dpi=90)
    plt.close(fig)
