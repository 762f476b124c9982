"""Signal bars (0-4) for the call's connection quality, in palette colours, with the level in words for
screen readers and the tooltip (never shown by colour alone: the number of filled bars says it too)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QWidget

from ui.quality import MAX_BARS, Quality, quality_words


class SignalBars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality = Quality(MAX_BARS, "")
        self.known = False  # no stats report yet: empty bars
        self.setFixedSize(self.sizeHint())
        self.setAccessibleName(self.tr("Connection quality"))
        self._describe()

    def sizeHint(self) -> QSize:
        return QSize(26, 18)

    def set_quality(self, quality: Quality | None) -> None:
        self.known = quality is not None
        if quality is not None:
            self.quality = quality
        self._describe()
        self.update()

    def _describe(self) -> None:
        text = (
            self.tr("Connection: {quality} ({bars} of {max} bars)").format(
                quality=quality_words(self.quality.bars), bars=self.quality.bars, max=MAX_BARS
            )
            if self.known
            else self.tr("Connection: not measured yet")
        )
        self.setToolTip(text)
        self.setAccessibleDescription(text)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        palette = self.palette()
        on = palette.color(QPalette.ColorRole.Highlight if not self.quality.poor else QPalette.ColorRole.Text)
        off = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        off.setAlpha(90)
        w, h = self.width(), self.height()
        gap = 2.0
        bar_w = (w - gap * (MAX_BARS - 1)) / MAX_BARS
        painter.setPen(Qt.PenStyle.NoPen)
        for i in range(MAX_BARS):
            bar_h = h * (i + 1) / MAX_BARS
            filled = self.known and i < self.quality.bars
            painter.setBrush(on if filled else off)
            painter.drawRoundedRect(QRectF(i * (bar_w + gap), h - bar_h, bar_w, bar_h), 1.0, 1.0)
        painter.end()
