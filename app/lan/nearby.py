"""Nearby: people on the same network, found with multicast DNS (zeroconf), nothing to configure.

Every app announces one `_wzp._udp` service: its fingerprint, its name and the relay addresses
where it can be called (TXT ``fp``, ``name``, ``relay``; the SRV record points at the first relay's
port). It browses the same type and keeps a list of who is around. An announcement is a *hint*,
never a proof: whoever calls the fingerprint checks the callee's key, so someone who announces
another person's fingerprint only adds an address where that call will fail. Two announcements
of one fingerprint are merged (both addresses are tried, in order of discovery).

The TXT decoding (`parse_announcement`) is pure and validates everything: the text comes from
anyone on the LAN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.identity import parse_fingerprint
from app.identity.alias import display_alias
from app.nat.addresses import AddressError, parse_ip
from app.nat.relay_address import RelayAddressError, parse_relay_address, split_relay_address
from app.tasks import TaskSet

log = logging.getLogger(__name__)

SERVICE_TYPE = "_wzp._udp.local."
MAX_RELAYS = 4
MAX_TXT_VALUE = 200
REQUEST_TIMEOUT_MS = 3000
MAX_PEERS = 256


@dataclass(frozen=True)
class NearbyPeer:
    fingerprint: str
    alias: str
    relays: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"fingerprint": self.fingerprint, "alias": self.alias, "addresses": list(self.relays)}


def announcement_properties(
    fingerprint: str, alias: str, relays: Sequence[str], *, loopback: bool = False
) -> dict[str, str]:
    """The TXT properties we announce (relays cut to what fits). Loopback relays are announced only
    when the announcement itself stays on this machine (`loopback`: Nearby on the loopback interface)."""
    canonical = [parse_relay_address(r) for r in relays]
    usable = [r for r in canonical if loopback or not _is_loopback_relay(r)][:MAX_RELAYS]
    return {
        "v": "1",
        "fp": parse_fingerprint(fingerprint).replace(":", ""),
        "name": display_alias(alias)[:64],
        "relay": ",".join(usable),
    }


def parse_announcement(
    properties: dict[bytes, bytes | None] | dict[str, str | None], *, loopback: bool = False
) -> NearbyPeer | None:
    """A peer from someone's TXT properties, or None when they are not usable (logged)."""
    props: dict[str, str] = {}
    for key, value in properties.items():
        k = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        if value is None:
            continue
        v = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        props[k.lower()] = v[: MAX_TXT_VALUE * MAX_RELAYS]
    try:
        fingerprint = parse_fingerprint(props.get("fp", ""))
    except ValueError:
        log.debug("nearby announcement without a valid fingerprint ignored")
        return None
    relays: list[str] = []
    for text in props.get("relay", "").split(",")[: MAX_RELAYS * 2]:
        if not text.strip():
            continue
        try:
            relay = parse_relay_address(text)
        except RelayAddressError:
            continue
        if relay not in relays and (loopback or not _is_loopback_relay(relay)):
            relays.append(relay)
    if not relays:
        log.debug("nearby announcement with no usable relay ignored fingerprint=%s", fingerprint)
        return None
    return NearbyPeer(fingerprint, display_alias(props.get("name", "")), tuple(relays[:MAX_RELAYS]))


def _is_loopback_relay(relay: str) -> bool:
    host, _ = split_relay_address(relay)
    if host == "localhost":
        return True
    try:
        return parse_ip(host).is_loopback or parse_ip(host).is_unspecified
    except AddressError:
        return False


@dataclass
class _Seen:
    peer: NearbyPeer
    order: int


@dataclass
class Nearby:
    """Announce ourselves and list who is around (asyncio; zeroconf runs on the running loop)."""

    fingerprint: str
    alias: str
    relays: list[str]
    announce: bool = True
    on_change: Callable[[list[NearbyPeer]], None] | None = None
    #: IPv4 addresses of the interfaces to use; None: all of them (tests use ["127.0.0.1"]).
    interfaces: list[str] | None = None
    _zc: object | None = None
    _info: object | None = None
    _browser: object | None = None
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _order: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: TaskSet = field(default_factory=lambda: TaskSet("nearby"))
    _instance: str = field(default_factory=lambda: secrets.token_hex(3))

    async def start(self) -> None:
        from zeroconf import InterfaceChoice, IPVersion
        from zeroconf.asyncio import AsyncServiceBrowser, AsyncZeroconf

        self._zc = AsyncZeroconf(
            interfaces=self.interfaces if self.interfaces is not None else InterfaceChoice.All,
            ip_version=IPVersion.V4Only,
        )
        if self.announce and self.relays:
            await self._register()
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf,  # type: ignore[attr-defined]
            [SERVICE_TYPE],
            handlers=[self._on_service_state_change],
        )
        log.info("nearby started announce=%s relays=%s", self.announce, self.relays)

    @property
    def _loopback_only(self) -> bool:
        return self.interfaces is not None and all(_is_loopback_relay(f"{i}:1") for i in self.interfaces)

    def _service_name(self) -> str:
        return f"wzp-{self.fingerprint.replace(':', '')[:16]}-{self._instance}.{SERVICE_TYPE}"

    async def _register(self) -> None:
        from zeroconf.asyncio import AsyncServiceInfo

        props = announcement_properties(self.fingerprint, self.alias, self.relays, loopback=self._loopback_only)
        if not props["relay"]:
            log.info("nearby: nothing to announce (no relay address others can use)")
            return
        first = props["relay"].split(",")[0]
        host, port = split_relay_address(first)
        addresses = []
        with contextlib.suppress(AddressError):
            ip = parse_ip(host)
            if ip.version == 4:
                addresses.append(socket.inet_aton(str(ip)))
        info = AsyncServiceInfo(
            SERVICE_TYPE,
            self._service_name(),
            port=port,
            properties=props,
            addresses=addresses or None,
            server=f"wzp-{self._instance}.local.",
        )
        await self._zc.async_register_service(info)  # type: ignore[attr-defined]
        self._info = info

    async def update(self, alias: str | None = None, relays: list[str] | None = None) -> None:
        """Announce a new name or new relay addresses (e.g. the hosted relay moved)."""
        if alias is not None:
            self.alias = alias
        if relays is not None:
            self.relays = relays
        if self._zc is None:
            return
        if self._info is not None:
            await self._zc.async_unregister_service(self._info)  # type: ignore[attr-defined]
            self._info = None
        if self.announce and self.relays:
            await self._register()

    def _on_service_state_change(self, zeroconf: object, service_type: str, name: str, state_change: object) -> None:
        from zeroconf import ServiceStateChange

        if state_change is ServiceStateChange.Removed:
            if self._seen.pop(name, None) is not None:
                self._notify()
            return
        self._tasks.spawn(self._resolve(service_type, name), "resolve a nearby service")

    async def _resolve(self, service_type: str, name: str) -> None:
        from zeroconf.asyncio import AsyncServiceInfo

        if self._zc is None:
            return
        info = AsyncServiceInfo(service_type, name)
        try:
            found = await info.async_request(self._zc.zeroconf, REQUEST_TIMEOUT_MS)  # type: ignore[attr-defined]
        except Exception as exc:  # a malformed answer from someone on the LAN
            log.debug("nearby: could not resolve %s: %s", name, exc)
            return
        if not found:
            return
        peer = parse_announcement(info.properties or {}, loopback=self._loopback_only)
        if peer is None or peer.fingerprint == self.fingerprint:
            return
        if name not in self._seen and len(self._seen) >= MAX_PEERS:
            log.warning("nearby: too many announcements on this network; ignoring %s", name)
            return
        previous = self._seen.get(name)
        self._order += 1
        self._seen[name] = _Seen(peer, previous.order if previous else self._order)
        if previous is None or previous.peer != peer:
            log.info("nearby: found fingerprint=%s alias=%r relays=%s", peer.fingerprint, peer.alias, peer.relays)
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        if self.on_change is not None:
            try:
                self.on_change(self.peers())
            except Exception:
                log.exception("nearby listener failed")

    def peers(self) -> list[NearbyPeer]:
        """Everyone seen, one entry per fingerprint (addresses of several announcements merged)."""
        merged: dict[str, NearbyPeer] = {}
        for seen in sorted(self._seen.values(), key=lambda s: s.order):
            peer = seen.peer
            if peer.fingerprint in merged:
                old = merged[peer.fingerprint]
                relays = tuple(dict.fromkeys([*old.relays, *peer.relays]))
                merged[peer.fingerprint] = NearbyPeer(peer.fingerprint, old.alias or peer.alias, relays)
            else:
                merged[peer.fingerprint] = peer
        return list(merged.values())

    def find(self, fingerprint: str) -> NearbyPeer | None:
        return next((p for p in self.peers() if p.fingerprint == fingerprint), None)

    async def wait_for(self, fingerprint: str, timeout: float, settle: float = 1.0) -> NearbyPeer | None:
        """The peer with this fingerprint once announced, or None after `timeout` seconds.

        After the first sighting it listens `settle` seconds more: everyone who announces that
        fingerprint answers the same query, and an impostor's answer must not hide the real one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.find(fingerprint) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        await asyncio.sleep(settle)  # collecting the other answers to the same query is the point
        return self.find(fingerprint)

    async def stop(self) -> None:
        await self._tasks.cancel_all()
        if self._browser is not None:
            await self._browser.async_cancel()  # type: ignore[attr-defined]
            self._browser = None
        if self._zc is not None:
            if self._info is not None:
                with contextlib.suppress(Exception):
                    await self._zc.async_unregister_service(self._info)  # type: ignore[attr-defined]
                self._info = None
            await self._zc.async_close()  # type: ignore[attr-defined]
            self._zc = None
