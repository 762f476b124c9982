"""Tests for app.nat.addresses."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.nat.addresses import (
    AddressError,
    format_addr,
    is_ipv6,
    normalize_host,
    normalize_sockaddr,
    parse_addr,
    parse_ip,
    to_socket_addr,
)

# --- format_addr -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("1.2.3.4", 5, "1.2.3.4:5"),
        ("203.0.113.5", 4433, "203.0.113.5:4433"),
        ("2001:db8::1", 5, "[2001:db8::1]:5"),
        ("2001:DB8:0:0:0:0:0:1", 5, "[2001:db8::1]:5"),
        ("[2001:db8::1]", 5, "[2001:db8::1]:5"),
        ("::ffff:1.2.3.4", 5, "1.2.3.4:5"),
        ("::ffff:c000:0201", 65535, "192.0.2.1:65535"),
        ("fe80::1%eth0", 1, "[fe80::1]:1"),
        ("2001:db8::1%3", 7, "[2001:db8::1]:7"),
        ("::1", 80, "[::1]:80"),
    ],
)
def test_format_addr(host: str, port: int, expected: str) -> None:
    assert format_addr(host, port) == expected


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("example.com", 5),
        ("", 5),
        ("1.2.3.4", 0),
        ("1.2.3.4", 65536),
        ("1.2.3.4", -1),
        ("1.2.3.4%eth0", 5),
        ("fe80::1%", 5),
        ("01.2.3.4", 5),
        ("1.2.3.4", True),
    ],
)
def test_format_addr_rejects(host: str, port: int) -> None:
    with pytest.raises(AddressError):
        format_addr(host, port)


def test_format_addr_rejects_non_int_port() -> None:
    with pytest.raises(AddressError):
        format_addr("1.2.3.4", "5")  # type: ignore[arg-type]


# --- parse_addr --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3.4:5", ("1.2.3.4", 5)),
        ("  10.0.0.1:4433\n", ("10.0.0.1", 4433)),
        ("[2001:db8::1]:5", ("2001:db8::1", 5)),
        ("[2001:DB8::0:1]:65535", ("2001:db8::1", 65535)),
        ("[::ffff:1.2.3.4]:5", ("1.2.3.4", 5)),
        ("[fe80::1%eth0]:9", ("fe80::1", 9)),
        ("[::1]:1", ("::1", 1)),
        ("1.2.3.4:00080", ("1.2.3.4", 80)),
    ],
)
def test_parse_addr(text: str, expected: tuple[str, int]) -> None:
    assert parse_addr(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1.2.3.4", "missing ':port'"),
        ("1.2.3.4:", "missing port"),
        ("1.2.3.4:0", "out of range"),
        ("1.2.3.4:65536", "out of range"),
        ("1.2.3.4:123456", "invalid port"),
        ("1.2.3.4:+5", "invalid port"),
        ("1.2.3.4:-5", "invalid port"),
        ("1.2.3.4:5_0", "invalid port"),
        ("1.2.3.4: 5", "invalid port"),
        ("1.2.3.4:\u0665", "invalid port"),
        ("2001:db8::1:5", "brackets"),
        ("::1:5", "brackets"),
        ("[2001:db8::1:5", "missing ']'"),
        ("[2001:db8::1]5", "expected ':port'"),
        ("[2001:db8::1]", "expected ':port'"),
        ("[1.2.3.4]:5", "only for IPv6"),
        ("[]:5", "missing host"),
        ("example.com:443", "not an IP address"),
        ("localhost:443", "not an IP address"),
        ("256.1.1.1:5", "not an IP address"),
        ("01.2.3.4:5", "not an IP address"),
        ("1.2.3.4%eth0:5", "scope"),
        ("[fe80::1%]:5", "empty IPv6 scope"),
        (":5", "missing host"),
        ("x" * 500, "too long"),
    ],
)
def test_parse_addr_rejects_with_clear_message(text: str, fragment: str) -> None:
    with pytest.raises(AddressError) as info:
        parse_addr(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize("value", [None, 5, b"1.2.3.4:5", ("1.2.3.4", 5)])
def test_parse_addr_rejects_non_strings(value: object) -> None:
    with pytest.raises(AddressError):
        parse_addr(value)  # type: ignore[arg-type]


def test_address_error_is_value_error() -> None:
    assert issubclass(AddressError, ValueError)


@given(st.text(max_size=80))
def test_parse_addr_random_text_only_raises_address_error(text: str) -> None:
    try:
        host, port = parse_addr(text)
    except AddressError:
        return
    assert 1 <= port <= 65535
    ipaddress.ip_address(host)


@given(
    st.text(alphabet="0123456789abcdefABCDEF:.[]%+- f\x00", max_size=50)
)
def test_parse_addr_address_like_text_only_raises_address_error(text: str) -> None:
    try:
        parse_addr(text)
    except AddressError:
        pass


@given(st.ip_addresses(), st.integers(min_value=1, max_value=65535))
def test_format_parse_round_trip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> None:
    text = format_addr(str(ip), port)
    host, parsed_port = parse_addr(text)
    assert parsed_port == port
    assert format_addr(host, parsed_port) == text
    expected = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
    assert ipaddress.ip_address(host) == expected


# --- is_ipv6 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2001:db8::1", True),
        ("::1", True),
        ("[2001:db8::1]:5", True),
        ("fe80::1%eth0", True),
        ("1.2.3.4", False),
        ("1.2.3.4:5", False),
        ("::ffff:1.2.3.4", False),
        ("[::ffff:1.2.3.4]:5", False),
        ("garbage", False),
        ("", False),
        ("2001:db8::1:5x", False),
    ],
)
def test_is_ipv6(text: str, expected: bool) -> None:
    assert is_ipv6(text) is expected


def test_is_ipv6_non_string() -> None:
    assert is_ipv6(None) is False  # type: ignore[arg-type]


# --- normalize_sockaddr / normalize_host / parse_ip -------------------------------------


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        (("1.2.3.4", 5), ("1.2.3.4", 5)),
        (("::ffff:1.2.3.4", 5, 0, 0), ("1.2.3.4", 5)),
        (("2001:db8::1", 443, 0, 0), ("2001:db8::1", 443)),
        (("fe80::1%eth0", 443, 0, 2), ("fe80::1", 443)),
        (("2001:0DB8::0001", 443), ("2001:db8::1", 443)),
    ],
)
def test_normalize_sockaddr(addr: tuple[object, ...], expected: tuple[str, int]) -> None:
    assert normalize_sockaddr(addr) == expected


@pytest.mark.parametrize(
    "addr",
    [
        ("1.2.3.4",),
        ("1.2.3.4", 5, 0),
        ("1.2.3.4", 0),
        ("host.example", 5),
        (None, 5),
        ["1.2.3.4", 5],
        "1.2.3.4:5",
    ],
)
def test_normalize_sockaddr_rejects(addr: object) -> None:
    with pytest.raises(AddressError):
        normalize_sockaddr(addr)  # type: ignore[arg-type]


def test_normalize_host_and_parse_ip() -> None:
    assert normalize_host("::FFFF:10.0.0.1") == "10.0.0.1"
    assert normalize_host("2001:db8:0::1%wlan0") == "2001:db8::1"
    assert parse_ip("::ffff:1.2.3.4") == ipaddress.IPv4Address("1.2.3.4")
    with pytest.raises(AddressError):
        parse_ip("1.2.3.4:5")
    with pytest.raises(AddressError):
        parse_ip("\uff11.2.3.4")  # full-width digit


# --- to_socket_addr ----------------------------------------------------------------------


def test_to_socket_addr_v6_socket_maps_ipv4() -> None:
    assert to_socket_addr("1.2.3.4", 5, v6_socket=True) == ("::ffff:1.2.3.4", 5, 0, 0)


def test_to_socket_addr_v6_socket_ipv6() -> None:
    assert to_socket_addr("2001:DB8::1", 5, v6_socket=True) == ("2001:db8::1", 5, 0, 0)


def test_to_socket_addr_v4_socket() -> None:
    assert to_socket_addr("1.2.3.4", 5, v6_socket=False) == ("1.2.3.4", 5)
    assert to_socket_addr("::ffff:1.2.3.4", 5, v6_socket=False) == ("1.2.3.4", 5)


def test_to_socket_addr_v4_socket_rejects_ipv6() -> None:
    with pytest.raises(AddressError, match="IPv4 socket"):
        to_socket_addr("2001:db8::1", 5, v6_socket=False)


@pytest.mark.parametrize(("host", "port"), [("bad", 5), ("1.2.3.4", 0)])
def test_to_socket_addr_rejects(host: str, port: int) -> None:
    with pytest.raises(AddressError):
        to_socket_addr(host, port, v6_socket=True)


def test_to_socket_addr_round_trips_through_normalize_sockaddr() -> None:
    for host in ("1.2.3.4", "2001:db8::7"):
        assert normalize_sockaddr(to_socket_addr(host, 9, v6_socket=True)) == (host, 9)
