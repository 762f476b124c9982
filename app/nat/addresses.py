"""Helpers for ``"ip:port"`` address strings.

The canonical text form of an address used across WZP is:

* IPv4: ``"1.2.3.4:4433"``
* IPv6: ``"[2001:db8::1]:4433"`` (compressed form, lower case, brackets mandatory)

IPv4-mapped IPv6 hosts (``::ffff:1.2.3.4``), which a dual-stack ``AF_INET6`` socket reports for
IPv4 peers, are always shown as plain IPv4. IPv6 scope ids (``%eth0``) are stripped: they are
meaningful only on the machine that produced them and must never travel to a peer.

Only IP literals are accepted; host names are rejected. Every validation failure raises
:class:`AddressError` (a :class:`ValueError`), never any other exception type, because these
helpers are applied to untrusted text received from peers and servers.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

__all__ = [
    "AddressError",
    "IPAddress",
    "format_addr",
    "is_ipv6",
    "normalize_host",
    "normalize_sockaddr",
    "parse_addr",
    "parse_ip",
    "source_key",
    "to_socket_addr",
]

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_MAX_TEXT_LEN = 128  # "[" + 45-char IPv6 + scope + "]:65535" fits easily
_MAX_PORT_DIGITS = 5


class AddressError(ValueError):
    """An address string, host or port is not valid."""


def _shorten(value: object, limit: int = 60) -> str:
    """``repr`` of untrusted input, truncated so it is safe to put in messages and logs."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int):
        raise AddressError(f"port must be an integer, got {_shorten(port)}")
    if not 1 <= port <= 65535:
        raise AddressError(f"port {port} is out of range (1..65535)")
    return port


def _parse_port_text(text: str) -> int:
    # int() would also accept "+5", " 5", "5_0" and non-ASCII digits; be strict instead.
    if not text:
        raise AddressError("missing port")
    if not (text.isascii() and text.isdigit()) or len(text) > _MAX_PORT_DIGITS:
        raise AddressError(f"invalid port {_shorten(text)}: expected a number 1..65535")
    return _check_port(int(text))


def parse_ip(host: str) -> IPAddress:
    """Parse a bare IP literal (no port, no brackets) into a normalized address object.

    A trailing IPv6 scope id (``%eth0``) is stripped and IPv4-mapped IPv6 addresses are
    converted to :class:`ipaddress.IPv4Address`.
    """
    if not isinstance(host, str):
        raise AddressError(f"host must be a string, got {_shorten(host)}")
    if not host:
        raise AddressError("missing host")
    if len(host) > _MAX_TEXT_LEN:
        raise AddressError(f"host is too long ({len(host)} characters)")
    bare, sep, scope = host.partition("%")
    if sep and ":" not in bare:
        raise AddressError(f"{_shorten(host)}: only IPv6 addresses can have a scope id")
    if sep and not scope:
        raise AddressError(f"{_shorten(host)}: empty IPv6 scope id")
    if not bare.isascii():
        raise AddressError(f"{_shorten(host)} is not an IP address")
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        raise AddressError(f"{_shorten(host)} is not an IP address") from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


#: An IPv6 user gets a whole /64 (often much more): count it as one source.
IPV6_SOURCE_PREFIX = 64


def source_key(host: str) -> str:
    """The unit per-source limits count: an IPv4 address, or the /64 an IPv6 address is in.

    A host that does not parse is its own key (the caller's limits still apply to it).
    """
    try:
        ip = parse_ip(host)
    except AddressError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_SOURCE_PREFIX), strict=False))
    return str(ip)


def normalize_host(host: str) -> str:
    """Canonical text of an IP literal: mapped IPv4 unwrapped, scope stripped, v6 compressed."""
    return str(parse_ip(host))


def format_addr(host: str, port: int) -> str:
    """Format an IP literal and port as ``"1.2.3.4:5"`` or ``"[2001:db8::1]:5"``.

    ``host`` may be IPv4, IPv6 (optionally already in brackets, optionally with a scope id) or
    IPv4-mapped IPv6, which is shown as plain IPv4. Raises :class:`AddressError` for host names
    and invalid ports.
    """
    if isinstance(host, str) and len(host) >= 2 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    ip = parse_ip(host)
    port = _check_port(port)
    if ip.version == 6:
        return f"[{ip}]:{port}"
    return f"{ip}:{port}"


def parse_addr(text: str) -> tuple[str, int]:
    """Parse ``"1.2.3.4:5"`` or ``"[2001:db8::1]:5"`` into ``(host, port)``.

    The returned host is normalized (see :func:`normalize_host`), so
    ``format_addr(*parse_addr(text))`` gives the canonical form. Surrounding whitespace is
    ignored. IPv6 hosts must be bracketed; host names are rejected. Raises
    :class:`AddressError` and nothing else, whatever the input.
    """
    if not isinstance(text, str):
        raise AddressError(f"address must be a string, got {_shorten(text)}")
    text = text.strip()
    if not text:
        raise AddressError("empty address")
    if len(text) > _MAX_TEXT_LEN:
        raise AddressError(f"address is too long ({len(text)} characters)")

    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise AddressError(f"{_shorten(text)}: missing ']' after the IPv6 address")
        host = text[1:close]
        rest = text[close + 1 :]
        if not rest.startswith(":"):
            raise AddressError(f"{_shorten(text)}: expected ':port' after ']'")
        port = _parse_port_text(rest[1:])
        ip = parse_ip(host)
        if ":" not in host:
            # "[1.2.3.4]:5" is not a valid form; a mapped "[::ffff:1.2.3.4]:5" is fine.
            raise AddressError(f"{_shorten(text)}: brackets are only for IPv6 addresses")
        return str(ip), port

    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise AddressError(f"{_shorten(text)}: missing ':port'")
    if ":" in host:
        raise AddressError(f"{_shorten(text)}: IPv6 addresses must be in brackets, e.g. '[2001:db8::1]:4433'")
    port = _parse_port_text(port_text)
    ip = parse_ip(host)
    return str(ip), port


def is_ipv6(text: str) -> bool:
    """True if ``text`` is an IPv6 address, bare (``"2001:db8::1"``) or with a port
    (``"[2001:db8::1]:5"``).

    IPv4-mapped IPv6 counts as IPv4. Invalid input returns False (never raises).
    """
    if not isinstance(text, str):
        return False
    candidate = text.strip()
    try:
        if candidate.startswith("[") or (candidate.count(":") == 1):
            host, _port = parse_addr(candidate)
            return ":" in host
        return parse_ip(candidate).version == 6
    except AddressError:
        return False


def normalize_sockaddr(addr: tuple[Any, ...]) -> tuple[str, int]:
    """Turn a socket/asyncio address tuple into a normalized ``(host, port)``.

    Accepts ``(host, port)`` and the IPv6 4-tuple ``(host, port, flowinfo, scope_id)``; the
    host may be IPv4-mapped (shown as IPv4) or carry a scope id (stripped).
    """
    if not isinstance(addr, tuple) or len(addr) not in (2, 4):
        raise AddressError(f"expected a (host, port) or (host, port, flowinfo, scope_id) tuple, got {_shorten(addr)}")
    host, port = addr[0], addr[1]
    ip = parse_ip(host)
    return str(ip), _check_port(port)


def to_socket_addr(host: str, port: int, v6_socket: bool) -> tuple[Any, ...]:
    """Build the address tuple for ``sendto``/``connect`` on a socket of the given family.

    * ``v6_socket=True`` (dual-stack ``AF_INET6``): always a 4-tuple; IPv4 hosts are mapped to
      ``"::ffff:a.b.c.d"``.
    * ``v6_socket=False`` (``AF_INET``): ``(ipv4, port)``; an IPv6 host raises
      :class:`AddressError` since it cannot be reached from an IPv4 socket.
    """
    ip = parse_ip(host)
    port = _check_port(port)
    if v6_socket:
        if ip.version == 4:
            return (f"::ffff:{ip}", port, 0, 0)
        return (str(ip), port, 0, 0)
    if ip.version == 6:
        raise AddressError(f"cannot send to IPv6 address {ip} from an IPv4 socket")
    return (str(ip), port)


def parse_listen_addr(text: str) -> tuple[str, int]:
    """Like `parse_addr`, but port 0 ("any free port") is allowed: for addresses to bind."""
    stripped = text.strip() if isinstance(text, str) else text
    if isinstance(stripped, str) and stripped.endswith(":0"):
        host, _ = parse_addr(stripped[:-2] + ":1")
        return host, 0
    return parse_addr(text)


def address_arg(text: str) -> str:
    """argparse type for a HOST:PORT to connect to (IP literal, port 1-65535)."""
    import argparse

    try:
        parse_addr(text)
    except AddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def listen_address_arg(text: str) -> str:
    """argparse type for a HOST:PORT to bind (port 0 allowed)."""
    import argparse

    try:
        parse_listen_addr(text)
    except AddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text
