"""`PortMapper`: ask the gateway for a public port for our shared socket, by every method at
once (UPnP-IGD, NAT-PMP, PCP), keep the first that answers, renew it before it expires,
delete it on `close()`. Failures are quiet: logged, shown in `status`, never raised."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.nat.addresses import format_addr
from app.nat.portmap import natpmp, pcp, upnp
from app.nat.portmap.errors import PortMapError
from app.nat.portmap.udp import default_gateway, exchange

__all__ = ["DEFAULT_LIFETIME", "METHODS", "Mapping", "MappingStatus", "PortMapper", "methods_from_env"]

log = logging.getLogger(__name__)

Method = Literal["upnp", "natpmp", "pcp"]
METHODS: tuple[Method, ...] = ("upnp", "natpmp", "pcp")
#: RFC 6886 recommends two hours; renewed at half of what the router grants.
DEFAULT_LIFETIME = 7200
MIN_RENEW_S = 30.0
ENV_METHODS = "WZP_PORT_MAPPING"  # "off", or a comma list of methods (tests pick one protocol)


def methods_from_env(default: Iterable[str] = METHODS) -> tuple[str, ...]:
    """The methods to try: ``$WZP_PORT_MAPPING`` ("off", "natpmp", "upnp,pcp", ...) or all."""
    raw = os.environ.get(ENV_METHODS, "").strip().lower()
    if not raw:
        return tuple(default)
    if raw in ("off", "none", "0", "no"):
        return ()
    chosen = tuple(m for m in (p.strip() for p in raw.split(",")) if m in METHODS)
    if not chosen:
        log.warning("%s=%r names no known method (%s); port mapping off", ENV_METHODS, raw, ", ".join(METHODS))
    return chosen


@dataclass(frozen=True)
class Mapping:
    """A public address the gateway forwards to our socket."""

    method: str  # "upnp" | "natpmp" | "pcp"
    external: str  # "ip:port", the mapped candidate
    internal_port: int
    lifetime: int  # seconds granted (0: permanent until deleted)
    gateway: str
    answer: str  # what the router said, for people

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "external": self.external,
            "internal_port": self.internal_port,
            "lifetime": self.lifetime,
            "gateway": self.gateway,
            "answer": self.answer,
        }


@dataclass
class MappingStatus:
    """What the GUI (Settings) and `wzp-cli nat` show."""

    state: str = "off"  # off | trying | mapped | failed | closed
    mapping: Mapping | None = None
    answers: dict[str, str] = field(default_factory=dict)  # method -> what the router said

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "method": self.mapping.method if self.mapping else None,
            "mapped_addr": self.mapping.external if self.mapping else None,
            "mapping": self.mapping.as_dict() if self.mapping else None,
            "answers": dict(self.answers),
        }


@dataclass
class _Lease:
    mapping: Mapping
    renew: Callable[[], Any]  # async () -> Mapping
    delete: Callable[[], Any]  # async () -> None
    also: list[_Lease] = field(default_factory=list)  # the same forward, made by another protocol


class PortMapper:
    """One mapping for UDP ``internal_port``. `start()` runs it in the background."""

    def __init__(
        self,
        internal_port: int,
        *,
        methods: Iterable[str] | None = None,
        lifetime: int = DEFAULT_LIFETIME,
        gateway: str | None = None,
        gateway_port: int = natpmp.NATPMP_PORT,  # NAT-PMP and PCP share 5351; tests use another
        description: str = "WZP",
        on_change: Callable[[MappingStatus], None] = lambda _status: None,
    ) -> None:
        self.internal_port = internal_port
        self.methods = tuple(methods) if methods is not None else methods_from_env()
        self.lifetime = lifetime
        self._gateway = gateway
        self._gateway_port = gateway_port
        self.description = description
        self._on_change = on_change
        self.status = MappingStatus(state="trying" if self.methods else "off")
        self._lease: _Lease | None = None
        self._task: asyncio.Task[None] | None = None
        self._collector: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()
        if not self.methods:
            self._settled.set()

    @property
    def mapping(self) -> Mapping | None:
        return self.status.mapping

    def start(self) -> None:
        if self._task is None and self.methods:
            self._task = asyncio.ensure_future(self._run())

    async def wait_settled(self, timeout: float) -> Mapping | None:
        """Wait (at most ``timeout``) for the first round of attempts; the mapping, if any."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), timeout)
        return self.mapping

    async def close(self, timeout: float = 2.0) -> None:
        """Stop renewing and delete the mapping (bounded: a silent router cannot hold us)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._collector is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._collector), timeout)
            self._collector.cancel()
            self._collector = None
        lease, self._lease = self._lease, None
        if lease is not None:
            for each in [lease, *lease.also]:
                try:
                    await asyncio.wait_for(each.delete(), timeout)
                    log.info("port mapping deleted method=%s external=%s", each.mapping.method, each.mapping.external)
                    break
                except (PortMapError, OSError, TimeoutError) as exc:
                    log.info("port mapping not deleted method=%s: %s", each.mapping.method, exc)
            else:
                log.info("port mapping %s left to expire by itself", lease.mapping.external)
        if self.status.state != "off":
            self._set("closed", None)

    # ----------------------------------------------------------------- internals

    def _set(self, state: str, mapping: Mapping | None) -> None:
        self.status.state, self.status.mapping = state, mapping
        with contextlib.suppress(Exception):
            self._on_change(self.status)

    async def _run(self) -> None:
        while True:
            lease = await self._first_round()
            self._settled.set()
            if lease is None:
                self._set("failed", None)
                return
            self._lease = lease
            self._set("mapped", lease.mapping)
            log.info(
                "port mapped method=%s external=%s internal_port=%d lifetime=%d gateway=%s",
                lease.mapping.method,
                lease.mapping.external,
                self.internal_port,
                lease.mapping.lifetime,
                lease.mapping.gateway,
            )
            if not await self._keep(lease):
                self._lease = None
                self._set("trying", None)
                log.info("port mapping lost method=%s; asking again", lease.mapping.method)

    async def _keep(self, lease: _Lease) -> bool:
        """Renew ``lease`` at half its lifetime; False when it could not be renewed in time."""
        while True:
            granted = lease.mapping.lifetime
            if granted == 0:
                await asyncio.Event().wait()  # permanent: nothing to renew until close()
            expires = asyncio.get_running_loop().time() + granted
            wait = max(MIN_RENEW_S, granted / 2) if granted > MIN_RENEW_S * 2 else granted / 2
            while True:
                await asyncio.sleep(wait)
                try:
                    fresh: Mapping = await lease.renew()
                except (PortMapError, OSError) as exc:
                    left = expires - asyncio.get_running_loop().time()
                    log.info("port mapping renewal failed method=%s: %s (%.0f s left)", lease.mapping.method, exc, left)
                    if left <= 1:
                        return False
                    wait = max(1.0, left / 4)
                    continue
                if fresh.external != lease.mapping.external:
                    log.info(
                        "port mapping renewed at a new address %s (was %s)", fresh.external, lease.mapping.external
                    )
                lease.mapping = fresh
                self._set("mapped", fresh)
                break

    async def _first_round(self) -> _Lease | None:
        gateway = self._gateway or default_gateway()
        attempts: dict[asyncio.Task[_Lease], str] = {}
        for method in self.methods:
            if method == "upnp":
                coro = self._upnp()
            elif gateway is None:
                self.status.answers[method] = "no default gateway"
                continue
            elif method == "natpmp":
                coro = self._natpmp(gateway)
            elif method == "pcp":
                coro = self._pcp(gateway)
            else:
                continue
            attempts[asyncio.ensure_future(coro)] = method
        pending = set(attempts)
        try:
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                winner = None
                for task in done:
                    lease = self._outcome(task, attempts[task])
                    if lease is None:
                        continue
                    if winner is None:
                        winner = lease
                    else:
                        await self._drop_loser(lease, winner)
                if winner is not None:
                    if pending:  # the others may still map a port: collect and drop those later
                        self._collector = asyncio.ensure_future(self._collect(pending, attempts, winner))
                        pending = set()
                    return winner
            return None
        finally:
            for task in pending:
                task.cancel()

    def _outcome(self, task: asyncio.Task[_Lease], method: str) -> _Lease | None:
        exc = task.exception()
        if exc is not None:
            self.status.answers[method] = str(exc) or type(exc).__name__
            log.info("port mapping by %s failed: %s", method, self.status.answers[method])
            return None
        lease = task.result()
        self.status.answers[method] = lease.mapping.answer
        return lease

    async def _collect(
        self, pending: set[asyncio.Task[_Lease]], attempts: dict[asyncio.Task[_Lease], str], winner: _Lease
    ) -> None:
        """The methods still running when one won: a mapping they make is dropped (or, when it is
        the winner's own forward asked by another protocol, remembered for the delete)."""
        try:
            for task in asyncio.as_completed(pending):
                with contextlib.suppress(Exception):
                    await task
            for task in pending:
                lease = self._outcome(task, attempts[task])
                if lease is not None:
                    await self._drop_loser(lease, winner)
        finally:
            for task in pending:
                task.cancel()

    async def _drop_loser(self, loser: _Lease, winner: _Lease) -> None:
        if loser.mapping.external == winner.mapping.external:
            winner.also.append(loser)  # one router, one forward, asked twice: deleted on close by either
            return
        with contextlib.suppress(PortMapError, OSError, TimeoutError):
            await asyncio.wait_for(loser.delete(), 2.0)

    # -- NAT-PMP

    async def _natpmp(self, gateway: str) -> _Lease:
        public = await exchange(
            gateway,
            self._gateway_port,
            lambda _ip: natpmp.encode_public_address_request(),
            natpmp.decode_public_address_reply,
            what="NAT-PMP public address",
        )
        port = self.internal_port

        async def request(external_port: int, lifetime: int) -> natpmp.MapReply:
            return await exchange(
                gateway,
                self._gateway_port,
                lambda _ip: natpmp.encode_map_request(port, external_port, lifetime),
                lambda data: natpmp.decode_map_reply(data, port),
                what="NAT-PMP map",
            )

        def mapping(reply: natpmp.MapReply) -> Mapping:
            external = format_addr(public.address, reply.external_port)
            answer = f"NAT-PMP: UDP {external} -> port {port} for {reply.lifetime} s (epoch {reply.epoch})"
            return Mapping("natpmp", external, port, reply.lifetime, gateway, answer)

        first = mapping(await request(port, self.lifetime))

        async def renew() -> Mapping:
            return mapping(await request(int(first.external.rsplit(":", 1)[1]), self.lifetime))

        async def delete() -> None:
            await request(0, 0)

        return _Lease(first, renew, delete)

    # -- PCP

    async def _pcp(self, gateway: str) -> _Lease:
        nonce = secrets.token_bytes(pcp.NONCE_LEN)
        port = self.internal_port

        async def request(lifetime: int, external_port: int, external_ip: str) -> pcp.MapReply:
            return await exchange(
                gateway,
                self._gateway_port,
                lambda ip: pcp.encode_map_request(
                    nonce, ip, port, lifetime, external_port=external_port, external_ip=external_ip
                ),
                lambda data: pcp.decode_map_reply(data, nonce, port),
                what="PCP map",
            )

        def mapping(reply: pcp.MapReply) -> Mapping:
            external = format_addr(reply.external_ip, reply.external_port)
            answer = f"PCP: UDP {external} -> port {port} for {reply.lifetime} s (epoch {reply.epoch})"
            return Mapping("pcp", external, port, reply.lifetime, gateway, answer)

        first_reply = await request(self.lifetime, port, "0.0.0.0")
        first = mapping(first_reply)

        async def renew() -> Mapping:
            return mapping(await request(self.lifetime, first_reply.external_port, first_reply.external_ip))

        async def delete() -> None:
            await request(0, 0, "0.0.0.0")

        return _Lease(first, renew, delete)

    # -- UPnP-IGD

    async def _upnp(self) -> _Lease:
        location = await upnp.discover()
        port = self.internal_port
        lease = await upnp.add_mapping(location, port, self.lifetime, description=self.description)

        def mapping(lease: upnp.UpnpLease) -> Mapping:
            external = format_addr(lease.external_ip, lease.external_port)
            model = f" ({lease.model})" if lease.model else ""
            answer = f"UPnP-IGD{model}: UDP {external} -> {lease.internal_ip}:{port}, lease {lease.lifetime} s"
            host = lease.location.split("//", 1)[-1].split("/", 1)[0]
            return Mapping("upnp", external, port, lease.lifetime, host, answer)

        current = lease

        async def renew() -> Mapping:
            nonlocal current
            current = await upnp.add_mapping(
                location, port, self.lifetime, description=self.description, external_port=current.external_port
            )
            return mapping(current)

        async def delete() -> None:
            await upnp.delete_mapping(current)

        return _Lease(mapping(lease), renew, delete)
