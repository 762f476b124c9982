"""`wzp`: the desktop app (PySide6 on a qasync event loop).

wzp [--data-dir DIR] [--relay HOST[:PORT]] [--no-audio] [--minimized] [-v] [LINK]
wzp --self-test

A second `wzp` for the same data directory does not start another app: it hands
LINK (a `wzp:` link) to the running one, which brings its window forward.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from app.nat.relay_address import relay_address_arg

log = logging.getLogger("wzp.ui")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wzp", description="WZP: end-to-end encrypted voice calls.")
    p.add_argument("--data-dir", type=Path, default=None, help="identity, settings, contacts and history folder")
    p.add_argument("--relay", type=relay_address_arg, default=None, help="use this relay (HOST[:PORT]) and remember it")
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
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.identity import default_data_dir
    from ui.app import StartupError, WzpApp
    from ui.event_loop import make_event_loop
    from ui.i18n import install_translators
    from ui.icons import app_icon
    from ui.single_instance import SingleInstance
    from ui.theme import apply_theme

    qt_app = QApplication.instance() or QApplication(sys.argv[:1])
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

    loop = make_event_loop(qt_app)
    asyncio.set_event_loop(loop)
    try:
        wzp = WzpApp(data_dir, relay=args.relay, no_audio=args.no_audio)
    except StartupError as exc:
        log.error("cannot start: %s", exc)
        QMessageBox.critical(None, "WZP cannot start", str(exc))
        instance.release()
        return 1
    instance.listen(wzp.handle_second_launch)
    from ui.url_open import UrlOpenFilter

    url_opener = UrlOpenFilter(lambda url: wzp.handle_second_launch([url]))  # macOS hands wzp: links over this way
    qt_app.installEventFilter(url_opener)

    def logging_out(_manager: object) -> None:  # the session ends: a hidden-to-tray window must not hold it up
        wzp.window.allow_close = True
        wzp.quit_now()

    qt_app.commitDataRequest.connect(logging_out)

    signal.signal(signal.SIGINT, lambda *_: wzp.quit_now())
    wake = QTimer()  # lets Python see Ctrl+C while Qt waits
    wake.start(300)
    wake.timeout.connect(lambda: None)

    async def run() -> None:
        await wzp.start(minimized=args.minimized)
        if args.link:
            wzp.window.open_link(args.link)
        await wzp.closed.wait()
        await wzp.shutdown()

    try:
        with loop:
            loop.run_until_complete(run())
    finally:
        instance.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())

