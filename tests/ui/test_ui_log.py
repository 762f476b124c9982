"""The log on disk: a rotating file in the data folder, faulthandler's crash file, and Help > Save log…."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog
from ui_helpers import click

from ui import file_log

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("wzp.test.log")


@pytest.fixture
def small_log(tmp_path: Path) -> Iterator[file_log.FileLog]:
    """A file log of 4 KiB x (1 + 2 backups) in tmp_path/data/logs (faulthandler stays pytest's)."""
    file_log.uninstall()
    installed = file_log.install(tmp_path / "data", max_bytes=4096, backups=2, crash_handler=False)
    assert installed is not None
    try:
        yield installed
    finally:
        file_log.uninstall()


def test_log_file_is_written_and_rotated(small_log: file_log.FileLog) -> None:
    assert small_log.path == small_log.directory / "wzp.log" and small_log.directory.name == "logs"
    for i in range(400):
        log.warning("line %04d %s", i, "x" * 40)
    files = small_log.files()
    assert [p.name for p in files] == ["wzp.log.2", "wzp.log.1", "wzp.log"]  # oldest first, no more than 2 backups
    assert all(p.stat().st_size <= 4096 for p in files)
    assert "line 0399" in small_log.path.read_text()
    assert not (small_log.directory / "wzp.log.3").exists()
    text = "".join(p.read_text() for p in files)
    numbers = [int(line.split("line ")[1][:4]) for line in text.splitlines() if "line " in line]
    assert numbers == sorted(numbers) and numbers[-1] == 399 and numbers[0] > 0  # the oldest lines rotated out


def test_save_log_from_the_help_menu(qtbot: Any, relay: Any, make_app: Any, small_log: file_log.FileLog,
                                     tmp_path: Path) -> None:
    a = make_app("alice", relay)
    log.warning("a line for the bug report")
    a.window.save_log_action.trigger()
    dialog = a.save_log_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.acceptMode() == QFileDialog.AcceptMode.AcceptSave
    target = tmp_path / "report.txt"
    dialog.selectFile(str(target))
    dialog.accept()
    qtbot.waitUntil(target.exists)
    saved = target.read_text()
    assert saved.startswith("WZP log saved") and "a line for the bug report" in saved
    assert "connecting to relay" in saved  # what the app logged while starting, from the file
    assert a.window.statusBar().currentMessage() == f"Log saved to {target}."

    # Settings > Log > Save… opens the same question; a folder that cannot be written says so.
    a.open_settings()
    assert a.settings_dialog is not None
    a.settings_dialog.tabs.setCurrentIndex(a.settings_dialog.tabs.count() - 1)
    click(qtbot, a.settings_dialog.log_save)
    assert a.save_log_dialog is not None and a.save_log_dialog.isVisible()
    a.save_log_dialog.reject()
    assert not a.save_log_to(tmp_path / "missing" / "folder" / "log.txt")
    assert "could not be saved" in a.window.home.banner.text()


def test_a_crash_leaves_its_stack_in_crash_log(tmp_path: Path) -> None:
    code = (
        "import sys, faulthandler, logging; from pathlib import Path; from ui import file_log;"
        "logging.getLogger().setLevel(logging.INFO);"
        "file_log.install(Path(sys.argv[1])); faulthandler._sigsegv()"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": ""}
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, timeout=60)
    assert result.returncode != 0
    crash = (tmp_path / "logs" / "crash.log").read_text()
    assert "Fatal Python error: Segmentation fault" in crash and "<string>" in crash
    assert "logging to" in (tmp_path / "logs" / "wzp.log").read_text()
