"""Call history: one row per call, outgoing, incoming (answered), missed or declined."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from app.identity import parse_fingerprint

DIRECTIONS = ("outgoing", "incoming", "missed", "declined")
KEEP_ROWS = 1000


@dataclass(frozen=True)
class CallRecord:
    id: int
    call_id: str
    direction: str
    peer_fingerprint: str
    peer_alias: str
    started_at: float  # unix time
    duration_s: float  # 0 when the call never connected
    reason: str  # the end reason (Normal, Declined, Busy, Offline, Timeout, Cancelled, Error, ...)
    path: str  # "direct", "relay" or "" when it never connected


def _row(row: sqlite3.Row) -> CallRecord:
    return CallRecord(**{k: row[k] for k in row.keys()})


class CallHistory:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def add(
        self,
        *,
        call_id: str,
        direction: str,
        peer_fingerprint: str,
        peer_alias: str = "",
        started_at: float,
        duration_s: float = 0.0,
        reason: str = "",
        path: str = "",
    ) -> CallRecord:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        cur = self.conn.execute(
            "INSERT INTO calls (call_id, direction, peer_fingerprint, peer_alias, started_at, duration_s, reason, path)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                call_id,
                direction,
                parse_fingerprint(peer_fingerprint),
                peer_alias[:64],
                started_at,
                max(0.0, duration_s),
                reason,
                path,
            ),
        )
        self.conn.execute(
            "DELETE FROM calls WHERE id NOT IN (SELECT id FROM calls ORDER BY started_at DESC, id DESC LIMIT ?)",
            (KEEP_ROWS,),
        )
        row = self.conn.execute("SELECT * FROM calls WHERE id = ?", (cur.lastrowid,)).fetchone()
        return _row(row)

    def recent(self, limit: int = 200) -> list[CallRecord]:
        rows = self.conn.execute("SELECT * FROM calls ORDER BY started_at DESC, id DESC LIMIT ?", (limit,)).fetchall()
        return [_row(r) for r in rows]

    def delete(self, record_id: int) -> None:
        """Delete one call from the history (nothing if it is not there)."""
        self.conn.execute("DELETE FROM calls WHERE id = ?", (record_id,))

    def clear(self) -> None:
        self.conn.execute("DELETE FROM calls")
