"""Real wzp-relay / wzp-cli processes for end-to-end tests: start, read JSON events, always stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


@dataclass
class Proc:
    proc: asyncio.subprocess.Process
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: bytes = b""

    async def wait_event(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        """Read stdout JSON lines until an event named `name` arrives."""
        for ev in self.events:
            if ev.get("event") == name:
                return ev
        assert self.proc.stdout is not None

        async def read() -> dict[str, Any]:
            while True:
                line = await self.proc.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    raise AssertionError(
                        f"process ended before {name!r}; events={[e.get('event') for e in self.events]}"
                    )
                with contextlib.suppress(ValueError):
                    ev = json.loads(line)
                    self.events.append(ev)
                    if ev.get("event") == name:
                        return ev

        return await asyncio.wait_for(read(), timeout)

    async def finish(self, timeout: float = 30.0) -> int:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out, err = await asyncio.wait_for(self.proc.communicate(), timeout)
        self.stderr = err
        for line in out.splitlines():
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))
        assert self.proc.returncode is not None
        return self.proc.returncode

    def named(self, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == name]

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def start(argv: list[str], env: dict[str, str] | None = None) -> Proc:
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=full_env
    )
    return Proc(proc)


async def start_relay(data_dir: Path, *, advertise: str | None = None) -> tuple[Proc, int, str]:
    argv = [str(BIN / "wzp-relay"), "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
    if advertise:
        argv += ["--advertise", advertise]
    relay = await start(argv)
    assert relay.proc.stdout is not None
    line = (await asyncio.wait_for(relay.proc.stdout.readline(), 15)).decode()
    match = re.search(r"listening on \S+:(\d+) .* fingerprint (\S+)", line)
    assert match, f"unexpected relay banner: {line!r}"
    return relay, int(match.group(1)), match.group(2)


def cli(data_dir: Path, relay: str, *args: str) -> list[str]:
    return [str(BIN / "wzp-cli"), "--data-dir", str(data_dir), "--relay", relay, "--json", *args]


async def identity(data_dir: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "wzp-cli"), "--data-dir", str(data_dir), "id", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return json.loads(out)["fingerprint"]
