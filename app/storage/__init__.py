"""What the app remembers, all in the data directory: settings (JSON); contacts, call history
and the block list (SQLite).

Nothing in this package imports Qt.
"""

from app.storage.block_list import BlockList
from app.storage.contacts import Contact, ContactBook
from app.storage.database import DatabaseError, open_database
from app.storage.history import CallHistory, CallRecord
from app.storage.settings import Settings, SettingsStore

__all__ = [
    "BlockList",
    "CallHistory",
    "CallRecord",
    "Contact",
    "ContactBook",
    "DatabaseError",
    "Settings",
    "SettingsStore",
    "open_database",
]
