"""UI test fixtures: real WzpApps (windows, clients, storage) against a real in-process relay.

The asyncio loop is qasync's, marked running for the whole test, so Qt event
processing (qtbot.waitUntil, waitSignal) also runs the asyncio side: clients,
relay and media sessions all live on the UI thread, as in the app.

This directory is deliberately not a Python package: `tests/` is on sys.path
(tests/conftest.py), so a `tests/ui/__init__.py` would be imported as `ui` and
shadow the real `ui` package. For the same reason the project root goes first
on sys.path here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))
for _name in [n for n in sys.modules if n == "ui" or n.startswith("ui.")]:
    if getattr(sys.modules[_name], "__file__", None) is None or not str(sys.modules[_name].__file__).startswith(
        str(ROOT / "ui")
    ):
        del sys.modules[_name]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio  # noqa: E402
import contextlib  # noqa: E402
from collections.abc import Callable, Coroutine, Iterator  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import pytest  # noqa: E402
import qasync  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from ui_helpers import WAIT_MS, wait_connected  # noqa: E402

from app.identity import Identity  # noqa: E402
from app.media.sources import ToneSource  # noqa: E402
from app.relay.limits import RelayLimits  # noqa: E402
from app.relay.server import RelayServer  # noqa: E402
from ui.app import WzpApp  # noqa: E402
from ui.event_loop import make_event_loop  # noqa: E402

T = TypeVar("T")


@pytest.fixture
def aio(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop that counts as running while the test runs (Qt events drive it)."""
    loop = make_event_loop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        # Not loop.stop(): it calls QApplication.exit(), after which Qt 6 leaves every nested event loop
        # (qtbot.wait) at once, for the rest of the session.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        with contextlib.suppress(Exception):
            loop._after_run_forever()  # type: ignore[attr-defined]
        loop.close()
        asyncio.set_event_loop(None)


class Runner:
    """Runs coroutines to completion on the qasync loop by processing Qt events (no sleeping)."""

    def __init__(self, qtbot: Any) -> None:
        self.qtbot = qtbot

    def __call__(self, coro: Coroutine[Any, Any, T], timeout_ms: int = WAIT_MS) -> T:
        task = asyncio.ensure_future(coro)
        self.qtbot.waitUntil(task.done, timeout=timeout_ms)
        return task.result()


@pytest.fixture
def run(qtbot: Any, aio: qasync.QEventLoop) -> Runner:
    return Runner(qtbot)


class Relays:
    def __init__(self, run: Runner) -> None:
        self.run = run
        self.servers: list[RelayServer] = []

    def start(self, port: int = 0, identity: Identity | None = None, **limits: Any) -> RelayServer:
        server = self.run(
            RelayServer.start(
                f"127.0.0.1:{port}", identity=identity or Identity.generate(), limits=RelayLimits(**limits)
            )
        )
        self.servers.append(server)
        return server

    def stop(self, server: RelayServer) -> None:
        self.run(server.stop())


@pytest.fixture
def relays(run: Runner) -> Iterator[Relays]:
    r = Relays(run)
    try:
        yield r
    finally:
        errors: list[Exception] = []
        for server in r.servers:
            try:
                r.run(server.stop())
            except Exception as exc:  # stop them all, then fail with every error
                errors.append(exc)
        if errors:
            raise ExceptionGroup("relay teardown failed", errors)


@pytest.fixture
def relay(relays: Relays) -> RelayServer:
    return relays.start()


def tone() -> ToneSource:
    return ToneSource(440.0, amplitude=0.5)


AppFactory = Callable[..., WzpApp]


@pytest.fixture
def make_app(qtbot: Any, run: Runner, tmp_path: Path) -> Iterator[AppFactory]:
    """`make_app(name, relay)`: a started WzpApp (no audio devices; a tone instead of the microphone)."""
    apps: list[WzpApp] = []

    def make(name: str, relay: RelayServer | None = None, *, connected: bool = True, **kwargs: Any) -> WzpApp:
        kwargs.setdefault("no_audio", True)
        kwargs.setdefault("tray", False)
        kwargs.setdefault("notifications", False)  # no desktop notifications from tests (test_ui_notifications)
        kwargs.setdefault("lan", False)  # no mDNS on the machine's network (test_ui_reach uses loopback)
        kwargs.setdefault("audio_source_factory", tone)
        address = f"127.0.0.1:{relay.port}" if relay is not None else None
        app = WzpApp(tmp_path / name, relay=address, title_suffix=name, **kwargs)
        apps.append(app)
        run(app.start())
        if app.welcome is not None and not app.welcome.need_relay:
            qtbot.mouseClick(app.welcome.continue_button, Qt.MouseButton.LeftButton)
        if connected and relay is not None:
            wait_connected(qtbot, app)
        return app

    try:
        yield make
    finally:
        errors: list[Exception] = []
        for app in reversed(apps):
            try:
                run(app.shutdown())
            except Exception as exc:  # shut them all down, then fail with every error
                errors.append(exc)
            app.window.close()
            app.window.deleteLater()
        if errors:
            raise ExceptionGroup("app teardown failed", errors)
