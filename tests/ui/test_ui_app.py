"""Settings, the log view, NAT detection, remembered window geometry, one instance per data dir, --self-test."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRect
from ui_helpers import click, wait_connected

from app.storage import SettingsStore
from ui.single_instance import SingleInstance

ROOT = Path(__file__).resolve().parents[2]


def test_settings_dialog_saves_and_reconnects(qtbot: Any, relays: Any, make_app: Any) -> None:
    first, second = relays.start(), relays.start()
    a = make_app("alice", first, tray=True)  # the tray works (or steps aside) without a system tray too
    click(qtbot, a.window.settings_button)
    dialog = a.settings_dialog
    assert dialog is not None and dialog.isVisible()

    # Log tab: what was logged, live, with Copy.
    logging.getLogger("wzp.test").warning("a line for the log view")
    assert "a line for the log view" in dialog.log_view.toPlainText()

    # NAT detection against the relay (its port+1 probe is missing here: the report says so per probe).
    dialog.tabs.setCurrentIndex(3)
    click(qtbot, dialog.nat_button)
    qtbot.waitUntil(lambda: "Probes:" in dialog.nat_result.toPlainText(), timeout=15_000)
    text = dialog.nat_result.toPlainText()
    assert f"127.0.0.1:{first.port}: saw us as 127.0.0.1:" in text
    assert f"127.0.0.1:{first.port + 1}: failed" in text

    # New name, a second relay selected, private by default.
    dialog.tabs.setCurrentIndex(0)
    dialog.alias_field.clear()
    qtbot.keyClicks(dialog.alias_field, "Alice Liddell")
    dialog.tabs.setCurrentIndex(1)
    qtbot.keyClicks(dialog.relay_field, "not an address")
    assert dialog.relay_error.text() and not dialog.relay_add.isEnabled()
    dialog.relay_field.clear()
    qtbot.keyClicks(dialog.relay_field, f"127.0.0.1:{second.port}")
    click(qtbot, dialog.relay_add)
    dialog.relay_list.setCurrentRow(1)
    click(qtbot, dialog.relay_use)
    assert "(in use)" in dialog.relay_list.item(1).text()
    dialog.privacy_combo.setCurrentIndex(1)
    dialog.tabs.setCurrentIndex(2)
    dialog.bitrate_combo.setCurrentIndex(dialog.bitrate_combo.findData(32_000))
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))

    qtbot.waitUntil(lambda: a.window.relay_bar.status_label.text() == f"Connected to the relay 127.0.0.1:{second.port}")
    saved = SettingsStore(a.data_dir).load()
    assert saved.alias == "Alice Liddell" and saved.selected_relay == f"127.0.0.1:{second.port}"
    assert saved.privacy_default == "private" and saved.bitrate == 32_000
    assert a.window.identity.alias_label.text() == "Alice Liddell"
    assert a.host.media.bitrate == 32_000
    assert a.host.client is not None and a.host.client.alias == "Alice Liddell"


def test_private_by_default_hides_accept_privately(qtbot: Any, relay: Any, make_app: Any) -> None:
    from ui_helpers import dial, wait_in_call, wait_incoming

    a, b = make_app("alice", relay), make_app("bob", relay)
    b.settings.privacy_default = "private"
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    assert not b.incoming_dialog.private_button.isVisible()
    assert "relay" in b.incoming_dialog.note.text()
    click(qtbot, b.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)
    qtbot.waitUntil(lambda: a.window.call_page.badge.text() == "Via relay")
    assert b.window.call_page.badge.text() == "Via relay"


def test_window_geometry_is_remembered(qtbot: Any, run: Any, relay: Any, make_app: Any, tmp_path: Path) -> None:
    a = make_app("alice", relay)
    a.window.setGeometry(QRect(40, 50, 700, 520))
    run(a.shutdown())
    b = make_app("alice", relay)  # the same data directory again
    wait_connected(qtbot, b)
    assert b.window.size().width() == 700 and b.window.size().height() == 520
    assert b.welcome is None  # not a first run any more


def test_one_instance_per_data_dir(tmp_path: Path) -> None:
    first = SingleInstance(tmp_path)
    assert first.acquire()
    other = SingleInstance(tmp_path)
    assert not other.acquire()
    assert other.owner_pid() == os.getpid()
    first.release()
    assert other.acquire()
    other.release()


def test_self_test_command_passes() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "-m", "ui.main", "--self-test"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines and all(line.startswith("PASS ") for line in lines), proc.stdout
    assert {"PASS opus", "PASS relay", "PASS register", "PASS main window"} <= set(lines)


def test_about_shows_the_version_from_pyproject(qtbot, make_app, relay) -> None:
    import tomllib
    from pathlib import Path

    version = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]["version"]
    wzp = make_app("about", relay)
    assert f"WZP Desktop {version}" in wzp.window.about_text()
    assert wzp.window.about_button.text() == "About"
