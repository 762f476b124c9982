"""`wzp:` links the system opens in a running WZP: macOS sends them as a QFileOpenEvent (with the
Info.plist's CFBundleURLTypes), not on a command line as Linux and Windows do."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent


class UrlOpenFilter(QObject):
    def __init__(self, open_url: Callable[[str], None]) -> None:
        super().__init__()
        self.open_url = open_url

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            url = event.url().toString()
            if url.lower().startswith("wzp:"):
                self.open_url(url)
                return True
        return False
