"""A horizontal audio level meter in dBFS (-60 .. 0), green / amber / red.

It repaints up to 10 times a second in a call, so it paints opaque: the background under it
(its parent's, e.g. the group box's shaded interior) is rendered once into a pixmap and reused;
otherwise every meter update would repaint the whole chain of widgets behind it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent, QPixmap, QRegion, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

FLOOR_DB = -60.0


class LevelMeter(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.level_db = -100.0
        self._background: QPixmap | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(80)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def set_level_db(self, level_db: float) -> None:
        if abs(level_db - self.level_db) < 0.05:
            return
        before = self._drawn()
        self.level_db = level_db
        if self._drawn() != before:  # a change smaller than a pixel paints nothing new
            self.update()

    def _drawn(self) -> tuple[int, int]:
        """What a paint would show: the filled width in device pixels and the colour band."""
        band = 0 if self.level_db < -12 else 1 if self.level_db <= -3 else 2
        return round(self.fraction * self.width() * self.devicePixelRatioF()), band

    def tool_tip(self) -> str:
        return "silent" if self.level_db <= FLOOR_DB else f"{self.level_db:.0f} dBFS"

    def event(self, event: QEvent) -> bool:
        # The tooltip is made when asked for, not set 10 times a second while nobody hovers.
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            QToolTip.showText(event.globalPos(), self.tool_tip(), self)
            return True
        return super().event(event)

    @property
    def fraction(self) -> float:
        return max(0.0, min(1.0, (self.level_db - FLOOR_DB) / -FLOOR_DB))

    def sizeHint(self) -> QSize:
        return QSize(160, 10)

    # -------------------------------------------------------------- background

    def _parent_background(self) -> QPixmap:
        """What the parent shows where this meter is, without the meter (nor other children)."""
        if self._background is None or self._background.size() != self.size() * self.devicePixelRatioF():
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(self.size() * ratio)
            pixmap.setDevicePixelRatio(ratio)
            parent = self.parentWidget()
            if parent is None:
                pixmap.fill(self.palette().color(self.backgroundRole()))
            else:
                pixmap.fill(parent.palette().color(parent.backgroundRole()))
                parent.render(
                    pixmap, QPoint(), QRegion(self.geometry()), QWidget.RenderFlag.DrawWindowBackground
                )
            self._background = pixmap
        return self._background

    def _forget_background(self) -> None:
        self._background = None

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._forget_background()
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange, QEvent.Type.ParentChange):
            self._forget_background()
        super().changeEvent(event)

    def moveEvent(self, event: object) -> None:
        self._forget_background()
        super().moveEvent(event)  # type: ignore[arg-type]

    # ------------------------------------------------------------------- paint

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._parent_background())
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
