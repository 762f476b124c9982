"""Start WZP at login: an XDG autostart entry (Linux), the HKCU Run key (Windows), a LaunchAgent (macOS).

The entry itself is the setting (the user may remove it with the system's own
tools): `is_enabled()` looks for it, `set_enabled()` writes or removes it. The
command starts WZP in the tray (`--minimized`) for the data directory in use.
"""

from __future__ import annotations

import logging
import os
import plistlib
import shlex
import sys
from pathlib import Path

log = logging.getLogger(__name__)

NAME = "WZP"
DESKTOP_FILENAME = "wzp.desktop"
AGENT_LABEL = "org.wzp.desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class AutostartError(Exception):
    """The login entry could not be written or removed; the message is a sentence for the user."""


def command(data_dir: Path | None = None) -> list[str]:
    """How the system starts WZP at login: the frozen executable, or this Python running `ui.main`."""
    argv = [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "ui.main"]
    argv.append("--minimized")
    if data_dir is not None:
        argv += ["--data-dir", str(data_dir)]
    return argv


def xdg_autostart_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "autostart"


def launch_agent_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"


def desktop_entry(argv: list[str]) -> str:
    # Exec quoting per the Desktop Entry spec: arguments with reserved characters in double quotes.
    exec_line = " ".join(_desktop_quote(a) for a in argv)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={NAME}\n"
        "Comment=End-to-end encrypted voice calls (starts in the tray)\n"
        f"Exec={exec_line}\n"
        "Icon=wzp\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def _desktop_quote(arg: str) -> str:
    if arg and not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`%='):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped.replace("%", "%%")}"'


def is_enabled(platform: str = sys.platform) -> bool:
    if platform.startswith("win"):
        return _windows_value() is not None
    if platform == "darwin":
        return launch_agent_path().exists()
    return (xdg_autostart_dir() / DESKTOP_FILENAME).exists()


def set_enabled(enabled: bool, data_dir: Path | None = None, platform: str = sys.platform) -> None:
    """Write (or remove) the login entry. AutostartError with a sentence when that fails."""
    argv = command(data_dir)
    try:
        if platform.startswith("win"):
            _windows_set(subprocess_line(argv) if enabled else None)
        elif platform == "darwin":
            _write_or_remove(launch_agent_path(), _launch_agent(argv) if enabled else None)
        else:
            _write_or_remove(xdg_autostart_dir() / DESKTOP_FILENAME, desktop_entry(argv).encode() if enabled else None)
    except OSError as exc:
        raise AutostartError(f"Start at login could not be {'turned on' if enabled else 'turned off'}: {exc}.") from exc
    log.info("start at login %s", "on" if enabled else "off")


def subprocess_line(argv: list[str]) -> str:
    if sys.platform.startswith("win"):
        import subprocess

        return subprocess.list2cmdline(argv)
    return shlex.join(argv)


def _launch_agent(argv: list[str]) -> bytes:
    agent = {"Label": AGENT_LABEL, "ProgramArguments": argv, "RunAtLoad": True, "ProcessType": "Interactive"}
    return plistlib.dumps(agent)


def _write_or_remove(path: Path, content: bytes | None) -> None:
    if content is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _windows_value() -> str | None:
    import winreg  # type: ignore[import-not-found, unused-ignore]

    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:  # type: ignore[attr-defined, unused-ignore]
            value, _kind = winreg.QueryValueEx(key, NAME)  # type: ignore[attr-defined, unused-ignore]
    except OSError:
        return None
    return str(value)


def _windows_set(line: str | None) -> None:
    import winreg  # type: ignore[import-not-found, unused-ignore]

    access = winreg.KEY_SET_VALUE  # type: ignore[attr-defined, unused-ignore]
    with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, access) as key:  # type: ignore[attr-defined, unused-ignore]
        if line is None:
            try:
                winreg.DeleteValue(key, NAME)  # type: ignore[attr-defined, unused-ignore]
            except FileNotFoundError:
                pass
        else:
            winreg.SetValueEx(key, NAME, 0, winreg.REG_SZ, line)  # type: ignore[attr-defined, unused-ignore]
