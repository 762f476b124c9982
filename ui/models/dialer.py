"""The dialer field: validates a typed or pasted fingerprint as the user types."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.identity import FingerprintError, parse_fingerprint


class DialerModel(QObject):
    changed = Signal()

    def __init__(self, own_fingerprint: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.own_fingerprint = own_fingerprint
        self.text = ""
        self.fingerprint: str | None = None  # canonical, when valid
        self.error = ""  # a sentence, when the text is not empty and not valid

    def set_text(self, text: str) -> None:
        self.text = text
        self.fingerprint, self.error = None, ""
        if text.strip():
            try:
                fp = parse_fingerprint(text)
            except FingerprintError as exc:
                message = str(exc)
                self.error = message[:1].upper() + message[1:] + "."
            else:
                if fp == self.own_fingerprint:
                    self.error = "That is your own fingerprint; enter the other person's."
                else:
                    self.fingerprint = fp
        self.changed.emit()

    @property
    def valid(self) -> bool:
        return self.fingerprint is not None
