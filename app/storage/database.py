"""The SQLite file (`wzp.sqlite3` in the data directory): contacts, call history and the block list.

The schema is versioned with `PRAGMA user_version`: `MIGRATIONS[i]` takes the
file from version i to i+1, each in one transaction. A file written by a newer
WZP (a higher version than we know) is refused with a clear message rather
than modified. Queries are tiny (one row, or the last few hundred rows), so
they run on the caller's thread.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

DB_FILENAME = "wzp.sqlite3"

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1
    """
    CREATE TABLE contacts (
        fingerprint TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        trusted INTEGER NOT NULL DEFAULT 0,
        added_at REAL NOT NULL
    );
    CREATE TABLE calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming', 'missed', 'declined')),
        peer_fingerprint TEXT NOT NULL,
        peer_alias TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL,
        duration_s REAL NOT NULL DEFAULT 0,
        reason TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX calls_started ON calls (started_at);
    """,
    # 1 -> 2
    """
    CREATE TABLE blocked (
        fingerprint TEXT PRIMARY KEY,
        blocked_at REAL NOT NULL
    );
    """,
    # 2 -> 3: trust split in two. `trusted` keeps meaning "may call directly (sees my IP address)";
    # `verified` is new: the user compared the safety code with this person (nobody was verified before).
    """
    ALTER TABLE contacts ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE contacts ADD COLUMN verified_at REAL NOT NULL DEFAULT 0;
    """,
    # 3 -> 4: the relays a contact was reached on (comma-separated relay addresses, in the order to try).
    """
    ALTER TABLE contacts ADD COLUMN relays TEXT NOT NULL DEFAULT '';
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class DatabaseError(Exception):
    """The database cannot be used; the message is a sentence for the user."""


def open_database(data_dir: Path, filename: str = DB_FILENAME) -> sqlite3.Connection:
    """Open (creating or upgrading) the database in `data_dir`."""
    path = Path(data_dir) / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=2.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"The contacts and history file {path} cannot be opened ({exc}).") from exc
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"The contacts and history file was written by a newer WZP (schema {version}, this WZP knows "
            f"{SCHEMA_VERSION}). Update WZP to use it."
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[target - 1]
        conn.execute("BEGIN")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        log.info("database schema upgraded to version %d", target)
