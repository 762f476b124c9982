"""Contacts: a name the user chose, a fingerprint, and whether calls from them are trusted."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from app.identity import parse_fingerprint

MAX_NAME = 64


@dataclass(frozen=True)
class Contact:
    fingerprint: str
    name: str
    trusted: bool
    added_at: float

    @property
    def display_name(self) -> str:
        return self.name or self.fingerprint[:9]


def _row(row: sqlite3.Row) -> Contact:
    return Contact(
        fingerprint=row["fingerprint"], name=row["name"], trusted=bool(row["trusted"]), added_at=row["added_at"]
    )


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

    def remove(self, fingerprint: str) -> None:
        self.conn.execute("DELETE FROM contacts WHERE fingerprint = ?", (parse_fingerprint(fingerprint),))

    def is_trusted(self, fingerprint: str) -> bool:
        contact = self.get(fingerprint)
        return contact is not None and contact.trusted
