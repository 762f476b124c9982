"""Screenshots of the desktop app in its main states, rendered offscreen into docs/screenshots/.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]          (every variant below)
    .venv/bin/python scripts/screenshots.py --scale 2 --scheme dark           (one variant)

Variants: light at 1x (`NAME.png`, every screen; the README uses these), and for the main screens
(`MAIN`) also dark at 1x (`NAME-dark.png`), light at 2x (`NAME@2x.png`) and dark at 2x
(`NAME-dark@2x.png`). 2x is `QT_SCALE_FACTOR=2`, which must be set before Qt starts, so each variant
runs in its own process. Dark is what a live switch of the system's scheme does (ui.theme).

Everything is real: an in-process relay on loopback, two app instances
(the one shown, and a peer that calls it), identities from fixed seeds so the
names and identicons stay the same from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

from app.identity import Identity, save_identity  # noqa: E402
from app.identity.store import IDENTITY_FILENAME  # noqa: E402
from app.invite import Invite, format_invite  # noqa: E402
from app.media.sources import ToneSource  # noqa: E402
from app.relay.server import RelayServer  # noqa: E402
from ui.app import WzpApp  # noqa: E402
from ui.event_loop import make_event_loop  # noqa: E402
from ui.theme import apply_theme  # noqa: E402

SIZE = (780, 640)
#: The screens shot in every variant (the others at 1x light only).
MAIN = {
    "first-run", "idle-empty", "add-contact", "idle-contacts", "idle-history", "incoming-call", "in-call",
    "settings-relays", "settings-log",
}
SUFFIX = ""  # "-dark", "@2x", "-dark@2x" for the variant this process shoots


def seeded(name: str) -> Identity:
    return Identity.from_seed(hashlib.sha256(f"wzp-screenshots-{name}".encode()).digest())


def prepare(data_dir: Path, name: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    save_identity(data_dir / IDENTITY_FILENAME, seeded(name))


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await asyncio.sleep(0.05)


async def shoot(widget: QWidget, out: Path, name: str) -> None:
    if SUFFIX and name not in MAIN:
        return
    await asyncio.sleep(0.15)  # let Qt lay out and paint (never processEvents() inside a coroutine)
    path = out / f"{name}{SUFFIX}.png"
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


async def take(out: Path, tmp: Path) -> None:
    relay = await RelayServer.start("127.0.0.1:0", identity=seeded("relay"))
    address = f"127.0.0.1:{relay.port}"
    apps: list[WzpApp] = []
    try:
        # 1. First run: the welcome, no relay configured yet.
        prepare(tmp / "fresh", "fresh")
        (tmp / "fresh" / IDENTITY_FILENAME).unlink()  # a real first run creates it
        fresh = WzpApp(tmp / "fresh", no_audio=True, tray=False, notifications=False, lan=False)
        apps.append(fresh)
        await fresh.start()
        assert fresh.welcome is not None
        await shoot(fresh.welcome, out, "first-run")
        await fresh.shutdown()

        # 2. Idle, with contacts, history and people online.
        prepare(tmp / "me", "me")
        prepare(tmp / "ada", "ada")
        options = {"relay": address, "no_audio": True, "tray": False, "notifications": False, "lan": False}
        me = WzpApp(tmp / "me", **options, audio_source_factory=lambda: ToneSource(330))
        ada = WzpApp(tmp / "ada", **options, audio_source_factory=lambda: ToneSource(440))
        apps += [me, ada]
        for app in (me, ada):
            app.settings.welcomed = True
            await app.start()
        me.window.resize(*SIZE)
        await until(lambda: me.relay_status.state == "connected" and ada.relay_status.state == "connected")
        await until(lambda: bool(me.contacts.online))
        ada_fp = ada.identity.fingerprint
        bob_fp, carol_fp = seeded("bob").fingerprint, seeded("carol").fingerprint
        await shoot(me.window, out, "idle-empty")  # no contacts yet: what to do next
        me.window.home.open_contact_dialog()
        dialog = me.window.home.contact_dialog
        assert dialog is not None
        dialog.target_field.setText(
            format_invite(Invite(seeded("erin").fingerprint, ("relay.example.org:4433", "192.0.2.7:4433"), "Erin"))
        )
        await shoot(dialog, out, "add-contact")
        dialog.target_field.setText("wzp:12ab?relay=relay.example.org")  # a link cut short
        await shoot(dialog, out, "add-contact-error")
        dialog.reject()
        me.contacts.save(ada_fp, "Ada", trusted=True)
        me.contacts.set_verified(ada_fp, True)
        me.contacts.save(bob_fp, "Bob")
        me.contacts.save(carol_fp, "Carol", trusted=True)
        now = time.time()
        for i, (direction, fp, dur, reason) in enumerate(
            [
                ("outgoing", bob_fp, 0, "Busy"),
                ("missed", carol_fp, 0, "Cancelled"),
                ("incoming", ada_fp, 754, "Normal"),
                ("outgoing", carol_fp, 62, "Normal"),
                ("declined", bob_fp, 0, "Declined"),
            ]
        ):
            me.history.record(
                call_id=f"demo{i}", direction=direction, peer_fingerprint=fp, peer_alias="",
                started_at=now - 3600 * (i + 1) * 5, duration_s=dur, reason=reason,
                path="direct" if dur else "",
            )
        me.window.home.contact_list.setCurrentRow(0)
        await shoot(me.window, out, "idle-contacts")  # the History tab counts the missed call
        me.window.home.tabs.setCurrentIndex(2)
        await shoot(me.window, out, "idle-history")
        me.window.home.tabs.setCurrentIndex(0)

        # 3. Incoming call (from someone who is not a trusted contact of Ada's).
        ada.window.hide()
        me.call.place_call(ada_fp)
        await until(lambda: ada.incoming_dialog.isVisible())
        await shoot(ada.incoming_dialog, out, "incoming-call")
        ada.incoming_dialog.block_button.click()
        confirm = ada.incoming_dialog.block_confirm
        assert confirm is not None
        await until(confirm.isVisible)
        await shoot(confirm, out, "incoming-block-confirm")
        confirm.cancel_button.click()
        await until(lambda: me.call.state == "ringing")
        await shoot(me.window, out, "ringing")

        # 4. In call, with levels and stats.
        ada.call.accept()
        await until(lambda: me.call.state == "in_call" and me.call.stats is not None, 15)
        await until(lambda: me.window.call_page.output_meter.level_db > -40)
        await asyncio.sleep(1.2)  # a second stats report, so the numbers are not the first, partial ones
        await shoot(me.window, out, "in-call")
        ada.window.resize(*SIZE)
        ada.window.show()  # Ada has not verified "me" yet: the code, and Verify…
        await shoot(ada.window, out, "in-call-unverified")
        ada.window.call_page.ask_verify()
        assert ada.window.call_page.verify_dialog is not None
        await shoot(ada.window.call_page.verify_dialog, out, "verify")
        ada.window.call_page.verify_dialog.reject()
        me.call.hang_up()
        await until(lambda: not me.call.active and not ada.call.active)

        # 5. Settings (audio tab, the NAT check, who is blocked).
        dave_fp = seeded("dave").fingerprint
        me.history.record(
            call_id="demo-spam", direction="missed", peer_fingerprint=dave_fp, peer_alias="Prize Desk",
            started_at=now - 600, duration_s=0, reason="Cancelled", path="",
        )
        me.blocks.block(bob_fp)
        me.blocks.block(dave_fp)
        me.open_settings()
        dialog = me.settings_dialog
        assert dialog is not None
        await shoot(dialog, out, "settings")
        dialog.tabs.setCurrentIndex(1)
        dialog.relay_field.setPlainText("relay-a.example.org\nrelay-b.example.org\nrelay-c.example.org:5000")
        dialog.relay_add.click()  # one relay service of three nodes (not saved: the dialog is closed unsaved)
        dialog.relay_field.setPlainText("relay-d.example.org, relay e.example.org, 10.0.0.7:70000")
        await shoot(dialog, out, "settings-relays")
        dialog.relay_field.clear()
        dialog.tabs.setCurrentIndex(2)
        await shoot(dialog, out, "settings-audio")
        dialog.tabs.setCurrentIndex(3)
        dialog.nat_button.click()
        await until(lambda: "Probes:" in dialog.nat_result.toPlainText(), 15)
        await shoot(dialog, out, "settings-nat")
        dialog.tabs.setCurrentIndex(4)
        dialog.blocked_list.setCurrentRow(1)
        await shoot(dialog, out, "settings-blocked")
        dialog.tabs.setCurrentIndex(5)
        await shoot(dialog, out, "settings-log")
        dialog.close()
    finally:
        for app in apps:
            await app.shutdown()
        await relay.stop()


VARIANTS = {"": (1, "light"), "-dark": (1, "dark"), "@2x": (2, "light"), "-dark@2x": (2, "dark")}


def main() -> int:
    global SUFFIX
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--scale", type=int, choices=(1, 2), default=None, help="shoot one variant: 1x or 2x")
    parser.add_argument("--scheme", choices=("light", "dark"), default=None, help="shoot one variant: light or dark")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.scale is None and args.scheme is None:
        for suffix, (scale, scheme) in VARIANTS.items():
            env = {**os.environ, "QT_SCALE_FACTOR": str(scale), "QT_QPA_PLATFORM": "offscreen"}
            cmd = [sys.executable, __file__, "--out", str(args.out), "--scale", str(scale), "--scheme", scheme]
            print(f"-- variant {suffix or 'light 1x'}")
            subprocess.run(cmd, env=env, check=True)
        return 0
    scale, scheme = args.scale or 1, args.scheme or "light"
    if float(os.environ.get("QT_SCALE_FACTOR", "1")) != scale:
        print("set QT_SCALE_FACTOR to the scale before Qt starts (or run without --scale)", file=sys.stderr)
        return 2
    SUFFIX = next(s for s, v in VARIANTS.items() if v == (scale, scheme))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    apply_theme(app)
    if scheme == "dark":
        app.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what the system does on a switch
    loop = make_event_loop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory(prefix="wzp-shots-") as tmp, loop:
        loop.run_until_complete(take(args.out, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
