"""Relay addresses as people type them, and resolving them to socket addresses.

Accepted forms (surrounding whitespace ignored):

* ``relay.example.org`` or ``relay.example.org:4433``: a DNS host name (letters, digits and
  hyphens in dot-separated labels; an internationalized name in its ``xn--`` form);
* ``192.0.2.7`` or ``192.0.2.7:4433``;
* ``2001:db8::7`` (bare, no port) or ``[2001:db8::7]`` or ``[2001:db8::7]:4433``.

With no port, :data:`DEFAULT_RELAY_PORT` is meant. :func:`parse_relay_address` returns the
canonical text (``host:port``, IPv6 in brackets, host names lower case), which is also the key
relay keys are pinned under: a relay is pinned by the name the user gave it, not by whichever
address the name resolved to that day.

:func:`resolve_relay` turns one into the IP addresses to try, every A and AAAA record of a name,
IPv6 and IPv4 interleaved (RFC 8305 order); :func:`connect_any` dials them with a short stagger
and keeps the first that answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

from app.nat.addresses import AddressError, format_addr, parse_addr, parse_ip

log = logging.getLogger(__name__)

DEFAULT_RELAY_PORT = 4433
MAX_HOSTNAME = 253
#: How long one resolution may take before the relay counts as unreachable.
RESOLVE_TIMEOUT = 5.0
#: Happy-Eyeballs stagger: the next address is dialled if the previous has not answered by then.
CONNECT_STAGGER = 0.25
MAX_ADDRESSES = 8

T = TypeVar("T")


class RelayAddressError(AddressError):
    """A relay address that cannot be used; the message is a sentence for the user."""


def _check_hostname(host: str) -> str:
    if len(host) > MAX_HOSTNAME:
        raise RelayAddressError(f"the host name is too long ({len(host)} characters, at most {MAX_HOSTNAME})")
    name = host[:-1] if host.endswith(".") else host
    if not name:
        raise RelayAddressError("missing host name")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise RelayAddressError(f"{host[:60]!r} is not a valid host name") from None
    labels = name.split(".")
    for label in labels:
        if not 1 <= len(label) <= 63:
            raise RelayAddressError(f"{host[:60]!r} is not a valid host name (empty or over-long label)")
        if label[0] == "-" or label[-1] == "-" or not all(c.isalnum() or c == "-" for c in label):
            raise RelayAddressError(f"{host[:60]!r} is not a valid host name")
    if labels[-1].isdigit():
        raise RelayAddressError(f"{host[:60]!r} is neither an IP address nor a host name")
    return name.lower()


def parse_relay_address(text: str, default_port: int = DEFAULT_RELAY_PORT) -> str:
    """Validate a relay address as typed and return its canonical ``host:port`` text.

    Raises :class:`RelayAddressError` (an :class:`AddressError`, a :class:`ValueError`) and
    nothing else, whatever the input.
    """
    if not isinstance(text, str):
        raise RelayAddressError("a relay address must be text")
    text = text.strip()
    if not text:
        raise RelayAddressError("the relay address is empty")
    if len(text) > MAX_HOSTNAME + 8:
        raise RelayAddressError(f"the relay address is too long ({len(text)} characters)")
    try:
        if text.startswith("["):
            if text.endswith("]"):
                return format_addr(text[1:-1], default_port)
            return format_addr(*parse_addr(text))
        if text.count(":") >= 2:  # a bare IPv6 literal; a port needs the brackets
            return format_addr(text, default_port)
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = text, ""
        if not _port_ok(port_text):
            raise RelayAddressError(f"invalid port {port_text[:8]!r}: expected a number 1..65535")
        port = int(port_text) if port_text else default_port
        with contextlib.suppress(AddressError):
            return format_addr(str(parse_ip(host)), port)
    except AddressError as exc:
        raise RelayAddressError(str(exc)) from None
    return f"{_check_hostname(host)}:{port}"


def _port_ok(port_text: str) -> bool:
    if not port_text:
        return True
    return port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 and 1 <= int(port_text) <= 65535


def split_relay_address(address: str) -> tuple[str, int]:
    """(host, port) of a canonical relay address (host may be a name; IPv6 without brackets)."""
    canonical = parse_relay_address(address)
    host, _, port = canonical.rpartition(":")
    return host.strip("[]"), int(port)


def is_literal(address: str) -> bool:
    host, _ = split_relay_address(address)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def relay_address_arg(text: str) -> str:
    """argparse type for a relay: host name or IP literal, optional port (canonical text returned)."""
    import argparse

    try:
        return parse_relay_address(text)
    except RelayAddressError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def relay_list_arg(text: str) -> list[str]:
    """argparse type for ``a,b,c``: the nodes of one relay service."""
    import argparse

    relays = [relay_address_arg(part) for part in text.split(",") if part.strip()]
    if not relays:
        raise argparse.ArgumentTypeError("no relay address given")
    return relays

def media_relay_address(advertised: str, signal_relay: str) -> str:
    """Where to send a call's relayed media: the relay's advertised media address, unless it is
    empty (the relay listens on a wildcard), unusable, or loopback / private while the relay we
    signal on is not: then the address we reached that relay at (`signal_relay`)."""
    if not advertised:
        return signal_relay
    try:
        host, _ = split_relay_address(advertised)
        relay_host, _ = split_relay_address(signal_relay)
        if _is_loopback(host) and not _is_loopback(relay_host):
            log.warning("relay advertised a loopback media address %s; using %s", advertised, signal_relay)
            return signal_relay
        if _is_private(host) and not (_is_private(relay_host) or _is_loopback(relay_host)):
            # A relay hosted at home tells everyone its LAN address; from outside, that address is
            # someone else's network. Media goes where we reached the relay (its mapped/public address).
            log.info("relay advertised a private media address %s; reached it at %s", advertised, signal_relay)
            return signal_relay
        return parse_relay_address(advertised)
    except ValueError:
        log.warning("relay advertised an unusable media address %r; using %s", advertised, signal_relay)
        return signal_relay


def _is_private(host: str) -> bool:
    """An IP literal of a private network (RFC 1918, ULA, link-local): meaningful only on its own LAN."""
    try:
        ip = parse_ip(host)
    except ValueError:
        return False
    return ip.is_private and not ip.is_loopback


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return parse_ip(host).is_loopback
    except ValueError:
        return False


async def resolve_relay(address: str, *, timeout: float = RESOLVE_TIMEOUT) -> list[str]:
    """The ``ip:port`` addresses to try for a relay: the literal itself, or every A/AAAA record.

    Raises :class:`RelayAddressError` with a sentence when the name does not resolve.
    """
    host, port = split_relay_address(address)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [format_addr(host, port)]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM, proto=socket.IPPROTO_UDP), timeout
        )
    except TimeoutError:
        raise RelayAddressError(f"looking up {host} took too long; check your network") from None
    except (OSError, UnicodeError) as exc:
        raise RelayAddressError(f"the relay name {host} could not be found ({exc})") from None
    v6: list[str] = []
    v4: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        try:
            text = format_addr(str(sockaddr[0]), port)
        except AddressError:
            continue
        bucket = v6 if text.startswith("[") else v4
        if text not in bucket:
            bucket.append(text)
    ordered = [a for pair in zip(v6, v4, strict=False) for a in pair]
    ordered += v6[len(v4) :] + v4[len(v6) :]
    if not ordered:
        raise RelayAddressError(f"the relay name {host} has no address")
    log.debug("relay resolved address=%s to=%s", address, ordered)
    return ordered[:MAX_ADDRESSES]


async def connect_any(
    addresses: list[str],
    dial: Callable[[str], Awaitable[T]],
    *,
    stagger: float = CONNECT_STAGGER,
    discard: Callable[[T], None] | None = None,
) -> T:
    """Dial each address, the next one `stagger` seconds after the previous (or at once when it
    fails); the first to succeed wins and the others are cancelled (`discard` closes a second
    success that finished in the same instant). Re-raises the last error when all fail."""
    if not addresses:
        raise RelayAddressError("no address to connect to")
    pending: set[asyncio.Task[T]] = set()
    last_error: BaseException | None = None
    remaining = list(addresses)
    try:
        while remaining or pending:
            if remaining:
                pending.add(asyncio.ensure_future(dial(remaining.pop(0))))
            done, _ = await asyncio.wait(
                pending, timeout=stagger if remaining else None, return_when=asyncio.FIRST_COMPLETED
            )
            winner: T | None = None
            found = False
            for task in done:
                pending.discard(task)
                if task.exception() is not None:
                    last_error = task.exception()
                elif not found:
                    winner, found = task.result(), True
                elif discard is not None:
                    discard(task.result())
            if found:
                return winner  # type: ignore[return-value]
        assert last_error is not None
        raise last_error
    finally:
        # Cancelled, or another address won: stop the rest; one that finished meanwhile is closed.
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for task in pending:
            if task.done() and not task.cancelled() and task.exception() is None and discard is not None:
                discard(task.result())
