"""The asyncio side of NAT-PMP and PCP: one UDP request/reply exchange with the gateway,
retransmitted (RFC 6886 §3.1: 250 ms, doubling), and the default gateway's address."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from app.nat.portmap.errors import PortMapError, PortMapProtocolError

__all__ = ["RETRY_DELAYS", "default_gateway", "exchange"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Waits after each send (RFC 6886 starts at 250 ms and doubles; we stop after three sends:
#: a gateway that says nothing in 1.75 s does not speak the protocol, and the call goes on).
RETRY_DELAYS = (0.25, 0.5, 1.0)


class _Proto(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue(maxsize=64)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.queue.full():
            self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        if not self.queue.full():
            self.queue.put_nowait(exc)


async def exchange(
    gateway: str,
    port: int,
    request: Callable[[str], bytes],
    decode: Callable[[bytes], T],
    *,
    delays: tuple[float, ...] = RETRY_DELAYS,
    what: str = "request",
) -> T:
    """Send ``request(local_ip)`` to ``gateway:port`` until ``decode`` accepts a reply.

    ``local_ip`` is our address towards the gateway (PCP puts it in the request). Replies that
    ``decode`` rejects with `PortMapProtocolError` (malformed, wrong nonce, wrong opcode) are
    ignored; a `PortMapRefused` ends the exchange; an ICMP error (nobody listens) too.
    """
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Proto, remote_addr=(gateway, port))
    try:
        local_ip = transport.get_extra_info("sockname")[0]
        data = request(local_ip)
        for delay in delays:
            transport.sendto(data)
            deadline = loop.time() + delay
            while (left := deadline - loop.time()) > 0:
                try:
                    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
                    # arrives together with a reply, and a cancelled renewal would go on forever.
                    async with asyncio.timeout(left):
                        item = await proto.queue.get()
                except TimeoutError:
                    break
                if isinstance(item, Exception):
                    raise PortMapError(f"{what}: {gateway}:{port} unreachable ({item})")
                try:
                    return decode(item)
                except PortMapProtocolError as exc:
                    log.info("port mapping: ignored a reply from %s:%d to %s: %s", gateway, port, what, exc)
        raise PortMapError(f"{what}: no answer from {gateway}:{port}")
    finally:
        transport.close()


def default_gateway(route_file: Path = Path("/proc/net/route")) -> str | None:
    """The IPv4 default gateway (Linux: /proc/net/route), else None."""
    try:
        lines = route_file.read_text().splitlines()[1:]
    except OSError:
        return _guess_gateway()
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[1] != "00000000" or not int(fields[3], 16) & 0x2:
            continue
        try:
            return str(ipaddress.IPv4Address(struct.pack("<I", int(fields[2], 16))))
        except (ValueError, struct.error):
            continue
    return None


def _guess_gateway() -> str | None:
    """No routing table to read (not Linux): the usual home-router address, x.y.z.1 of the
    address we would use towards the internet."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            own = ipaddress.IPv4Address(sock.getsockname()[0])
    except OSError:
        return None
    if own.is_loopback or own.is_unspecified:
        return None
    return str(ipaddress.IPv4Address((int(own) & 0xFFFFFF00) | 1))
