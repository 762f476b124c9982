"""Fusion style with a light or dark palette that follows the operating system's colour scheme."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

ACCENT = QColor(37, 99, 235)


def dark_palette() -> QPalette:
    p = QPalette()
    window, base, text = QColor(37, 38, 41), QColor(28, 29, 31), QColor(230, 230, 230)
    for role, color in (
        (QPalette.ColorRole.Window, window),
        (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base),
        (QPalette.ColorRole.AlternateBase, QColor(45, 46, 50)),
        (QPalette.ColorRole.ToolTipBase, QColor(50, 50, 55)),
        (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text),
        (QPalette.ColorRole.Button, QColor(50, 51, 55)),
        (QPalette.ColorRole.ButtonText, text),
        (QPalette.ColorRole.BrightText, QColor(255, 90, 90)),
        (QPalette.ColorRole.Link, QColor(110, 160, 255)),
        (QPalette.ColorRole.Highlight, ACCENT),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.PlaceholderText, QColor(140, 140, 140)),
    ):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return p


def light_palette() -> QPalette:
    p = QApplication.style().standardPalette() if QApplication.instance() else QPalette()
    p.setColor(QPalette.ColorRole.Highlight, ACCENT)
    p.setColor(QPalette.ColorRole.HighlightedText, QColor(255, 255, 255))
    return p


def is_dark() -> bool:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return False
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication) -> None:
    """Use Fusion and the palette for the current scheme; re-apply when the OS switches."""
    app.setStyle("Fusion")

    def apply() -> None:
        dark = app.styleHints().colorScheme() == Qt.ColorScheme.Dark
        app.setPalette(dark_palette() if dark else light_palette())
        log.debug("colour scheme: %s", "dark" if dark else "light")

    apply()
    if not app.property("wzp_theme_connected"):
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply())
        app.setProperty("wzp_theme_connected", True)
