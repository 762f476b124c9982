"""The log on disk: a rotating file in the data directory's `logs/` folder, and `faulthandler` writing
the Python stack of every thread into `logs/crash.log` when the process dies of a fatal signal.

    logs/wzp.log, wzp.log.1 .. wzp.log.3    (at most 2 MiB each: ~8 MiB in all)
    logs/crash.log                          (appended by faulthandler; empty when nothing crashed)

`save_copy` writes everything (oldest first, the crash file last) into one file for a bug report:
Help > Save log… and Settings > Log > Save….
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ui.log_buffer import FORMAT

LOG_DIRNAME = "logs"
LOG_FILENAME = "wzp.log"
CRASH_FILENAME = "crash.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3

log = logging.getLogger(__name__)


@dataclass
class FileLog:
    directory: Path
    handler: logging.handlers.RotatingFileHandler
    crash_file: IO[str] | None = None
    _closed: bool = field(default=False, repr=False)

    @property
    def path(self) -> Path:
        return self.directory / LOG_FILENAME

    @property
    def crash_path(self) -> Path:
        return self.directory / CRASH_FILENAME

    def files(self) -> list[Path]:
        """The log files that exist, oldest first (wzp.log.3 … wzp.log.1, wzp.log)."""
        rotated = [self.directory / f"{LOG_FILENAME}.{i}" for i in range(self.handler.backupCount, 0, -1)]
        return [p for p in [*rotated, self.path] if p.is_file()]

    def save_copy(self, target: Path) -> int:
        """Write every log file (oldest first) and the crash file, if anything is in it, into `target`.
        Returns the number of bytes written; OSError if `target` cannot be written."""
        self.handler.flush()
        parts: list[bytes] = []
        for path in self.files():
            try:
                parts.append(path.read_bytes())
            except OSError as exc:  # rotated away while we read: the rest is still worth having
                log.info("log file %s not read: %s", path, exc)
        if self.crash_file is not None:
            self.crash_file.flush()
        try:
            crash = self.crash_path.read_bytes() if self.crash_path.is_file() else b""
        except OSError:
            crash = b""
        if crash.strip():
            parts.append(b"\n----- crash.log (faulthandler) -----\n" + crash)
        header = f"WZP log saved {time.strftime('%Y-%m-%d %H:%M:%S %z')}\n".encode()
        data = header + b"".join(parts)
        target.write_bytes(data)
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        logging.getLogger().removeHandler(self.handler)
        self.handler.close()
        if self.crash_file is not None:
            if faulthandler.is_enabled():
                faulthandler.disable()
            self.crash_file.close()


_current: FileLog | None = None


def current() -> FileLog | None:
    """The file log of this process, if `install` ran."""
    return _current


def install(
    data_dir: Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS, crash_handler: bool = True
) -> FileLog | None:
    """Log to `data_dir/logs/wzp.log` (rotating) and enable faulthandler into `crash.log`.

    Once per process (a second call returns the first one). A folder that cannot be written is logged
    and skipped (None): the app runs without a log file rather than not at all."""
    global _current
    if _current is not None:
        return _current
    directory = Path(data_dir) / LOG_DIRNAME
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            directory / LOG_FILENAME, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=False
        )
    except OSError as exc:
        log.warning("no log file in %s: %s", directory, exc)
        return None
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    crash_file: IO[str] | None = None
    if crash_handler:
        try:
            crash_file = open(directory / CRASH_FILENAME, "a", encoding="utf-8")
            faulthandler.enable(file=crash_file, all_threads=True)
        except OSError as exc:
            log.warning("no crash file in %s: %s", directory, exc)
            crash_file = None
    _current = FileLog(directory, handler, crash_file)
    log.info("logging to %s (%d x %d KiB)", directory / LOG_FILENAME, backups + 1, max_bytes // 1024)
    return _current


def uninstall() -> None:
    """Close the file log (tests; the process exit closes it otherwise)."""
    global _current
    if _current is not None:
        _current.close()
        _current = None
