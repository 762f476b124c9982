"""The relay line: reconnecting after a relay restart, a changed relay key, hosting a relay on first run."""

from __future__ import annotations

from typing import Any

import pytest
from ui_helpers import banner, click, dial, relay_text, wait_connected

import app.client.client as client_module
from app.identity import Identity


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "BACKOFF", (0.3, 0.3, 0.3, 0.3, 0.3, 0.3))


def test_relay_restart_while_idle(qtbot: Any, relays: Any, make_app: Any, fast_backoff: None) -> None:
    identity = Identity.generate()
    relay = relays.start(identity=identity)
    a = make_app("alice", relay)
    bar = a.window.relay_bar
    assert not bar.key_label.isVisible()  # no jargon in the header; the key is in the tooltip
    assert bar.status_label.toolTip().startswith("First connection to this relay: its key ")
    qtbot.waitUntil(lambda: bar.rtt_label.text().endswith(" ms"))

    port = relay.port
    relays.stop(relay)
    qtbot.waitUntil(lambda: relay_text(a).startswith(f"Relay 127.0.0.1:{port} unreachable. Reconnecting"))
    assert bar.dot.state == "reconnecting" and bar.action_button.text() == "Reconnect now"
    assert not bar.rtt_label.isVisible()
    dial(qtbot, a, Identity.generate().fingerprint)  # calling while the relay is away: a clear sentence
    qtbot.waitUntil(lambda: banner(a).startswith("Not connected to the relay"))
    assert not a.window.on_call_page and not a.call.active

    relays.start(port=port, identity=identity)  # same relay, same key
    wait_connected(qtbot, a)
    assert bar.dot.state == "connected" and not bar.action_button.isVisible()
    assert not bar.key_label.isVisible() and "remembered from the first connection" in bar.status_label.toolTip()


def test_relay_key_changed_warns_and_can_be_trusted(
    qtbot: Any, relays: Any, make_app: Any, fast_backoff: None
) -> None:
    relay = relays.start()
    a = make_app("alice", relay)
    old_key, port = relay.fingerprint, relay.port
    relays.stop(relay)
    impostor = relays.start(port=port)  # a different key on the same address
    qtbot.waitUntil(lambda: a.key_dialog is not None and a.key_dialog.isVisible())
    box = a.key_dialog
    assert box is not None
    assert "different key" in box.text()
    assert old_key in box.informativeText() and impostor.fingerprint in box.informativeText()
    assert relay_text(a) == f"The relay 127.0.0.1:{port} presented a different key. Not connected."
    assert a.window.relay_bar.key_label.text() == "Relay key changed"

    click(qtbot, a.key_trust_button)
    wait_connected(qtbot, a)
    assert not a.window.relay_bar.key_label.isVisible()
    assert a.host.client is not None and a.host.client.pins.get(f"127.0.0.1:{port}") == impostor.fingerprint


def test_relay_key_changed_refused_stays_offline(
    qtbot: Any, relays: Any, make_app: Any, fast_backoff: None
) -> None:
    relay = relays.start()
    a = make_app("alice", relay)
    port = relay.port
    relays.stop(relay)
    relays.start(port=port)
    qtbot.waitUntil(lambda: a.key_dialog is not None and a.key_dialog.isVisible())
    assert a.key_dialog is not None
    refuse = next(b for b in a.key_dialog.buttons() if b.text() == "Don't connect")
    click(qtbot, refuse)
    qtbot.waitUntil(lambda: "relay's key does not match" in a.window.home.banner.text())
    assert not relay_text(a).startswith("Connected")
    # Changing one's mind: the relay line offers the key again.
    review = a.window.relay_bar.action_button
    assert review.text() == "Review the new key…"
    click(qtbot, review)
    qtbot.waitUntil(lambda: a.key_dialog is not None and a.key_dialog.isVisible())
    click(qtbot, a.key_trust_button)
    wait_connected(qtbot, a)


def test_signed_in_elsewhere_waits_for_reconnect_here(qtbot: Any, relay: Any, make_app: Any, tmp_path: Any) -> None:
    import shutil

    a = make_app("alice", relay)
    shutil.copytree(a.data_dir, tmp_path / "alice-laptop", ignore=shutil.ignore_patterns("wzp.sqlite3*"))
    laptop = make_app("alice-laptop", relay)  # the same identity registers again
    assert laptop.identity == a.identity
    qtbot.waitUntil(lambda: relay_text(a).startswith("You signed in from another place"))
    button = a.window.relay_bar.action_button
    assert button.text() == "Reconnect here"
    qtbot.waitUntil(button.isEnabled)  # once the relay has closed this connection
    click(qtbot, button)
    wait_connected(qtbot, a)
    qtbot.waitUntil(lambda: relay_text(laptop).startswith("You signed in from another place"))


def test_first_run_shows_identity_and_hosts_a_relay(qtbot: Any, make_app: Any) -> None:
    a = make_app("newcomer")  # no relay configured at all
    welcome = a.welcome
    assert welcome is not None and welcome.isVisible()
    assert welcome.card.fingerprint_label.text() == a.identity.fingerprint
    assert welcome.card.alias_label.text() == a.identity.alias
    assert welcome.card.icon.fingerprint == a.identity.fingerprint
    click(qtbot, welcome.card.copy_button)
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().text() == a.identity.fingerprint
    assert welcome.host_radio.isChecked()  # hosting is the default
    assert relay_text(a).startswith("No relay chosen")
    click(qtbot, welcome.continue_button)
    wait_connected(qtbot, a)
    assert a.relay_host.running
    # The header says how others reach this relay, never a loopback address.
    text = relay_text(a)
    assert text.startswith("Hosting a relay on this computer") and "127.0.0.1" not in text, text
    assert all(addr in text for addr in a.invite_relays()[:2])
    assert a.settings.host_relay and a.store.load().host_relay and a.store.load().welcomed


def test_welcome_validates_a_typed_relay(qtbot: Any, make_app: Any) -> None:
    a = make_app("newcomer")
    welcome = a.welcome
    assert welcome is not None
    qtbot.keyClicks(welcome.relay_field, "relay example")
    assert welcome.relay_radio.isChecked()
    assert welcome.relay_error.isVisible() and not welcome.continue_button.isEnabled()
    for good in ("127.0.0.1:9", "relay.example.org", "relay.example.org:5000"):  # host names are fine
        welcome.relay_field.clear()
        qtbot.keyClicks(welcome.relay_field, good)
        assert welcome.continue_button.isEnabled(), good
