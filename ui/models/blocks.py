"""The people whose calls never ring here (app.storage.BlockList), as the window shows and changes them.

The same `BlockList` object is the client's `blocked=` container (see ClientHost),
so blocking or unblocking here applies to the very next call offer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app.identity import FingerprintError
from app.storage import BlockList
from ui.models.contacts import ContactsModel
from ui.models.history import HistoryModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockedPerson:
    fingerprint: str
    name: str  # as the window shows it: a contact's name, a stranger's alias marked as theirs, or a short fp
    contact: bool  # saved in the contacts


class BlocksModel(QObject):
    changed = Signal()  # someone was blocked or unblocked
    message = Signal(str)  # a sentence for the status line

    def __init__(
        self, blocks: BlockList, contacts: ContactsModel, history: HistoryModel, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.blocks = blocks
        self.contacts = contacts
        self.history = history

    # ---------------------------------------------------------------- queries

    def is_blocked(self, fingerprint: str) -> bool:
        return fingerprint in self.blocks

    def name(self, fingerprint: str, alias: str = "") -> str:
        """How to name this person: `alias` if given, else the alias they had online or in the last call."""
        if not alias and not self.contacts.is_online(fingerprint):
            alias = next((r.peer_alias for r in self.history.records if r.peer_fingerprint == fingerprint), "")
        return self.contacts.display_name(fingerprint, alias)

    def people(self) -> list[BlockedPerson]:
        """Everyone blocked, longest-blocked first."""
        return [BlockedPerson(fp, self.name(fp), self.contacts.get(fp) is not None) for fp in self.blocks.all()]

    def confirmation(self, name: str) -> str:
        """The question asked before blocking someone."""
        return self.tr("Calls from {name} will be declined without ringing. You can unblock them in Settings.").format(
            name=name
        )

    # ---------------------------------------------------------------- actions

    def block(self, fingerprint: str, alias: str = "") -> bool:
        try:
            fp = self.blocks.block(fingerprint)
        except FingerprintError as exc:
            self.message.emit(self.tr("Not blocked: {error}.").format(error=exc))
            return False
        name = self.name(fp, alias)
        log.info("blocked %s", fp)
        self.changed.emit()
        self.message.emit(self.tr("Blocked {name}. Their calls will be declined without ringing.").format(name=name))
        return True

    def unblock(self, fingerprint: str, alias: str = "") -> None:
        try:
            self.blocks.unblock(fingerprint)
        except FingerprintError as exc:
            self.message.emit(self.tr("Not unblocked: {error}.").format(error=exc))
            return
        log.info("unblocked %s", fingerprint)
        self.changed.emit()
        name = self.name(fingerprint, alias)
        self.message.emit(self.tr("Unblocked {name}. Their calls ring again.").format(name=name))
