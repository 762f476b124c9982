"""`wzp`: the desktop app (PySide6 on a qasync event loop).

wzp [--data-dir DIR] [--relay HOST[:PORT][,HOST[:PORT]...]] [--no-audio] [--minimized] [-v] [LINK]
wzp --self-test

A second `wzp` for the same data directory does not start another app: it hands
LINK (a `wzp:` link) to the running one, which brings its window forward.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.nat.relay_address import relay_list_arg

if TYPE_CHECKING:
    from PySide6.QtCore import QObject

log = logging.getLogger("wzp.ui")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wzp", description="WZP: end-to-end encrypted voice calls.")
    p.add_argument("--data-dir", type=Path, default=None, help="identity, settings, contacts and history folder")
    p.add_argument(
        "--relay", type=relay_list_arg, default=None,
        help="use this relay (HOST[:PORT], or a service's nodes: A,B,C) and remember it",
    )
    p.add_argument("--no-audio", action="store_true", help="use no audio devices (silence out, nothing played)")
    p.add_argument("--self-test", action="store_true", help="check the installation offscreen and exit")
    p.add_argument("--minimized", action="store_true", help="start in the tray (start at login uses it)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    p.add_argument("link", nargs="?", default=None, help="a wzp: link to open (handed to a running WZP)")
    return p


def _setup_logging(verbose: bool) -> None:
    from ui.log_buffer import FORMAT, log_buffer

    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
    stderr.setLevel(logging.DEBUG if verbose else logging.INFO)
    root = logging.getLogger()
    root.addHandler(stderr)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        for noisy in ("quic", "aioquic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    log_buffer()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.DEBUG if args.verbose else logging.ERROR)
        logging.getLogger().addHandler(stderr)
        from ui.self_test import run_self_test

        return run_self_test()

    _setup_logging(args.verbose)
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.identity import default_data_dir
    from ui.app import StartupError, WzpApp
    from ui.event_loop import make_event_loop
    from ui.i18n import install_translators
    from ui.icons import app_icon
    from ui.single_instance import SingleInstance
    from ui.theme import apply_theme

    existing = QApplication.instance()
    qt_app = existing or _application_class()(sys.argv[:1])
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("WZP")
    qt_app.setApplicationDisplayName("WZP")
    qt_app.setWindowIcon(app_icon())
    qt_app.setQuitOnLastWindowClosed(False)
    translators = install_translators(qt_app)  # the system's language, where WZP has a translation  # noqa: F841
    apply_theme(qt_app)

    data_dir: Path = args.data_dir or default_data_dir()
    instance = SingleInstance(data_dir)
    if not instance.acquire():
        forwarded = [args.link] if args.link else []
        if instance.send(forwarded):
            log.info("WZP is already running for %s: brought its window forward", data_dir)
            return 0
        pid = instance.owner_pid()
        message = (
            f"WZP is already running for {data_dir}"
            + (f" (process {pid})" if pid else "")
            + ". Use its window or tray icon; to run a second WZP, start it with another --data-dir."
        )
        print(message, file=sys.stderr)
        if qt_app.platformName() not in ("offscreen", "minimal"):
            QMessageBox.information(None, "WZP is already running", message)
        return 0

    from ui import file_log

    file_log.install(data_dir)  # logs/wzp.log (rotating) and faulthandler into logs/crash.log
    loop = make_event_loop(qt_app)
    asyncio.set_event_loop(loop)
    try:
        wzp = WzpApp(data_dir, relay=",".join(args.relay) if args.relay else None, no_audio=args.no_audio)
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        QMessageBox.critical(None, "WZP cannot start", str(exc))
        instance.release()
        return 1
    instance.listen(wzp.handle_second_launch)
    if sys.platform == "darwin":  # macOS hands wzp: links over as an event (elsewhere: the command line)
        from ui.url_open import UrlOpenFilter

        # An application-wide filter sees every Qt event in Python: only where it has a job.
        url_opener = UrlOpenFilter(lambda url: wzp.handle_second_launch([url]))
        qt_app.installEventFilter(url_opener)

    from ui import test_hooks

    if test_hooks.enabled():
        test_hooks.apply_media_hooks(wzp.host.media)
        test_hooks.install(wzp)
    # SIGTERM/SIGINT/SIGHUP quit like Quit, without asking (a session manager or `kill` cannot answer a
    # question): hang up, save, exit 0.
    quit_signals = QuitSignals(wzp.quit_now)
    if test_hooks.enabled() and hasattr(signal, "SIGUSR1"):
        # Test hook: SIGUSR1 ends Qt's event loop under us the way the platform does (QCoreApplication
        # .quit(): the Dock's Quit on macOS, a session end), so that the aboutToQuit path is tested.
        quit_signals.on(signal.SIGUSR1, qt_app.quit)

    def logging_out(_manager: object) -> None:  # the session ends: save now, and a hidden window must not hold it up
        wzp.save_settings()
        wzp.window.allow_close = True
        wzp.quit_now()

    qt_app.commitDataRequest.connect(logging_out)
    qt_quit = asyncio.Event()  # not awaited: a flag with the same look as wzp.closed

    def about_to_quit() -> None:
        # Qt's loop is ending under us. Nothing may wake the asyncio task now: qasync runs Qt's
        # events once more after its loop returns, without a running asyncio loop, and the shutdown
        # would fail in there ("no running event loop"). The quit is asked below, once the loop runs.
        qt_quit.set()

    qt_app.aboutToQuit.connect(about_to_quit)
    # The platform's Quit (QCoreApplication.quit(): the Dock's or the app menu's Quit on macOS, a
    # session end) first asks every window to close, and ours hides to the tray instead, which would
    # refuse the quit: let it close; aboutToQuit then quits like the Quit menu.
    def on_platform_quit() -> None:
        log.info("Qt asked to quit: windows may close")
        wzp.window.allow_close = True

    if existing is None:
        qt_app.on_quit_event = on_platform_quit  # type: ignore[attr-defined]
    else:  # (an application made before us, e.g. by a test harness: an application-wide filter)
        platform_quit = _platform_quit_filter(on_platform_quit)
        qt_app.installEventFilter(platform_quit)

    async def run() -> None:
        await wzp.start(minimized=args.minimized)
        if args.link:
            wzp.window.open_link(args.link)
        if test_hooks.enabled():
            test_hooks.after_start(wzp)
        await wzp.closed.wait()
        await wzp.shutdown()

    try:
        with loop:
            main_task = loop.create_task(run())
            try:
                loop.run_until_complete(main_task)
            except RuntimeError:
                # Qt's own loop was ended under us (QCoreApplication.quit(): the platform's Quit, a
                # session end): quit like the Quit menu, in a loop that runs again (hang up, save).
                if main_task.done() or not qt_quit.is_set():
                    raise
                log.info("Qt event loop ended: finishing the shutdown")
                loop.call_soon(wzp.quit_now)
                loop.run_until_complete(main_task)
    finally:
        quit_signals.close()
        instance.release()
    return 0


def _application_class() -> type:
    """Our QApplication: it calls `on_quit_event()` when Qt's Quit event reaches it (before the
    windows are asked to close). Only events sent to the application object run this Python (an
    application-wide event filter would run Python for every event of every object: ~3 % of the
    GUI's CPU in a call). Built here so that importing this module does not import Qt."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    class WzpApplication(QApplication):
        on_quit_event: Callable[[], None] | None = None

        def event(self, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Quit and self.on_quit_event is not None:
                self.on_quit_event()
            return super().event(event)

    return WzpApplication


def _platform_quit_filter(on_quit: Callable[[], None]) -> QObject:
    """An application event filter that calls `on_quit` when Qt's Quit event arrives (before the
    windows are asked to close): for an application we did not make."""
    from PySide6.QtCore import QEvent, QObject

    class PlatformQuitFilter(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Quit:
                on_quit()
            return False

    return PlatformQuitFilter()


class QuitSignals:
    """SIGTERM, SIGINT and SIGHUP ask the app to quit like the Quit menu (hang up, save, exit 0).

    Python runs a signal handler between any two bytecodes, even in the middle of a print or of
    a media frame, so the handler itself does nothing: the signal number also goes to a pipe
    (`signal.set_wakeup_fd`), and a QSocketNotifier on it runs the quit from Qt's event loop,
    at once and without a polling timer.
    """

    SIGNALS = tuple(s for s in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, s))

    def __init__(self, request_quit: Callable[[], None]) -> None:
        from PySide6.QtCore import QSocketNotifier

        self.request_quit = request_quit
        self._notifier: QSocketNotifier | None = None
        self._extra: dict[int, Callable[[], None]] = {}
        if sys.platform == "win32":
            # Windows' set_wakeup_fd wants a socket and ui/ opens none: there the handler quits directly
            # (Python runs it on the main thread between two bytecodes; the loop runs Python often).
            self._old_handlers = {
                name: signal.signal(getattr(signal, name), lambda *_: request_quit()) for name in self.SIGNALS
            }
            return
        # A pipe, not a socket: ui/ opens no sockets.
        self._read, self._write = os.pipe()
        for fd in (self._read, self._write):
            os.set_blocking(fd, False)
        self._old_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._old_handlers = {name: signal.signal(getattr(signal, name), _ignore) for name in self.SIGNALS}
        self._numbers = {int(getattr(signal, name)) for name in self.SIGNALS}
        self._notifier = QSocketNotifier(self._read, QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)

    def on(self, signum: signal.Signals, action: Callable[[], None]) -> None:
        """Run `action` from Qt's event loop when `signum` arrives (POSIX only; the test hooks')."""
        if self._notifier is None:
            return
        self._old_handlers[signum.name] = signal.signal(signum, _ignore)
        self._extra[int(signum)] = action

    def _drain(self) -> None:
        received = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(self._read, 64):
                received += chunk
        for signum in dict.fromkeys(received):
            if signum in self._extra:
                log.info("signal %s: %s", signal.Signals(signum).name, getattr(self._extra[signum], "__name__", ""))
                self._extra[signum]()
            elif signum in self._numbers:
                name = signal.Signals(signum).name
                log.info("signal %s: quitting", name)
                self.request_quit()
                from ui import test_hooks

                test_hooks.print_line({"event": "quit_requested", "signal": name})

    def close(self) -> None:
        for name, handler in self._old_handlers.items():
            signal.signal(getattr(signal, name), handler)
        if self._notifier is None:
            return
        self._notifier.setEnabled(False)
        signal.set_wakeup_fd(self._old_fd)
        os.close(self._read)
        os.close(self._write)


def _ignore(_signum: int, _frame: object) -> None:
    """The Python-level handler: the wake-up pipe carries the signal to `QuitSignals._drain`."""


if __name__ == "__main__":
    sys.exit(main())
