"""The question before blocking someone: "Block X?" with Block / Cancel (opened, never exec'd)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractButton, QMessageBox, QWidget

from ui.widgets.identicon import identicon_pixmap


class BlockConfirm(QMessageBox):
    confirmed = Signal(str)  # the fingerprint to block

    def __init__(self, fingerprint: str, name: str, question: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fingerprint = fingerprint
        self.setWindowTitle(self.tr("Block — WZP"))
        self.setTextFormat(Qt.TextFormat.PlainText)  # names other people chose are never markup
        ratio = parent.devicePixelRatioF() if parent is not None else 2.0  # sharp at the window's pixel ratio
        self.setIconPixmap(identicon_pixmap(fingerprint, 48, ratio))
        self.setText(self.tr("Block {name}?").format(name=name))
        self.setInformativeText(f"{question}\n\n{fingerprint}")
        self.block_button = self.addButton(self.tr("Block"), QMessageBox.ButtonRole.DestructiveRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.cancel_button)
        self.setEscapeButton(self.cancel_button)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button: QAbstractButton) -> None:
        if button is self.block_button:
            self.confirmed.emit(self.fingerprint)
