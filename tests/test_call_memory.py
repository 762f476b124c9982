"""An ended call keeps nothing alive: after N calls, tasks and fds are where they were, and every
object of the ended calls (media sessions, Opus states, jitter buffers, QUIC connections) is gone.

Real clients, a real relay and real QUIC on loopback (direct path), audio-less sessions. Python's
automatic garbage collector is off for the test, so what frees an ended call is the client's own
reclaim (app/memory.py), not luck: aioquic connections are reference cycles and live until a
full collection. The 500-call RSS figure comes from bench/bench_call_cost.py.
"""

from __future__ import annotations

import asyncio
import gc
import os
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import events as ev
from app.client.client import WzpClient
from app.identity import Identity
from app.media.session import MediaSession
from app.media.session_factory import make_media_factory
from app.relay.server import RelayServer

CALLS = 4
TIMEOUT = 15.0


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Side:
    def __init__(self, client: WzpClient) -> None:
        self.client = client
        self.events: asyncio.Queue[ev.ClientEvent] = asyncio.Queue()
        self.sessions: list[MediaSession] = []
        client.add_listener(self.events.put_nowait)
        client.media_factory = make_media_factory(no_audio=True, emit=client.emit, on_session=self.sessions.append)
        client.reclaim_after = 0.2

    async def until(self, kind: type[Any], call_id: str) -> Any:
        async def wait() -> Any:
            while True:
                event = await self.events.get()
                if isinstance(event, kind) and getattr(event, "call_id", None) == call_id:
                    return event

        return await asyncio.wait_for(wait(), TIMEOUT)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_ended_calls_leave_no_tasks_fds_or_call_objects(tmp_path: Path, no_automatic_gc: None) -> None:
    relay = await RelayServer.start("127.0.0.1:0", identity=Identity.generate())
    addr = f"127.0.0.1:{relay.port}"
    a = Side(WzpClient(Identity.generate(), tmp_path / "a", addr))
    b = Side(WzpClient(Identity.generate(), tmp_path / "b", addr))
    b.client.add_listener(
        lambda e: asyncio.ensure_future(b.client.answer(e.call_id, "trusted")) if isinstance(e, ev.Incoming) else None
    )
    tracked: list[weakref.ref[Any]] = []
    try:
        for side in (a, b):
            await side.client.start()
            await side.client.wait_registered(TIMEOUT)

        async def one_call(track: bool) -> None:
            call_id = await a.client.place_call(b.client.identity.fingerprint)
            await a.until(ev.FirstAudio, call_id)
            await b.until(ev.FirstAudio, call_id)
            if track:
                for side in (a, b):
                    call = side.client.calls[call_id]
                    assert call.result is not None and call.media is not None
                    session = side.sessions[-1]
                    objects: list[Any] = [call, session, session.encoder, session.decoder, session.jitter]
                    objects += [call.result.conn, *(c for c in [call.result.standby] if c is not None)]
                    tracked.extend(weakref.ref(o) for o in objects)
                    del call, session, objects
            for side in (a, b):
                side.sessions.clear()  # (this test's own reference)
                side.client.reclaimed.clear()
            await a.client.hangup(call_id)
            await b.until(ev.Ended, call_id)
            for side in (a, b):
                await asyncio.wait_for(side.client.reclaimed.wait(), TIMEOUT)

        await one_call(track=False)  # first call: one-time growth (imports, caches) is not counted
        tasks, fds = len(asyncio.all_tasks()), _fds()
        for _ in range(CALLS):
            await one_call(track=True)
        assert len(asyncio.all_tasks()) == tasks, [t.get_coro() for t in asyncio.all_tasks()]
        assert _fds() <= fds  # no growth (an earlier test's socket may close meanwhile)
        alive = [type(o).__name__ for r in tracked if (o := r()) is not None]
        assert len(tracked) >= CALLS * 2 * 6
        assert alive == [], f"objects of ended calls still alive: {alive}"
    finally:
        for side in (a, b):
            await side.client.stop()
        await relay.stop()
