"""The dialer field: validates a typed or pasted fingerprint or `wzp:` invite link as the user types."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.invite import InviteError, looks_like_invite, parse_target


class DialerModel(QObject):
    changed = Signal()

    def __init__(self, own_fingerprint: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.own_fingerprint = own_fingerprint
        self.text = ""
        self.fingerprint: str | None = None  # canonical, when valid
        self.relays: tuple[str, ...] = ()  # where an invite link says to find them
        self.name = ""  # the name an invite link carries (theirs, cleaned)
        self.error = ""  # a sentence, when the text is not empty and not valid

    def set_text(self, text: str) -> None:
        self.text = text
        self.fingerprint, self.error, self.relays, self.name = None, "", (), ""
        if text.strip():
            try:
                target = parse_target(text)
            except InviteError as exc:
                message = str(exc)
                if not looks_like_invite(text):
                    message = message.removeprefix("the invite link ")
                self.error = message[:1].upper() + message[1:] + "."
            else:
                fp = target.fingerprint
                self.relays, self.name = target.relays, target.name
                if fp == self.own_fingerprint:
                    self.error = "That is your own fingerprint; enter the other person's."
                else:
                    self.fingerprint = fp
        self.changed.emit()

    @property
    def valid(self) -> bool:
        return self.fingerprint is not None
