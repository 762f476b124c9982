"""Contacts: a name the user chose, a fingerprint, and two separate kinds of trust.

* **Allow direct calls** (`allow_direct`, the `trusted` column): calls with them may go straight between
  the two computers, which shows them our IP address.
* **Verified** (`verified`): the user compared the safety code (`app.identity.safety_code`) with this person
  on a call and marked it so: a deliberate act, never implied by anything else.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from app.identity import parse_fingerprint
from app.nat.relay_address import parse_relay_address

MAX_NAME = 64


@dataclass(frozen=True)
class Contact:
    fingerprint: str
    name: str
    trusted: bool  # direct calls allowed (reveals our IP address); see `allow_direct`
    added_at: float
    verified: bool = False
    verified_at: float = 0.0
    relays: tuple[str, ...] = ()  # where this person was reached (relay addresses), most recent first

    @property
    def allow_direct(self) -> bool:
        return self.trusted

    @property
    def display_name(self) -> str:
        return self.name or self.fingerprint[:9]


def _row(row: sqlite3.Row) -> Contact:
    return Contact(
        fingerprint=row["fingerprint"],
        name=row["name"],
        trusted=bool(row["trusted"]),
        added_at=row["added_at"],
        verified=bool(row["verified"]),
        verified_at=float(row["verified_at"]),
        relays=_relays(row["relays"]),
    )


MAX_CONTACT_RELAYS = 4


def _relays(text: str) -> tuple[str, ...]:
    """The stored relay list, each re-validated (the file is input too); bad entries are dropped."""
    out: list[str] = []
    for part in (text or "").split(","):
        try:
            relay = parse_relay_address(part)
        except ValueError:
            continue
        if relay not in out:
            out.append(relay)
    return tuple(out[:MAX_CONTACT_RELAYS])


class ContactBook:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def all(self) -> list[Contact]:
        rows = self.conn.execute("SELECT * FROM contacts ORDER BY name COLLATE NOCASE, fingerprint").fetchall()
        return [_row(r) for r in rows]

    def get(self, fingerprint: str) -> Contact | None:
        row = self.conn.execute(
            "SELECT * FROM contacts WHERE fingerprint = ?", (parse_fingerprint(fingerprint),)
        ).fetchone()
        return _row(row) if row else None

    def save(self, fingerprint: str, name: str, trusted: bool | None = None) -> Contact:
        """Add a contact or rename it (keeping `trusted` unless given). FingerprintError for a bad fingerprint."""
        fp = parse_fingerprint(fingerprint)
        name = " ".join(name.split())[:MAX_NAME]
        existing = self.get(fp)
        if existing is None:
            self.conn.execute(
                "INSERT INTO contacts (fingerprint, name, trusted, added_at) VALUES (?, ?, ?, ?)",
                (fp, name, int(bool(trusted)), time.time()),
            )
        else:
            keep = existing.trusted if trusted is None else trusted
            self.conn.execute("UPDATE contacts SET name = ?, trusted = ? WHERE fingerprint = ?", (name, int(keep), fp))
        contact = self.get(fp)
        assert contact is not None
        return contact

    def set_trusted(self, fingerprint: str, trusted: bool) -> None:
        self.conn.execute(
            "UPDATE contacts SET trusted = ? WHERE fingerprint = ?", (int(trusted), parse_fingerprint(fingerprint))
        )

    def set_allow_direct(self, fingerprint: str, allowed: bool) -> None:
        self.set_trusted(fingerprint, allowed)

    def set_verified(self, fingerprint: str, verified: bool, name: str = "") -> Contact:
        """Mark `fingerprint` verified (adding it as a contact named `name` if it is not one) or not verified."""
        fp = parse_fingerprint(fingerprint)
        if self.get(fp) is None:
            self.save(fp, name)
        self.conn.execute(
            "UPDATE contacts SET verified = ?, verified_at = ? WHERE fingerprint = ?",
            (int(verified), time.time() if verified else 0.0, fp),
        )
        contact = self.get(fp)
        assert contact is not None
        return contact

    def remember_relays(self, fingerprint: str, relays: Sequence[str]) -> None:
        """A contact was reached on `relays` (most recent first): keep them ahead of older ones."""
        contact = self.get(fingerprint)
        if contact is None:
            return
        merged = _relays(",".join([*relays, *contact.relays]))
        self.conn.execute(
            "UPDATE contacts SET relays = ? WHERE fingerprint = ?", (",".join(merged), contact.fingerprint)
        )

    def is_verified(self, fingerprint: str) -> bool:
        contact = self.get(fingerprint)
        return contact is not None and contact.verified

    def remove(self, fingerprint: str) -> None:
        self.conn.execute("DELETE FROM contacts WHERE fingerprint = ?", (parse_fingerprint(fingerprint),))

    def restore(self, contact: Contact) -> Contact:
        """Put a removed contact back exactly as it was (Undo): name, direct calls, verified, when it was
        added and verified, and where the person was reached. FingerprintError for a bad fingerprint."""
        fp = parse_fingerprint(contact.fingerprint)
        self.conn.execute(
            "INSERT OR REPLACE INTO contacts (fingerprint, name, trusted, added_at, verified, verified_at, relays)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                fp,
                " ".join(contact.name.split())[:MAX_NAME],
                int(contact.trusted),
                contact.added_at,
                int(contact.verified),
                contact.verified_at if contact.verified else 0.0,
                ",".join(_relays(",".join(contact.relays))),
            ),
        )
        restored = self.get(fp)
        assert restored is not None
        return restored

    def is_trusted(self, fingerprint: str) -> bool:
        contact = self.get(fingerprint)
        return contact is not None and contact.trusted
