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
        plot = QRectF(8, 6 + fm.height() + 4, self.width() - 16, self.height() - fm.height() - 18)
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

        legend_x = 8.0
        for name in sorted(self._series, key=lambda n: (n != "total", n)):
            pts = [(x, v) for x, v in self._series[name] if v > 0]
            colour = self.colour(name)
            if pts:
                path = QPainterPath(to_xy(*pts[0]))
                for x, v in pts[1:]:
                    path.lineTo(to_xy(x, v))
                p.setPen(QPen(colour, 2 if name == "total" else 1.4))
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawPath(path)
            last = self._series[name][-1][1] if self._series[name] else float("nan")
            text = f"{name} {last:.3g}"
            p.setPen(colour)
            p.drawText(QPointF(legend_x, 4 + fm.ascent()), text)
            legend_x += fm.horizontalAdvance(text) + 14
        p.end()
