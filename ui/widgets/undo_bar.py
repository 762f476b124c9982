"""A one-line note with an Undo button that goes away by itself: "Removed Ada from your contacts. [Undo]".

Removing a contact or a history row does not ask first; it can be taken back for `UNDO_MS` instead.
A newer note replaces the older one (whose undo is then gone, as the user moved on).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

UNDO_MS = 8000


class UndoBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("undoBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(self.backgroundRole().AlternateBase)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # names other people chose are never markup
        self.label.setWordWrap(True)
        self.undo_button = QPushButton(self.tr("Undo"))
        self.undo_button.clicked.connect(self.undo)
        self.close_button = QPushButton(self.tr("Dismiss"))
        self.close_button.setFlat(True)
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.undo_button)
        layout.addWidget(self.close_button)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.dismiss)
        self._undo: Callable[[], None] | None = None
        self.ms = UNDO_MS  # how long Undo is offered
        self.hide()

    def show_undo(self, text: str, undo: Callable[[], None], ms: int | None = None) -> None:
        self.label.setText(text)
        self.setAccessibleName(text)
        self._undo = undo
        self.timer.start(self.ms if ms is None else ms)
        self.show()

    def undo(self) -> None:
        undo, self._undo = self._undo, None
        self.dismiss()
        if undo is not None:
            undo()

    def dismiss(self) -> None:
        self.timer.stop()
        self._undo = None
        self.hide()
