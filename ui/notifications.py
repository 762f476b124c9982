"""Native notifications through `desktop-notifier` (asyncio; D-Bus on Linux, the Notification Center on macOS,
WinRT toasts on Windows), with the tray's balloon messages as the fallback.

An incoming call gets a notification with two buttons, Accept (or "Accept privately" for a caller who may not
see our address) and Decline; a click on its body brings the window forward. The buttons call back with the
call id they were made for: the app answers only if that call is still the one ringing, so a notification
left over from an earlier call can never answer a later one. Aliases in the text are escaped (notification
servers may render a subset of HTML in the body).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

log = logging.getLogger(__name__)

ACCEPT, ACCEPT_PRIVATELY, DECLINE = "accept", "accept_privately", "decline"
RING_TIMEOUT_S = 45  # the relay gives up on a ringing call after 45 s

AnswerCallback = Callable[[str, str], None]  # (call id, ACCEPT | ACCEPT_PRIVATELY | DECLINE)


class Notifications(QObject):
    def __init__(
        self,
        *,
        app_name: str,
        icon_path: Path | None,
        fallback: Callable[[str, str], None],
        enabled: bool = True,
        parent: QObject | None = None,
    ) -> None:
        """`fallback(title, text)` shows a message where native notifications cannot (the tray, the log)."""
        super().__init__(parent)
        self.fallback = fallback
        self.notifier: Any = None
        self.broken = False  # a send failed (no notification server): use the fallback from now on
        self.ringing: dict[str, Any] = {}  # call id -> its desktop_notifier.Notification
        self._tasks: set[asyncio.Task[None]] = set()
        self._sending: dict[str, asyncio.Task[None]] = {}  # incoming-call notifications on their way
        if not enabled:
            return
        try:
            from desktop_notifier import DesktopNotifier, Icon

            icon = Icon(path=icon_path) if icon_path is not None and icon_path.exists() else None
            notifier = DesktopNotifier(app_name=app_name, app_icon=icon)
        except Exception as exc:  # not installed, or no backend for this platform
            log.info("native notifications unavailable (%s); using the tray", exc)
            return
        backend = type(getattr(notifier, "_backend", None)).__name__
        if backend == "DummyNotificationCenter":  # an unsupported platform (or macOS outside an app bundle)
            log.info("native notifications unavailable on this platform; using the tray")
            return
        self.notifier = notifier

    @property
    def sending(self) -> bool:
        """An incoming-call notification is on its way to the notification server."""
        return bool(self._sending)

    @property
    def available(self) -> bool:
        return self.notifier is not None and not self.broken

    # ------------------------------------------------------------------ calls

    def incoming_call(
        self, call_id: str, name: str, *, private: bool, on_answer: AnswerCallback, on_show: Callable[[], None]
    ) -> Any:
        """Show "`name` is calling you" with Accept (or Accept privately) and Decline; returns the notification."""
        title, text = self.tr("Incoming call"), self.tr("{name} is calling you.").format(name=name)
        if not self.available:
            self.fallback(title, text)
            return None
        from desktop_notifier import Button, Notification, Urgency

        accept = ACCEPT_PRIVATELY if private else ACCEPT
        accept_title = self.tr("Accept privately") if private else self.tr("Accept")
        notification = Notification(
            title=title,
            message=html.escape(text, quote=False),
            urgency=Urgency.Critical,
            buttons=(
                Button(title=accept_title, on_pressed=lambda: on_answer(call_id, accept)),
                Button(title=self.tr("Decline"), on_pressed=lambda: on_answer(call_id, DECLINE)),
            ),
            on_clicked=on_show,
            timeout=RING_TIMEOUT_S,
        )
        self.ringing[call_id] = notification
        self._sending[notification.identifier] = self._run(self._send(notification, title, text))
        return notification

    def call_over(self, call_id: str) -> None:
        """The call stopped ringing (answered, declined, gone): take its notification away."""
        notification = self.ringing.pop(call_id, None)
        if notification is not None and self.available:
            self._run(self._clear(notification.identifier))

    def message(self, title: str, text: str) -> None:
        if not self.available:
            self.fallback(title, text)
            return
        from desktop_notifier import Notification

        self._run(self._send(Notification(title=title, message=html.escape(text, quote=False)), title, text))

    # -------------------------------------------------------------- plumbing

    async def _send(self, notification: Any, title: str, text: str) -> None:
        try:
            await self.notifier.send_notification(notification)
        finally:
            self._sending.pop(notification.identifier, None)
        # desktop-notifier logs a failed send and keeps only delivered ones: no server, no notification.
        if notification.identifier not in await self.notifier.get_current_notifications():
            if not self.broken:
                log.info("native notifications failed (no notification server?); using the tray from now on")
            self.broken = True
            self.fallback(title, text)

    async def _clear(self, identifier: str) -> None:
        sending = self._sending.pop(identifier, None)
        if sending is not None:  # the call stopped ringing before the server had the notification
            await asyncio.wait([sending])
        if identifier in await self.notifier.get_current_notifications():
            await self.notifier.clear(identifier)

    def _run(self, coro: Any) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("notification failed: %s", task.exception(), exc_info=task.exception())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        bus = getattr(getattr(self.notifier, "_backend", None), "bus", None)  # the D-Bus backend's connection
        if bus is not None:
            bus.disconnect()
