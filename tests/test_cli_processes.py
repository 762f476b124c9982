"""`wzp-relay` and `wzp-cli` as real processes on loopback: the CLI contract scripts rely on."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from helpers.procs import BIN, RELAY_LINE, Proc, last_line, spawn
from helpers.raw import RawConn

from app.identity import Identity

module_loop = pytest.mark.asyncio(loop_scope="module")
PATH_KEYS = {"event", "call_id", "path", "remote", "candidate", "setup_ms", "reason"}


@dataclass
class RelayProc:
    proc: Proc
    addr: str
    port: int
    fingerprint: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def relay_proc(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RelayProc]:
    work = tmp_path_factory.mktemp("relay")
    proc = await spawn("relay", work, "wzp-relay", "--listen", "127.0.0.1:0", "--data-dir", work / "data")
    try:
        line = await proc.readline(30)
        match = RELAY_LINE.match(line)
        assert match, f"unexpected first line {line!r}\n{proc.stderr}"
        port = int(match["port"])
        assert match["host"] == "127.0.0.1" and port > 0
        assert match["ports"].split() == [str(port)]
        yield RelayProc(proc, f"127.0.0.1:{port}", port, match["fingerprint"])
        # After every call the module made through it, the relay still runs and still registers a client.
        assert proc.proc.returncode is None, f"the relay exited with {proc.proc.returncode}\n{proc.stderr[-3000:]}"
        raw = await RawConn.open(port)
        try:
            registered = await raw.register(Identity.generate())
            assert registered.observed_addr.startswith("127.0.0.1:"), registered
        finally:
            await raw.close()
    finally:
        await proc.stop()


def cli(data_dir: Path, relay: RelayProc | None = None) -> list[str | Path]:
    args: list[str | Path] = ["--data-dir", data_dir]
    if relay is not None:
        args += ["--relay", relay.addr, "--json"]
    return args


async def stop_all(*procs: Proc | None) -> None:
    for proc in procs:
        if proc is not None:
            await proc.stop()


# ------------------------------------------------------------------------ id


def test_id_creates_the_identity_once(tmp_path: Path) -> None:
    data = tmp_path / "me"

    def run() -> dict[str, str]:
        done = subprocess.run(
            [BIN / "wzp-cli", "--data-dir", data, "id"], capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout
        return json.loads(lines[0])

    first = run()
    assert set(first) == {"fingerprint", "alias"}
    assert first["fingerprint"].count(":") == 7 and first["alias"]
    assert any(data.iterdir())  # the identity was written
    assert run() == first  # and read back, not made again


# ---------------------------------------------------------------------- calls


@module_loop
async def test_listen_and_call_connect_and_end(relay_proc: RelayProc, tmp_path: Path) -> None:
    listener = caller = None
    try:
        listener = await spawn(
            "listener",
            tmp_path,
            "wzp-cli",
            *cli(tmp_path / "b", relay_proc),
            "listen",
            "--max-calls",
            "1",
            "--no-audio",
        )
        registered = await listener.wait_event("registered", 30)
        assert registered["relay_fingerprint"] == relay_proc.fingerprint
        caller = await spawn(
            "caller",
            tmp_path,
            "wzp-cli",
            *cli(tmp_path / "a", relay_proc),
            "call",
            registered["fingerprint"],
            "--duration",
            "1",
            "--no-audio",
        )
        caller_rc = await caller.finish(30)
        listener_rc = await listener.finish(30)
        assert caller_rc == 0, caller.describe()
        assert listener_rc == 0, listener.describe()

        paths = []
        for proc in (caller, listener):
            # The first path carries the audio at once; on loopback the call may then move to direct.
            path = proc.named("path")[-1]
            assert [p["reason"] for p in proc.named("path")] in (["first"], ["first", "upgrade"])
            assert set(path) == PATH_KEYS, path
            assert path["path"] in ("direct", "relay") and path["candidate"] in ("host", "reflexive", "relay")
            assert isinstance(path["setup_ms"], int) and path["setup_ms"] >= 0
            (ended,) = proc.named("ended")
            assert ended["call_id"] == path["call_id"]
            paths.append(path)
        assert paths[0]["path"] == paths[1]["path"], paths
        assert paths[0]["call_id"] == paths[1]["call_id"]
        assert caller.named("ended")[0]["reason"] == "Normal"
        # The caller hung up after --duration: the listener should hear a normal end, not "Offline".
        assert listener.named("ended")[0]["reason"] == "Normal", listener.describe()
    finally:
        await stop_all(caller, listener)


@module_loop
async def test_call_to_an_offline_fingerprint_fails(relay_proc: RelayProc, tmp_path: Path) -> None:
    caller = None
    try:
        offline = Identity.generate().fingerprint
        caller = await spawn("caller", tmp_path, "wzp-cli", *cli(tmp_path / "a", relay_proc), "call", offline)
        rc = await caller.finish(30)
        assert rc != 0, caller.describe()
        reason = last_line(caller.stderr)
        assert reason.startswith("wzp-cli: "), caller.describe()
        assert f"not online at the relay {relay_proc.addr}" in reason, caller.describe()
        assert [e["reason"] for e in caller.named("ended")] == ["Offline"]
        assert not caller.named("path")
    finally:
        await stop_all(caller)


@module_loop
async def test_rejecting_listener_makes_the_caller_fail(relay_proc: RelayProc, tmp_path: Path) -> None:
    listener = caller = None
    try:
        listener = await spawn(
            "listener",
            tmp_path,
            "wzp-cli",
            *cli(tmp_path / "b", relay_proc),
            "listen",
            "--answer",
            "reject",
            "--max-calls",
            "1",
            "--no-audio",
        )
        registered = await listener.wait_event("registered", 30)
        caller = await spawn(
            "caller", tmp_path, "wzp-cli", *cli(tmp_path / "a", relay_proc), "call", registered["fingerprint"]
        )
        caller_rc = await caller.finish(30)
        assert caller_rc != 0, caller.describe()
        reason = last_line(caller.stderr)
        assert reason.startswith("wzp-cli: ") and "declined" in reason, caller.describe()
        assert not caller.named("path")
        assert await listener.finish(30) == 0, listener.describe()
        assert [e["reason"] for e in listener.named("ended")] == ["Declined"]
    finally:
        await stop_all(caller, listener)
