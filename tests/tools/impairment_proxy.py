"""A user-space UDP impairment proxy (the kernel here has no netem).

Clients send to the proxy; it forwards to one upstream address from a separate
socket per client (so the upstream sees distinct sources), dropping packets at
random with a seeded RNG, and optionally delaying them. Loss can apply to the
client->upstream direction, the upstream->client direction, or both.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ImpairmentStats:
    forwarded: int = 0
    dropped: int = 0
    by_client: dict[Any, int] = field(default_factory=dict)


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy: ImpairmentProxy, client: Any) -> None:
        self.proxy = proxy
        self.client = client
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.proxy._to_client(data, self.client)


class _Front(asyncio.DatagramProtocol):
    def __init__(self, proxy: ImpairmentProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.proxy._from_client(data, addr)


class ImpairmentProxy:
    def __init__(
        self, *, loss: float = 0.0, direction: str = "up", delay: float = 0.0, jitter: float = 0.0, seed: int = 1
    ) -> None:
        self.loss = loss
        self.direction = direction  # "up" (client->upstream), "down", or "both"
        self.delay = delay
        self.jitter = jitter
        self.rng = random.Random(seed)
        self.upstream: tuple[str, int] | None = None
        self.stats = ImpairmentStats()
        self._front: asyncio.DatagramTransport | None = None
        self._clients: dict[Any, _Upstream] = {}
        self._pending: dict[Any, list[bytes]] = {}
        self._loop = asyncio.get_running_loop()
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        transport, _ = await self._loop.create_datagram_endpoint(lambda: _Front(self), local_addr=(host, port))
        self._front = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self.port

    def set_upstream(self, host: str, port: int) -> None:
        self.upstream = (host, port)

    def _lossy(self, direction: str) -> bool:
        return self.loss > 0 and self.direction in (direction, "both") and self.rng.random() < self.loss

    def _later(self, fn: Any, *args: Any) -> None:
        if self.delay or self.jitter:
            self._loop.call_later(max(0.0, self.delay + self.rng.uniform(-self.jitter, self.jitter)), fn, *args)
        else:
            fn(*args)

    def _from_client(self, data: bytes, addr: Any) -> None:
        if self.upstream is None:
            return
        if self._lossy("up"):
            self.stats.dropped += 1
            return
        self.stats.forwarded += 1
        up = self._clients.get(addr)
        if up is None:
            up = _Upstream(self, addr)
            self._clients[addr] = up
            self._pending[addr] = [data]
            self._loop.create_task(self._open_upstream(addr, up))
            return
        if up.transport is None:
            self._pending[addr].append(data)
            return
        self._later(up.transport.sendto, data, self.upstream)

    async def _open_upstream(self, addr: Any, up: _Upstream) -> None:
        assert self.upstream is not None
        await self._loop.create_datagram_endpoint(lambda: up, local_addr=("127.0.0.1", 0))
        for data in self._pending.pop(addr, []):
            assert up.transport is not None
            up.transport.sendto(data, self.upstream)

    def _to_client(self, data: bytes, client: Any) -> None:
        if self._lossy("down"):
            self.stats.dropped += 1
            return
        self.stats.forwarded += 1
        if self._front is not None:
            self._later(self._front.sendto, data, client)

    def close(self) -> None:
        for up in self._clients.values():
            if up.transport is not None:
                up.transport.close()
        if self._front is not None:
            self._front.close()


async def run_proxy(listen_port: int, upstream: tuple[str, int], loss: float, direction: str, seed: int) -> None:
    proxy = ImpairmentProxy(loss=loss, direction=direction, seed=seed)
    await proxy.start(port=listen_port)
    proxy.set_upstream(*upstream)
    await asyncio.Event().wait()
