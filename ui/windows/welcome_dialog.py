"""First run: this is you (identicon, name, fingerprint + Copy), and where to connect."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ui.relay_list import join_nodes, parse_relay_list, split_entries
from ui.widgets.error_label import ErrorLabel
from ui.widgets.identity_card import IdentityCard


class WelcomeDialog(QDialog):
    chosen = Signal(str, str)  # "host" | "relay" | "none", relay address for "relay"

    def __init__(self, fingerprint: str, alias: str, *, need_relay: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Welcome to WZP"))
        self.setModal(False)
        self.need_relay = need_relay
        title = QLabel(self.tr("Welcome to WZP"))
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        intro = QLabel(self.tr(
            "Your identity was created on this computer. People call you with your fingerprint; "
            "send it to them however you like, and check it together on your first call. "
            "Calls are end-to-end encrypted."
        ))
        intro.setWordWrap(True)
        self.card = IdentityCard(fingerprint, alias, icon_size=72)

        self.host_radio = QRadioButton(self.tr("Host a relay on this computer (simplest to get started)"))
        self.relay_radio = QRadioButton(self.tr("Use a relay:"))
        self.relay_field = QLineEdit()
        self.relay_field.setPlaceholderText(self.tr("e.g. relay.example.org or 192.168.1.20:4433"))
        self.relay_error = ErrorLabel()
        group = QButtonGroup(self)
        group.addButton(self.host_radio)
        group.addButton(self.relay_radio)
        self.host_radio.setChecked(True)
        self.relay_field.textChanged.connect(lambda _t: self.relay_radio.setChecked(True))
        self.relay_field.textChanged.connect(self._validate)
        self.host_radio.toggled.connect(self._validate)
        relay_row = QHBoxLayout()
        relay_row.addWidget(self.relay_radio)
        relay_row.addWidget(self.relay_field, 1)
        relay_box = QWidget()
        rb = QVBoxLayout(relay_box)
        rb.setContentsMargins(0, 8, 0, 0)
        question = QLabel(self.tr(
            "WZP needs a relay to find the people you call (the audio goes directly when it can)."
        ))
        question.setWordWrap(True)
        rb.addWidget(question)
        rb.addWidget(self.host_radio)
        rb.addLayout(relay_row)
        rb.addWidget(self.relay_error)
        relay_box.setVisible(need_relay)

        self.continue_button = QPushButton(self.tr("Start") if need_relay else self.tr("Continue"))
        self.continue_button.setDefault(True)
        self.continue_button.clicked.connect(self._continue)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.continue_button)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addWidget(self.card)
        layout.addWidget(relay_box)
        layout.addLayout(buttons)
        self.setMinimumWidth(560)
        self._validate()

    def _validate(self) -> None:
        error = ""
        if self.relay_radio.isChecked():
            text = self.relay_field.text().strip()
            _nodes, errors = parse_relay_list(text)
            if not text:
                error = self.tr("Enter the relay's host name or address.")
            elif errors:
                # Several addresses (the nodes of one service) may be given, separated by commas.
                error = "\n".join(
                    self.tr("“{entry}” (entry {index}): {reason}.").format(entry=e.text, index=e.index, reason=e.reason)
                    if len(split_entries(text)) > 1 else f"{e.reason[:1].upper()}{e.reason[1:]}."
                    for e in errors
                )
        self.relay_error.setText(error)
        self.relay_error.setVisible(bool(error) and bool(self.relay_field.text().strip()))
        self.continue_button.setEnabled(not error)

    def _continue(self) -> None:
        if not self.need_relay:
            self.chosen.emit("none", "")
        elif self.host_radio.isChecked():
            self.chosen.emit("host", "")
        else:
            self.chosen.emit("relay", join_nodes(parse_relay_list(self.relay_field.text())[0]))
        self.accept()
