"""The incoming-call window: who is calling, Accept / Accept privately / Decline, and Block…"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import QDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.fonts import fixed_font
from ui.models.blocks import BlocksModel
from ui.models.call import INCOMING, CallModel
from ui.widgets.block_confirm import BlockConfirm
from ui.widgets.identicon import IdenticonWidget

GREEN = "QPushButton { background: #16a34a; color: white; padding: 6px 16px; border-radius: 4px; }"
RED = "QPushButton { background: #d33; color: white; padding: 6px 16px; border-radius: 4px; }"


class IncomingDialog(QDialog):
    def __init__(self, call: CallModel, blocks: BlocksModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.call = call
        self.blocks = blocks
        self.block_confirm: BlockConfirm | None = None
        self.setWindowTitle(self.tr("Incoming call — WZP"))
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        self.setModal(False)
        self.icon = IdenticonWidget("", 80)
        self.name_label = QLabel()
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextFormat(Qt.TextFormat.PlainText)  # a caller's alias is never markup
        self.caption = QLabel(self.tr("is calling you"))
        self.trust_label = QLabel()  # "✓ Verified" or "Not verified": in words, not only a colour
        self.trust_label.setObjectName("trust")
        self.fingerprint_label = QLabel()
        self.fingerprint_label.setFont(fixed_font())
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setMinimumWidth(440)
        self.accept_button = QPushButton(self.tr("Accept"))
        self.accept_button.setStyleSheet(GREEN)
        self.private_button = QPushButton(self.tr("Accept privately"))
        self.private_button.setToolTip(
            self.tr("The call goes through the relay: your IP address stays hidden from the caller.")
        )
        self.accept_button.setToolTip(self.tr(
            "The call may go directly between your computers, which shows them your IP."
        ))
        self.decline_button = QPushButton(self.tr("Decline"))
        self.decline_button.setStyleSheet(RED)
        self.block_button = QPushButton(self.tr("Block…"))
        self.block_button.setFlat(True)
        self.block_button.setToolTip(self.tr("Decline this call, and never ring for calls from this person again."))
        self.block_button.clicked.connect(self._ask_block)
        self.accept_button.clicked.connect(self._accept)
        self.private_button.clicked.connect(self._accept_privately)
        self.decline_button.clicked.connect(self._decline)

        top = QGridLayout()
        top.setHorizontalSpacing(16)
        top.addWidget(self.icon, 0, 0, 4, 1, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.name_label, 0, 1)
        top.addWidget(self.caption, 1, 1)
        top.addWidget(self.trust_label, 2, 1)
        top.addWidget(self.fingerprint_label, 3, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.decline_button)
        buttons.addWidget(self.block_button)
        buttons.addStretch(1)
        buttons.addWidget(self.private_button)
        buttons.addWidget(self.accept_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addSpacing(6)
        layout.addWidget(self.note)
        layout.addSpacing(6)
        layout.addLayout(buttons)
        call.changed.connect(self._on_call_changed)

    def present(self) -> None:
        c = self.call
        if self.block_confirm is not None:  # a question about an earlier caller
            self.block_confirm.close()
        self.icon.set_fingerprint(c.peer_fingerprint)
        self.name_label.setText(c.peer_name)
        self.fingerprint_label.setText(c.peer_fingerprint)
        contact = c.contacts.get(c.peer_fingerprint)
        if c.peer_verified:
            self.trust_label.setText(self.tr("✓ Verified"))
        elif contact is not None:
            self.trust_label.setText(self.tr("In your contacts · not verified"))
        else:
            self.trust_label.setText(self.tr("Not in your contacts · the name is their own choice"))
        # Short enough to read while it rings; the default is the button that keeps the IP address hidden
        # unless this contact may call directly.
        if c.peer_trusted:
            self.note.setText(self.tr("Direct calls allowed: the call may go straight between your computers."))
            self.private_button.setVisible(True)
            default = self.accept_button
        elif c.accept_mode == "generic":
            self.note.setText(self.tr("Through the relay: your IP address stays hidden (your privacy setting)."))
            self.private_button.setVisible(False)
            default = self.accept_button
        else:
            self.note.setText(self.tr(
                "Accept privately hides your IP address. Accept may go direct, which shows it to them."
            ))
            self.private_button.setVisible(True)
            default = self.private_button
        self.adjustSize()
        self.show()
        self.raise_()
        self.activateWindow()
        for button in (self.accept_button, self.private_button):
            button.setDefault(button is default)
            button.setAutoDefault(button is default)
        default.setFocus()

    def _accept(self) -> None:
        self.hide()
        self.call.accept()

    def _accept_privately(self) -> None:
        self.hide()
        self.call.accept_privately()

    def _decline(self) -> None:
        self.hide()
        self.call.decline()

    def _ask_block(self) -> None:
        c = self.call
        if c.state != INCOMING:
            return
        if self.block_confirm is not None:
            self.block_confirm.deleteLater()
        name = c.peer_name
        self.block_confirm = BlockConfirm(c.peer_fingerprint, name, self.blocks.confirmation(name), self)
        self.block_confirm.block_button.setText(self.tr("Decline and block"))
        self.block_confirm.confirmed.connect(self._block)
        self.block_confirm.open()

    def _block(self, fingerprint: str) -> None:
        self.hide()
        self.call.block_caller(fingerprint)

    def _on_call_changed(self) -> None:
        if self.call.state != INCOMING:
            if self.isVisible():
                self.hide()
            if self.block_confirm is not None and self.block_confirm.isVisible():
                # The caller gave up while the user was deciding: the question stays, for blocking only.
                self.block_confirm.block_button.setText(self.tr("Block"))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.call.state == INCOMING:
            self.call.decline()
        super().closeEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self._decline()
            return
        super().keyPressEvent(event)
