"""NAT-PMP (RFC 6886) and PCP (RFC 6887) codecs: requests byte for byte, replies accepted only
when they answer our request (malformed, wrong-opcode and wrong-nonce replies are refused)."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.nat.portmap import natpmp, pcp
from app.nat.portmap.errors import PortMapProtocolError, PortMapRefused
from app.nat.portmap.udp import default_gateway

# ------------------------------------------------------------------ NAT-PMP


def test_natpmp_requests_are_the_rfc_bytes() -> None:
    assert natpmp.encode_public_address_request() == b"\x00\x00"
    req = natpmp.encode_map_request(47001, 47001, 7200)
    assert req == struct.pack("!BBHHHI", 0, 1, 0, 47001, 47001, 7200)
    assert len(req) == 12
    assert natpmp.encode_map_request(5000, 0, 0)[8:] == b"\0\0\0\0"  # delete: lifetime 0
    with pytest.raises(ValueError):
        natpmp.encode_map_request(0, 1, 10)
    with pytest.raises(ValueError):
        natpmp.encode_map_request(1, 70000, 10)


def _pub_reply(result: int = 0, op: int = 0x80, ip: str = "11.0.13.2", version: int = 0) -> bytes:
    return struct.pack("!BBHI", version, op, result, 1234) + ipaddress.IPv4Address(ip).packed


def _map_reply(result: int = 0, op: int = 0x81, internal: int = 5000, external: int = 6000, life: int = 60) -> bytes:
    return struct.pack("!BBHIHHI", 0, op, result, 99, internal, external, life)


def test_natpmp_public_address_reply() -> None:
    reply = natpmp.decode_public_address_reply(_pub_reply())
    assert (reply.address, reply.epoch) == ("11.0.13.2", 1234)


def test_natpmp_map_reply() -> None:
    reply = natpmp.decode_map_reply(_map_reply(), 5000)
    assert (reply.internal_port, reply.external_port, reply.lifetime, reply.epoch) == (5000, 6000, 60, 99)
    deleted = natpmp.decode_map_reply(_map_reply(external=0, life=0), 5000)
    assert deleted.lifetime == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", PortMapProtocolError),
        (b"\x00", PortMapProtocolError),
        (_map_reply()[:12], PortMapProtocolError),  # truncated
        (_map_reply(op=0x82), PortMapProtocolError),  # answers a TCP request
        (_map_reply(op=0x01), PortMapProtocolError),  # a request, not a reply
        (_pub_reply(), PortMapProtocolError),  # answers another opcode
        (_map_reply(internal=5001), PortMapProtocolError),  # another port's mapping
        (_map_reply(external=0, life=60), PortMapProtocolError),  # mapped to port 0
        (b"\x01" + _map_reply()[1:], PortMapProtocolError),  # wrong version
        (_map_reply(result=2), PortMapRefused),  # not authorized
        (_map_reply(result=4), PortMapRefused),  # out of resources
    ],
)
def test_natpmp_map_reply_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        natpmp.decode_map_reply(data, 5000)


def test_natpmp_public_address_malformed() -> None:
    with pytest.raises(PortMapProtocolError):
        natpmp.decode_public_address_reply(_pub_reply()[:11])
    with pytest.raises(PortMapProtocolError):
        natpmp.decode_public_address_reply(_pub_reply(ip="0.0.0.0"))
    with pytest.raises(PortMapRefused):
        natpmp.decode_public_address_reply(_pub_reply(result=3))


# ------------------------------------------------------------------ PCP

NONCE = bytes(range(12))


def test_pcp_map_request_layout() -> None:
    req = pcp.encode_map_request(NONCE, "192.168.1.10", 47001, 7200, external_port=47001)
    assert len(req) == 60
    version, op, _, lifetime = struct.unpack_from("!BBHI", req)
    assert (version, op, lifetime) == (2, 1, 7200)
    assert req[8:24] == b"\0" * 10 + b"\xff\xff" + bytes([192, 168, 1, 10])  # IPv4-mapped client IP
    assert req[24:36] == NONCE
    proto, internal, external = struct.unpack_from("!B3xHH", req, 36)
    assert (proto, internal, external) == (17, 47001, 47001)
    assert req[44:60] == b"\0" * 10 + b"\xff\xff" + b"\0\0\0\0"
    with pytest.raises(ValueError):
        pcp.encode_map_request(b"short", "192.168.1.10", 1, 1)


def _pcp_reply(
    *,
    result: int = 0,
    nonce: bytes = NONCE,
    op: int = 0x81,
    version: int = 2,
    proto: int = 17,
    internal: int = 5000,
    external: int = 6000,
    ip: str = "11.0.13.2",
    life: int = 120,
) -> bytes:
    header = struct.pack("!BBBBII", version, op, 0, result, life, 777) + b"\0" * 12
    ext = b"\0" * 10 + b"\xff\xff" + ipaddress.IPv4Address(ip).packed
    return header + nonce + struct.pack("!B3xHH", proto, internal, external) + ext


def test_pcp_map_reply() -> None:
    reply = pcp.decode_map_reply(_pcp_reply(), NONCE, 5000)
    assert (reply.external_ip, reply.external_port, reply.lifetime, reply.epoch) == ("11.0.13.2", 6000, 120, 777)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", PortMapProtocolError),
        (_pcp_reply()[:23], PortMapProtocolError),
        (_pcp_reply()[:40], PortMapProtocolError),  # header only part of the MAP payload
        (_pcp_reply() + b"\0", PortMapProtocolError),  # not a multiple of 4
        (_pcp_reply(nonce=b"\xff" * 12), PortMapProtocolError),  # wrong nonce: not our request
        (_pcp_reply(op=0x82), PortMapProtocolError),  # PEER, not MAP
        (_pcp_reply(op=0x01), PortMapProtocolError),  # a request, not a response
        (_pcp_reply(proto=6), PortMapProtocolError),  # TCP
        (_pcp_reply(internal=5001), PortMapProtocolError),
        (_pcp_reply(external=0), PortMapProtocolError),
        (_pcp_reply(ip="0.0.0.0"), PortMapProtocolError),
        (_pcp_reply(result=2), PortMapRefused),  # NOT_AUTHORIZED
        (_pcp_reply(result=8), PortMapRefused),  # NO_RESOURCES
        (_pcp_reply(version=0), PortMapRefused),  # a NAT-PMP-only gateway
    ],
)
def test_pcp_map_reply_refused(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        pcp.decode_map_reply(data, NONCE, 5000)


def test_pcp_error_with_wrong_nonce_is_not_a_refusal() -> None:
    """An error for someone else's request must not end our exchange."""
    with pytest.raises(PortMapProtocolError):
        pcp.decode_map_reply(_pcp_reply(result=2, nonce=b"\x01" * 12), NONCE, 5000)


@given(st.binary(max_size=200))
def test_decoders_never_crash_on_garbage(data: bytes) -> None:
    for decode in (
        lambda d: natpmp.decode_map_reply(d, 5000),
        natpmp.decode_public_address_reply,
        lambda d: pcp.decode_map_reply(d, NONCE, 5000),
    ):
        try:
            decode(data)
        except (PortMapProtocolError, PortMapRefused):
            pass


def test_default_gateway_from_route_table(tmp_path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    )
    assert default_gateway(table) == "192.168.1.1"
    table.write_text("Iface\tDestination\tGateway\n")
    assert default_gateway(table) is None
