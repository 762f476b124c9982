"""Real `wzp-relay` / `wzp-cli` processes: started with pipes, read line by line, always stopped by PID."""

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
RELAY_LINE = re.compile(
    r"^wzp-relay listening on (?P<host>\S+):(?P<port>\d+) ports (?P<ports>[\d ]+) "
    r"media (?P<media>\S+) fingerprint (?P<fingerprint>[0-9a-f:]{39})$"
)


@dataclass
class Proc:
    """One child process. stdout is read as lines (JSON events parsed when they are JSON)."""

    name: str
    proc: asyncio.subprocess.Process
    stderr_path: Path
    lines: list[str] = field(default_factory=list)

    @property
    def stderr(self) -> str:
        """Everything the process wrote on stderr so far (logs, and the one-line reason of a failure)."""
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                data = json.loads(line)
                if isinstance(data, dict) and "event" in data:
                    out.append(data)
        return out

    def named(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]

    async def readline(self, timeout: float = 15.0) -> str:
        assert self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not raw:
            raise AssertionError(f"{self.name} closed stdout (exit {self.proc.returncode}); lines: {self.lines}")
        line = raw.decode().rstrip("\n")
        self.lines.append(line)
        return line

    async def wait_event(self, event: str, timeout: float = 15.0) -> dict[str, Any]:
        """The first JSON event `event` on stdout (already read ones included)."""
        for e in self.named(event):
            return e

        async def read() -> dict[str, Any]:
            while True:
                line = await self.readline(timeout)
                with contextlib.suppress(ValueError):
                    data = json.loads(line)
                    if isinstance(data, dict) and data.get("event") == event:
                        return data

        return await asyncio.wait_for(read(), timeout)

    async def finish(self, timeout: float = 20.0) -> int:
        """Wait for the exit; collects the rest of stdout and all of stderr."""
        out, _ = await asyncio.wait_for(self.proc.communicate(), timeout)
        self.lines += out.decode().splitlines()
        assert self.proc.returncode is not None
        return self.proc.returncode

    async def stop(self) -> None:
        """Terminate (then kill) this process if it still runs; by its own PID only."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        # Close the pipes' transports now, while the loop runs.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.communicate(), 5)

    def describe(self) -> str:
        return (
            f"{self.name} exit={self.proc.returncode}\nstdout:\n" + "\n".join(self.lines) + f"\nstderr:\n{self.stderr}"
        )


async def spawn(name: str, log_dir: Path, program: str, *args: str | Path, env: dict[str, str] | None = None) -> Proc:
    """Start `program` (from the venv unless it is a path); stderr goes to `log_dir/name.stderr`
    (a pipe nobody reads could fill). `env` is added to this process's environment."""
    stderr_path = log_dir / f"{name}.stderr"
    executable = program if "/" in program else str(BIN / program)
    with stderr_path.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            executable,
            *map(str, args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **env} if env else None,
        )
    return Proc(name, proc, stderr_path)


def last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
