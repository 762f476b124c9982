"""The app's asyncio loop: qasync's Qt-driven loop, with real `TimerHandle`s and cheap callbacks.

qasync's `call_later`/`call_at` return plain `asyncio.Handle`s, which have no
`when()`; asyncio code may rely on it (the in-process `RelayServer` does, to
re-arm its tick). Here they return `asyncio.TimerHandle`s, run by Qt timers.

Two costs of qasync matter in a call (a media frame every 20 ms, QUIC timers that move with
every packet), so this loop does them differently:

* `call_soon`: qasync starts one Qt timer per callback (a wake-up of the Qt event loop each,
  through PySide). Here callbacks wait in one queue, and one zero-timer runs every callback that
  was queued when it fires (later ones in the next round, as asyncio's own loop does).
* a cancelled timer: qasync leaves its Qt timer registered until it fires (and then ignores it),
  so every re-armed QUIC timer cost a useless wake-up later. Here cancelling kills the Qt timer.
* a readable socket: qasync's notifier slot disables the notifier and queues the reader with
  `call_soon` (a second Qt event per UDP packet). Here the reader runs in the notifier's slot.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from contextvars import Context
from typing import Any

import qasync
from PySide6.QtCore import QObject, QSocketNotifier, QTimerEvent
from PySide6.QtWidgets import QApplication


class _Timers(QObject):
    """Qt timers for the loop: one-shot `TimerHandle`s, and the zero-timer that runs `call_soon`s."""

    def __init__(self, run_soon: Callable[[], None]) -> None:
        super().__init__()
        self._run_soon = run_soon
        self._handles: dict[int, asyncio.TimerHandle] = {}
        self._ids: dict[int, int] = {}  # id(handle) -> Qt timer id
        self._soon_timer = 0
        self.stopped = False

    def add(self, handle: asyncio.TimerHandle, delay: float) -> None:
        timer_id = self.startTimer(max(0, int(delay * 1000)))
        self._handles[timer_id] = handle
        self._ids[id(handle)] = timer_id

    def cancel(self, handle: asyncio.TimerHandle) -> None:
        timer_id = self._ids.pop(id(handle), None)
        if timer_id is not None:
            self._handles.pop(timer_id, None)
            self.killTimer(timer_id)

    def arm_soon(self) -> None:
        if not self._soon_timer and not self.stopped:
            self._soon_timer = self.startTimer(0)

    def timerEvent(self, event: QTimerEvent) -> None:
        timer_id = event.timerId()
        self.killTimer(timer_id)
        if timer_id == self._soon_timer:
            self._soon_timer = 0
            if not self.stopped:
                self._run_soon()
            return
        handle = self._handles.pop(timer_id, None)
        if handle is None:
            return
        self._ids.pop(id(handle), None)
        if not handle.cancelled() and not self.stopped:
            handle._run()

    def stop(self) -> None:
        self.stopped = True
        for timer_id in [*self._handles, *([self._soon_timer] if self._soon_timer else [])]:
            self.killTimer(timer_id)
        self._handles.clear()
        self._ids.clear()
        self._soon_timer = 0


class WzpEventLoop(qasync.QEventLoop):  # type: ignore[misc, valid-type]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._soon: deque[asyncio.Handle] = deque()
        self._wzp_timers = _Timers(self._run_soon)

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> asyncio.TimerHandle:
        if not callable(callback):
            raise TypeError(f"callback must be callable: {type(callback).__name__}")
        handle = asyncio.TimerHandle(self.time() + max(0.0, delay), callback, args, self, context=context)
        self._wzp_timers.add(handle, delay)
        return handle

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> asyncio.TimerHandle:
        return self.call_later(when - self.time(), callback, *args, context=context)

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., Any], *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        if not callable(callback):
            raise TypeError(f"callback must be callable: {type(callback).__name__}")
        handle = asyncio.Handle(callback, args, self, context=context)
        self._soon.append(handle)
        self._wzp_timers.arm_soon()
        return handle

    def _run_soon(self) -> None:
        soon = self._soon
        for _ in range(len(soon)):  # what was queued before this round; newer ones run next round
            handle = soon.popleft()
            if not handle.cancelled():
                handle._run()
        if soon:
            self._wzp_timers.arm_soon()

    def _add_reader(self, fd: Any, callback: Callable[..., Any], *args: Any) -> None:
        self._check_closed()
        notifiers = self._read_notifiers
        existing = notifiers.get(fd)
        if existing is not None:
            existing.setEnabled(False)
            existing.activated["int"].disconnect()
        notifier = QSocketNotifier(fd if isinstance(fd, int) else int(fd.fileno()), QSocketNotifier.Type.Read)
        handle = asyncio.Handle(callback, args, self)  # runs the reader; errors go to the loop's handler
        notifier.activated["int"].connect(lambda *_: self._reader_ready(fd, notifier, handle))
        notifier.setEnabled(True)
        notifiers[fd] = notifier

    def _reader_ready(self, fd: Any, notifier: QSocketNotifier, handle: asyncio.Handle) -> None:
        if self._read_notifiers.get(fd) is notifier:  # (not removed or replaced meanwhile)
            handle._run()

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        self._wzp_timers.cancel(handle)

    def close(self) -> None:
        if not self.is_running() and not self.is_closed():
            self._wzp_timers.stop()
            self._soon.clear()
        super().close()


def make_event_loop(app: QApplication, *, already_running: bool = False) -> WzpEventLoop:
    return WzpEventLoop(app, already_running=already_running)
