"""A call that rings while another rings waits its turn instead of being refused: a caller who
re-offers after every decline must not keep everyone else out (the relay's side of the same rule
is in tests/test_relay_core.py)."""

from __future__ import annotations

from typing import Any

from ui_helpers import click, dial, history_rows, wait_in_call, wait_incoming

from app.identity.alias import self_chosen_name


def test_a_second_call_waits_and_rings_after_the_first_is_declined(qtbot: Any, relay: Any, make_app: Any) -> None:
    spammer, victim, friend = make_app("spammer", relay), make_app("victim", relay), make_app("friend", relay)
    dial(qtbot, spammer, victim.identity.fingerprint)
    wait_incoming(qtbot, victim)
    assert victim.call.peer_fingerprint == spammer.identity.fingerprint
    dial(qtbot, friend, victim.identity.fingerprint)
    qtbot.waitUntil(lambda: len(victim.call._waiting) == 1, timeout=10_000)  # rings behind the first
    assert victim.call.peer_fingerprint == spammer.identity.fingerprint
    click(qtbot, victim.incoming_dialog.decline_button)
    # The friend's call (still ringing at the friend's side) now rings at the victim.
    qtbot.waitUntil(lambda: victim.call.peer_fingerprint == friend.identity.fingerprint, timeout=10_000)
    wait_incoming(qtbot, victim)
    assert victim.incoming_dialog.name_label.text() == self_chosen_name(friend.identity.alias)
    click(qtbot, victim.incoming_dialog.accept_button)
    wait_in_call(qtbot, victim, friend)


def test_accepting_one_call_ends_the_waiting_one_as_busy(qtbot: Any, relay: Any, make_app: Any) -> None:
    first, victim, second = make_app("first", relay), make_app("victim", relay), make_app("second", relay)
    dial(qtbot, first, victim.identity.fingerprint)
    wait_incoming(qtbot, victim)
    dial(qtbot, second, victim.identity.fingerprint)
    qtbot.waitUntil(lambda: len(victim.call._waiting) == 1, timeout=10_000)
    click(qtbot, victim.incoming_dialog.accept_button)
    wait_in_call(qtbot, victim, first)
    # The relay ended the waiting call with Busy: it left the queue, as a missed call.
    qtbot.waitUntil(lambda: not victim.call._waiting, timeout=10_000)
    qtbot.waitUntil(lambda: any(row.startswith("Missed") for row in history_rows(victim)), timeout=10_000)
    assert victim.call.peer_fingerprint == first.identity.fingerprint
