"""The relay line at the top of the window: a dot, what is going on, RTT, the key's status."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ui.models.relay_status import RelayStatusModel
from ui.widgets.status_dot import StatusDot


class RelayBar(QWidget):
    def __init__(self, model: RelayStatusModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.dot = StatusDot()
        self.status_label = QLabel()
        self.status_label.setObjectName("relayStatus")
        self.rtt_label = QLabel()
        self.rtt_label.setToolTip(self.tr("Round-trip time to the relay"))
        self.key_label = QLabel()
        self.action_button = QPushButton()
        self.action_button.clicked.connect(model.act)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.dot)
        layout.addWidget(self.status_label, 1)
        layout.addWidget(self.rtt_label)
        layout.addWidget(self.key_label)
        layout.addWidget(self.action_button)
        model.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        m = self.model
        self.dot.set_state(m.state)
        self.status_label.setText(m.text)
        self.rtt_label.setText(m.rtt_text)
        self.rtt_label.setVisible(bool(m.rtt_text))
        key = m.key_text
        self.key_label.setText(key)
        self.key_label.setVisible(bool(key))
        if m.key_status == "changed":
            self.key_label.setStyleSheet("color: #d22; font-weight: bold;")
        else:
            self.key_label.setStyleSheet("")
        self.key_label.setToolTip(m.key_details)
        self.status_label.setToolTip(m.key_details)
        self.action_button.setText(m.action_text)
        self.action_button.setVisible(bool(m.action_text))
        self.action_button.setEnabled(m.action_enabled)
