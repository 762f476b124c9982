"""A small coloured dot: green connected, amber connecting/reconnecting, red problem, offline in the
palette's disabled text colour; ringed in the palette's text colour so it shows on light and dark."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QWidget

COLORS = {
    "connected": QColor(34, 170, 90),
    "connecting": QColor(230, 160, 20),
    "reconnecting": QColor(230, 160, 20),
    "key-changed": QColor(220, 50, 50),
    "online": QColor(34, 170, 90),
}


class StatusDot(QWidget):
    def __init__(self, state: str = "offline", diameter: int = 10, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._d = diameter
        self.setFixedSize(diameter + 2, diameter + 2)
        self._describe()

    def set_state(self, state: str) -> None:
        self.state = state
        self._describe()
        self.update()

    def _describe(self) -> None:
        # The colour alone says nothing to a screen reader (or to someone who cannot tell green from red).
        words = {
            "connected": self.tr("connected"),
            "connecting": self.tr("connecting"),
            "reconnecting": self.tr("reconnecting"),
            "key-changed": self.tr("key changed"),
            "online": self.tr("online"),
        }.get(self.state, self.tr("offline"))
        self.setAccessibleName(self.tr("Status: {state}").format(state=words))

    def sizeHint(self) -> QSize:
        return QSize(self._d + 2, self._d + 2)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        palette = self.palette()
        ring = palette.color(QPalette.ColorRole.WindowText)
        ring.setAlpha(70)
        painter.setPen(QPen(ring, 1.0))
        offline = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        painter.setBrush(COLORS.get(self.state, offline))
        painter.drawEllipse(1, 1, self._d, self._d)
        painter.end()
