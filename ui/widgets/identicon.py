"""Paints an identity's 5x5 identicon (see app.identity.identicon) in a rounded square, at the
device pixel ratio of the screen it is on (crisp at 2x: `identicon_icon` carries 1x, 2x and 3x)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPaintEvent, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.identity import FingerprintError, Identicon, identicon

PIXEL_RATIOS = (1.0, 2.0, 3.0)


def paint_identicon(
    painter: QPainter, rect: QRectF, icon: Identicon | None, placeholder: QColor | None = None
) -> None:
    """The identicon in `rect`; with no (valid) fingerprint, an empty square in `placeholder` (the palette's
    Mid colour, half transparent, when not given)."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    radius = rect.width() * 0.16
    if icon is None:
        if placeholder is None:
            placeholder = QPalette().color(QPalette.ColorRole.Mid)
            placeholder.setAlpha(110)
        painter.setBrush(placeholder)
        painter.drawRoundedRect(rect, radius, radius)
        return
    painter.setBrush(QColor(*icon.background))
    painter.drawRoundedRect(rect, radius, radius)
    margin = rect.width() * 0.12
    cell = (rect.width() - 2 * margin) / icon.size
    painter.setBrush(QColor(*icon.foreground))
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    for row, cells in enumerate(icon.grid):
        for col, on in enumerate(cells):
            if on:
                painter.drawRect(
                    QRectF(rect.left() + margin + col * cell, rect.top() + margin + row * cell, cell + 0.5, cell + 0.5)
                )


def identicon_pixmap(fingerprint: str, size: int = 32, ratio: float = 1.0) -> QPixmap:
    """`size` x `size` device-independent pixels, drawn at `ratio` device pixels per pixel."""
    pixmap = QPixmap(round(size * ratio), round(size * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    try:
        icon = identicon(fingerprint)
    except FingerprintError:
        icon = None
    paint_identicon(painter, QRectF(0, 0, size, size), icon)
    painter.end()
    return pixmap


def identicon_icon(fingerprint: str, size: int = 32) -> QIcon:
    """An icon with the identicon drawn at 1x, 2x and 3x: each screen gets the sharp one."""
    icon = QIcon()
    for ratio in PIXEL_RATIOS:
        icon.addPixmap(identicon_pixmap(fingerprint, size, ratio))
    return icon


class IdenticonWidget(QWidget):
    def __init__(self, fingerprint: str = "", size: int = 64, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._size = size
        self._icon: Identicon | None = None
        self.fingerprint = ""
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(self.tr("Identicon"))
        self.set_fingerprint(fingerprint)

    def set_fingerprint(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        try:
            self._icon = identicon(fingerprint) if fingerprint else None
        except FingerprintError:
            self._icon = None
        self.setToolTip(fingerprint)
        self.setAccessibleDescription(
            self.tr("A picture drawn from the fingerprint {fingerprint}").format(fingerprint=fingerprint)
            if fingerprint else ""
        )
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(self._size, self._size)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        side = min(self.width(), self.height())
        placeholder = self.palette().color(QPalette.ColorRole.Mid)
        placeholder.setAlpha(110)
        # The painter of a widget draws at the window's device pixel ratio already: vector shapes, sharp at 2x.
        paint_identicon(painter, QRectF(0, 0, side, side), self._icon, placeholder)
        painter.end()
