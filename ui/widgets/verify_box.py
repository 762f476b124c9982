"""The question that marks someone verified: compare the safety code, then "The codes match" or
"Not now" (the default: Enter and Esc never mark anyone). Opened, never exec'd."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget


class VerifyBox(QMessageBox):
    def __init__(
        self, name: str, code: str, how: str, on_match: Callable[[], None], parent: QWidget | None = None
    ) -> None:
        """`how`: where the other person sees the code, and what a match means (the caller's sentence)."""
        super().__init__(parent)
        self._on_match = on_match
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle(self.tr("Verify — WZP"))
        self.setTextFormat(Qt.TextFormat.PlainText)  # a name other people chose is never markup
        self.setText(self.tr("Compare this code with {name}:").format(name=name) + f"\n\n{code}")
        self.setInformativeText(how)
        self.match_button = self.addButton(self.tr("The codes match"), QMessageBox.ButtonRole.AcceptRole)
        self.not_now_button = self.addButton(self.tr("Not now"), QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.not_now_button)  # marking verified is never the Enter key's doing
        self.setEscapeButton(self.not_now_button)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button: QAbstractButton) -> None:
        if button is self.match_button:
            self._on_match()
