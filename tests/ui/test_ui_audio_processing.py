"""Settings > Audio: echo cancellation, noise suppression and gain control are on by default, and each
checkbox reaches the settings file and the next call's media options."""

from __future__ import annotations

from typing import Any

from ui_helpers import click

from app.media.audio_processing import ProcessingConfig
from app.storage import SettingsStore


def test_processing_checkboxes_default_on_and_are_saved(qtbot: Any, relay: Any, make_app: Any) -> None:
    a = make_app("alice", relay)
    assert a.host.media.processing == ProcessingConfig(True, True, True)
    click(qtbot, a.window.settings_button)
    dialog = a.settings_dialog
    assert dialog is not None
    dialog.tabs.setCurrentIndex(2)
    checks = (dialog.aec_check, dialog.ns_check, dialog.agc_check)
    assert all(c.isChecked() and c.isEnabled() for c in checks)
    dialog.aec_check.setChecked(False)
    dialog.agc_check.setChecked(False)
    click(qtbot, dialog.buttons.button(dialog.buttons.StandardButton.Save))
    saved = SettingsStore(a.data_dir).load()
    assert (saved.echo_cancellation, saved.noise_suppression, saved.gain_control) == (False, True, False)
    assert a.host.media.processing == ProcessingConfig(False, True, False)
