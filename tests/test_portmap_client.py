"""PortMapper's NAT-PMP client against a NAT-PMP gateway on real UDP (127.0.0.1): replies that
do not answer the request are ignored, the lease is renewed before it expires, and the
mapping is deleted on close. (miniupnpd itself, with all three protocols: tests/lab/test_portmap.py.)"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from app.nat.portmap import PortMapper
from app.nat.portmap.natpmp import OP_MAP_UDP, OP_PUBLIC_ADDRESS

PUBLIC = bytes([11, 0, 13, 2])


class Gateway(asyncio.DatagramProtocol):
    """Answers NAT-PMP like a router, after a garbage reply and a reply for another port."""

    def __init__(self, lifetime: int) -> None:
        self.lifetime = lifetime
        self.requests: asyncio.Queue[tuple[int, int, int]] = asyncio.Queue()  # (op, internal port, lifetime)
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self.transport is not None
        op = data[1]
        if op == OP_PUBLIC_ADDRESS:
            self.requests.put_nowait((op, 0, 0))
            self.transport.sendto(struct.pack("!BBHI", 0, 0x80, 0, 1) + PUBLIC, addr)
            return
        _, _, _, internal, _suggested, lifetime = struct.unpack("!BBHHHI", data)
        self.requests.put_nowait((op, internal, lifetime))
        self.transport.sendto(b"\x00\x81", addr)  # truncated
        self.transport.sendto(struct.pack("!BBHIHHI", 0, 0x81, 0, 1, internal + 1, 6000, 60), addr)  # other port
        granted = min(lifetime, self.lifetime)
        external = 6000 if lifetime else 0
        self.transport.sendto(struct.pack("!BBHIHHI", 0, 0x80 | op, 0, 1, internal, external, granted), addr)


async def test_natpmp_lease_is_renewed_and_deleted() -> None:
    loop = asyncio.get_running_loop()
    transport, gateway = await loop.create_datagram_endpoint(lambda: Gateway(lifetime=2), local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    states: list[str] = []
    mapper = PortMapper(
        47001,
        methods=["natpmp"],
        gateway="127.0.0.1",
        gateway_port=port,
        on_change=lambda status: states.append(status.state),
    )
    try:
        mapper.start()
        mapping = await mapper.wait_settled(5.0)
        assert mapping is not None, mapper.status
        assert (mapping.method, mapping.external, mapping.lifetime) == ("natpmp", "11.0.13.2:6000", 2)
        assert await asyncio.wait_for(gateway.requests.get(), 1) == (OP_PUBLIC_ADDRESS, 0, 0)
        assert await asyncio.wait_for(gateway.requests.get(), 1) == (OP_MAP_UDP, 47001, 7200)
        # Granted 2 s: renewed after half of it, before it expires.
        start = loop.time()
        assert await asyncio.wait_for(gateway.requests.get(), 3) == (OP_MAP_UDP, 47001, 7200)
        assert 0.5 <= loop.time() - start <= 2.0
        assert mapper.status.state == "mapped"
        await mapper.close()
        while (request := await asyncio.wait_for(gateway.requests.get(), 1)) != (OP_MAP_UDP, 47001, 0):
            assert request == (OP_MAP_UDP, 47001, 7200)  # a renewal sent before the close; then the delete
        assert states[0] == "mapped" and states[-1] == "closed"
    finally:
        await mapper.close()
        transport.close()


async def test_silent_gateway_fails_quietly() -> None:
    """Nobody answers (a closed port: ICMP unreachable): the mapping fails, nothing raises."""
    mapper = PortMapper(47001, methods=["natpmp", "pcp"], gateway="127.0.0.1", gateway_port=9)
    mapper.start()
    assert await mapper.wait_settled(5.0) is None
    assert mapper.status.state == "failed"
    assert set(mapper.status.answers) == {"natpmp", "pcp"}
    await mapper.close()
