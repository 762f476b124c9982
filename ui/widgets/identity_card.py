"""Who you are: identicon, alias and fingerprint, with a one-click Copy button."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QGridLayout, QLabel, QPushButton, QWidget

from ui.widgets.identicon import IdenticonWidget


class IdentityCard(QWidget):
    def __init__(self, fingerprint: str, alias: str, *, icon_size: int = 56, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fingerprint = fingerprint
        self.icon = IdenticonWidget(fingerprint, icon_size)
        self.alias_label = QLabel(alias)
        font = self.alias_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.alias_label.setFont(font)
        self.fingerprint_label = QLabel(fingerprint)
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.fingerprint_label.setFont(mono)
        self.fingerprint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fingerprint_label.setToolTip(self.tr("Your fingerprint: give it to people so they can call you."))
        self.copy_button = QPushButton(self.tr("Copy"))
        self.copy_button.setToolTip(self.tr("Copy your fingerprint to the clipboard"))
        self.copy_button.clicked.connect(self.copy)
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(12)
        layout.setVerticalSpacing(2)
        layout.addWidget(self.icon, 0, 0, 2, 1, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.alias_label, 0, 1, 1, 2)
        layout.addWidget(self.fingerprint_label, 1, 1)
        layout.addWidget(self.copy_button, 1, 2, Qt.AlignmentFlag.AlignLeft)
        layout.setColumnStretch(3, 1)

    def set_alias(self, alias: str) -> None:
        self.alias_label.setText(alias)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.fingerprint)
        self.copy_button.setText(self.tr("Copied"))
        # The button is the context: the timer dies with it if the card is closed first.
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText(self.tr("Copy")))
