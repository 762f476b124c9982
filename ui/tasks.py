"""Running the client's coroutines from Qt slots (the asyncio loop is qasync's, on the UI thread).

`TaskRunner.run(coro, what=...)` keeps a reference to the task, logs any
failure with its traceback, and turns it into one sentence for the user
(`failed` signal). A `ClientError` already is a sentence.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.client.client import ClientError

log = logging.getLogger(__name__)


class TaskRunner(QObject):
    failed = Signal(str)  # a sentence

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def run(self, coro: Coroutine[Any, Any, Any], *, what: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is None:
                return
            if isinstance(exc, ClientError):
                log.info("%s: %s", what, exc)
                self.failed.emit(str(exc))
            else:
                log.error("%s failed", what, exc_info=exc)
                self.failed.emit(f"Could not {what}: {exc}. The log in Settings has the details.")

        task.add_done_callback(done)
        return task

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
