"""Who you are: identicon, alias and fingerprint, with one-click Copy, and your invite link (copy or QR)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.fonts import fixed_font
from ui.widgets.identicon import IdenticonWidget
from ui.widgets.qr_code import QrCode


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
        self.fingerprint_label.setFont(fixed_font())
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
        self.invite_button = QPushButton(self.tr("Copy invite link"))
        self.invite_button.setToolTip(
            self.tr("Copy a wzp: link that says who you are and where to reach you, for people who will call you")
        )
        self.invite_button.clicked.connect(self.copy_invite)
        self.qr_button = QPushButton(self.tr("QR code"))
        self.qr_button.setToolTip(self.tr("Show your invite link as a QR code"))
        self.qr_button.clicked.connect(self.show_qr)
        invite_row = QHBoxLayout()
        invite_row.setContentsMargins(0, 0, 0, 0)
        invite_row.addWidget(self.invite_button)
        invite_row.addWidget(self.qr_button)
        invite_row.addStretch(1)
        layout.addLayout(invite_row, 2, 1, 1, 2)
        layout.setColumnStretch(3, 1)
        self.invite_provider: Callable[[], str] | None = None
        self.invite_button.hide()
        self.qr_button.hide()
        self.qr_dialog: QDialog | None = None

    def set_invite_provider(self, provider: Callable[[], str]) -> None:
        """Where the invite link comes from (it changes with the relay); shows the invite buttons."""
        self.invite_provider = provider
        self.invite_button.show()
        self.qr_button.show()

    def copy_invite(self) -> None:
        if self.invite_provider is None:
            return
        QGuiApplication.clipboard().setText(self.invite_provider())
        self.invite_button.setText(self.tr("Copied"))
        QTimer.singleShot(1500, self.invite_button, lambda: self.invite_button.setText(self.tr("Copy invite link")))

    def show_qr(self) -> None:
        if self.invite_provider is None:
            return
        link = self.invite_provider()
        dialog = QDialog(self)
        dialog.setWindowTitle(self.tr("Your invite link"))
        layout = QVBoxLayout(dialog)
        code = QrCode(link)
        layout.addWidget(code, 1)
        text = QLabel(link)
        text.setWordWrap(True)
        text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(360, 440)
        self.qr_dialog = dialog
        dialog.show()

    def set_alias(self, alias: str) -> None:
        self.alias_label.setText(alias)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.fingerprint)
        self.copy_button.setText(self.tr("Copied"))
        # The button is the context: the timer dies with it if the card is closed first.
        QTimer.singleShot(1500, self.copy_button, lambda: self.copy_button.setText(self.tr("Copy")))
