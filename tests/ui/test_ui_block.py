"""Blocking in the window: a blocked caller never rings here (the caller sees "declined"); unblocking undoes it.

Every check goes through what the user clicks (the incoming window's Block…, the
confirmation, the right-click menus, Settings → Blocked) against a real relay.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QMenu
from ui_helpers import WAIT_MS, banner, call_status, click, dial, history_rows, wait_home, wait_incoming

from app.identity.alias import self_chosen_name
from ui.app import WzpApp


def rings(app: WzpApp) -> list[str]:
    """Fingerprints of every call that rang at `app` from now on."""
    seen: list[str] = []
    app.call.incoming.connect(lambda: seen.append(app.call.peer_fingerprint))
    return seen


def call_is_declined_silently(qtbot: Any, caller: WzpApp, callee: WzpApp) -> None:
    """`caller` calls `callee`: the caller hears "declined", the callee never rings nor records anything."""
    seen = rings(callee)
    history_before = len(callee.history.records)
    caller.window.home.show_banner("")
    qtbot.waitUntil(lambda: callee.identity.fingerprint in caller.contacts.online)  # for the name in the banner
    dial(qtbot, caller, callee.identity.fingerprint)
    qtbot.waitUntil(lambda: not caller.window.on_call_page and bool(banner(caller)), timeout=WAIT_MS)
    assert banner(caller) == f"{self_chosen_name(callee.identity.alias)} declined the call."
    assert seen == [] and not callee.incoming_dialog.isVisible()
    assert callee.call.state == "idle" and call_status(callee) == ""
    assert len(callee.history.records) == history_before


def call_rings_then_decline(qtbot: Any, caller: WzpApp, callee: WzpApp) -> None:
    dial(qtbot, caller, callee.identity.fingerprint)
    wait_incoming(qtbot, callee)
    assert callee.incoming_dialog.fingerprint_label.text() == caller.identity.fingerprint
    click(qtbot, callee.incoming_dialog.decline_button)
    wait_home(qtbot, caller, callee)


def open_item_menu(qtbot: Any, app: WzpApp, lst: QListWidget, fingerprint: str) -> QMenu:
    """Right-click the row of `fingerprint` in `lst`; returns the menu that pops up."""
    home = app.window.home
    row = next(i for i in range(lst.count()) if lst.item(i).data(Qt.ItemDataRole.UserRole) == fingerprint)
    pos = lst.visualItemRect(lst.item(row)).center()
    lst.customContextMenuRequested.emit(pos)
    menu = home.item_menu
    assert menu is not None
    qtbot.waitUntil(menu.isVisible)
    assert lst.currentRow() == row
    return menu


def menu_action(menu: QMenu, text: str) -> Any:
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert text in actions, f"{text!r} not in the menu {list(actions)}"
    return actions[text]


def test_block_a_caller_from_the_incoming_window(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b, c = make_app("alice", relay), make_app("bob", relay), make_app("carol", relay)
    a_fp, a_name = a.identity.fingerprint, self_chosen_name(a.identity.alias)
    qtbot.waitUntil(lambda: b.identity.fingerprint in a.contacts.online and a_fp in b.contacts.online)

    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: call_status(a) == "Ringing…")
    dialog = b.incoming_dialog
    click(qtbot, dialog.block_button)

    # A short question first; cancelling it leaves the call ringing.
    confirm = dialog.block_confirm
    assert confirm is not None
    qtbot.waitUntil(confirm.isVisible)
    assert confirm.text() == f"Block {a_name}?"
    assert confirm.textFormat() == Qt.TextFormat.PlainText  # the name is the caller's own choice, never markup
    assert confirm.informativeText().startswith(
        f"Calls from {a_name} will be declined without ringing. You can unblock them in Settings."
    )
    click(qtbot, confirm.cancel_button)
    assert dialog.isVisible() and b.call.state == "incoming" and not b.blocks.is_blocked(a_fp)

    click(qtbot, dialog.block_button)
    confirm = dialog.block_confirm
    assert confirm is not None
    qtbot.waitUntil(confirm.isVisible)
    click(qtbot, confirm.block_button)
    assert not dialog.isVisible()
    wait_home(qtbot, a, b)
    assert banner(a) == f"{self_chosen_name(b.identity.alias)} declined the call."
    assert banner(b).startswith(f"You declined the call from {a_name} and blocked them")
    assert history_rows(b)[0].startswith(f"Declined · {a_name}")
    assert a_fp in b.block_list.all()

    # A calls again: declined at once, B never rings.
    call_is_declined_silently(qtbot, a, b)

    # Carol still gets through.
    call_rings_then_decline(qtbot, c, b)

    # The history row offers Unblock now, not Block….
    home = b.window.home
    home.tabs.setCurrentIndex(2)
    menu = open_item_menu(qtbot, b, home.history_list, a_fp)
    menu_action(menu, "Unblock")
    assert "Block…" not in [x.text() for x in menu.actions()]
    menu.close()


def test_unblock_in_settings(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    a_fp = a.identity.fingerprint
    b.contacts.save(a_fp, "Alice")

    # Bob blocks Alice from his contacts list.
    home = b.window.home
    home.tabs.setCurrentIndex(0)
    menu = open_item_menu(qtbot, b, home.contact_list, a_fp)
    menu_action(menu, "Block…").trigger()
    confirm = home.block_confirm
    assert confirm is not None
    qtbot.waitUntil(confirm.isVisible)
    assert confirm.text() == "Block Alice?"
    click(qtbot, confirm.block_button)
    assert b.blocks.is_blocked(a_fp)
    assert "blocked" in home.contact_list.item(0).text()
    call_is_declined_silently(qtbot, a, b)

    # Settings → Blocked lists her by her contact name; Unblock.
    click(qtbot, b.window.settings_button)
    dialog = b.settings_dialog
    assert dialog is not None
    dialog.tabs.setCurrentIndex([dialog.tabs.tabText(i) for i in range(dialog.tabs.count())].index("Blocked"))
    assert dialog.blocked_list.count() == 1
    assert dialog.blocked_list.item(0).text() == f"Alice\n{a_fp}  ·  in your contacts"
    assert not dialog.unblock_button.isEnabled()
    dialog.blocked_list.setCurrentRow(0)
    click(qtbot, dialog.unblock_button)
    assert dialog.blocked_list.count() == 0 and dialog.blocked_empty.isVisible()
    assert not b.blocks.is_blocked(a_fp) and b.block_list.all() == []
    assert "blocked" not in home.contact_list.item(0).text()
    dialog.close()

    # Her calls ring again.
    call_rings_then_decline(qtbot, a, b)


def test_block_and_unblock_from_the_online_list(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    a_fp, a_name = a.identity.fingerprint, self_chosen_name(a.identity.alias)
    home = b.window.home
    qtbot.waitUntil(lambda: home.online_list.count() == 1)
    home.tabs.setCurrentIndex(1)

    menu = open_item_menu(qtbot, b, home.online_list, a_fp)
    menu_action(menu, "Block…").trigger()
    confirm = home.block_confirm
    assert confirm is not None
    qtbot.waitUntil(confirm.isVisible)
    assert confirm.text() == f"Block {a_name}?"
    assert f"Calls from {a_name} will be declined without ringing." in confirm.informativeText()
    click(qtbot, confirm.block_button)
    assert b.blocks.is_blocked(a_fp)

    # Still listed, marked as blocked.
    assert home.online_list.item(0).text() == f"{a_name}\n{a_fp}  ·  blocked"
    call_is_declined_silently(qtbot, a, b)

    # Unblock from the same menu (no question): she rings again.
    menu = open_item_menu(qtbot, b, home.online_list, a_fp)
    menu_action(menu, "Unblock").trigger()
    assert not b.blocks.is_blocked(a_fp)
    assert home.online_list.item(0).text() == f"{a_name}\n{a_fp}"
    call_rings_then_decline(qtbot, a, b)

    # The same menu adds her to the contacts (her alias pre-fills the name).
    home.tabs.setCurrentIndex(1)
    menu = open_item_menu(qtbot, b, home.online_list, a_fp)
    menu_action(menu, "Add to contacts").trigger()
    contact = b.contacts.get(a_fp)
    assert contact is not None and contact.name == a.identity.alias
    assert home.tabs.currentIndex() == 0 and home.selected_contact() == a_fp


def test_block_confirmed_after_the_caller_gave_up(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    a_fp = a.identity.fingerprint
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.block_button)
    confirm = b.incoming_dialog.block_confirm
    assert confirm is not None
    qtbot.waitUntil(confirm.isVisible)
    assert confirm.block_button.text() == "Decline and block"

    # Alice hangs up while Bob reads the question: the call is missed, the question stays, for blocking only.
    qtbot.waitUntil(lambda: call_status(a) == "Ringing…")
    click(qtbot, a.window.call_page.cancel_button)
    wait_home(qtbot, a, b)
    assert banner(b).startswith("Missed call from")
    assert confirm.isVisible() and confirm.block_button.text() == "Block"
    click(qtbot, confirm.block_button)
    assert b.blocks.is_blocked(a_fp)
    call_is_declined_silently(qtbot, a, b)
