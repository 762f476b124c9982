"""Every interactive widget (and every custom-drawn one) has an accessible name a screen reader can say."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QComboBox,
    QLineEdit,
    QTabBar,
    QWidget,
)
from ui_helpers import click, dial, wait_in_call, wait_incoming

from ui.widgets.identicon import IdenticonWidget
from ui.widgets.level_meter import LevelMeter
from ui.widgets.signal_bars import SignalBars
from ui.widgets.status_dot import StatusDot

INTERACTIVE = (QAbstractButton, QLineEdit, QComboBox, QAbstractSlider, QAbstractItemView, QTabBar)
DRAWN = (StatusDot, IdenticonWidget, LevelMeter, SignalBars)


def _unnamed(root: QWidget) -> list[str]:
    missing = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, INTERACTIVE + DRAWN) or not widget.isVisibleTo(root):
            continue
        if widget.parent() is not None and type(widget.parent()).__name__ in ("QComboBox", "QScrollBar"):
            continue  # a combo box's own popup view
        iface = QAccessible.queryAccessibleInterface(widget)
        name = iface.text(QAccessible.Text.Name) if iface is not None else ""
        if not name.strip():
            missing.append(f"{type(widget).__name__} {widget.objectName() or ''} in {type(widget.parent()).__name__}")
    return missing


def test_every_control_has_an_accessible_name(qtbot: Any, relay: Any, make_app: Any) -> None:
    a, b = make_app("alice", relay), make_app("bob", relay)
    for tab in range(a.window.home.tabs.count()):
        a.window.home.tabs.setCurrentIndex(tab)
        assert _unnamed(a.window) == [], "\n".join(_unnamed(a.window))
    a.window.home.tabs.setCurrentIndex(0)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    assert _unnamed(b.incoming_dialog) == [], "\n".join(_unnamed(b.incoming_dialog))
    click(qtbot, b.incoming_dialog.private_button)
    wait_in_call(qtbot, a, b)
    assert _unnamed(a.window) == [], "\n".join(_unnamed(a.window))
    assert a.window.call_page.input_meter.accessibleName() == "Microphone level"


def test_contact_dialog_undo_note_and_empty_list_are_named(qtbot: Any, relay: Any, make_app: Any) -> None:
    from app.identity import Identity

    a = make_app("alice", relay)
    home = a.window.home
    assert home.contacts_empty.isVisible() and _unnamed(a.window) == [], "\n".join(_unnamed(a.window))
    home.open_contact_dialog()
    dialog = home.contact_dialog
    assert dialog is not None
    qtbot.keyClicks(dialog.target_field, "nonsense")
    assert dialog.error_label.accessibleDescription() == dialog.error_label.text() != ""
    assert _unnamed(dialog) == [], "\n".join(_unnamed(dialog))
    dialog.reject()
    bob = Identity.generate().fingerprint
    a.contacts.save(bob, "Bob")
    home.remove_contact(bob)
    assert home.undo_bar.isVisible() and home.undo_bar.accessibleName() == "Removed Bob from your contacts."
    assert _unnamed(a.window) == [], "\n".join(_unnamed(a.window))
    a.open_settings()
    assert a.settings_dialog is not None
    a.settings_dialog.tabs.setCurrentIndex(1)
    assert _unnamed(a.settings_dialog) == [], "\n".join(_unnamed(a.settings_dialog))
