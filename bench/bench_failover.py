"""Failover, upgrade and recovery on loopback: how long the audio stops when the direct path dies
mid-call, how many frames an upgrade to direct costs, and how soon a call gets back to direct
once the dead direct path works again.

A real relay and two real clients in one process (real QUIC on 127.0.0.1, real Opus in the
media sessions, silence source and no devices). The direct path is cut by dropping, at both
endpoints' sockets, every datagram to the other client (relay traffic still flows). Printed:

* failover gap: from the cut to the first frame received again (now via the relay), per side;
* detection: from the cut to the `path` event with reason "failover";
* upgrade: frames concealed on each side around a relay -> direct switch (target 0);
* recovered: the direct path is restored as soon as the audio flows through the relay after a
  failover; from the restore to the `path` event with reason "recovered" on both sides (mostly
  the wait for the next probe round: 3 s after the failover), from the dialer's probe round start
  to it (the probe itself: punch, the peer's PunchReady, re-dial, handshake, proof), and frames
  concealed at the switch back (target 0).

Usage: .venv/bin/python bench/bench_failover.py [N]   (default 10 runs of each)
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.calls import cut_direct as cut

from app import events as ev
from app.client.client import WzpClient
from app.identity import Identity
from app.media.session import MediaSession
from app.media.session_factory import make_media_factory
from app.relay.server import RelayServer


class ProbeStarts(logging.Handler):
    """Loop time of each "probing direct again" log line of the race (the dialer's probe rounds)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.times: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("probing direct again") and "role=dialer" in record.getMessage():
            self.times.append(asyncio.get_running_loop().time())


PROBES = ProbeStarts()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class Side:
    def __init__(self, client: WzpClient) -> None:
        self.client = client
        self.session: MediaSession | None = None
        self.events: list[ev.ClientEvent] = []
        self.changed = asyncio.Event()
        client.add_listener(self._on_event)
        client.media_factory = make_media_factory(no_audio=True, emit=client.emit, on_session=self._on_session)

    def _on_session(self, session: MediaSession) -> None:
        self.session = session

    def _on_event(self, event: ev.ClientEvent) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait(self, name: str, **fields: Any) -> Any:
        while True:
            for e in self.events:
                if e.event == name and all(getattr(e, k) == v for k, v in fields.items()):
                    return e
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 15)


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> float:
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)
    return loop.time()


async def one_call(relay: RelayServer, tmp: Path, *, upgrade: bool, recover: bool = False) -> dict[str, float]:
    sides = []
    for name in ("a", "b"):
        (tmp / name).mkdir()
        overrides = {"direct_timeout": 8.0, "acceptor_wait": 9.0} if upgrade else {}
        client = WzpClient(Identity.generate(), tmp / name, f"127.0.0.1:{relay.port}", race_overrides=overrides)
        sides.append(Side(client))
        await client.start()
        await client.wait_registered(10)
    a, b = sides
    loop = asyncio.get_running_loop()
    try:
        assert a.client.endpoint is not None and b.client.endpoint is not None
        undo: list[Callable[[], None]] = []
        if upgrade:
            undo = [cut(a.client, b.client.endpoint.port), cut(b.client, a.client.endpoint.port)]
        call_id = await a.client.place_call(b.client.identity.fingerprint)
        await b.wait("incoming", call_id=call_id)
        await b.client.answer(call_id, "trusted")
        if upgrade:
            for s in sides:
                await s.wait("audio", call_id=call_id)
            await until(lambda: all(s.session is not None and s.session.counters.received > 25 for s in sides))
            concealed = [s.session.jitter.stats().concealed for s in sides if s.session]
            for restore in undo:
                restore()
            for s in sides:
                await s.wait("path", call_id=call_id, path="direct")
            got = [s.session.counters.received for s in sides if s.session]
            await until(lambda: all(s.session.counters.received > g + 50 for s, g in zip(sides, got, strict=True)))  # type: ignore[union-attr]
            after = [s.session.jitter.stats().concealed for s in sides if s.session]
            return {"concealed": float(sum(x - y for x, y in zip(after, concealed, strict=True)))}
        for s in sides:
            await s.wait("path", call_id=call_id, path="direct")
        await until(lambda: all(s.client.calls[call_id].result.standby is not None for s in sides))  # type: ignore[union-attr]
        await until(lambda: all(s.session is not None and s.session.counters.received > 25 for s in sides))
        before = [s.session.counters.received for s in sides if s.session]
        cut_at = loop.time()
        undo = [cut(a.client, b.client.endpoint.port), cut(b.client, a.client.endpoint.port)]
        # Frames already in flight may still land just after the cut: wait for a real resumption.
        gaps = []
        for s in sides:
            await s.wait("path", call_id=call_id, reason="failover")
        detected = loop.time() - cut_at
        for s, n in zip(sides, before, strict=True):
            moved = s.session.counters.received  # type: ignore[union-attr]
            resumed = await until(lambda s=s, moved=moved: s.session.counters.received > moved)  # type: ignore[union-attr]
            gaps.append(resumed - cut_at)
            del n
        if not recover:
            return {"gap": max(gaps), "detected": detected}
        concealed = [s.session.jitter.stats().concealed for s in sides if s.session]
        PROBES.times.clear()
        restored_at = loop.time()
        for restore in undo:
            restore()
        for s in sides:
            await s.wait("path", call_id=call_id, reason="recovered")
        back = loop.time()
        probe = [t for t in PROBES.times if t <= back]
        got = [s.session.counters.received for s in sides if s.session]
        await until(lambda: all(s.session.counters.received > g + 50 for s, g in zip(sides, got, strict=True)))  # type: ignore[union-attr]
        after = [s.session.jitter.stats().concealed for s in sides if s.session]
        return {
            "restore": back - restored_at,
            "probe": back - probe[-1] if probe else float("nan"),
            "rounds": float(len(probe)),
            "concealed": float(sum(x - y for x, y in zip(after, concealed, strict=True))),
        }
    finally:
        for s in sides:
            await s.client.stop()


async def main(n: int) -> int:
    logging.basicConfig(level=logging.ERROR)
    race_log = logging.getLogger("app.call.race")
    race_log.setLevel(logging.INFO)
    race_log.addHandler(PROBES)
    race_log.propagate = False
    relay = await RelayServer.start("127.0.0.1:0", identity=Identity.generate())
    gaps: list[float] = []
    detected: list[float] = []
    concealed: list[float] = []
    restore: list[float] = []
    probe: list[float] = []
    rounds: list[float] = []
    back_concealed: list[float] = []
    try:
        for i in range(n):
            with tempfile.TemporaryDirectory() as tmp:
                r = await one_call(relay, Path(tmp), upgrade=False)
            gaps.append(r["gap"] * 1000)
            detected.append(r["detected"] * 1000)
            with tempfile.TemporaryDirectory() as tmp:
                concealed.append((await one_call(relay, Path(tmp), upgrade=True))["concealed"])
            with tempfile.TemporaryDirectory() as tmp:
                r = await one_call(relay, Path(tmp), upgrade=False, recover=True)
            restore.append(r["restore"] * 1000)
            probe.append(r["probe"] * 1000)
            rounds.append(r["rounds"])
            back_concealed.append(r["concealed"])
            print(
                f"  run {i + 1}: gap {gaps[-1]:.0f} ms, upgrade concealed {concealed[-1]:.0f},"
                f" recovered {restore[-1]:.0f} ms after the restore (probe {probe[-1]:.0f} ms,"
                f" {rounds[-1]:.0f} round(s)), concealed {back_concealed[-1]:.0f}",
                file=sys.stderr,
            )
    finally:
        await relay.stop()
    print(f"failover and upgrade on loopback, {n} runs each")
    print("| figure | median | p95 |\n|---|---|---|")
    print(f"| audio gap when the direct path dies (ms) | {statistics.median(gaps):.0f} | {p95(gaps):.0f} |")
    print(f"| cut -> failover decided on both sides (ms) | {statistics.median(detected):.0f} | {p95(detected):.0f} |")
    upgrade = f"{statistics.median(concealed):.0f} | {p95(concealed):.0f}"
    print(f"| frames concealed at a relay -> direct upgrade | {upgrade} |")
    print(
        f"| restore -> recovered to direct, both sides (ms) | {statistics.median(restore):.0f} | {p95(restore):.0f} |"
    )
    print(f"| dialer's probe round start -> recovered (ms) | {statistics.median(probe):.0f} | {p95(probe):.0f} |")
    back = f"{statistics.median(back_concealed):.0f} | {p95(back_concealed):.0f}"
    print(f"| frames concealed at the relay -> direct switch back | {back} |")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)))
