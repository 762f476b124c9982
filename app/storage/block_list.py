"""The people whose calls never ring: their offers are declined without a sound.

Blocking is the user's answer to call spam (a caller who re-offers after every
decline): the relay still forwards the offer, and the client declines it at once
and tells nobody but the log.
"""

from __future__ import annotations

import sqlite3
import time

from app.identity import parse_fingerprint


class BlockList:
    """Read from the database on every question, so a block made by another process (the CLI
    next to the GUI) counts at once; one indexed lookup per incoming call is nothing."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def all(self) -> list[str]:
        rows = self.conn.execute("SELECT fingerprint FROM blocked ORDER BY blocked_at").fetchall()
        return [r["fingerprint"] for r in rows]

    def __contains__(self, fingerprint: object) -> bool:
        if not isinstance(fingerprint, str):
            return False
        return self.conn.execute("SELECT 1 FROM blocked WHERE fingerprint = ?", (fingerprint,)).fetchone() is not None

    def block(self, fingerprint: str) -> str:
        """Block a fingerprint (any pasted form); FingerprintError for a bad one. Returns the canonical form."""
        fp = parse_fingerprint(fingerprint)
        self.conn.execute("INSERT OR IGNORE INTO blocked (fingerprint, blocked_at) VALUES (?, ?)", (fp, time.time()))
        return fp

    def unblock(self, fingerprint: str) -> None:
        self.conn.execute("DELETE FROM blocked WHERE fingerprint = ?", (parse_fingerprint(fingerprint),))
