"""Settings take a relay service of several nodes (one per line or comma-separated, each checked); the client
gets them as its relay list and moves to the next node when the one in use dies (issue 15, GUI part)."""

from __future__ import annotations

import json
import time
from typing import Any

from PySide6.QtCore import Qt
from ui_helpers import click, wait_connected

from app.identity import Identity
from ui.relay_list import parse_relay_list


def test_settings_take_several_nodes_and_the_client_fails_over(qtbot: Any, relays: Any, make_app: Any) -> None:
    key = Identity.generate()  # one relay key for the service, as issue 15 deploys it
    first, second = relays.start(identity=key), relays.start(identity=key)
    a = make_app("alice", first)
    a.open_settings()
    dialog = a.settings_dialog
    assert dialog is not None
    dialog.tabs.setCurrentIndex(1)
    before = list(a.settings.relays)

    # Every bad entry is named, with its reason; nothing is added.
    qtbot.keyClicks(dialog.relay_field, f"127.0.0.1:{second.port}, bad..name")
    qtbot.keyClick(dialog.relay_field, Qt.Key.Key_Return)  # a new line: the next entry
    qtbot.keyClicks(dialog.relay_field, "127.0.0.1:99999")
    lines = dialog.relay_error.text().splitlines()
    assert len(lines) == 2 and dialog.relay_error.isVisible() and not dialog.relay_add.isEnabled()
    assert lines[0].startswith("“bad..name” (entry 2):") and "not a valid host name" in lines[0]
    assert lines[1].startswith("“127.0.0.1:99999” (entry 3):") and "port" in lines[1]

    dialog.relay_field.clear()
    nodes = [f"127.0.0.1:{first.port}", f"127.0.0.1:{second.port}"]
    qtbot.keyClicks(dialog.relay_field, f" {nodes[0]}")  # one per line
    qtbot.keyClick(dialog.relay_field, Qt.Key.Key_Return)
    qtbot.keyClicks(dialog.relay_field, f"{nodes[1]} ")
    assert not dialog.relay_error.isVisible() and dialog.relay_add.isEnabled()
    click(qtbot, dialog.relay_add)
    assert dialog.relay_list.count() == len(before) + 1
    item = dialog.relay_list.item(dialog.relay_list.count() - 1)
    assert item.text() == ", ".join(nodes) and "2 nodes" in item.toolTip()
    dialog.relay_list.setCurrentItem(item)
    click(qtbot, dialog.relay_use)
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))

    stored = json.loads((a.data_dir / "settings.json").read_text())
    assert stored["selected_relay"] == ",".join(nodes)
    qtbot.waitUntil(lambda: a.host.client is not None and a.host.client.relays == nodes, timeout=10_000)
    wait_connected(qtbot, a)
    assert a.host.relay == nodes[0]
    assert a.invite_relays() == []  # loopback nodes are never put in an invite

    # The node in use dies: the client moves on to the next one of the service.
    started = time.monotonic()
    relays.stop(first)
    qtbot.waitUntil(lambda: a.host.relay == nodes[1] and a.relay_status.state == "connected", timeout=30_000)
    print(f"moved to the next node in {time.monotonic() - started:.2f} s")


def test_parse_relay_list() -> None:
    nodes, errors = parse_relay_list("a.example.org, 192.0.2.1:5\n[2001:db8::1]:9;a.example.org:4433\n\n")
    assert nodes == ["a.example.org:4433", "192.0.2.1:5", "[2001:db8::1]:9"] and errors == []
    nodes, errors = parse_relay_list("relay example, ok.example.org")
    assert nodes == ["ok.example.org:4433"] and [(e.index, e.text) for e in errors] == [(1, "relay example")]
    nodes, errors = parse_relay_list(",".join(f"n{i}.example.org" for i in range(20)))
    assert len(nodes) == 16 and errors[0].index == 17
