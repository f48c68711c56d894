"""A small live plot of the loss terms over iterations, painted with QPainter."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

COLOURS = {
    "total": QColor(235, 235, 235),
    "content": QColor(90, 170, 255),
    "style": QColor(255, 150, 60),
    "tv": QColor(120, 210, 120),
    "range": QColor(190, 150, 255),
}
EXTRA = [QColor(220, 110, 220), QColor(240, 220, 90), QColor(100, 220, 220)]
MAX_POINTS = 2000


def legend_layout(widths: list[float], space: float, gap: float = 14.0) -> list[tuple[float, int]]:
    """(x, row) of each legend entry of these widths, wrapped to rows of ``space`` pixels."""
    out: list[tuple[float, int]] = []
    x, row = 0.0, 0
    for w in widths:
        if x > 0 and x + w > space:
            x, row = 0.0, row + 1
        out.append((x, row))
        x += w + gap
    return out


class LossPlot(QWidget):
    """Each loss term as a line over the iteration number, on a log scale."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumSize(200, 90)
        self.setToolTip("Loss terms over the iterations (log scale): lower is closer to the goal. "
                        "range: how far pixels stray beyond black or white while the image is optimised")
        self._series: dict[str, list[tuple[float, float]]] = {}
        self._x_max = 1.0

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(320, 120)

    def clear(self, total: int | None = None) -> None:
        self._series.clear()
        self._x_max = float(total or 1)
        self.update()

    def add(self, iteration: int, losses: dict[str, float], total: int | None = None) -> None:
        for name, value in losses.items():
            if value is None or not math.isfinite(value):
                continue
            points = self._series.setdefault(name, [])
            points.append((float(iteration), float(value)))
            if len(points) > MAX_POINTS:  # keep every other old point
                del points[: MAX_POINTS // 2 : 2]
        self._x_max = max(self._x_max, float(total or 0), float(iteration))
        self.update()

    def series(self) -> dict[str, list[tuple[float, float]]]:
        return self._series

    def colour(self, name: str) -> QColor:
        if name in COLOURS:
            return COLOURS[name]
        others = sorted(n for n in self._series if n not in COLOURS)
        return EXTRA[others.index(name) % len(EXTRA)] if name in others else EXTRA[0]

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(30, 30, 32))
        fm = p.fontMetrics()
        names = sorted(self._series, key=lambda n: (n != "total", n))
        texts = [f"{n} {self._series[n][-1][1] if self._series[n] else float('nan'):.3g}" for n in names]
        places = legend_layout([fm.horizontalAdvance(t) for t in texts], self.width() - 16)
        rows = 1 + max((r for _, r in places), default=0)
        top = 6 + rows * fm.height() + 4
        plot = QRectF(8, top, self.width() - 16, self.height() - top - 8)
        p.setPen(QPen(QColor(70, 70, 74), 1))
        p.drawRect(plot)
        values = [v for pts in self._series.values() for _, v in pts if v > 0]
        if not values:
            p.setPen(QColor(140, 140, 140))
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter, "Loss plot: appears when a run starts")
            p.end()
            return
        lo, hi = math.log10(min(values)), math.log10(max(values))
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad

        def to_xy(x: float, v: float) -> QPointF:
            tx = x / self._x_max if self._x_max > 0 else 0.0
            ty = (math.log10(max(v, 1e-30)) - lo) / (hi - lo)
            return QPointF(plot.left() + tx * plot.width(), plot.bottom() - ty * plot.height())

        # decade grid lines
        p.setPen(QPen(QColor(55, 55, 58), 1, Qt.PenStyle.DotLine))
        for d in range(math.ceil(lo), math.floor(hi) + 1):
            y = to_xy(0, 10.0**d).y()
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))

        for name, text, (lx, row) in zip(names, texts, places, strict=True):
            pts = [(x, v) for x, v in self._series[name] if v > 0]
            colour = self.colour(name)
            if pts:
                path = QPainterPath(to_xy(*pts[0]))
                for x, v in pts[1:]:
                    path.lineTo(to_xy(x, v))
                p.setPen(QPen(colour, 2 if name == "total" else 1.4))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawPath(path)
            p.setPen(colour)
            p.drawText(QPointF(8 + lx, 4 + fm.ascent() + row * fm.height()), text)
        p.end()
