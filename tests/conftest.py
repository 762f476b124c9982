"""Shared fixtures: in-process relays on loopback and registered clients (real QUIC, no mocks)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from helpers.events import EventLog

from app.client.client import WzpClient
from app.identity import Identity
from app.relay.limits import RelayLimits
from app.relay.server import RelayServer

# Tests do not ask this machine's real router for port mappings (nor wait for it to answer);
# the port-mapping tests turn it on per process (tests/lab/test_portmap.py).
os.environ.setdefault("WZP_PORT_MAPPING", "off")
os.environ.setdefault("WZP_SPRAY", "off")  # nor classify their NAT for spraying (tests/lab/test_spray.py does)

RelayFactory = Callable[..., Awaitable[RelayServer]]
ClientFactory = Callable[..., Awaitable[tuple[WzpClient, EventLog]]]


@pytest.fixture
async def start_relay() -> AsyncIterator[RelayFactory]:
    """`await start_relay(port=0, identity=None, limits=None)`: a RelayServer on 127.0.0.1, stopped at teardown."""
    servers: list[RelayServer] = []

    async def start(port: int = 0, identity: Identity | None = None, limits: RelayLimits | None = None) -> RelayServer:
        server = await RelayServer.start(f"127.0.0.1:{port}", identity=identity or Identity.generate(), limits=limits)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        await _stop_all([server.stop for server in servers], "relay")


@pytest.fixture
async def relay(start_relay: RelayFactory) -> RelayServer:
    return await start_relay()


@pytest.fixture
async def make_client(tmp_path: Path) -> AsyncIterator[ClientFactory]:
    """`await make_client(relay_port, name)`: a started (and by default registered) WzpClient + its EventLog."""
    started: list[WzpClient] = []

    async def make(
        port: int, name: str, *, register: bool = True, identity: Identity | None = None, **kwargs: object
    ) -> tuple[WzpClient, EventLog]:
        data_dir = tmp_path / name
        data_dir.mkdir(exist_ok=True)
        client = WzpClient(identity or Identity.generate(), data_dir, f"127.0.0.1:{port}", **kwargs)  # type: ignore[arg-type]
        log = EventLog(name)
        client.add_listener(log)
        await client.start()
        started.append(client)
        if register:
            await client.wait_registered(10)
        return client, log

    try:
        yield make
    finally:
        await _stop_all([client.stop for client in reversed(started)], "client")


async def _stop_all(stops: list[Callable[[], Awaitable[None]]], what: str) -> None:
    """Run every stop, then fail the test with every error (a teardown error is a bug, not noise)."""
    errors: list[Exception] = []
    for stop in stops:
        try:
            await stop()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise ExceptionGroup(f"{what} teardown failed", errors)
