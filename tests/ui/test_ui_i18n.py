"""Any language: every tr() text has a German translation, the compiled .qm is current, and a German
system locale shows the app in German."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication
from ui_helpers import banner, click, dial, wait_home, wait_incoming

from ui.i18n import I18N_DIR, install_translators, remove_translators

ROOT = Path(__file__).resolve().parents[2]


def _sources(ts: Path) -> set[tuple[str, str]]:
    root = ET.parse(ts).getroot()
    return {
        (c.findtext("name") or "", m.findtext("source") or "") for c in root.iter("context") for m in c.iter("message")
    }


def test_every_text_has_german_and_the_qm_is_current(tmp_path: Path) -> None:
    tool = Path(sys.executable).with_name("pyside6-lupdate")
    fresh = tmp_path / "fresh.ts"
    sources = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "ui").rglob("*.py") if "i18n" not in p.parts)
    subprocess.run([str(tool), *sources, "-ts", str(fresh), "-locations", "none"], cwd=ROOT, check=True,
                   capture_output=True)
    ts = I18N_DIR / "wzp_de.ts"
    assert _sources(fresh) <= _sources(ts), "run: python -m ui.i18n.build"
    unfinished = [m.findtext("source") for m in ET.parse(ts).getroot().iter("message")
                  if m.find("translation") is not None and m.find("translation").get("type") == "unfinished"]
    assert not unfinished
    shutil.copy(ts, tmp_path / "wzp_de.ts")
    subprocess.run([str(tool.with_name("pyside6-lrelease")), str(tmp_path / "wzp_de.ts")], check=True,
                   capture_output=True)
    fresh_qm = (tmp_path / "wzp_de.qm").read_bytes()
    assert fresh_qm == (I18N_DIR / "wzp_de.qm").read_bytes(), "run: python -m ui.i18n.build"


@pytest.fixture
def german(qapp: QApplication) -> Iterator[None]:
    translators = install_translators(qapp, QLocale("de_DE"))
    assert translators, "wzp_de.qm did not load"
    try:
        yield
    finally:
        remove_translators(qapp, translators)


def test_a_german_desktop_gets_german(qtbot: Any, relay: Any, make_app: Any, german: None) -> None:
    a, b = make_app("alice", relay, connected=False), make_app("bob", relay, connected=False)
    for app in (a, b):
        qtbot.waitUntil(lambda app=app: app.relay_status.state == "connected", timeout=10_000)
    home = a.window.home
    assert [home.tabs.tabText(i) for i in (0, 2)] == ["Kontakte", "Verlauf"]
    assert a.window.quit_action.text() == "WZP &beenden"
    assert a.relay_status.text.startswith("Verbunden mit dem Relay")
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    dialog = b.incoming_dialog
    assert (dialog.accept_button.text(), dialog.private_button.text()) == ("Annehmen", "Privat annehmen")
    click(qtbot, dialog.decline_button)
    wait_home(qtbot, a, b)
    assert banner(b).startswith("Sie haben den Anruf von ") and banner(b).endswith(" abgelehnt.")
    assert a.window.home.history_list.item(0).text().startswith("Ausgehend · ")
