"""PCP (RFC 6887) MAP requests and replies, sans-IO.

A MAP request carries a 96-bit random nonce; a reply counts only if it is a PCP
version 2 response to MAP with the same nonce, protocol and internal port.
Anything else is a `PortMapProtocolError` (ignored by the caller); an answer
with an error result is a `PortMapRefused`.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from app.nat.portmap.errors import PortMapProtocolError, PortMapRefused

__all__ = ["NONCE_LEN", "PCP_PORT", "MapReply", "decode_map_reply", "encode_map_request"]

PCP_PORT = 5351
VERSION = 2
OP_MAP = 1
_RESPONSE = 0x80
NONCE_LEN = 12
PROTO_UDP = 17
HEADER_LEN = 24
MAP_LEN = 36

RESULTS = {
    0: "SUCCESS",
    1: "UNSUPP_VERSION",
    2: "NOT_AUTHORIZED",
    3: "MALFORMED_REQUEST",
    4: "UNSUPP_OPCODE",
    5: "UNSUPP_OPTION",
    6: "MALFORMED_OPTION",
    7: "NETWORK_FAILURE",
    8: "NO_RESOURCES",
    9: "UNSUPP_PROTOCOL",
    10: "USER_EX_QUOTA",
    11: "CANNOT_PROVIDE_EXTERNAL",
    12: "ADDRESS_MISMATCH",
    13: "EXCESSIVE_REMOTE_PEERS",
}


@dataclass(frozen=True, slots=True)
class MapReply:
    lifetime: int
    epoch: int
    internal_port: int
    external_port: int
    external_ip: str


def _v6_bytes(ip: str) -> bytes:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv4Address):
        addr = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + addr.packed)
    return addr.packed


def _from_v6_bytes(raw: bytes) -> str:
    addr = ipaddress.IPv6Address(raw)
    return str(addr.ipv4_mapped) if addr.ipv4_mapped is not None else str(addr)


def encode_map_request(
    nonce: bytes,
    client_ip: str,
    internal_port: int,
    lifetime: int,
    *,
    external_port: int = 0,
    external_ip: str = "0.0.0.0",
) -> bytes:
    """A MAP request for UDP ``internal_port``; ``lifetime`` 0 (same nonce) deletes the mapping.

    ``client_ip`` must be the source address of the request as the server sees it (the
    address our socket uses towards the gateway), else the server answers ADDRESS_MISMATCH.
    """
    if len(nonce) != NONCE_LEN:
        raise ValueError(f"PCP nonce must be {NONCE_LEN} bytes")
    if not 1 <= internal_port <= 0xFFFF or not 0 <= external_port <= 0xFFFF:
        raise ValueError("port out of range")
    if not 0 <= lifetime <= 0xFFFFFFFF:
        raise ValueError("lifetime out of range")
    header = struct.pack("!BBHI", VERSION, OP_MAP, 0, lifetime) + _v6_bytes(client_ip)
    body = nonce + struct.pack("!B3xHH", PROTO_UDP, internal_port, external_port) + _v6_bytes(external_ip)
    return header + body


def decode_map_reply(data: bytes, nonce: bytes, internal_port: int) -> MapReply:
    """The reply to our MAP request (``nonce``, UDP ``internal_port``)."""
    if not isinstance(data, (bytes, bytearray)) or len(data) < HEADER_LEN:
        raise PortMapProtocolError(f"PCP reply too short ({len(data)} bytes)")
    if len(data) > 1100 or len(data) % 4:
        raise PortMapProtocolError(f"PCP reply has an invalid length ({len(data)} bytes)")
    version, r_op, _, result, lifetime, epoch = struct.unpack_from("!BBBBII", data)
    if version != VERSION:
        # A NAT-PMP-only gateway answers a PCP request with version 0, result 1 (RFC 6887 §9).
        raise PortMapRefused(f"PCP not supported by the gateway (reply version {version})")
    if r_op != _RESPONSE | OP_MAP:
        raise PortMapProtocolError(f"PCP reply opcode {r_op:#x} does not answer MAP")
    if len(data) < HEADER_LEN + MAP_LEN:
        if result != 0:  # some errors come without the MAP payload: cannot be matched to a nonce
            raise PortMapProtocolError(f"PCP error {RESULTS.get(result, result)} without a MAP payload")
        raise PortMapProtocolError(f"PCP MAP reply too short ({len(data)} bytes)")
    body = bytes(data[HEADER_LEN : HEADER_LEN + MAP_LEN])
    if body[:NONCE_LEN] != nonce:
        raise PortMapProtocolError("PCP reply nonce does not match our request")
    proto, internal, external = struct.unpack_from("!B3xHH", body, NONCE_LEN)
    if proto != PROTO_UDP or internal != internal_port:
        raise PortMapProtocolError(f"PCP reply is for protocol {proto} port {internal}, not UDP {internal_port}")
    if result != 0:
        raise PortMapRefused(f"PCP result {result} ({RESULTS.get(result, 'unknown')})")
    external_ip = _from_v6_bytes(body[20:36])
    if lifetime and (not external or ipaddress.ip_address(external_ip).is_unspecified):
        raise PortMapProtocolError(f"PCP reply maps to an unusable address {external_ip}:{external}")
    return MapReply(lifetime, epoch, internal, external, external_ip)
