"""A label for an inline error (a field that is not valid): word-wrapped plain text in `error_color`,
recomputed from the palette whenever it changes (a live light/dark switch keeps it readable)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QWidget

from ui.theme import error_color


class ErrorLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._recoloring = False
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)  # errors quote what people typed
        self._recolor()

    def set_error(self, text: str) -> None:
        """Show `text` (hidden when empty); a screen reader hears it as the label's description."""
        self.setText(text)
        self.setAccessibleDescription(text)
        self.setVisible(bool(text))

    def _recolor(self) -> None:
        if self._recoloring:
            return
        self._recoloring = True
        try:
            # Only WindowText is set on the label: every other role still comes from the parent, so the
            # next scheme switch reaches it (as a PaletteChange) and the red is chosen again.
            own = QPalette()
            own.setColor(QPalette.ColorRole.WindowText, error_color(self.palette()))
            self.setPalette(own)
        finally:
            self._recoloring = False

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._recolor()
