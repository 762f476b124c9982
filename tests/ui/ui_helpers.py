"""What the UI tests read and click, in one place (imported by conftest and the test modules)."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ui.app import WzpApp

WAIT_MS = 10_000
DURATION = re.compile(r"\b\d+:\d\d\b")


def click(qtbot: Any, widget: QWidget) -> None:
    assert widget.isVisible() and widget.isEnabled(), f"{widget.objectName() or widget} is not clickable"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def wait_connected(qtbot: Any, app: WzpApp, timeout: int = WAIT_MS) -> None:
    qtbot.waitUntil(lambda: app.relay_status.state == "connected", timeout=timeout)


def relay_text(app: WzpApp) -> str:
    return app.window.relay_bar.status_label.text()


def call_status(app: WzpApp) -> str:
    """The status line of the call page, or "" when the home page is shown."""
    return app.window.call_page.status_label.text() if app.window.on_call_page else ""


def banner(app: WzpApp) -> str:
    home = app.window.home
    return home.banner.text() if home.banner.isVisible() else ""


def history_rows(app: WzpApp) -> list[str]:
    lst = app.window.home.history_list
    return [lst.item(i).text() for i in range(lst.count())]


def dial(qtbot: Any, app: WzpApp, fingerprint: str) -> None:
    """Type (paste) a fingerprint into the dialer and click Call."""
    home = app.window.home
    home.dial_field.clear()
    qtbot.keyClicks(home.dial_field, fingerprint)
    click(qtbot, home.call_button)


def wait_incoming(qtbot: Any, app: WzpApp) -> None:
    qtbot.waitUntil(app.incoming_dialog.isVisible, timeout=WAIT_MS)


def wait_in_call(qtbot: Any, *apps: WzpApp) -> None:
    for app in apps:
        qtbot.waitUntil(lambda app=app: call_status(app) == "In call", timeout=WAIT_MS)


def wait_home(qtbot: Any, *apps: WzpApp) -> None:
    for app in apps:
        qtbot.waitUntil(lambda app=app: not app.window.on_call_page and bool(banner(app)), timeout=WAIT_MS)
