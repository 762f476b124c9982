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

    def clear(self) -> None:
        self.history.clear()
        self.records = []
        self.changed.emit()
