"""Failover in about a second: a direct path that dies mid-call moves to the relay standby, and
moves back ("recovered") once a probe finds the direct path again.

Real relay, real clients, real media sessions (silence source, no devices) on loopback
QUIC. The direct path is cut by dropping, at both endpoints' sockets, every datagram
to the other client's port (the relay's traffic still goes through): exactly what a
NAT mapping that expires or a Wi-Fi that drops does to the peers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable

from helpers.calls import cut_direct
from helpers.events import EventLog

from app.call.path_policy import PathState
from app.client.client import WzpClient
from app.media.session import MediaSession
from app.media.session_factory import make_media_factory
from app.relay.server import RelayServer

T = 10.0


def with_media(client: WzpClient, sessions: dict[str, MediaSession], name: str) -> None:
    client.media_factory = make_media_factory(
        no_audio=True, emit=client.emit, on_session=lambda s: sessions.__setitem__(name, s)
    )


async def until(condition: Callable[[], bool], timeout: float = T) -> None:
    """For state no event reports (the standby is internal): check each loop turn, bounded."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def direct_call(relay: RelayServer, make_client) -> tuple[str, WzpClient, EventLog, WzpClient, EventLog, dict]:
    sessions: dict[str, MediaSession] = {}
    (a, la), (b, lb) = await make_client(relay.port, "a"), await make_client(relay.port, "b")
    with_media(a, sessions, "a")
    with_media(b, sessions, "b")
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "trusted")
    for log in (la, lb):
        path = await log.wait("path", call_id=call_id, path="direct")
        assert path.reason in ("first", "upgrade")
        first = await log.wait("audio", call_id=call_id)
        assert 0 <= first.first_audio_ms < 5000
    await until(lambda: all(c.calls[call_id].result.standby is not None for c in (a, b)))  # type: ignore[union-attr]
    return call_id, a, la, b, lb, sessions


async def test_a_dead_direct_path_fails_over_to_the_relay_in_about_a_second(relay: RelayServer, make_client) -> None:
    call_id, a, la, b, lb, sessions = await direct_call(relay, make_client)
    assert a.endpoint is not None and b.endpoint is not None
    loop = asyncio.get_running_loop()
    cut_at = loop.time()
    cut_direct(a, b.endpoint.port)
    cut_direct(b, a.endpoint.port)
    moved = [await log.wait("path", call_id=call_id, reason="failover") for log in (la, lb)]
    took = loop.time() - cut_at
    assert all(event.path == "relay" for event in moved)
    assert took < 3.0, f"failover took {took:.2f} s"  # a QUIC idle timeout would take 30 s
    # Audio flows again, through the relay's room, both ways; the call never ended.
    room = relay.rooms[call_id]
    before = {name: s.counters.received for name, s in sessions.items()}
    forwarded = room.forwarded
    await until(lambda: all(s.counters.received > before[n] + 10 for n, s in sessions.items()))
    assert room.forwarded > forwarded
    assert not la.matching("ended") and not lb.matching("ended")
    await a.hangup(call_id)
    assert (await lb.wait("ended", call_id=call_id)).reason == "Normal"


async def test_a_relay_that_goes_away_does_not_touch_a_direct_call(start_relay, make_client) -> None:
    relay = await start_relay()
    call_id, a, la, b, lb, sessions = await direct_call(relay, make_client)
    await relay.stop()  # the relay restarts (or dies): the standby goes, the direct call stays
    await until(lambda: all(c.calls[call_id].race.paths.get("relay") is None for c in (a, b)))  # type: ignore[union-attr]
    before = sessions["b"].counters.received
    await until(lambda: sessions["b"].counters.received > before + 25)
    assert a.calls[call_id].result.path == "direct"  # type: ignore[union-attr]
    assert not la.matching("ended") and not lb.matching("ended")
    assert not la.matching("path", reason="failover")


async def test_an_upgrade_to_direct_loses_no_frame(relay: RelayServer, make_client) -> None:
    """Direct is blocked at first, so the relay carries the audio from the start; once the direct
    path opens, the call moves to it without a lost or doubled frame (both paths carry copies
    for a moment; the replay window drops the second copy)."""
    sessions: dict[str, MediaSession] = {}
    slow = {"direct_timeout": 8.0, "acceptor_wait": 9.0}
    (a, la), (b, lb) = (
        await make_client(relay.port, "a", race_overrides=slow),
        await make_client(relay.port, "b", race_overrides=slow),
    )
    with_media(a, sessions, "a")
    with_media(b, sessions, "b")
    assert a.endpoint is not None and b.endpoint is not None
    undo = [cut_direct(a, b.endpoint.port), cut_direct(b, a.endpoint.port)]
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "trusted")
    for log in (la, lb):
        first = await log.wait("path", call_id=call_id)
        assert (first.path, first.reason) == ("relay", "first")
        assert (await log.wait("audio", call_id=call_id)).path == "relay"
    await until(lambda: all(s.counters.received > 25 for s in sessions.values()))  # steady on the relay
    concealed = {n: s.jitter.stats().concealed for n, s in sessions.items()}
    for restore in undo:
        restore()  # the direct path opens: the dialer's retransmitted handshake gets through
    for log in (la, lb):
        upgrade = await log.wait("path", call_id=call_id, path="direct")
        assert upgrade.reason == "upgrade"
    received = {n: s.counters.received for n, s in sessions.items()}
    await until(lambda: all(s.counters.received > received[n] + 50 for n, s in sessions.items()))  # 1 s more
    for name, session in sessions.items():
        assert session.jitter.stats().concealed == concealed[name], f"{name} concealed frames at the switch"
        assert session.counters.bad == 0
    assert any(s.counters.overlap_sent > 0 for s in sessions.values())
    assert not la.matching("ended") and not lb.matching("ended")


async def test_a_direct_path_that_comes_back_carries_the_call_again(relay: RelayServer, make_client) -> None:
    """direct -> direct cut -> failover to the relay -> direct restored -> a probe round re-dials and
    re-checks the peer -> recovered to direct; the audio flows on each path in turn."""
    call_id, a, la, b, lb, sessions = await direct_call(relay, make_client)
    assert a.endpoint is not None and b.endpoint is not None
    room = relay.rooms[call_id]
    loop = asyncio.get_running_loop()

    async def frames_flow(count: int) -> int:
        """Both sides receive `count` more frames; returns how many the relay's room forwarded meanwhile."""
        before = {n: s.counters.received for n, s in sessions.items()}
        forwarded = room.forwarded
        await until(lambda: all(s.counters.received >= before[n] + count for n, s in sessions.items()), 20.0)
        return room.forwarded - forwarded

    await asyncio.sleep(0.4)  # past the first switch's overlap (0.3 s), if the call upgraded
    assert await frames_flow(25) < 10  # on direct: the relay only carries the standby's reports
    held = (a.endpoint._read_holds, b.endpoint._read_holds)
    if sys.platform.startswith("linux"):
        assert held == (1, 1)  # settled: each side's audio reads the socket in its frame ticks

    undo = [cut_direct(a, b.endpoint.port), cut_direct(b, a.endpoint.port)]
    for log in (la, lb):
        assert (await log.wait("path", call_id=call_id, reason="failover")).path == "relay"
    assert await frames_flow(25) >= 25  # on the relay: the room forwards the audio

    # While the cut lasts, the dialer's first probe round (3 s after the failover) finds nothing;
    # the audio keeps flowing through the relay all along.
    dialer = next(c for c in (a, b) if c.calls[call_id].race.p.role == "dialer")  # type: ignore[union-attr]
    policy = dialer.calls[call_id].race.policy  # type: ignore[union-attr]
    received = {n: s.counters.received for n, s in sessions.items()}
    await until(lambda: policy.direct is PathState.PROBING, 10.0)
    # A probe round's handshakes are read as they come, not at the next frame tick.
    assert dialer.endpoint is not None and dialer.endpoint._read_holds == 0
    await until(lambda: policy.probes == 1 and policy.direct is PathState.FAILED, 10.0)  # the round is over
    assert all(s.counters.received > received[n] + 100 for n, s in sessions.items())  # 2+ s of audio
    assert dialer.calls[call_id].result.path == "relay"  # type: ignore[union-attr]

    for restore in undo:
        restore()
    restored_at = loop.time()
    concealed = {n: s.jitter.stats().concealed for n, s in sessions.items()}
    for log in (la, lb):
        back = await log.wait("path", call_id=call_id, reason="recovered", timeout=25.0)
        assert back.path == "direct"
    took = loop.time() - restored_at
    await asyncio.sleep(0.4)  # past the overlap: the relay copy of each frame stops
    assert await frames_flow(50) < 10, "after recovering, the audio still goes through the relay"
    for name, session in sessions.items():
        assert session.jitter.stats().concealed == concealed[name], f"{name} concealed frames at the switch back"

    for log in (la, lb):
        paths = [(e.path, e.reason) for e in log.matching("path", call_id=call_id)]
        assert paths[-3:] == [("direct", paths[-3][1]), ("relay", "failover"), ("direct", "recovered")], paths
        assert paths[-3][1] in ("first", "upgrade")
    assert took < 20.0, f"recovered {took:.1f} s after the restore"
    if sys.platform.startswith("linux"):
        assert (a.endpoint._read_holds, b.endpoint._read_holds) == (1, 1)  # settled again
    assert not la.matching("ended") and not lb.matching("ended")
    await a.hangup(call_id)
    assert (await lb.wait("ended", call_id=call_id)).reason == "Normal"
