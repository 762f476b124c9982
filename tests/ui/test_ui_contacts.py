"""Contacts as people manage them: the Add-contact dialog (fingerprint or invite link, inline errors, nothing
invalid saved), edit, remove with Undo, search, the right-click menus of contacts and history rows,
Verify… outside a call, and what an empty contact list offers."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QListWidget, QMenu
from ui_helpers import click, history_rows

from app.identity import Identity
from app.identity.safety_code import safety_code
from app.invite import Invite, format_invite
from app.storage import ContactBook
from ui.windows.home_page import matches


def _actions(menu: QMenu) -> list[str]:
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def _action(menu: QMenu, text: str) -> Any:
    return next(a for a in menu.actions() if a.text() == text)


def _rows(lst: QListWidget) -> list[str]:
    return [lst.item(i).text() for i in range(lst.count())]


def _record_call(app: Any, fp: str, direction: str = "missed", alias: str = "") -> None:
    app.history.record(
        call_id=f"c{time.monotonic_ns()}", direction=direction, peer_fingerprint=fp, peer_alias=alias,
        started_at=time.time() - 60, duration_s=0, reason="Cancelled", path="",
    )


def test_an_empty_contact_list_says_what_to_do(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    assert home.contacts_empty.isVisible()
    assert not home.contact_list.isVisible() and not home.contact_editor.isVisible()  # no white box, no dead buttons
    click(qtbot, home.empty_invite_button)
    assert QGuiApplication.clipboard().text() == a.invite_link()
    assert "invite link is copied" in a.window.statusBar().currentMessage()
    click(qtbot, home.empty_nearby_button)
    assert home.tabs.currentIndex() == 1
    home.tabs.setCurrentIndex(0)
    click(qtbot, home.empty_add_button)
    assert home.contact_dialog is not None and home.contact_dialog.isVisible()


def test_add_contact_validates_and_saves(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    a.window.add_contact_action.trigger()  # WZP > Add contact… (Ctrl+Shift+N)
    dialog = home.contact_dialog
    assert dialog is not None and dialog.isVisible()
    assert not dialog.save_button.isEnabled() and not dialog.error_label.isVisible()  # nothing typed, no scolding

    qtbot.keyClicks(dialog.target_field, "12ab")
    assert dialog.error_label.isVisible() and dialog.error_label.text().startswith("This is not a fingerprint: ")
    assert not dialog.save_button.isEnabled()
    qtbot.keyClick(dialog.target_field, Qt.Key.Key_Return)  # Enter does not save an invalid entry
    assert dialog.isVisible() and a.contacts.contacts == [] and ContactBook(a.db).all() == []

    dialog.target_field.clear()
    qtbot.keyClicks(dialog.target_field, a.identity.fingerprint)
    assert dialog.error_label.text() == "That is your own fingerprint; enter the other person's."

    bob = Identity.generate().fingerprint
    dialog.target_field.clear()
    qtbot.keyClicks(dialog.target_field, bob.replace(":", "").upper())  # any spelling of a fingerprint
    assert dialog.icon.fingerprint == bob
    assert dialog.error_label.text() == "Enter a name for this contact." and not dialog.save_button.isEnabled()
    qtbot.keyClicks(dialog.name_field, "  Bob   Builder ")
    assert not dialog.error_label.isVisible() and dialog.save_button.isEnabled()
    dialog.direct_check.click()  # (a mouse click in its middle may miss a stretched check box)
    click(qtbot, dialog.save_button)

    assert not dialog.isVisible()
    stored = ContactBook(a.db).get(bob)
    assert stored is not None and stored.name == "Bob Builder" and stored.allow_direct and not stored.verified
    assert home.contact_list.isVisible() and not home.contacts_empty.isVisible()
    assert _rows(home.contact_list)[0].startswith("Bob Builder\n" + bob)
    assert home.selected_contact() == bob
    assert a.window.statusBar().currentMessage() == "Added Bob Builder to your contacts."

    # The same person again: refused with a sentence, nothing changes.
    home.open_contact_dialog(text=bob)
    again = home.contact_dialog
    assert again is not None and again.error_label.text() == "Bob Builder is already in your contacts."
    assert not again.save_button.isEnabled()
    again.reject()


def test_an_invite_link_fills_name_and_relays(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    ada = Identity.generate().fingerprint
    link = format_invite(Invite(ada, ("relay.example.org:4433", "192.0.2.7:5000"), "Ada L."))
    home.open_contact_dialog()
    dialog = home.contact_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.target_field, link)
    assert dialog.name_field.text() == "Ada L."
    assert dialog.relays_label.isVisible() and "relay.example.org:4433, 192.0.2.7:5000" in dialog.relays_label.text()
    dialog.name_field.setText("Ada")
    click(qtbot, dialog.save_button)
    stored = ContactBook(a.db).get(ada)
    assert stored is not None and stored.name == "Ada" and stored.relays == ("relay.example.org:4433", "192.0.2.7:5000")
    assert not stored.allow_direct  # revealing the IP is never a default

    # A broken link says what is wrong with it.
    home.open_contact_dialog()
    dialog = home.contact_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.target_field, link.replace("relay.example.org", "bad..name"))
    assert dialog.error_label.text().startswith("The invite link names a relay that is not valid")
    assert not dialog.save_button.isEnabled()
    dialog.reject()
    assert len(ContactBook(a.db).all()) == 1


def test_remove_then_undo_and_the_note_goes_away(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    bob = Identity.generate().fingerprint
    a.contacts.save(bob, "Bob", trusted=True)
    a.contacts.set_verified(bob, True)
    a.contacts.remember_relays(bob, ["relay.example.org:4433"])
    home.contact_list.setCurrentRow(0)
    click(qtbot, home.contact_remove)
    assert ContactBook(a.db).get(bob) is None and home.contacts_empty.isVisible()
    assert home.undo_bar.isVisible() and home.undo_bar.label.text() == "Removed Bob from your contacts."
    click(qtbot, home.undo_bar.undo_button)
    back = ContactBook(a.db).get(bob)
    assert back is not None and back.name == "Bob" and back.allow_direct and back.verified
    assert back.relays == ("relay.example.org:4433",)
    assert not home.undo_bar.isVisible() and home.selected_contact() == bob

    # From the right-click menu; the Undo note leaves by itself and the removal stays.
    home.undo_bar.ms = 150
    menu = home.item_menu_for(home.contact_list.item(0))
    _action(menu, "Remove").trigger()
    assert home.undo_bar.isVisible()
    qtbot.waitUntil(lambda: not home.undo_bar.isVisible(), timeout=3000)
    assert ContactBook(a.db).get(bob) is None


def test_row_menus_edit_and_verify(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    bob = Identity.generate().fingerprint
    a.contacts.save(bob, "Bob")
    menu = home.item_menu_for(home.contact_list.item(0))
    assert _actions(menu) == ["Call", "Edit…", "Verify…", "Allow direct calls", "Block…", "Remove"]

    _action(menu, "Edit…").trigger()
    dialog = home.contact_dialog
    assert dialog is not None and dialog.isVisible() and dialog.target_field.isReadOnly()
    assert dialog.target_field.text() == bob and dialog.name_field.text() == "Bob"
    dialog.name_field.clear()
    assert dialog.error_label.text() == "Enter a name for this contact." and not dialog.save_button.isEnabled()
    qtbot.keyClicks(dialog.name_field, "Robert")
    dialog.direct_check.click()  # (a mouse click in its middle may miss a stretched check box)
    click(qtbot, dialog.save_button)
    stored = ContactBook(a.db).get(bob)
    assert stored is not None and stored.name == "Robert" and stored.allow_direct

    # Verify… outside a call: the same code both sides see; only "The codes match" marks it.
    _action(home.item_menu_for(home.contact_list.item(0)), "Verify…").trigger()
    box = home.verify_dialog
    assert box is not None and box.isVisible()
    assert safety_code(a.identity.fingerprint, bob) in box.text()
    click(qtbot, box.defaultButton())  # Not now
    assert not a.contacts.is_verified(bob)
    _action(home.item_menu_for(home.contact_list.item(0)), "Verify…").trigger()
    assert home.verify_dialog is not None
    click(qtbot, home.verify_dialog.match_button)
    assert a.contacts.is_verified(bob)
    assert "Verify…" not in _actions(home.item_menu_for(home.contact_list.item(0)))

    # Block… from the contact menu asks first.
    _action(home.item_menu_for(home.contact_list.item(0)), "Block…").trigger()
    assert home.block_confirm is not None and home.block_confirm.isVisible()
    click(qtbot, home.block_confirm.block_button)
    assert a.blocks.is_blocked(bob) and "blocked" in home.contact_list.item(0).text()


def test_history_row_menu_delete_undo_and_clear_asks(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    carol, dave = Identity.generate().fingerprint, Identity.generate().fingerprint
    _record_call(a, carol, "missed", "Carol")
    _record_call(a, dave, "outgoing")
    home.tabs.setCurrentIndex(2)
    assert len(history_rows(a)) == 2
    carol_row = next(home.history_list.item(i) for i in range(2) if "Carol" in home.history_list.item(i).text())
    menu = home.item_menu_for(carol_row)
    assert _actions(menu) == ["Call back", "Add to contacts", "Block…", "Delete"]

    _action(menu, "Delete").trigger()
    assert len(a.history.records) == 1 and not any("Carol" in r for r in history_rows(a))
    assert home.undo_bar.label.text() == "Deleted the call with “Carol” (their name) from the history."
    click(qtbot, home.undo_bar.undo_button)
    assert len(a.history.records) == 2 and any("Carol" in r for r in history_rows(a))
    assert len(a.history.history.recent()) == 2  # back in the database, not only on screen

    # Add to contacts from a history row; then the row's menu offers Edit… instead.
    carol_row = next(home.history_list.item(i) for i in range(2) if "Carol" in home.history_list.item(i).text())
    _action(home.item_menu_for(carol_row), "Add to contacts").trigger()
    assert a.contacts.get(carol) is not None
    home.tabs.setCurrentIndex(2)
    carol_row = next(home.history_list.item(i) for i in range(2) if "Carol" in home.history_list.item(i).text())
    assert _actions(home.item_menu_for(carol_row))[:2] == ["Call back", "Edit…"]

    # Clear history asks first; Cancel keeps everything.
    click(qtbot, home.history_clear)
    assert home.clear_question is not None and home.clear_question.isVisible()
    click(qtbot, home.clear_question.defaultButton())
    assert len(a.history.records) == 2


def test_search_filters_contacts_and_history(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    ada, bob = Identity.generate().fingerprint, Identity.generate().fingerprint
    a.contacts.save(ada, "Ada Lovelace")
    a.contacts.save(bob, "Bob")
    _record_call(a, ada, "incoming")
    _record_call(a, bob, "outgoing")
    a.window.activateWindow()
    qtbot.waitUntil(a.window.isActiveWindow)
    qtbot.keyClick(home.contact_list, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # Ctrl+F: search
    qtbot.waitUntil(home.search_field.hasFocus)
    qtbot.keyClicks(home.search_field, "love")
    assert [r.split("\n")[0] for r in _rows(home.contact_list)] == ["Ada Lovelace"]
    assert len(history_rows(a)) == 1 and "Ada Lovelace" in history_rows(a)[0]

    home.search_field.clear()
    qtbot.keyClicks(home.search_field, bob[5:19])  # a piece of a fingerprint, colons and all
    assert [r.split("\n")[0] for r in _rows(home.contact_list)] == ["Bob"]

    home.search_field.clear()
    qtbot.keyClicks(home.search_field, "zelda")
    assert not home.contact_list.isVisible() and home.contacts_no_match.text() == "No contact matches “zelda”."
    assert not home.contacts_empty.isVisible()
    home.tabs.setCurrentIndex(2)
    assert home.history_empty.text() == "No call matches “zelda”."
    home.search_field.clear()
    assert home.contact_list.count() == 2 and len(history_rows(a)) == 2


def test_matches() -> None:
    fp = "a1b2:c3d4:e5f6:0718:293a:4b5c:6d7e:8f90"
    assert matches("", "x", fp) and matches("ADA", "Ada", fp) and matches("c3d4e5", "x", fp)
    assert matches("c3:d4", "x", fp) and matches("ada a1b2", "Ada", fp)
    assert not matches("bob", "Ada", fp) and not matches("ada zz", "Ada", fp)
