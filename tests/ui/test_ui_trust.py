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
    assert pa.verify_dialog is not None
    click(qtbot, pa.verify_dialog.match_button)
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


def test_signal_bars_and_details(qtbot: Any, relay: Any, make_app: Any) -> None:
    from app import events as ev

    a, b = make_app("alice", relay), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)
    page = a.window.call_page
    assert page.signal_bars.isVisible() and not page.stats_box.isVisible()  # numbers behind Details
    qtbot.waitUntil(lambda: page.signal_bars.known, timeout=10_000)  # the first real stats report
    assert page.signal_bars.quality.bars == 4 and page.quality_label.text() == "Excellent"  # loopback
    assert "4 of 4 bars" in page.signal_bars.accessibleDescription()
    assert not page.poor_label.isVisible()
    click(qtbot, page.details_button)
    assert page.stats_box.isVisible() and page.stat_labels["rtt"].text().endswith("ms")

    # A report of a lossy connection (as the client emits it): fewer bars, and the note says why.
    assert a.call.call_id is not None
    a.host.event.emit(ev.Stats(
        call_id=a.call.call_id, path="relay", rtt_ms=80.0, loss_pct=14.0, jitter_ms=10.0,
        jitter_buffer_ms=60.0, bitrate_kbps=24.0, packets_sent=500, packets_received=430, packets_concealed=70,
    ))
    assert page.signal_bars.quality.bars == 0 and page.poor_label.isVisible()
    assert page.poor_label.text() == "Poor connection: audio is getting lost, you may hear gaps."
    click(qtbot, page.hangup_button)
    wait_home(qtbot, a, b)
    assert not page.poor_label.isVisible()
