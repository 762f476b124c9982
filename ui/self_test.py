"""`wzp --self-test`: checks the pieces the app needs, offscreen, and prints one line per check.

    PASS name
    FAIL name: reason

The exit status is 0 only if every check passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

TIMEOUT = 10.0


class SelfTest:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failures = 0

    def result(self, name: str, error: str | None) -> None:
        if error is None:
            print(f"PASS {name}", file=self.out, flush=True)
        else:
            self.failures += 1
            print(f"FAIL {name}: {error}", file=self.out, flush=True)

    async def check(self, name: str, body: Callable[[], Awaitable[None]]) -> bool:
        try:
            await asyncio.wait_for(body(), TIMEOUT)
        except TimeoutError:
            self.result(name, f"no result within {TIMEOUT:g} s")
            return False
        except Exception as exc:
            log.debug("self-test %s failed", name, exc_info=True)
            self.result(name, str(exc) or type(exc).__name__)
            return False
        self.result(name, None)
        return True


async def _run_checks(test: SelfTest, tmp: Path) -> None:
    from app.client.client import WzpClient
    from app.identity import Identity
    from app.relay.server import RelayServer

    async def icon() -> None:
        from ui.icons import render_svg

        image = render_svg(64)
        if image.isNull() or image.pixelColor(32, 32).alpha() == 0:
            raise RuntimeError("the app icon did not render")

    async def storage() -> None:
        from app.storage import ContactBook, open_database

        db = open_database(tmp / "storage")
        ContactBook(db).save(Identity.generate().fingerprint, "self-test")
        db.close()

    async def opus() -> None:
        from app.media.codec import OpusDecoder, OpusEncoder
        from app.media.sources import ToneSource, level_dbfs

        encoder, decoder, tone = OpusEncoder(), OpusDecoder(), ToneSource(440.0, 0.5)
        level = -100.0
        for _ in range(10):
            frame = tone.read_frame()
            assert frame is not None
            level = level_dbfs(decoder.decode(encoder.encode(frame)))
        if level < -20:
            raise RuntimeError(f"decoded audio is too quiet ({level:.0f} dBFS)")

    relay: RelayServer | None = None

    async def start_relay() -> None:
        nonlocal relay
        relay = await RelayServer.start("127.0.0.1:0", identity=Identity.generate())

    await test.check("icon", icon)
    await test.check("storage", storage)
    await test.check("opus", opus)
    if not await test.check("relay", start_relay):
        test.result("register", "skipped: no relay")
        test.result("main window", "skipped: no relay")
        return
    assert relay is not None
    address = f"127.0.0.1:{relay.port}"
    try:

        async def register() -> None:
            (tmp / "client").mkdir()
            client = WzpClient(Identity.generate(), tmp / "client", address)
            await client.start()
            try:
                await client.wait_registered(TIMEOUT)
            finally:
                await client.stop()

        async def main_window() -> None:
            from ui.app import WzpApp

            app = WzpApp(tmp / "app", relay=address, no_audio=True, tray=False, lan=False)
            try:
                await app.start()
                deadline = time.monotonic() + TIMEOUT
                while app.relay_status.state != "connected":
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"the window shows {app.relay_status.text!r}")
                    await asyncio.sleep(0.05)
                if app.window.grab().isNull():
                    raise RuntimeError("the main window did not render")
            finally:
                await app.shutdown()

        await test.check("register", register)
        await test.check("main window", main_window)
    finally:
        await relay.stop()


def run_self_test(out: TextIO = sys.stdout) -> int:
    test = SelfTest(out)
    try:
        from PySide6.QtWidgets import QApplication

        from ui.event_loop import make_event_loop

        app = QApplication.instance() or QApplication(["wzp", "-platform", "offscreen"])
    except Exception as exc:
        test.result("qt", str(exc))
        return 1
    test.result("qt", None)
    loop = make_event_loop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="wzp-self-test-") as tmp:
        try:
            loop.run_until_complete(_run_checks(test, Path(tmp)))
        except Exception as exc:  # a bug in the self-test itself
            log.exception("self-test crashed")
            test.result("self-test", str(exc))
        finally:
            with contextlib.suppress(Exception):
                loop.close()
    return 0 if test.failures == 0 else 1
