"""The real `wzp` process (offscreen) stopped by SIGTERM in the middle of a call quits like Quit:
it hangs up (the peer's call ends normally), saves its settings and the call, and exits 0. So
does a GUI whose Qt event loop the platform ends under it (QCoreApplication.quit(): aboutToQuit).

A real `wzp-relay`, a real `wzp-cli` caller and the GUI driven through its test-only hooks
(ui/test_hooks.py: WZP_TEST_AUTO_ANSWER answers through the call model, WZP_TEST_EVENTS prints
the client's events as JSON lines; with the hooks on, SIGUSR1 calls QCoreApplication.quit()).
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from app.storage.database import DB_FILENAME
from app.storage.settings import SETTINGS_FILENAME
from tests.tools.processes import Proc, cli, identity, spawn, start_relay

TIMEOUT = 30.0


async def _gui(tmp_path: Path, relay_addr: str) -> tuple[Proc, str, Path]:
    data = tmp_path / "gui"
    fingerprint = identity(data)
    env = {"QT_QPA_PLATFORM": "offscreen", "WZP_TEST_AUTO_ANSWER": "trusted", "WZP_TEST_EVENTS": "1"}
    gui = await spawn("gui", tmp_path, "wzp", "--data-dir", str(data), "--relay", relay_addr, "--no-audio", env=env)
    await gui.wait_event("registered", TIMEOUT)
    return gui, fingerprint, data


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1])
async def test_gui_stopped_by_a_signal_mid_call_hangs_up_saves_and_exits_0(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """SIGTERM and SIGHUP go through the quit handler; SIGUSR1 (a test hook) ends Qt's event loop
    with QCoreApplication.quit(), as the platform does at session end: aboutToQuit's path."""
    relay, port, _ = await start_relay(tmp_path / "relay")
    relay_addr = f"127.0.0.1:{port}"
    procs: list[Proc] = [relay]
    try:
        gui, gui_fp, data = await _gui(tmp_path, relay_addr)
        procs.append(gui)
        settings_before = json.loads((data / SETTINGS_FILENAME).read_text())
        assert settings_before["window_geometry"] == ""  # first run: nothing saved yet
        caller = await spawn(
            "caller",
            tmp_path,
            "wzp-cli",
            *cli(tmp_path / "caller", relay_addr, "call", gui_fp, "--duration", "60", "--no-audio"),
        )
        procs.append(caller)
        await caller.wait_event("audio", TIMEOUT)  # the caller hears the GUI: the call is up
        await gui.wait_event("path", TIMEOUT)

        gui.proc.send_signal(signum)
        assert await gui.finish(TIMEOUT) == 0, gui.describe()
        if signum == signal.SIGUSR1:
            assert gui.named("quit_requested") == []  # not the signal handler's quit: Qt's
            assert "Qt event loop ended: finishing the shutdown" in gui.stderr, gui.describe()
        else:
            assert gui.named("quit_requested") == [{"event": "quit_requested", "signal": signum.name}]
        ended_here = gui.named("ended")
        assert [(e["reason"], e["by"]) for e in ended_here] == [("Normal", "local")], gui.describe()

        # The peer saw a normal hang-up (not a dropped connection), and its call went as asked.
        assert await caller.finish(TIMEOUT) == 0, caller.describe()
        assert [(e["reason"], e["by"]) for e in caller.named("ended")] == [("Normal", "remote")]

        # Saved: the settings (the window's place is written at quit) and the call in the history.
        settings_after = json.loads((data / SETTINGS_FILENAME).read_text())
        assert settings_after["window_geometry"] != ""
        db = sqlite3.connect(data / DB_FILENAME)
        try:
            rows = db.execute("SELECT direction, reason, path FROM calls").fetchall()
        finally:
            db.close()
        events = [e["event"] for e in gui.events]
        paths_before_end = [e for e in gui.events[: events.index("ended")] if e["event"] == "path"]
        assert rows == [("incoming", "Normal", paths_before_end[-1]["path"])]
        assert "WZP stopped" in gui.stderr
    finally:
        for proc in reversed(procs):
            await proc.stop()
