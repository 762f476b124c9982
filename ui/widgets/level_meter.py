"""A horizontal audio level meter in dBFS (-60 .. 0), green / amber / red."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB = -60.0


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_db = -100.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(80)

    def set_level_db(self, level_db: float) -> None:
        if abs(level_db - self.level_db) < 0.05:
            return
        self.level_db = level_db
        self.setToolTip("silent" if level_db <= FLOOR_DB else f"{level_db:.0f} dBFS")
        self.update()

    @property
    def fraction(self) -> float:
        return max(0.0, min(1.0, (self.level_db - FLOOR_DB) / -FLOOR_DB))

    def sizeHint(self) -> QSize:
        return QSize(160, 10)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(Qt.PenStyle.NoPen)
        track = self.palette().color(self.palette().ColorRole.Mid)
        track.setAlpha(90)
        painter.setBrush(track)
        painter.drawRoundedRect(rect, 4, 4)
        frac = self.fraction
        if frac > 0:
            color = QColor(34, 170, 90) if self.level_db < -12 else QColor(230, 160, 20)
            if self.level_db > -3:
                color = QColor(220, 50, 50)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(rect.left(), rect.top(), rect.width() * frac, rect.height()), 4, 4)
        painter.end()
