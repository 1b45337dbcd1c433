"""The demo's figure: labelled axes, aligned servant/capacity scales, incident marks, the learned MSA
clipped at 0 with its undershoot marked, legends over no data, the timeline's name in the title.
Checked on the matplotlib objects, not on pixels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from arca.app.demo.plot import Series, figure, plot

CAP = 210.0
INCIDENTS = [(30.0, 2), (45.0, 4), (47.0, 1), (70.0, 3)]  # four, two of them 2 s apart


def _series(peak: int) -> Series:
    s = Series()
    for t in range(0, 121):
        servants = peak if 30 <= t < 90 else 1
        s.t.append(float(t))
        s.demand.append(900.0 if 35 <= t < 85 else 30.0)
        s.capacity.append(CAP * servants)
        s.servants.append(servants)
        s.in_service.append(servants)
        s.msa.append(-1.0 if t == 100 else float(servants))  # a model undershoot in a decision
        s.target.append(float(servants))
        s.discarded.append(100.0 if 35 <= t < 40 else 0.0)
    return s


SURFACE = [[2.0 - 0.1 * t for t in range(41)], [3.0] * 41, [4.0] * 41, [5.0] * 41]  # sev 1 < 0 after 20 s
ELAPSED = [float(t) for t in range(41)]


@pytest.fixture(scope="module")
def fig() -> Any:
    f = figure({"oracle": _series(6), "threshold-paper": _series(2)}, SURFACE, ELAPSED, None,
               title="ARCA demo, timeline four.json (seed 7, boot 10 s)", incidents=INCIDENTS,
               capacity_per_servant=CAP)
    f.canvas.draw()  # lays out text so extents can be compared
    return f


def _panels(fig: Any) -> list[tuple[Any, Any]]:
    """(req/s axes, its servants twin) per strategy."""
    axes = fig.axes
    main = [a for a in axes if a.get_ylabel() == "requests / s"]
    twins = [a for a in axes if a.get_ylabel().startswith("servants (")]
    assert len(main) == len(twins) == 2
    return list(zip(main, twins, strict=True))


def test_time_axes_are_labelled_in_seconds(fig: Any) -> None:
    for ax, _twin in _panels(fig):
        assert ax.get_xlabel() == "time since the start of the run (s)"
    surface = [a for a in fig.axes if a.get_xlabel().startswith("seconds since the incident")]
    assert len(surface) == 1 and surface[0].get_xlabel().endswith("(s)")


def test_servants_and_capacity_share_one_scale_with_integer_servant_ticks(fig: Any) -> None:
    for ax, twin in _panels(fig):
        assert twin.get_ylim()[0] == ax.get_ylim()[0] == 0
        assert twin.get_ylim()[1] * CAP == pytest.approx(ax.get_ylim()[1])
        ticks = [t for t in twin.get_yticks() if 0 <= t <= twin.get_ylim()[1]]
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
        assert f"{CAP:g} req/s each" in twin.get_ylabel()


def test_the_msa_line_is_never_below_zero(fig: Any) -> None:
    for _ax, twin in _panels(fig):
        [msa] = [line for line in twin.get_lines() if line.get_label().startswith("MSA")]
        assert min(msa.get_ydata()) >= 0


def test_incident_onsets_are_marked_and_labelled_with_severity(fig: Any) -> None:
    for ax, _twin in _panels(fig):
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
    assert {"demand offered (req/s, left)", "capacity in service (req/s, left)",
            "incident onset (sev = severity 1-4)"} <= texts
    assert any(t.startswith("MSA") for t in texts)
    for lg in legends:
        box = lg.get_window_extent()
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent()), lg
    assert fig._suptitle is not None and "timeline four.json" in fig._suptitle.get_text()


def test_plot_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "fig.png"
    plot(str(out), {"oracle": _series(3)}, incidents=INCIDENTS[:1], capacity_per_servant=CAP)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
