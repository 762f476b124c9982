"""Trust that means one thing each: Verified (the safety code compared on a call, marked on purpose) and
Allow direct calls (shows them our IP address); a stranger's call puts the focus on "Accept privately"."""

from __future__ import annotations

from typing import Any

from ui_helpers import click, dial, wait_home, wait_in_call, wait_incoming

from app.identity.safety_code import safety_code


def test_verify_on_the_call_screen(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)

    # A stranger calls: the short note, "not in your contacts", and the focus on the private answer.
    dialog = b.incoming_dialog
    assert dialog.focusWidget() is dialog.private_button and dialog.private_button.isDefault()
    assert not dialog.accept_button.isDefault()
    assert dialog.trust_label.text().startswith("Not in your contacts")
    assert len(dialog.note.text()) < 100
    click(qtbot, dialog.private_button)
    wait_in_call(qtbot, a, b)

    # Both screens show the same code, derived from both keys.
    code = safety_code(a.identity.fingerprint, b.identity.fingerprint)
    pa, pb = a.window.call_page, b.window.call_page
    assert pa.safety_label.text() == pb.safety_label.text() == code
    assert pa.verify_button.isVisible() and not pa.verified_label.isVisible()

    # Marking verified is deliberate: "Not now" (the default, Enter or Esc) changes nothing.
    click(qtbot, pa.verify_button)
    box = pa.verify_dialog
    assert box is not None and box.isVisible() and code in box.text()
    assert box.defaultButton().text() == "Not now"
    click(qtbot, box.defaultButton())
    assert not a.contacts.is_verified(b.identity.fingerprint) and a.contacts.get(b.identity.fingerprint) is None

    click(qtbot, pa.verify_button)
    click(qtbot, pa.verify_match_button)
    assert a.contacts.is_verified(b.identity.fingerprint)
    contact = a.contacts.get(b.identity.fingerprint)
    assert contact is not None and contact.name == b.identity.alias and not contact.allow_direct  # verified only
    assert pa.verified_label.isVisible() and pa.verified_label.text() == "✓ Verified"
    assert not pa.verify_button.isVisible()
    assert not b.contacts.is_verified(a.identity.fingerprint)  # each side marks it on their own screen

    click(qtbot, pa.hangup_button)
    wait_home(qtbot, a, b)
    row = a.window.home.contact_list.item(0).text()
    assert "verified" in row and "not verified" not in row and "direct calls" not in row

    # Verified is not "direct calls": the next call from the verified contact is still private by default.
    dial(qtbot, b, a.identity.fingerprint)
    wait_incoming(qtbot, a)
    assert a.incoming_dialog.trust_label.text() == "✓ Verified"
    assert a.incoming_dialog.focusWidget() is a.incoming_dialog.private_button
    click(qtbot, a.incoming_dialog.decline_button)
    wait_home(qtbot, a, b)

    # Allow direct calls is its own switch (contact menu), and now Accept is the default.
    home = a.window.home
    menu = home.item_menu_for(home.contact_list.item(0))
    direct = next(act for act in menu.actions() if act.text() == "Allow direct calls")
    direct.trigger()
    assert a.contacts.allows_direct(b.identity.fingerprint) and a.contacts.is_verified(b.identity.fingerprint)
    dial(qtbot, b, a.identity.fingerprint)
    wait_incoming(qtbot, a)
    assert a.incoming_dialog.focusWidget() is a.incoming_dialog.accept_button
    click(qtbot, a.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)
    qtbot.waitUntil(lambda: pa.badge.text().startswith("Direct"))
    click(qtbot, pa.hangup_button)
    wait_home(qtbot, a, b)

    # Taking verification back is in the contact's menu too.
    menu = home.item_menu_for(home.contact_list.item(0))
    next(act for act in menu.actions() if act.text() == "Mark as not verified").trigger()
    assert not a.contacts.is_verified(b.identity.fingerprint) and a.contacts.allows_direct(b.identity.fingerprint)
