"""Small steps the call tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.client.client import WzpClient

TIMEOUT = 10.0


async def exchange_datagrams(a: WzpClient, b: WzpClient, call_id: str, timeout: float = TIMEOUT) -> None:
    """Bytes really flow both ways on the path each side carries the call on. Tests often wait for one
    side's `path` event only; the other side's path may come a moment later on a busy machine, so this
    first waits (bounded) until both sides carry the call."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while any(c.calls.get(call_id) is None or c.calls[call_id].result is None for c in (a, b)):
        if loop.time() > deadline:
            raise AssertionError(f"call {call_id} has no path on both sides after {timeout:g} s")
        await asyncio.sleep(0.01)  # the clients expose no awaitable for "has a path"; their event logs do
    conn_a = a.calls[call_id].result.conn  # type: ignore[union-attr]
    conn_b = b.calls[call_id].result.conn  # type: ignore[union-attr]
    conn_a.send_datagram(b"from a")
    assert await asyncio.wait_for(conn_b.recv_datagram(), timeout) == b"from a"
    conn_b.send_datagram(b"from b")
    assert await asyncio.wait_for(conn_a.recv_datagram(), timeout) == b"from b"


def cut_direct(client: WzpClient, peer_port: int) -> Callable[[], None]:
    """Drop every datagram `client` sends to `peer_port` (the direct path dies; the relay's traffic
    still flows), at its own socket: what an expired NAT mapping does. Returns the undo."""
    assert client.endpoint is not None
    endpoint = client.endpoint
    original = endpoint._sendto

    def sendto(data: bytes, addr: Any) -> None:
        if addr[1] != peer_port:
            original(data, addr)

    endpoint._sendto = sendto  # type: ignore[method-assign]
    return lambda: setattr(endpoint, "_sendto", original)
