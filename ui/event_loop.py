"""The app's asyncio loop: qasync's Qt-driven loop, with real `TimerHandle`s.

qasync's `call_later`/`call_at` return plain `asyncio.Handle`s, which have no
`when()`; asyncio code may rely on it (the in-process `RelayServer` does, to
re-arm its tick). Here they return `asyncio.TimerHandle`s, run by the same
Qt timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import Context
from typing import Any

import qasync
from PySide6.QtWidgets import QApplication


class WzpEventLoop(qasync.QEventLoop):  # type: ignore[misc, valid-type]
    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> asyncio.TimerHandle:
        if not callable(callback):
            raise TypeError(f"callback must be callable: {type(callback).__name__}")
        handle = asyncio.TimerHandle(self.time() + max(0.0, delay), callback, args, self, context=context)
        self._add_callback(handle, delay)
        return handle

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> asyncio.TimerHandle:
        return self.call_later(when - self.time(), callback, *args, context=context)

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> asyncio.TimerHandle:
        return self.call_later(0.0, callback, *args, context=context)


def make_event_loop(app: QApplication, *, already_running: bool = False) -> WzpEventLoop:
    return WzpEventLoop(app, already_running=already_running)
