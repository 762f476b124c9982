"""A QR code of a text (the invite link), made with segno and drawn with Qt's SVG renderer: sharp at any
size and pixel ratio, dark modules on a light quiet zone whatever the theme (scanners need the contrast)."""

from __future__ import annotations

import io

import segno
from PySide6.QtCore import QByteArray, QRectF, QSize
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QSizePolicy, QWidget


def qr_svg(text: str) -> bytes:
    code = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind="svg", scale=1, border=4, dark="#000000", light="#ffffff", xmldecl=False)
    return out.getvalue()


class QrCode(QWidget):
    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = text
        self.renderer = QSvgRenderer(QByteArray(qr_svg(text)), self)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName(self.tr("QR code of your invite link"))
        self.setAccessibleDescription(text)

    def sizeHint(self) -> QSize:
        return QSize(280, 280)

    def paintEvent(self, event: QPaintEvent) -> None:
        side = min(self.width(), self.height())
        painter = QPainter(self)
        self.renderer.render(painter, QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side))
        painter.end()
