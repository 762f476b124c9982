"""`TaskSet`: the background tasks one owner starts, kept alive until they finish, cancelled together.

asyncio keeps only a weak reference to a task: a task nobody holds can vanish mid-flight. Every
owner of fire-and-forget work (the client, a call's race, Nearby, the CLI) keeps them here instead
of its own set + done-callback, and a task that fails is logged with what it was for, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class TaskSet:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], what: str = "") -> asyncio.Task[T]:
        """Run `coro` in the background; a failure is logged as "<owner> task failed: <what>"."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and (exc := t.exception()) is not None:
                log.error("%s task failed: %s", self.owner, what or t.get_coro(), exc_info=exc)

        task.add_done_callback(done)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(list(self._tasks))

    def __contains__(self, task: object) -> bool:
        return task in self._tasks

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait until each has finished."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
