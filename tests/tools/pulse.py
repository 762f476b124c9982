"""A PulseAudio server with null sinks, so PortAudio (sounddevice) sees real devices here."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


def _pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True, timeout=10).stdout


def ensure_pulseaudio() -> None:
    """Start a PulseAudio daemon (as root, as CI runs) unless one answers already."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        raise RuntimeError("PulseAudio is not installed (scripts/setup.sh installs pulseaudio and pulseaudio-utils)")
    if subprocess.run(["pactl", "info"], capture_output=True, timeout=10).returncode == 0:
        return
    subprocess.run(
        [
            "pulseaudio",
            "-n",
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "-L",
            "module-native-protocol-unix",
            "-L",
            "module-null-sink sink_name=wzp_default",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    # --daemonize returns once the daemon is ready to accept clients
    _pactl("info")


@contextmanager
def null_sinks(*names: str) -> Iterator[dict[str, str]]:
    """Create uniquely named null sinks; yields {name: sink_name}; always unloads them."""
    ensure_pulseaudio()
    modules: list[str] = []
    sinks: dict[str, str] = {}
    try:
        for name in names:
            sink = f"wzptest_{name}_{os.getpid()}"
            modules.append(_pactl("load-module", "module-null-sink", f"sink_name={sink}").strip())
            sinks[name] = sink
        yield sinks
    finally:
        for module in modules:
            subprocess.run(["pactl", "unload-module", module], capture_output=True, timeout=10)
