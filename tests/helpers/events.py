"""Wait on client events without sleeping: every event is recorded and awaitable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app import events as ev

DEFAULT_TIMEOUT = 10.0


class EventLog:
    """Records every event a `WzpClient` emits; `wait` returns the first match (history included)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.events: list[ev.ClientEvent] = []
        self._changed = asyncio.Event()

    def __call__(self, event: ev.ClientEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def matching(self, name: str, **fields: Any) -> list[ev.ClientEvent]:
        return [e for e in self.events if e.event == name and all(getattr(e, k) == v for k, v in fields.items())]

    def names(self) -> list[str]:
        return [e.event for e in self.events]

    async def wait(
        self,
        name: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        after: int = 0,
        where: Callable[[Any], bool] | None = None,
        **fields: Any,
    ) -> Any:
        """The first event `name` (at index >= `after`) whose fields equal `fields` and satisfy `where`."""

        async def scan() -> Any:
            seen = after
            while True:
                for e in self.events[seen:]:
                    if (
                        e.event == name
                        and all(getattr(e, k) == v for k, v in fields.items())
                        and (where is None or where(e))
                    ):
                        return e
                seen = max(seen, len(self.events))
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.name or 'client'}: no {name!r} event {fields or ''} within {timeout} s; "
                f"got {self.names()}; {name!r} events: {[e for e in self.events if e.event == name]}"
            ) from None

    def mark(self) -> int:
        """Index to pass as `after=` to wait only for events emitted from now on."""
        return len(self.events)
