"""One running WZP per data directory, with a QLockFile in that directory."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QLockFile

LOCK_FILENAME = "wzp.lock"


class SingleInstance:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILENAME
        self._lock = QLockFile(str(self.path))
        self._lock.setStaleLockTime(0)  # a lock left by a crashed WZP is detected by its dead PID

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._lock.tryLock(100)

    def owner_pid(self) -> int | None:
        info = self._lock.getLockInfo()  # PySide6: (pid, hostname, appname), or a falsy value
        if not info or not isinstance(info, tuple):
            return None
        pid = int(info[0])
        return pid if pid > 0 else None

    def release(self) -> None:
        self._lock.unlock()
