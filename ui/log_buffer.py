"""A `logging.Handler` that keeps the last lines for the Settings log view and announces new ones."""

from __future__ import annotations

import logging
from collections import deque

from PySide6.QtCore import QObject, Signal

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Emitter(QObject):
    line = Signal(str)


class LogBuffer(logging.Handler):
    """Thread-safe: audio threads may log; the Qt signal is queued to the UI thread."""

    def __init__(self, max_lines: int = 3000) -> None:
        super().__init__(logging.DEBUG)
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.emitter = _Emitter()
        self.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.lines.append(text)
        try:
            self.emitter.line.emit(text)
        except RuntimeError:  # the emitter was deleted at exit
            pass

    def text(self) -> str:
        return "\n".join(self.lines)


_buffer: LogBuffer | None = None


def log_buffer() -> LogBuffer:
    """The process-wide buffer, attached to the root logger on first use."""
    global _buffer
    if _buffer is None:
        _buffer = LogBuffer()
        root = logging.getLogger()
        root.addHandler(_buffer)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
    return _buffer
