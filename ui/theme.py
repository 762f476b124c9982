"""The platform's own style and colours, light or dark as the system is, switching live.

* **Style:** whatever Qt picked for the platform (windows11/windowsvista on Windows, macos on macOS,
  Breeze or Fusion on Linux desktops). Fusion is used only where the platform style cannot do the job:
  Qt's legacy "windows" fallback (it looks like Windows 95), and windowsvista in dark mode (it draws
  light only). `QT_STYLE_OVERRIDE` / `-style` still win: then nothing is changed.
* **Colours:** the platform palette. Only where the system asks for dark and the platform palette is
  still light (Fusion without a desktop theme, windowsvista) our dark palette is set, and taken back
  (`QPalette()`, which resolves to the platform's again) when the system turns light.
* **Widgets** paint from `palette()` (custom-drawn ones included), so a switch repaints them; the few
  semantic colours (an error, a missed call) come from `error_color(palette)`, which is readable on the
  palette's background in both schemes.
"""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

ACCENT = QColor(37, 99, 235)
#: Styles Qt falls back to that cannot draw what the system asks for.
LEGACY_STYLES = {"windows"}
LIGHT_ONLY_STYLES = {"windowsvista"}


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
        (QPalette.ColorRole.Light, QColor(70, 71, 76)),
        (QPalette.ColorRole.Midlight, QColor(60, 61, 66)),
        (QPalette.ColorRole.Mid, QColor(80, 81, 86)),
        (QPalette.ColorRole.Dark, QColor(20, 20, 22)),
        (QPalette.ColorRole.Shadow, QColor(0, 0, 0)),
        (QPalette.ColorRole.Link, QColor(110, 160, 255)),
        (QPalette.ColorRole.Highlight, ACCENT),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.PlaceholderText, QColor(140, 140, 140)),
    ):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return p


def palette_is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def error_color(palette: QPalette) -> QColor:
    """Red that reads on this palette's window and base (contrast >= 4.5:1 on both schemes' backgrounds)."""
    return QColor(255, 128, 128) if palette_is_dark(palette) else QColor(176, 0, 32)


def is_dark() -> bool:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return False
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def _style_forced() -> bool:
    return bool(os.environ.get("QT_STYLE_OVERRIDE")) or any(a == "-style" or a.startswith("-style=") for a in sys.argv)


class Theme(QObject):
    """Keeps the application's style and palette in step with the system's colour scheme."""

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.app = app
        self.platform_style = app.style().name().lower()
        self.own_palette = False  # our dark palette is set (the platform's was light)
        self.scheme = app.styleHints().colorScheme()
        app.styleHints().colorSchemeChanged.connect(self.apply)
        self.apply()

    @property
    def dark(self) -> bool:
        return self.scheme == Qt.ColorScheme.Dark

    def wanted_style(self) -> str:
        if _style_forced():
            return self.platform_style
        if self.platform_style in LEGACY_STYLES or (self.platform_style in LIGHT_ONLY_STYLES and self.dark):
            return "fusion"
        return self.platform_style

    def apply(self, scheme: Qt.ColorScheme | None = None) -> None:
        """Re-apply for `scheme` (what QStyleHints.colorSchemeChanged says), or the current scheme."""
        self.scheme = scheme if scheme is not None else self.app.styleHints().colorScheme()
        style = self.wanted_style()
        if self.app.style().name().lower() != style:
            self.app.setStyle(style)
        if self.own_palette:  # back to the platform's palette first: it may have turned dark itself
            self.app.setPalette(QPalette())
            self.own_palette = False
        if self.dark and not palette_is_dark(QGuiApplication.palette()):
            self.app.setPalette(dark_palette())
            self.own_palette = True
        log.debug(
            "colour scheme %s, style %s, palette %s",
            "dark" if self.dark else "light", self.app.style().name(), "ours" if self.own_palette else "platform",
        )


def apply_theme(app: QApplication) -> Theme:
    """Follow the system's style and colour scheme from now on (once per application)."""
    existing = app.findChild(Theme)
    if isinstance(existing, Theme):
        existing.apply()
        return existing
    return Theme(app)
