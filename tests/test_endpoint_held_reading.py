"""Reading the endpoint's socket in a media session's ticks (`QuicEndpoint.hold_reading`), on real
UDP sockets and QUIC connections on loopback."""

from __future__ import annotations

import asyncio
import select
import sys

import pytest

from app.net import QuicEndpoint, QuicPeerConnection
from app.net.endpoint import HELD_READ_GRACE_S

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="receive timestamps: Linux only")

T = 5.0


@pytest.fixture
async def connected():
    a = await QuicEndpoint.create("::", 0)
    b = await QuicEndpoint.create("::", 0)
    client, server = await asyncio.gather(a.connect(("127.0.0.1", b.port)), b.accept())
    yield a, b, client, server
    await a.close(grace=0)
    await b.close(grace=0)


class Received:
    """A datagram handler that keeps (data, arrival time given, loop time handled)."""

    def __init__(self, conn: QuicPeerConnection) -> None:
        self.items: list[tuple[bytes, float, float]] = []
        self.event = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        conn.set_datagram_handler(self)

    def __call__(self, data: bytes, at: float) -> None:
        self.items.append((data, at, self.loop.time()))
        self.event.set()

    async def next(self) -> bytes:
        await asyncio.wait_for(self.event.wait(), T)
        self.event.clear()
        return self.items[-1][0]


async def in_socket(endpoint: QuicEndpoint) -> None:
    """Until a datagram waits in the endpoint's socket (select on it, in a thread)."""
    fds = [sock.transport.get_extra_info("socket").fileno() for sock in endpoint._sockets.values()]
    readable, _, _ = await asyncio.to_thread(select.select, fds, [], [], T)
    assert readable, "nothing arrived"


async def test_held_reading_delivers_at_the_holders_read_with_the_arrival_time(connected) -> None:
    _a, b, client, server = connected
    got = Received(server)
    loop = asyncio.get_running_loop()
    assert b.hold_reading()
    sent_at = loop.time()
    client.send_datagram(b"frame 1")
    await in_socket(b)
    await asyncio.sleep(0.05)  # the holder's next tick comes later: the datagram ages in the socket
    assert got.items == []  # held: the loop did not read it
    b.read_waiting()
    (data, at, handled), *_ = got.items
    assert data == b"frame 1"
    # The time it arrived (the kernel's), not the time it was read.
    assert sent_at - 0.002 <= at <= sent_at + 0.02, (at - sent_at)
    assert handled - at >= 0.04
    # RTT samples use the arrival time too: the client's ACK was read 50 ms late, the RTT is not.
    server.send_datagram(b"reply")
    assert await asyncio.wait_for(client.recv_datagram(), T) == b"reply"
    client.send_datagram(b"frame 2")  # carries the ACK of "reply"
    await in_socket(b)
    await asyncio.sleep(0.05)
    b.read_waiting()
    assert got.items[-1][0] == b"frame 2"
    assert server.rtt is not None and server.rtt < 0.03, server.rtt


async def test_release_gives_the_reading_back_to_the_loop(connected) -> None:
    _a, b, client, server = connected
    got = Received(server)
    assert b.hold_reading() and b.hold_reading()  # two holders (two calls' media)
    b.release_reading()
    client.send_datagram(b"still held")
    await in_socket(b)
    assert got.items == []
    b.release_reading()  # the last holder: what waited is read now, then the loop reads again
    assert [item[0] for item in got.items] == [b"still held"]
    client.send_datagram(b"read by the loop")
    assert await got.next() == b"read by the loop"
    assert b._read_guard is None


async def test_a_holder_that_stops_reading_does_not_leave_the_socket_unread(connected) -> None:
    _a, b, client, server = connected
    got = Received(server)
    assert b.hold_reading()
    loop = asyncio.get_running_loop()
    sent_at = loop.time()
    client.send_datagram(b"nobody ticks")
    assert await got.next() == b"nobody ticks"  # the endpoint read it by itself
    assert got.items[0][2] - sent_at <= 2 * HELD_READ_GRACE_S + 0.5
    assert b.stats.by_reason.get("held-read-late", 0) >= 1


async def test_closing_a_held_endpoint() -> None:
    a = await QuicEndpoint.create("::", 0)
    assert a.hold_reading()
    await a.close(grace=0)
    assert a._read_guard is None and not a._held
    assert not a.hold_reading()
