"""Names in the window: a saved contact's name is shown plainly, anyone else's alias is marked as theirs.

An alias is whatever the other person typed; anybody can call themselves "Alice". Only the
name the user saved for a contact is shown as a plain name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from ui_helpers import banner, call_status, click, dial, history_rows, wait_home, wait_in_call, wait_incoming

from app.storage import Settings, SettingsStore


def with_alias(tmp_path: Path, name: str, alias: str) -> None:
    """Give the app that `make_app(name)` will start this self-chosen alias."""
    SettingsStore(tmp_path / name).save(Settings(alias=alias))


def online_rows(app: Any) -> list[str]:
    lst = app.window.home.online_list
    return [lst.item(i).text() for i in range(lst.count())]


def test_a_strangers_alias_is_marked_as_theirs_everywhere(
    qtbot: Any, relay: Any, make_app: Any, tmp_path: Path
) -> None:
    spoof = "<b>Mom</b>"  # also checks that an alias is never rendered as markup
    marked = "\u201c<b>Mom</b>\u201d (their name)"
    with_alias(tmp_path, "mallory", spoof)
    m, b = make_app("mallory", relay), make_app("bob", relay)
    notes: list[tuple[str, str]] = []
    b.notifications.fallback = lambda title, text: notes.append((title, text))  # what the tray would show

    # Online list.
    qtbot.waitUntil(lambda: len(online_rows(b)) == 1)
    assert online_rows(b)[0] == f"{marked}\n{m.identity.fingerprint}"

    # Incoming-call window, and the notification.
    dial(qtbot, m, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    dialog = b.incoming_dialog
    assert dialog.name_label.text() == marked
    assert dialog.name_label.textFormat() == Qt.TextFormat.PlainText
    assert "their own choice" in dialog.trust_label.text()
    assert ("Incoming call", f"{marked} is calling you.") in notes

    # In-call page.
    click(qtbot, dialog.private_button)
    wait_in_call(qtbot, m, b)
    page = b.window.call_page
    assert page.name_label.text() == marked
    assert page.name_label.textFormat() == Qt.TextFormat.PlainText
    assert b.window.home.banner.textFormat() == Qt.TextFormat.PlainText

    # The sentence after the call and the history row.
    click(qtbot, page.hangup_button)
    wait_home(qtbot, m, b)
    assert banner(b).startswith(f"Call with {marked} ended after")
    assert history_rows(b)[0].startswith(f"Incoming · {marked}")


def test_a_contacts_name_is_plain_and_a_namesake_stranger_is_marked(
    qtbot: Any, relay: Any, make_app: Any, tmp_path: Path
) -> None:
    with_alias(tmp_path, "alice", "Alice")
    with_alias(tmp_path, "impostor", "Alice")
    a, b = make_app("alice", relay), make_app("bob", relay)

    # Bob adds Alice from the "Online now" list: her alias pre-fills the name, Bob keeps it.
    home = b.window.home
    qtbot.waitUntil(lambda: home.online_list.count() == 1)
    home.tabs.setCurrentIndex(1)
    home.online_list.setCurrentRow(0)
    click(qtbot, home.online_add)
    assert b.contacts.get(a.identity.fingerprint) is not None
    assert b.contacts.get(a.identity.fingerprint).name == "Alice"

    # A stranger who also calls themselves "Alice" comes online.
    i = make_app("impostor", relay)
    qtbot.waitUntil(lambda: len(online_rows(b)) == 2)
    rows = online_rows(b)
    assert f"Alice\n{a.identity.fingerprint}  \u00b7  in your contacts" in rows
    assert f"\u201cAlice\u201d (their name)\n{i.identity.fingerprint}" in rows

    # The contact calls: plain name.
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    assert b.incoming_dialog.name_label.text() == "Alice"
    click(qtbot, b.incoming_dialog.decline_button)
    wait_home(qtbot, a, b)
    assert banner(b) == "You declined the call from Alice."

    # The namesake calls: marked as their own name.
    dial(qtbot, i, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    assert b.incoming_dialog.name_label.text() == "\u201cAlice\u201d (their name)"
    click(qtbot, b.incoming_dialog.decline_button)
    wait_home(qtbot, i, b)
    assert banner(b) == "You declined the call from \u201cAlice\u201d (their name)."
    assert call_status(b) == ""
