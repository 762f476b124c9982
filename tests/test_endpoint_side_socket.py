"""A connection carried on a side socket of the endpoint (port spraying), on real UDP."""

from __future__ import annotations

import asyncio
import socket

from app.net import QuicEndpoint


async def test_connection_runs_on_the_side_socket_it_was_dialed_from() -> None:
    a = await QuicEndpoint.create("::", 0)
    b = await QuicEndpoint.create("::", 0)
    try:
        side = await a.open_side_socket()
        assert side.port not in (0, a.port)
        client = a.start_connect(("127.0.0.1", b.port), via=side)
        server = await asyncio.wait_for(b.accept(), 5)
        await asyncio.wait_for(client.wait_connected(), 5)
        assert server.remote == ("127.0.0.1", side.port)  # the peer sees the side socket's port
        client.send_datagram(b"out")
        assert await asyncio.wait_for(server.recv_datagram(), 5) == b"out"
        server.send_datagram(b"back")  # the reply reaches the side socket, found by its CID
        assert await asyncio.wait_for(client.recv_datagram(), 5) == b"back"

        # Not QUIC (fixed bit clear): handed to on_raw, not to the connection table.
        got: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        side.on_raw = lambda data, addr: got.put_nowait((data, addr))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.sendto(b"\x00probe", ("127.0.0.1", side.port))
            data, addr = await asyncio.wait_for(got.get(), 5)
            assert data == b"\x00probe" and addr == ("127.0.0.1", probe.getsockname()[1])
        # A side socket never starts server connections: a dial to it gets nothing.
        before = a.stats.by_reason.get("unknown-cid", 0)
        stray = b.start_connect(("127.0.0.1", side.port))
        await asyncio.sleep(0)
        for _ in range(50):
            if a.stats.by_reason.get("unknown-cid", 0) > before:
                break
            await asyncio.sleep(0.01)
        assert a.stats.by_reason.get("unknown-cid", 0) > before
        assert not any(not c.is_client for c in a.connections)
        stray.abort()
    finally:
        await a.close()
        await b.close()
    assert side.closed  # the endpoint closed its side sockets too
