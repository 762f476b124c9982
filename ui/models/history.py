"""The call history list (newest first), backed by app.storage.CallHistory."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.storage import CallHistory, CallRecord


class HistoryModel(QObject):
    changed = Signal()

    def __init__(self, history: CallHistory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.records: list[CallRecord] = history.recent()

    def record(
        self,
        *,
        call_id: str,
        direction: str,
        peer_fingerprint: str,
        peer_alias: str,
        started_at: float,
        duration_s: float,
        reason: str,
        path: str,
    ) -> None:
        self.history.add(
            call_id=call_id,
            direction=direction,
            peer_fingerprint=peer_fingerprint,
            peer_alias=peer_alias,
            started_at=started_at,
            duration_s=duration_s,
            reason=reason,
            path=path,
        )
        self.records = self.history.recent()
        self.changed.emit()

    def missed_since(self, seen_at: float) -> int:
        """Missed calls that started after `seen_at` (when the user last looked at the history)."""
        return sum(1 for r in self.records if r.direction == "missed" and r.started_at > seen_at)

    def delete(self, record: CallRecord) -> None:
        """Delete one call from the history."""
        self.history.delete(record.id)
        self.records = self.history.recent()
        self.changed.emit()

    def restore(self, record: CallRecord) -> None:
        """Put a deleted call back (Undo); it gets a new row id."""
        self.record(
            call_id=record.call_id,
            direction=record.direction,
            peer_fingerprint=record.peer_fingerprint,
            peer_alias=record.peer_alias,
            started_at=record.started_at,
            duration_s=record.duration_s,
            reason=record.reason,
            path=record.path,
        )

    def clear(self) -> None:
        self.history.clear()
        self.records = []
        self.changed.emit()
