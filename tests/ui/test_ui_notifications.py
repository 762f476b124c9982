"""Native notifications for incoming calls: Accept / Decline on the notification answer the real call.

A private D-Bus session bus with a minimal notification server (tests/tools/notification_server.py)
stands in for the desktop's notification daemon; the app's desktop-notifier D-Bus backend, the
client and the relay are the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ui_helpers import WAIT_MS, banner, call_status, click, dial, wait_home, wait_in_call, wait_incoming

from tests.tools.notification_server import SessionBus, serve


@pytest.fixture
def notification_server(run: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    bus = SessionBus()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    connection, server = run(serve(bus.address))
    try:
        yield server
    finally:
        connection.disconnect()
        bus.stop()


def test_accept_privately_from_the_notification(
    qtbot: Any, relay: Any, make_app: Any, notification_server: Any
) -> None:
    server = notification_server
    a, b = make_app("alice", relay), make_app("bob", relay, notifications=True)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: len(server.shown) == 1 and not b.notifications.sending, timeout=WAIT_MS)
    shown = server.shown[0]
    assert shown.app_name == "WZP" and shown.summary == "Incoming call"
    assert shown.body == f"{b.call.peer_name} is calling you."
    # A stranger: the notification offers only the button that keeps our address hidden.
    assert sorted(t for t in shown.actions.values() if t) == ["Accept privately", "Decline"]

    server.invoke(shown, "Accept privately")
    wait_in_call(qtbot, a, b)
    assert not b.incoming_dialog.isVisible() and b.window.isVisible()
    qtbot.waitUntil(lambda: b.window.call_page.badge.text() == "Via relay", timeout=WAIT_MS)
    click(qtbot, b.window.call_page.hangup_button)
    wait_home(qtbot, a, b)


def test_decline_from_the_notification_and_a_stale_one_answers_nothing(
    qtbot: Any, relay: Any, make_app: Any, notification_server: Any
) -> None:
    server = notification_server
    a, b = make_app("alice", relay), make_app("bob", relay, notifications=True)
    b.contacts.save(a.identity.fingerprint, "Alice", trusted=True)

    def rings() -> list[Any]:
        return [n for n in server.shown if n.summary == "Incoming call"]

    # First call: Alice gives up; Bob's notification is taken away, a missed-call one comes.
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: len(rings()) == 1, timeout=WAIT_MS)
    first_call = b.call.call_id
    assert "Accept" in rings()[0].actions.values()  # direct calls allowed: plain Accept
    click(qtbot, a.window.call_page.cancel_button)
    qtbot.waitUntil(lambda: rings()[0].closed, timeout=WAIT_MS)
    wait_home(qtbot, a, b)
    qtbot.waitUntil(lambda: any(n.body == "Missed call from Alice." for n in server.shown), timeout=WAIT_MS)

    # Second call rings; a button of the first call's notification must not answer it.
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: len(rings()) == 2 and not b.notifications.sending, timeout=WAIT_MS)
    b.answer_from_notification(str(first_call), "accept")
    assert b.call.state == "incoming" and b.incoming_dialog.isVisible()

    server.invoke(rings()[1], "Decline")
    qtbot.waitUntil(lambda: "declined" in banner(a), timeout=WAIT_MS)
    assert call_status(b) == "" and not b.incoming_dialog.isVisible()
    assert b.history.records[0].direction == "declined"


def test_without_a_notification_server_the_tray_says_it(
    qtbot: Any, relay: Any, make_app: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/wzp-test-bus")
    a, b = make_app("alice", relay), make_app("bob", relay, notifications=True)
    shown: list[tuple[str, str]] = []
    b.notifications.fallback = lambda title, text: shown.append((title, text))
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: bool(shown), timeout=WAIT_MS)
    assert shown[0] == ("Incoming call", f"{b.call.peer_name} is calling you.") and b.notifications.broken


def test_missed_calls_counted_on_the_history_tab_and_the_tray(
    qtbot: Any, run: Any, relay: Any, make_app: Any
) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay, tray=True)
    assert b.tray is not None
    tabs = b.window.home.tabs
    assert tabs.tabText(2) == "History" and "missed" not in b.tray.icon.toolTip()
    for n in (1, 2):
        dial(qtbot, a, b.identity.fingerprint)
        wait_incoming(qtbot, b)
        click(qtbot, a.window.call_page.cancel_button)
        qtbot.waitUntil(lambda n=n: tabs.tabText(2) == f"History ({n} missed)", timeout=WAIT_MS)
    assert b.tray.icon.toolTip().endswith("· 2 missed calls")
    assert b.tray.icon.icon().cacheKey() != b.tray.base_icon.cacheKey()  # the number on the icon

    tabs.setCurrentIndex(2)  # looked at
    assert tabs.tabText(2) == "History" and "missed" not in b.tray.icon.toolTip()
    run(b.shutdown())
    again = make_app("bob", relay)
    assert again.window.home.tabs.tabText(2) == "History"  # seen stays seen


def test_clear_history_asks_first(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    click(qtbot, a.window.call_page.cancel_button)
    wait_home(qtbot, a, b)
    home = b.window.home
    home.tabs.setCurrentIndex(2)
    click(qtbot, home.history_clear)
    box = home.clear_question
    assert box is not None and box.isVisible() and box.text() == "Remove the one call in the history?"
    click(qtbot, box.defaultButton())  # Cancel
    assert len(b.history.records) == 1
    click(qtbot, home.history_clear)
    click(qtbot, home.clear_confirm_button)
    assert b.history.records == [] and home.history_list.count() == 0
