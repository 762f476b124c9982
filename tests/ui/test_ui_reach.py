"""Reaching people from the GUI (issue 12): the invite link (copy, QR, open), a call from a link to someone
on another relay, and Nearby (mDNS, here on the loopback interface only) listing and calling a person."""

from __future__ import annotations

from typing import Any

import segno
from PySide6.QtGui import QGuiApplication
from ui_helpers import click, wait_in_call, wait_incoming

from app.invite import Invite, format_invite, parse_invite


def test_copy_invite_link_and_its_qr_code(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    card = a.window.identity
    click(qtbot, card.invite_button)
    link = QGuiApplication.clipboard().text()
    invite = parse_invite(link)
    assert invite.fingerprint == a.identity.fingerprint and invite.name == a.alias
    assert link == a.invite_link()
    assert all(not r.startswith(("127.", "[::1]", "localhost")) for r in invite.relays)  # never loopback
    click(qtbot, card.qr_button)
    dialog = card.qr_dialog
    assert dialog is not None and dialog.isVisible()
    from ui.widgets.qr_code import QrCode

    code = dialog.findChild(QrCode)
    assert code is not None and code.text == link and code.renderer.isValid()
    assert segno.make(link, error="m").symbol_size(border=4)[0] > 21  # a real QR symbol holds the whole link
    dialog.close()


def test_opening_a_link_fills_the_dialer_and_calls_across_relays(qtbot: Any, relays: Any, make_app: Any) -> None:
    home_a, home_b = relays.start(), relays.start()
    a, b = make_app("alice", home_a), make_app("bob", home_b)
    link = format_invite(Invite(b.identity.fingerprint, (f"127.0.0.1:{home_b.port}",), "Bob"))
    a.window.open_link(link)
    assert a.dialer.valid and a.dialer.fingerprint == b.identity.fingerprint
    assert a.dialer.relays == (f"127.0.0.1:{home_b.port}",) and a.dialer.name == "Bob"
    click(qtbot, a.window.home.save_dialed_button)  # the contact remembers where Bob was reached
    contact = a.contacts.get(b.identity.fingerprint)
    assert contact is not None and contact.name == "Bob" and contact.relays == (f"127.0.0.1:{home_b.port}",)
    click(qtbot, a.window.home.call_button)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)
    click(qtbot, a.window.call_page.hangup_button)
    # Later, a contact with relays is called there again without any link.
    qtbot.waitUntil(lambda: not a.call.active and not b.call.active)
    a.call.place_call(b.identity.fingerprint, "Bob")
    wait_incoming(qtbot, b)


def test_nearby_lists_someone_on_the_network_and_calls_them(qtbot: Any, relays: Any, make_app: Any) -> None:
    home_a, home_b = relays.start(), relays.start()
    lan = {"lan": True, "lan_interfaces": ["127.0.0.1"]}
    a, b = make_app("alice", home_a, **lan), make_app("bob", home_b, **lan)
    home = a.window.home
    fp = b.identity.fingerprint

    def nearby_row() -> int:
        for row in range(home.online_list.count()):
            item = home.online_list.item(row)
            if fp in item.text() and "nearby" in item.text():
                return row
        return -1

    qtbot.waitUntil(lambda: nearby_row() >= 0, timeout=10_000)
    assert a.relays_of(fp) == [f"127.0.0.1:{home_b.port}"]
    home.tabs.setCurrentIndex(1)
    home.online_list.setCurrentRow(nearby_row())
    click(qtbot, home.online_call)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)


def test_bob_turning_discoverable_off_leaves_nearby(qtbot: Any, relays: Any, make_app: Any, run: Any) -> None:
    relay = relays.start()
    lan = {"lan": True, "lan_interfaces": ["127.0.0.1"]}
    a, b = make_app("alice", relay, **lan), make_app("bob", relay, **lan)
    assert a.nearby is not None and b.nearby is not None
    qtbot.waitUntil(lambda: a.nearby.find(b.identity.fingerprint) is not None, timeout=10_000)
    b.settings.discoverable = False
    run(b._update_nearby())
    qtbot.waitUntil(lambda: a.nearby.find(b.identity.fingerprint) is None, timeout=10_000)


def test_a_link_the_system_opens_reaches_the_dialer(qtbot: Any, relay: Any, make_app: Any) -> None:
    """macOS delivers wzp: links as a QFileOpenEvent (CFBundleURLTypes): the filter hands them to the app."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication

    from app.identity import Identity
    from ui.url_open import UrlOpenFilter

    a = make_app("alice", relay)
    other = Identity.generate().fingerprint
    link = format_invite(Invite(other, ("relay.example.org:4433",), "Zoe"))
    opener = UrlOpenFilter(lambda url: a.handle_second_launch([url]))
    app = QApplication.instance()
    app.installEventFilter(opener)
    try:
        QApplication.sendEvent(app, QFileOpenEvent(QUrl(link)))
    finally:
        app.removeEventFilter(opener)
    assert a.dialer.fingerprint == other and a.dialer.relays == ("relay.example.org:4433",)
