"""Shortcuts over `tests/helpers/procs.py` for the audio tests and benches: a relay, a CLI, an identity."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers.procs import BIN, RELAY_LINE, Proc, spawn

__all__ = ["Proc", "cli", "identity", "spawn", "start_relay"]


async def start_relay(log_dir: Path, *, advertise: str | None = None) -> tuple[Proc, int, str]:
    """A real `wzp-relay` on 127.0.0.1 (any port); returns it, its port and its fingerprint."""
    log_dir.mkdir(parents=True, exist_ok=True)
    args = ["--listen", "127.0.0.1:0", "--data-dir", str(log_dir / "relay-data")]
    if advertise:
        args += ["--advertise", advertise]
    relay = await spawn("relay", log_dir, "wzp-relay", *args)
    match = RELAY_LINE.match(await relay.readline())
    assert match, f"unexpected relay banner: {relay.lines}"
    return relay, int(match["port"]), match["fingerprint"]


def cli(data_dir: Path, relay: str, *args: str) -> list[str]:
    """wzp-cli arguments for a client with its own data dir, JSON events on."""
    return ["--data-dir", str(data_dir), "--relay", relay, "--json", *args]


def identity(data_dir: Path) -> str:
    out = subprocess.run(
        [str(BIN / "wzp-cli"), "--data-dir", str(data_dir), "id"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return json.loads(out)["fingerprint"]
