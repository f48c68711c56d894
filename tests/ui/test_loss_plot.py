"""The loss plot's legend wraps onto more rows instead of running off a narrow plot."""

from __future__ import annotations

from studio.ui.loss_plot import LossPlot, legend_layout


def test_legend_wraps_to_the_width():
    places = legend_layout([50, 50, 50, 200], 120, gap=14)
    assert places == [(0, 0), (64, 0), (0, 1), (0, 2)]  # an entry wider than the row gets a row alone
    for (x, _), w in zip(places[:3], [50, 50, 50], strict=True):
        assert x + w <= 120


def test_narrow_plot_paints_every_term(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(210, 110)
    for i in range(1, 6):
        plot.add(i, {"total": 2.0 / i, "content": 1.0 / i, "style": 0.5 / i, "tv": 0.01, "range": 1e-4 / i})
    image = plot.grab().toImage()  # paints; must not raise with the legend on several rows
    assert image.width() == 210
    fm = plot.fontMetrics()
    texts = [f"{n} 0.000" for n in ("total", "content", "range", "style", "tv")]
    rows = {r for _, r in legend_layout([fm.horizontalAdvance(t) for t in texts], 210 - 16)}
    assert len(rows) >= 2
