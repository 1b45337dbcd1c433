"""The demo's timeline figure: every panel on the same scales (an outlier cut and marked), each title
with the strategy's discard and cost from the results, the oracle as a reference line, two columns
(incident-driven | reactive) within a screen's height, labelled axes, incident marks, the learned MSA
clipped at 0 with its undershoot marked, legends over no data, the file in each format.
Checked on the matplotlib objects, not on pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arca.app.demo import figstyle
from arca.app.demo.metrics import RunMetrics, with_cost
from arca.app.demo.plot import Series, columns, figure, plot, shared_top

CAP = 210.0
INCIDENTS = [(30.0, 2), (45.0, 4), (47.0, 1), (70.0, 3)]  # four, two of them 2 s apart


def _series(peak: int, standby: int = 0, demand: float = 900.0, msa_varies: bool = True) -> Series:
    s = Series()
    for t in range(0, 121):
        servants = peak if 30 <= t < 90 else 1
        s.t.append(float(t))
        s.demand.append(demand if 35 <= t < 85 else 30.0)
        s.capacity.append(CAP * servants)
        s.servants.append(servants)
        s.in_service.append(servants)
        resting = 0.0 if t < 2 else 1.0  # 0 before the first decision, then the policy's minimum
        s.msa.append((-1.0 if t == 100 else float(servants)) if msa_varies else resting)  # an undershoot
        s.target.append(float(servants))
        s.discarded.append(100.0 if 35 <= t < 40 else 0.0)
        s.standby.append(standby if t < 30 else 0)
    return s


# peaks 2..8 servants, demand up to 1,500 req/s (7.1 servants' worth), and static far above at 15
REACTIVE = {"msa_varies": False}
SERIES = {"oracle": _series(6), "arca": _series(5), "arca-reactive": _series(3, **REACTIVE),
          "threshold-paper": _series(2, **REACTIVE), "threshold-repo": _series(4, **REACTIVE),
          "proportional": _series(8, demand=1500.0, **REACTIVE), "static": _series(15, **REACTIVE),
          "oracle-notified": _series(6), "arca-warm": _series(5, standby=4),
          "oracle-warm": _series(6, standby=3)}


def _metrics(i: int, standby: float = 0.0) -> RunMetrics:
    # as long as the demo's longest figures (49.765 %, 11,860 servant-s), warm ones too
    return RunMetrics(requests_total=1e5, requests_discarded=5432.1 * i, discard_ratio=0.0543211 * i,
                      servant_seconds=1854.0 + 1100.0 * i, peak_servants=i, standby_seconds=standby,
                      weighted_cost=1854.0 + 1100.0 * i + 0.1 * standby)


METRICS = with_cost({n: _metrics(i, standby=500.0 * i if "warm" in n else 0.0)
                     for i, n in enumerate(SERIES)})
SURFACE = [[2.0 - 0.1 * t for t in range(41)], [3.0] * 41, [4.0] * 41, [5.0] * 41]  # sev 1 < 0 after 20 s
ELAPSED = [float(t) for t in range(41)]
TITLE = "ARCA demo, timeline four.json (seed 7, boot 10 s)"


@pytest.fixture(scope="module")
def fig() -> Any:
    f = figure(SERIES, SURFACE, ELAPSED, None, title=TITLE, incidents=INCIDENTS, capacity_per_servant=CAP,
               metrics=METRICS)
    f.canvas.draw()  # lays out text so extents can be compared
    return f


def _panels(fig: Any) -> dict[str, tuple[Any, Any]]:
    """Strategy name -> (req/s axes, its servants twin)."""
    main = [a for a in fig.axes if a.get_ylabel() == "requests / s"]
    twins = [a for a in fig.axes if a.get_ylabel() == "servants" and a.get_xlabel() == ""
             and a not in main and a.get_title(loc="left") == ""]
    assert len(main) == len(twins)
    out = {}
    for ax in main:
        [twin] = [t for t in twins if t.get_position().bounds == ax.get_position().bounds]
        out[ax.get_title(loc="left").split()[0]] = (ax, twin)
    return out


def test_one_panel_per_strategy_in_two_columns_incident_driven_left_reactive_right(fig: Any) -> None:
    panels = _panels(fig)
    assert set(panels) == set(SERIES)
    x0 = {n: ax.get_position().x0 for n, (ax, _twin) in panels.items()}
    left = {n for n, x in x0.items() if x == min(x0.values())}
    assert left == set(figstyle.ANTICIPATING)
    assert {n for n in x0 if n not in left} == set(figstyle.REACTIVE)
    # each ARCA strategy stands right under the oracle it is measured against
    y0 = {n: ax.get_position().y0 for n, (ax, _twin) in panels.items()}
    assert y0["oracle"] > y0["oracle-notified"] > y0["arca"] > y0["oracle-warm"] > y0["arca-warm"]


def test_every_panel_shares_the_same_requests_and_servants_scales(fig: Any) -> None:
    panels = _panels(fig)
    assert len({ax.get_ylim() for ax, _twin in panels.values()}) == 1
    assert len({twin.get_ylim() for _ax, twin in panels.values()}) == 1
    ax, twin = panels["oracle"]
    # high enough for every panel but the outlier: 1,500 req/s of demand, 8 servants
    assert twin.get_ylim()[1] >= 8 and ax.get_ylim()[1] >= 1500
    assert twin.get_ylim()[1] < 15  # static's 15 would flatten every other panel


def test_the_outlier_panel_is_cut_and_says_so(fig: Any) -> None:
    panels = _panels(fig)
    cut = {n for n, (ax, _twin) in panels.items() if "above the shared scale" in ax.get_title(loc="right")}
    assert cut == {"static"}
    assert "up to 15 servants" in panels["static"][0].get_title(loc="right")
    # its lines run along the top edge instead of leaving the panel
    twin = panels["static"][1]
    [servants] = [line for line in twin.get_lines() if line.get_label().startswith("servants")]
    assert 0.95 * twin.get_ylim()[1] < max(servants.get_ydata()) < twin.get_ylim()[1]


def test_shared_top_cuts_only_a_far_outlier_and_never_with_two_panels() -> None:
    top, cut = shared_top({"a": 6.0, "b": 8.0, "c": 11.0})  # 11 < 1.5 x the median 8
    assert cut == [] and top >= 11
    top, cut = shared_top({"a": 6.0, "b": 7.0, "c": 6.5, "d": 15.0})
    assert cut == ["d"] and 7 < top < 15
    assert shared_top({"oracle": 6.0, "static": 15.0})[1] == []


def test_each_title_carries_the_strategy_s_discard_and_cost_from_the_results(fig: Any) -> None:
    panels = _panels(fig)
    for name, (ax, _twin) in panels.items():
        m = METRICS[name]
        title = ax.get_title(loc="left")
        assert f"discard {m.discard_ratio * 100:.3f} %" in title, title
        assert f"{m.servant_seconds:,.0f} servant-s" in title, title
        if name == "oracle":
            assert "the reference" in title
        else:
            assert f"{m.cost_vs_oracle:.3f}{figstyle.TIMES} oracle" in title, title
        if m.standby_seconds:
            assert f"weighted {m.weighted_cost_vs_oracle:.3f}{figstyle.TIMES}" in title, title
        # the figures and the blurb beside them never print over each other: a blurb that does not fit
        # is left out, which the demo's longest titles (the warm ones, 80 characters) never need
        assert not ax._left_title.get_window_extent().overlaps(ax._right_title.get_window_extent()), name
        if name != "static":  # the cut panel says so there instead
            blurb = ax.get_title(loc="right")
            assert blurb in (figstyle.blurb(name), "") and figstyle.blurb(name)
            assert blurb or len(title) > 80, title


def test_the_oracle_s_servants_are_a_reference_line_in_every_other_panel(fig: Any) -> None:
    expected = [x * CAP for x in SERIES["oracle"].servants]
    for name, (ax, _twin) in _panels(fig).items():
        refs = [line for line in ax.get_lines() if line.get_label().startswith("the oracle's servants")]
        if name == "oracle":
            assert refs == []
        else:
            assert len(refs) == 1 and list(refs[0].get_ydata()) == expected, name


@pytest.mark.parametrize("names", [list(SERIES), ["oracle", "arca"], ["oracle", "arca", "threshold-repo"],
                                   [*SERIES, *(f"arca-objective-{k}" for k in range(8))]],
                         ids=["all-ten", "one-and-oracle", "two-and-oracle", "eighteen"])
def test_the_page_fits_a_screen(names: list[str]) -> None:
    runs = {n: SERIES.get(n, _series(4)) for n in names}
    f = figure(runs, SURFACE, ELAPSED, None, title=TITLE, incidents=INCIDENTS, capacity_per_servant=CAP)
    width, height = f.get_size_inches() * figstyle.DPI
    assert height <= 1600 and width <= 1700, (width, height)
    cols = columns(names)
    assert len(cols) == (1 if len(names) <= 4 else 2)
    assert len([a for a in f.axes if a.get_ylabel() == "requests / s"]) == len(names)


def test_time_axes_are_labelled_in_seconds(fig: Any) -> None:
    panels = _panels(fig)
    bottoms = {n for n, (ax, _twin) in panels.items() if ax.get_xlabel()}
    assert bottoms == {"arca-warm", "static"}  # the last of each column
    for name in bottoms:
        assert panels[name][0].get_xlabel() == "time since the start of the run (s)"
    surface = [a for a in fig.axes if a.get_xlabel().startswith("seconds since the incident")]
    assert len(surface) == 1 and surface[0].get_xlabel().endswith("(s)")


def test_servants_and_capacity_share_one_scale_with_integer_servant_ticks(fig: Any) -> None:
    for ax, twin in _panels(fig).values():
        assert twin.get_ylim()[0] == ax.get_ylim()[0] == 0
        assert twin.get_ylim()[1] * CAP == pytest.approx(ax.get_ylim()[1])
        ticks = [t for t in twin.get_yticks() if 0 <= t <= twin.get_ylim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    assert any(f"one servant serves {CAP:g} req/s" in t.get_text() for t in fig.texts)


def test_the_msa_line_is_never_below_zero_and_only_where_it_varies(fig: Any) -> None:
    for name, (_ax, twin) in _panels(fig).items():
        msa = [line for line in twin.get_lines() if line.get_label().startswith("MSA")]
        assert len(msa) == (1 if name not in figstyle.REACTIVE else 0), name
        assert all(min(line.get_ydata()) >= 0 for line in msa)


def test_incident_onsets_are_marked_and_labelled_with_severity(fig: Any) -> None:
    for ax, _twin in _panels(fig).values():
        marks = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":")
        assert marks == [t for t, _ in INCIDENTS]
        labels = [(a.xy[0], a.get_text()) for a in ax.texts]
        assert labels == [(t, f"sev {sev}") for t, sev in INCIDENTS]
        extents = [a.get_window_extent() for a in ax.texts]
        for i, a in enumerate(extents):  # close onsets: their labels do not print over each other
            assert not any(a.overlaps(b) for b in extents[i + 1:])


def test_the_learned_msa_is_clipped_at_zero_and_its_undershoot_marked(fig: Any) -> None:
    [ax] = [a for a in fig.axes if a.get_xlabel().startswith("seconds since the incident")]
    curves = [line for line in ax.get_lines() if line.get_label().startswith("learned MSA")]
    assert len(curves) == 4 and all(min(c.get_ydata()) >= 0 for c in curves)
    [under] = [line for line in ax.get_lines() if "model < 0" in line.get_label()]
    expected = [t for t, v in zip(ELAPSED, SURFACE[0], strict=True) if v < 0]
    assert list(under.get_xdata()) == expected and set(under.get_ydata()) == {0.0}


def test_legends_cover_no_data_and_the_title_names_the_timeline(fig: Any) -> None:
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 2
    texts = {t.get_text() for lg in legends for t in lg.get_texts()}
    assert {"requests offered (req/s)", "capacity in service (req/s)", "incident onset (sev = severity 1-4)",
            "servants standing by, stopped (warm pool)",
            "the oracle's servants (the clairvoyant reference)"} <= texts
    assert any(t.startswith("MSA") for t in texts)
    for lg in legends:
        box = lg.get_window_extent()
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent()), lg
            for loc in ("left", "right"):
                title = ax._left_title if loc == "left" else ax._right_title
                if title.get_text():
                    assert not box.overlaps(title.get_window_extent()), (lg, title.get_text())
    assert fig._suptitle is not None and "timeline four.json" in fig._suptitle.get_text()


@pytest.mark.parametrize("names", [["oracle", "arca"], list(SERIES)], ids=["one-column", "two-columns"])
def test_every_legend_and_title_is_inside_the_page(names: list[str]) -> None:
    f = figure({n: SERIES[n] for n in names}, SURFACE, ELAPSED, None, title=TITLE, incidents=INCIDENTS,
               capacity_per_servant=CAP, metrics=METRICS)
    f.canvas.draw()
    page = f.bbox
    legends = list(f.legends) + [a.get_legend() for a in f.axes if a.get_legend() is not None]
    titles = [t for a in f.axes for t in (a._left_title, a._right_title) if t.get_text()]
    for artist in [*legends, *titles, f._suptitle, *f.texts]:
        box = artist.get_window_extent()
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1, artist


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"),
                                               (".pdf", b"%PDF-")])
def test_plot_writes_the_file_in_each_format(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"fig{suffix}"
    plot(str(out), {"oracle": _series(3), "arca": _series(4)}, incidents=INCIDENTS[:1],
         capacity_per_servant=CAP, metrics={"oracle": METRICS["oracle"], "arca": METRICS["arca"]})
    assert out.read_bytes()[:len(magic)] == magic
    if suffix == ".png":
        from PIL import Image

        with Image.open(out) as im:
            assert im.size[1] <= 1600 and im.size[0] <= 1700, im.size
