"""NAT-PMP (RFC 6886) requests and replies, sans-IO.

Requests go to the gateway's UDP port 5351. Every reply is checked against the
request it answers (version, opcode, internal port); anything else is a
`PortMapProtocolError` and is ignored by the caller, never trusted.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Literal

from app.nat.portmap.errors import PortMapProtocolError, PortMapRefused

__all__ = [
    "NATPMP_PORT",
    "OP_MAP_TCP",
    "OP_MAP_UDP",
    "OP_PUBLIC_ADDRESS",
    "MapReply",
    "PublicAddressReply",
    "decode_map_reply",
    "decode_public_address_reply",
    "encode_map_request",
    "encode_public_address_request",
]

NATPMP_PORT = 5351
VERSION = 0
OP_PUBLIC_ADDRESS = 0
OP_MAP_UDP = 1
OP_MAP_TCP = 2
_REPLY = 0x80

RESULTS = {
    0: "success",
    1: "unsupported version",
    2: "not authorized / refused",
    3: "network failure",
    4: "out of resources",
    5: "unsupported opcode",
}


@dataclass(frozen=True, slots=True)
class PublicAddressReply:
    epoch: int
    address: str


@dataclass(frozen=True, slots=True)
class MapReply:
    epoch: int
    internal_port: int
    external_port: int
    lifetime: int


def _port(value: int, what: str, *, zero_ok: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (0 if zero_ok else 1) <= value <= 0xFFFF:
        raise ValueError(f"{what} must be a port number, got {value!r}")
    return value


def encode_public_address_request() -> bytes:
    return struct.pack("!BB", VERSION, OP_PUBLIC_ADDRESS)


def encode_map_request(
    internal_port: int, external_port: int, lifetime: int, *, protocol: Literal["udp", "tcp"] = "udp"
) -> bytes:
    """A mapping request; ``lifetime`` 0 with ``external_port`` 0 deletes the mapping."""
    _port(internal_port, "internal port")
    _port(external_port, "suggested external port", zero_ok=True)
    if not 0 <= lifetime <= 0xFFFFFFFF:
        raise ValueError(f"lifetime out of range: {lifetime!r}")
    op = OP_MAP_UDP if protocol == "udp" else OP_MAP_TCP
    return struct.pack("!BBHHHI", VERSION, op, 0, internal_port, external_port, lifetime)


def _header(data: bytes, op: int, size: int) -> int:
    """Check version/opcode/length of a reply to `op`; return its epoch. Raises on a refusal."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < 4:
        raise PortMapProtocolError(f"NAT-PMP reply too short ({len(data)} bytes)")
    version, opcode, result = struct.unpack_from("!BBH", data)
    if version != VERSION:
        raise PortMapProtocolError(f"NAT-PMP reply has version {version}")
    if opcode != _REPLY | op:
        raise PortMapProtocolError(f"NAT-PMP reply opcode {opcode} does not answer opcode {op}")
    if result != 0:
        raise PortMapRefused(f"NAT-PMP result {result} ({RESULTS.get(result, 'unknown')})")
    if len(data) < size:
        raise PortMapProtocolError(f"NAT-PMP reply to opcode {op} has {len(data)} bytes, expected {size}")
    return struct.unpack_from("!I", data, 4)[0]


def decode_public_address_reply(data: bytes) -> PublicAddressReply:
    epoch = _header(data, OP_PUBLIC_ADDRESS, 12)
    address = ipaddress.IPv4Address(bytes(data[8:12]))
    if address.is_unspecified:
        raise PortMapProtocolError("NAT-PMP gateway has no public address (0.0.0.0)")
    return PublicAddressReply(epoch, str(address))


def decode_map_reply(data: bytes, internal_port: int, *, protocol: Literal["udp", "tcp"] = "udp") -> MapReply:
    """The reply to a mapping request for ``internal_port``."""
    op = OP_MAP_UDP if protocol == "udp" else OP_MAP_TCP
    epoch = _header(data, op, 16)
    internal, external, lifetime = struct.unpack_from("!HHI", data, 8)
    if internal != internal_port:
        raise PortMapProtocolError(f"NAT-PMP reply is for internal port {internal}, not {internal_port}")
    if lifetime and not external:
        raise PortMapProtocolError("NAT-PMP reply maps to external port 0")
    return MapReply(epoch, internal, external, lifetime)
