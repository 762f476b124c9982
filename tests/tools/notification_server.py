"""A private D-Bus session bus (`dbus-daemon`) with a minimal desktop notification server on it.

The server implements the freedesktop.org Notifications interface the way a
desktop's notification daemon does (Notify, CloseNotification, capabilities,
the ActionInvoked and NotificationClosed signals), keeps what it was asked to
show, and lets a test press a notification's button (`invoke`): the app's real
desktop-notifier D-Bus backend sees exactly what a user's click would send.
"""

import os
import signal
import subprocess
from dataclasses import dataclass, field
from typing import Any

from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method
from dbus_fast.service import signal as dbus_signal

# D-Bus signatures, as dbus-fast reads them from the annotations (no `from __future__ import annotations` here).
S, U, INT, AS, ASV, SSSS, US, UU = "s", "u", "i", "as", "a{sv}", "ssss", "us", "uu"

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


@dataclass
class Shown:
    id: int
    app_name: str
    summary: str
    body: str
    actions: dict[str, str]  # action key -> button title
    hints: dict[str, Any] = field(default_factory=dict)
    timeout_ms: int = -1
    closed: bool = False


class NotificationServer(ServiceInterface):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__(NAME)
        self.shown: list[Shown] = []

    @method()
    def GetCapabilities(self) -> AS:
        return ["actions", "body", "body-markup"]

    @method()
    def GetServerInformation(self) -> SSSS:
        return ["wzp-test", "wzp", "1.0", "1.2"]

    @method()
    def Notify(
        self, app_name: S, replaces_id: U, app_icon: S, summary: S, body: S,
        actions: AS, hints: ASV, expire_timeout: INT,
    ) -> U:
        pairs = dict(zip(actions[::2], actions[1::2], strict=False))
        shown = Shown(len(self.shown) + 1, app_name, summary, body, pairs, hints, expire_timeout)
        self.shown.append(shown)
        return shown.id

    @method()
    def CloseNotification(self, id: U) -> None:
        for shown in self.shown:
            if shown.id == id and not shown.closed:
                shown.closed = True
                self.NotificationClosed(id, 3)

    @dbus_signal()
    def ActionInvoked(self, id: int, action_key: str) -> US:
        return [id, action_key]

    @dbus_signal()
    def NotificationClosed(self, id: int, reason: int) -> UU:
        return [id, reason]

    def invoke(self, shown: Shown, title: str) -> None:
        """The user presses the button titled `title` on `shown`."""
        key = next(k for k, t in shown.actions.items() if t == title)
        self.ActionInvoked(shown.id, key)
        shown.closed = True
        self.NotificationClosed(shown.id, 2)


class SessionBus:
    """`dbus-daemon --session` on a private socket; `address` goes into DBUS_SESSION_BUS_ADDRESS."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1", "--nopidfile"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        assert self.proc.stdout is not None
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            self.stop()
            raise RuntimeError("dbus-daemon did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)


async def serve(address: str) -> tuple[MessageBus, NotificationServer]:
    bus = await MessageBus(bus_address=address).connect()
    server = NotificationServer()
    bus.export(PATH, server)
    await bus.request_name(NAME)
    return bus, server


__all__ = ["NotificationServer", "SessionBus", "Shown", "Variant", "serve"]
