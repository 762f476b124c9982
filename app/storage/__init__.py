"""What the app remembers: settings (JSON), contacts and call history (SQLite), all in the data directory.

Nothing in this package imports Qt.
"""

from app.storage.contacts import Contact, ContactBook
from app.storage.database import DatabaseError, open_database
from app.storage.history import CallHistory, CallRecord
from app.storage.settings import Settings, SettingsStore

__all__ = [
    "CallHistory",
    "CallRecord",
    "Contact",
    "ContactBook",
    "DatabaseError",
    "Settings",
    "SettingsStore",
    "open_database",
]
