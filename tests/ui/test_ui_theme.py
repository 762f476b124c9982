"""Looks: the platform's style (Fusion only where it has to be), a live light/dark switch repaints from the
palette (no colour that was right for one scheme only), identicons sharp at 2x, the system fixed font."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFontDatabase, QImage, QPalette
from PySide6.QtWidgets import QApplication

from app.identity import Identity
from ui.theme import Theme, apply_theme, dark_palette, error_color, palette_is_dark
from ui.widgets.identicon import identicon_icon, identicon_pixmap
from ui.widgets.status_dot import StatusDot


def _luminance(c: QColor) -> float:
    def channel(v: int) -> float:
        x = v / 255
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[Theme]:
    before = qapp.palette()
    t = apply_theme(qapp)
    try:
        yield t
    finally:
        qapp.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Light)
        t.setParent(None)
        t.deleteLater()
        qapp.setPalette(before)


def switch(qapp: QApplication, scheme: Qt.ColorScheme) -> None:
    """What the platform does when the user switches the system's scheme."""
    qapp.styleHints().colorSchemeChanged.emit(scheme)


def test_a_live_dark_switch_repaints_from_the_palette(qtbot: Any, qapp: QApplication, theme: Theme, relay: Any,
                                                       make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    light_window = qapp.palette().color(QPalette.ColorRole.Window)
    carol = Identity.generate().fingerprint
    a.history.record(call_id="m1", direction="missed", peer_fingerprint=carol, peer_alias="", started_at=time.time(),
                     duration_s=0, reason="Cancelled", path="")
    qtbot.keyClicks(home.dial_field, "not a fingerprint")
    assert home.dial_error.isVisible()

    def check(dark: bool) -> None:
        palette = qapp.palette()
        # The application palette reaches the widgets as posted PaletteChange events.
        qtbot.waitUntil(lambda: palette_is_dark(home.dial_error.palette()) is dark)
        assert palette_is_dark(palette) is dark
        window, base = palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.Base)
        err = home.dial_error.palette().color(QPalette.ColorRole.WindowText)
        assert err == error_color(palette) and contrast(err, window) >= 4.5
        missed = home.history_list.item(0).foreground().color()
        assert missed == error_color(palette) and contrast(missed, base) >= 4.5
        # A custom-drawn widget paints from the palette it has now: the offline dot is the disabled text colour.
        dot = StatusDot("offline", 10, a.window)
        image = dot.grab().toImage()
        centre = image.pixelColor(image.width() // 2, image.height() // 2)
        wanted = dot.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
        assert abs(centre.red() - wanted.red()) <= 2 and abs(centre.green() - wanted.green()) <= 2
        dot.deleteLater()

    check(dark=False)
    switch(qapp, Qt.ColorScheme.Dark)
    assert theme.own_palette  # the offscreen platform has no dark palette of its own: ours
    assert qapp.palette().color(QPalette.ColorRole.Window) == dark_palette().color(QPalette.ColorRole.Window)
    check(dark=True)
    switch(qapp, Qt.ColorScheme.Light)
    assert not theme.own_palette and qapp.palette().color(QPalette.ColorRole.Window) == light_window
    check(dark=False)


def test_error_colour_reads_on_both_schemes(qapp: QApplication) -> None:
    for palette in (qapp.style().standardPalette(), dark_palette()):
        for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base, QPalette.ColorRole.AlternateBase):
            assert contrast(error_color(palette), palette.color(role)) >= 4.5, (palette_is_dark(palette), role)


def test_fusion_only_where_the_platform_style_cannot(qapp: QApplication, theme: Theme) -> None:
    platform = theme.platform_style
    try:
        cases = [
            ("windows11", Qt.ColorScheme.Dark, "windows11"),
            ("windowsvista", Qt.ColorScheme.Light, "windowsvista"),
            ("windowsvista", Qt.ColorScheme.Dark, "fusion"),  # vista draws light only
            ("macos", Qt.ColorScheme.Dark, "macos"),
            ("breeze", Qt.ColorScheme.Dark, "breeze"),
            ("windows", Qt.ColorScheme.Light, "fusion"),  # Qt's legacy fallback
        ]
        for style, scheme, wanted in cases:
            theme.platform_style, theme.scheme = style, scheme
            assert theme.wanted_style() == wanted, (style, scheme)
    finally:
        theme.platform_style = platform
        theme.apply()
    assert qapp.style().name().lower() == platform  # Fusion here because it is the platform's own


def test_identicons_are_drawn_at_the_pixel_ratio(qapp: QApplication) -> None:
    fp = Identity.generate().fingerprint
    icon = identicon_icon(fp, 32)
    sharp = icon.pixmap(QSize(32, 32), 2.0)
    assert sharp.deviceIndependentSize().toSize() == QSize(32, 32) and sharp.devicePixelRatio() == 2.0
    assert sharp.size() == QSize(64, 64)  # 64 device pixels, not 32 scaled up
    image = sharp.toImage()

    def differing(other: QImage) -> int:
        other = other.convertToFormat(image.format())
        return sum(image.pixel(x, y) != other.pixel(x, y) for x in range(64) for y in range(64))

    # Drawn at 64 device pixels: like the 64 px identicon but for anti-aliased corner pixels, unlike 32 scaled up.
    native = differing(identicon_pixmap(fp, 64).toImage())
    scaled = differing(identicon_pixmap(fp, 32).toImage().scaled(64, 64))
    assert native <= 4 * 64 and native < scaled / 2, (native, scaled)
    assert icon.pixmap(QSize(32, 32), 1.0).size() == QSize(32, 32)


def test_fingerprints_and_codes_use_the_system_fixed_font(qtbot: Any, relay: Any, make_app: Any) -> None:
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()
    a = make_app("alice", relay)
    assert a.window.identity.fingerprint_label.font().family() == fixed
    assert a.window.call_page.safety_label.font().family() == fixed
    a.open_settings()
    assert a.settings_dialog is not None and a.settings_dialog.log_view.font().family() == fixed
