"""A phone that stays on: closing hides to the tray, Quit is explicit, closing in a call asks first,
a second launch brings the running window forward with its link, start at login."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QKeySequence
from ui_helpers import WAIT_MS, call_status, click, dial, wait_in_call, wait_incoming

from ui import autostart
from ui.single_instance import MAX_MESSAGE, SingleInstance, parse_message

ROOT = Path(__file__).resolve().parents[2]


def _with_tray(app: Any) -> Any:
    # The offscreen platform has no system tray; the app's rule is "hide where a tray shows", so say it shows.
    assert app.tray is not None
    app.tray.available = True
    return app


def test_close_hides_to_the_tray_and_quit_is_explicit(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = _with_tray(make_app("alice", relay, tray=True))
    assert a.window.isVisible()
    a.window.close()
    assert not a.window.isVisible() and not a.closed.is_set()
    assert a.settings.tray_hint_shown  # said once: "WZP is still running"
    assert a.host.client is not None and a.relay_status.text.startswith("Connected")  # still reachable

    a.tray.show_action.trigger()  # the tray brings it back
    assert a.window.isVisible()
    assert a.window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    a.window.quit_action.trigger()  # the menu's Quit (Ctrl+Q)
    assert a.closed.is_set()


def test_without_a_tray_closing_quits(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay, tray=True)
    assert a.tray is not None and not a.tray.available  # offscreen: no tray
    a.window.close()
    assert a.closed.is_set()


def test_closing_during_a_call_asks_first(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = _with_tray(make_app("alice", relay, tray=True)), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)

    a.window.close()
    question = a.close_question
    assert question is not None and question.isVisible()
    assert question.defaultButton().text() == "Stay in the call"
    click(qtbot, question.defaultButton())
    assert a.window.isVisible() and call_status(a) == "In call"

    a.tray.quit_action.trigger()  # Quit from the tray asks too
    question = a.close_question
    assert question.isVisible() and not a.closed.is_set()
    click(qtbot, a.close_question_end)
    assert a.close_question_end.text() == "Hang up and quit"
    qtbot.waitUntil(lambda: not b.call.active, timeout=WAIT_MS)
    assert a.closed.is_set()


def test_second_launch_brings_the_window_forward_with_its_link(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = _with_tray(make_app("alice", relay, tray=True))
    instance = SingleInstance(a.data_dir)
    assert instance.acquire()
    try:
        assert instance.listen(a.handle_second_launch)
        a.window.close()
        assert not a.window.isVisible()
        link = "wzp:invite-from-a-friend"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.main", "--data-dir", str(a.data_dir), link],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)  # our loop answers it meanwhile
        finally:
            if proc.poll() is None:
                proc.kill()
            _out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert "brought its window forward" in err and "Use its window" not in err  # no message box
        assert a.window.isVisible()
        assert a.window.home.dial_field.text() == link
    finally:
        instance.release()


def test_the_instance_socket_drops_malformed_messages() -> None:
    assert parse_message(b'["wzp:abc"]') == ["wzp:abc"]
    assert parse_message(b"[]") == []
    for bad in (b"", b"not json", b'{"a": 1}', b"[1]", b'["a"' + b', "a"' * 20 + b"]", b"\xff\xfe",
                b'["' + b"x" * MAX_MESSAGE + b'"]'):
        assert parse_message(bad) is None, bad


def test_start_at_login_switch_writes_the_autostart_entry(
    qtbot: Any, relay: Any, make_app: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    entry = tmp_path / "config" / "autostart" / "wzp.desktop"
    a = make_app("alice", relay)
    click(qtbot, a.window.settings_button)
    dialog = a.settings_dialog
    assert dialog is not None and not dialog.autostart_check.isChecked()
    dialog.autostart_check.setChecked(True)
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    text = entry.read_text()
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))[len("Exec="):]
    assert shlex.split(exec_line) == autostart.command(a.data_dir)
    assert "--minimized" in exec_line and autostart.is_enabled()

    click(qtbot, a.window.settings_button)
    dialog = a.settings_dialog
    assert dialog.autostart_check.isChecked()
    dialog.autostart_check.setChecked(False)
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    assert not entry.exists() and not autostart.is_enabled()


def test_hidden_from_the_online_list(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    qtbot.waitUntil(lambda: a.contacts.is_online(b.identity.fingerprint), timeout=WAIT_MS)
    click(qtbot, b.window.settings_button)
    dialog = b.settings_dialog
    assert dialog.discoverable_check.isChecked()
    dialog.discoverable_check.setChecked(False)
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    qtbot.waitUntil(lambda: not a.contacts.is_online(b.identity.fingerprint), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: b.relay_status.text.startswith("Connected"), timeout=WAIT_MS)
    dial(qtbot, a, b.identity.fingerprint)  # hidden, yet reachable by fingerprint
    wait_incoming(qtbot, b)
