"""Contacts (saved, named, verified or not, direct calls allowed or not) and who is online now (relay presence)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app import events as ev
from app.client.client import ClientError
from app.identity import FingerprintError, parse_fingerprint
from app.identity.alias import display_alias, self_chosen_name
from app.storage import Contact, ContactBook
from ui.client_host import ClientHost
from ui.tasks import TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnlineUser:
    fingerprint: str
    alias: str


class ContactsModel(QObject):
    changed = Signal()  # contacts or presence changed
    message = Signal(str)  # a sentence for the status line

    def __init__(self, book: ContactBook, host: ClientHost, tasks: TaskRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.book = book
        self.host = host
        self.tasks = tasks
        self.contacts: list[Contact] = book.all()
        self.online: dict[str, OnlineUser] = {}
        host.event.connect(self._on_event)
        host.client_changed.connect(self._on_client_changed)

    # ---------------------------------------------------------------- queries

    def get(self, fingerprint: str) -> Contact | None:
        return next((c for c in self.contacts if c.fingerprint == fingerprint), None)

    def is_trusted(self, fingerprint: str) -> bool:
        contact = self.get(fingerprint)
        return contact is not None and contact.trusted

    def allows_direct(self, fingerprint: str) -> bool:
        """Calls with them may go direct (they learn our IP address)."""
        return self.is_trusted(fingerprint)

    def is_verified(self, fingerprint: str) -> bool:
        contact = self.get(fingerprint)
        return contact is not None and contact.verified

    def is_online(self, fingerprint: str) -> bool:
        return fingerprint in self.online

    def display_name(self, fingerprint: str, alias: str = "") -> str:
        """Who this is, as the window shows it.

        A saved contact's name is shown plainly: the user chose it. Anyone else is shown by the alias
        they chose themselves, cleaned and marked as theirs (``“Swift Wolf” (their name)``), because
        anybody can pick any alias, "Mom" included. With no usable alias: a short fingerprint.
        """
        contact = self.get(fingerprint)
        if contact is not None and contact.name:
            return contact.name
        online = self.online.get(fingerprint)
        for candidate in (alias, online.alias if online is not None else ""):
            shown = self_chosen_name(candidate)
            if shown:
                return shown
        return fingerprint[:9] + "…"

    def online_users(self) -> list[OnlineUser]:
        return sorted(self.online.values(), key=lambda u: (display_alias(u.alias).lower(), u.fingerprint))

    # ---------------------------------------------------------------- actions

    def save(self, fingerprint: str, name: str, trusted: bool | None = None) -> Contact | None:
        try:
            contact = self.book.save(fingerprint, name, trusted)
        except FingerprintError as exc:
            self.message.emit(self.tr("Not saved: {error}.").format(error=exc))
            return None
        self._reload()
        return contact

    def set_trusted(self, fingerprint: str, trusted: bool) -> None:
        self.book.set_trusted(fingerprint, trusted)
        self._reload()

    def set_allow_direct(self, fingerprint: str, allowed: bool) -> None:
        self.set_trusted(fingerprint, allowed)

    def set_verified(self, fingerprint: str, verified: bool, name: str = "") -> None:
        """Mark verified (adding them as a contact named `name` if they are not one yet), or take it back."""
        try:
            self.book.set_verified(fingerprint, verified, name)
        except FingerprintError as exc:
            self.message.emit(self.tr("Not saved: {error}.").format(error=exc))
            return
        log.info("contact %s %s", fingerprint, "verified" if verified else "no longer verified")
        self._reload()

    def remember_relays(self, fingerprint: str, relays: Sequence[str]) -> None:
        self.book.remember_relays(fingerprint, relays)
        self._reload()

    def remove(self, fingerprint: str) -> Contact | None:
        """Remove a contact; returns what was removed (for `restore`), None if they were not one."""
        contact = self.get(fingerprint)
        self.book.remove(fingerprint)
        log.info("contact %s removed", fingerprint)
        self._reload()
        return contact

    def restore(self, contact: Contact) -> None:
        """Put a removed contact back (Undo) exactly as it was: name, direct calls, verified (and when),
        when it was added, and where the person was reached."""
        try:
            self.book.restore(contact)
        except FingerprintError as exc:
            self.message.emit(self.tr("Not saved: {error}.").format(error=exc))
            return
        log.info("contact %s restored", contact.fingerprint)
        self._reload()

    def refresh_presence(self) -> None:
        client = self.host.client
        if client is None:
            return

        async def fetch() -> None:
            try:
                entries = await client.presence()
            except ClientError as exc:
                log.info("presence not available: %s", exc)
                return
            own = self.host.identity.fingerprint
            self.online = {
                e.fingerprint: OnlineUser(e.fingerprint, e.alias) for e in entries if e.fingerprint != own
            }
            self.changed.emit()

        self.tasks.run(fetch(), what="fetch who is online")

    # ----------------------------------------------------------------- events

    def _reload(self) -> None:
        self.contacts = self.book.all()
        self.changed.emit()

    def _on_client_changed(self) -> None:
        self.online = {}
        self.changed.emit()

    def _on_event(self, event: ev.ClientEvent) -> None:
        if isinstance(event, ev.Registered):
            self.refresh_presence()
        elif isinstance(event, ev.Reconnecting | ev.RelayKeyChanged):
            if self.online:
                self.online = {}
                self.changed.emit()
        elif isinstance(event, ev.Presence) and event.resync:
            self.refresh_presence()
        elif isinstance(event, ev.Presence):
            own = self.host.identity.fingerprint
            for user in event.users:
                try:
                    fp = parse_fingerprint(user.get("fingerprint", ""))
                except FingerprintError:
                    continue
                if fp == own:
                    continue
                if user.get("online") == "yes":
                    self.online[fp] = OnlineUser(fp, user.get("alias", ""))
                else:
                    self.online.pop(fp, None)
            self.changed.emit()
