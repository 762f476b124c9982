"""Fonts the UI uses besides the application font: the system's fixed-width font for fingerprints,
safety codes and the log (whatever the platform calls it: DejaVu Sans Mono, Consolas, Menlo, ...)."""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase


def fixed_font(point_size: float | None = None) -> QFont:
    """`QFontDatabase.systemFont(FixedFont)`, optionally at another size (points)."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setStyleHint(QFont.StyleHint.Monospace)
    if point_size is not None and point_size > 0:
        font.setPointSizeF(point_size)
    return font
