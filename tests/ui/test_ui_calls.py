"""Two full app instances in one process call each other through a real relay, clicking real widgets."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from ui_helpers import (
    DURATION,
    banner,
    call_status,
    click,
    dial,
    history_rows,
    wait_home,
    wait_in_call,
    wait_incoming,
)

from app.identity import Identity
from app.identity.alias import self_chosen_name


def test_call_accept_mute_hang_up_and_history(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    qtbot.waitUntil(lambda: call_status(a) in ("Calling…", "Ringing…"))
    assert a.window.call_page.cancel_button.isVisible()

    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: call_status(a) == "Ringing…")
    dialog = b.incoming_dialog
    assert dialog.name_label.text() == self_chosen_name(a.identity.alias)
    assert dialog.fingerprint_label.text() == a.identity.fingerprint
    assert dialog.icon.fingerprint == a.identity.fingerprint
    assert dialog.private_button.isVisible()  # not a contact: "Accept privately" is offered
    click(qtbot, dialog.accept_button)

    wait_in_call(qtbot, a, b)
    for app, peer in ((a, b), (b, a)):
        page = app.window.call_page
        assert page.name_label.text() == self_chosen_name(peer.identity.alias)
        qtbot.waitUntil(lambda page=page: page.badge.text().startswith("Direct"))
        assert page.hangup_button.isVisible() and not page.cancel_button.isVisible()

    # B hears A's tone; A presses M; B's speaker level drops to silence.
    b_out = b.window.call_page.output_meter
    qtbot.waitUntil(lambda: b_out.level_db > -30)
    a.window.activateWindow()
    qtbot.keyClick(a.window, Qt.Key.Key_M)
    assert a.window.call_page.mute_button.isChecked()
    assert a.window.call_page.mute_button.text() == "Unmute (M)"
    qtbot.waitUntil(lambda: b_out.level_db < -50)
    assert b.host.client is not None
    _, played_db = b.host.client.levels(b.call.call_id or "")
    assert played_db < -50  # what the meter shows is what B's call plays

    # The stats panel fills in once a second.
    stats = b.window.call_page.stat_labels
    qtbot.waitUntil(lambda: stats["rtt"].text().endswith("ms") and stats["bitrate"].text().endswith("kbit/s"))
    qtbot.waitUntil(lambda: DURATION.search(a.window.call_page.timer_label.text()) is not None)

    click(qtbot, b.window.call_page.hangup_button)
    wait_home(qtbot, a, b)
    assert "ended after" in banner(a) and "ended after" in banner(b)
    a_row, b_row = history_rows(a)[0], history_rows(b)[0]
    assert a_row.startswith("Outgoing") and b.identity.alias in a_row and DURATION.search(a_row)
    assert b_row.startswith("Incoming") and a.identity.alias in b_row and DURATION.search(b_row)
    assert a.history.records[0].duration_s > 0 and a.history.records[0].path == "direct"


def test_decline_from_a_trusted_contact(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    # B saves A as a trusted contact first (from the "Online now" list).
    home = b.window.home
    qtbot.waitUntil(lambda: home.online_list.count() == 1)
    home.tabs.setCurrentIndex(1)
    home.online_list.setCurrentRow(0)
    click(qtbot, home.online_add)
    home.contact_name.setText("")
    qtbot.keyClicks(home.contact_name, "Alice")
    click(qtbot, home.contact_save)
    click(qtbot, home.contact_trusted)
    assert b.contacts.is_trusted(a.identity.fingerprint)
    assert "Alice" in home.contact_list.item(0).text() and "direct calls" in home.contact_list.item(0).text()

    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    assert b.incoming_dialog.name_label.text() == "Alice"
    assert "Direct calls allowed" in b.incoming_dialog.note.text()
    click(qtbot, b.incoming_dialog.decline_button)
    wait_home(qtbot, a, b)
    assert "declined the call" in banner(a)
    assert banner(b) == "You declined the call from Alice."
    assert history_rows(a)[0].startswith("Outgoing") and history_rows(a)[0].endswith("declined")
    assert history_rows(b)[0].startswith("Declined · Alice")


def test_cancel_while_ringing_is_a_missed_call(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: call_status(a) == "Ringing…")
    click(qtbot, a.window.call_page.cancel_button)
    wait_home(qtbot, a, b)
    assert not b.incoming_dialog.isVisible()
    assert banner(a).startswith("You cancelled the call")
    assert banner(b) == f"Missed call from {self_chosen_name(a.identity.alias)}."
    assert history_rows(b)[0].startswith("Missed")
    assert b.history.records[0].direction == "missed"

    # B calls back from the history; A declines with Esc in the incoming window.
    home = b.window.home
    home.tabs.setCurrentIndex(2)
    home.history_list.setCurrentRow(0)
    click(qtbot, home.redial_button)
    wait_incoming(qtbot, a)
    qtbot.keyClick(a.incoming_dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: banner(b) == f"{self_chosen_name(a.identity.alias)} declined the call.")
    assert history_rows(a)[0].startswith("Declined")


def test_busy(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b, c = make_app("alice", relay), make_app("bob", relay), make_app("carol", relay)
    dial(qtbot, c, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.private_button)  # accept privately: via the relay
    wait_in_call(qtbot, b, c)
    qtbot.waitUntil(lambda: b.window.call_page.badge.text() == "Via relay")

    qtbot.waitUntil(lambda: b.identity.fingerprint in a.contacts.online)  # A sees B online, then calls
    dial(qtbot, a, b.identity.fingerprint)
    wait_home(qtbot, a)
    assert banner(a) == f"{self_chosen_name(b.identity.alias)} is busy in another call. Try again later."
    assert call_status(b) == "In call"  # B's call goes on, untouched
    qtbot.keyClick(b.window, Qt.Key.Key_Escape)
    wait_home(qtbot, b, c)


def test_offline_target_and_dialer_validation(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    home = a.window.home
    qtbot.keyClicks(home.dial_field, "12zz")
    assert home.dial_error.isVisible()
    assert home.dial_error.text() == "'z' (character 3) is not a hex digit; a fingerprint uses only 0-9 and a-f."
    assert not home.call_button.isEnabled()
    home.dial_field.clear()
    qtbot.keyClicks(home.dial_field, a.identity.fingerprint)
    assert "your own fingerprint" in home.dial_error.text() and not home.call_button.isEnabled()

    nobody = Identity.generate().fingerprint
    dial(qtbot, a, nobody.replace(":", "").upper())  # pasted without separators, upper case
    assert not home.dial_error.isVisible()
    wait_home(qtbot, a)
    assert banner(a) == f"{nobody[:9]}… is offline. Try again when they have WZP open."
    assert history_rows(a)[0].startswith("Outgoing") and history_rows(a)[0].endswith("offline")


def test_no_answer(qtbot: Any, relays: Any, make_app: Any) -> None:
    relay = relays.start(ring_timeout=0.5)
    a, b = make_app("alice", relay), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    wait_home(qtbot, a, b)
    assert banner(a) == f"{self_chosen_name(b.identity.alias)} did not answer."
    assert banner(b) == f"Missed call from {self_chosen_name(a.identity.alias)}."
    assert not b.incoming_dialog.isVisible()
