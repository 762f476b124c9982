"""The app icon: resources/icon.svg (and the PNGs made from it by resources/make_icons.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap

log = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SVG = RESOURCES / "icon.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render_svg(size: int, svg: Path = SVG) -> QImage:
    """The SVG drawn at `size` x `size` pixels (needs QtSvg)."""
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"{svg} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def _fallback(size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(37, 99, 235))
    painter.drawRoundedRect(QRectF(0, 0, size, size), size * 0.22, size * 0.22)
    painter.end()
    return pixmap


def app_icon() -> QIcon:
    icon = QIcon()
    for size in PNG_SIZES:
        png = RESOURCES / f"icon-{size}.png"
        if png.exists():
            icon.addFile(str(png))
    if icon.isNull():
        try:
            for size in (32, 64, 256):
                icon.addPixmap(QPixmap.fromImage(render_svg(size)))
        except Exception as exc:
            log.info("app icon unavailable (%s); using a plain one", exc)
            icon.addPixmap(_fallback(64))
    return icon
