"""The cluster's asyncio layer: a NATS connection between `ClusterCore` and the other nodes.

Only imported with `wzp-relay --cluster` (nats-py is not needed by a single relay).
It subscribes to the node's subjects, feeds what arrives to the core and applies
the core's actions through the `RelayServer`, and publishes the core's `Publish`
actions in order from one task. NATS reconnects by itself (to any server of the
list); while it is away, the other nodes' heartbeats stop arriving, so after the
expiry their users are offline here and calls with them end, and they resync
when it is back.

Credentials (see docs/DEPLOY.md): `WZP_NATS_USER` + `WZP_NATS_PASSWORD`, or a
`.creds` file (`--cluster-creds`, JWT + nkey), or an nkey seed file
(`--cluster-nkey`), or a token (`WZP_NATS_TOKEN`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from app.relay.cluster_core import ClusterCore, ClusterTimings, Publish, encode_envelope
from app.relay.relay_core import RelayCore
from app.relay.server import RelayServer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterConfig:
    servers: list[str]
    node: str
    prefix: str = "wzp"
    timings: ClusterTimings = field(default_factory=ClusterTimings)
    creds_file: Path | None = None
    nkey_seed_file: Path | None = None

    def auth_options(self) -> dict[str, Any]:
        """NATS credentials from the environment or files (never from the command line: ps shows it)."""
        opts: dict[str, Any] = {}
        if user := os.environ.get("WZP_NATS_USER"):
            opts["user"] = user
            opts["password"] = os.environ.get("WZP_NATS_PASSWORD", "")
        if token := os.environ.get("WZP_NATS_TOKEN"):
            opts["token"] = token
        if self.creds_file is not None:
            opts["user_credentials"] = str(self.creds_file)
        if self.nkey_seed_file is not None:
            opts["nkeys_seed"] = str(self.nkey_seed_file)
        return opts


class ClusterLink:
    """One node's NATS link. `wrap` goes to `RelayServer.start(core_wrapper=...)`, then `attach`."""

    def __init__(self, config: ClusterConfig, nc: NatsClient) -> None:
        self.config = config
        self.nc = nc
        self.core: ClusterCore | None = None
        self.server: RelayServer | None = None
        self._outbox: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._subs: list[Any] = []
        self._loop = asyncio.get_running_loop()

    @classmethod
    async def connect(cls, config: ClusterConfig, timeout: float = 10.0) -> ClusterLink:
        """Connect to the first NATS server that answers. Refused credentials fail at once;
        no server within `timeout` fails too (a service manager restarts the node)."""
        refused: asyncio.Future[Exception] = asyncio.get_running_loop().create_future()

        async def disconnected() -> None:
            log.warning("nats disconnected node=%s", config.node)

        async def reconnected() -> None:
            log.info("nats reconnected node=%s server=%s", config.node, _server_of(nc))

        async def error(exc: Exception) -> None:
            log.warning("nats error node=%s: %s", config.node, exc or type(exc).__name__)
            if "authorization" in str(exc).lower() and not refused.done():
                refused.set_result(exc)

        nc = NatsClient()
        connecting = asyncio.ensure_future(
            nc.connect(
                servers=config.servers,
                name=f"wzp-relay {config.node}",
                connect_timeout=2,
                reconnect_time_wait=0.5,
                max_reconnect_attempts=-1,
                ping_interval=2,
                max_outstanding_pings=2,
                allow_reconnect=True,
                dont_randomize=True,  # the list order is the preference: a node's own NATS server first
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
                **config.auth_options(),
            )
        )
        try:
            done, _ = await asyncio.wait({connecting, refused}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if connecting not in done:
                raise ConnectionError(f"NATS refused this node: {refused.result()}" if refused.done() else "timeout")
            connecting.result()
        except BaseException:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), 2)
            raise
        log.info("nats connected node=%s server=%s", config.node, _server_of(nc))
        return cls(config, nc)

    def wrap(self, inner: RelayCore) -> ClusterCore:
        self.core = ClusterCore(inner, node=self.config.node, prefix=self.config.prefix, timings=self.config.timings)
        return self.core

    async def attach(self, server: RelayServer) -> None:
        """Start exchanging messages: actions of the server's core that are `Publish` go out from now on."""
        assert self.core is not None and server.core is self.core
        self.server = server
        server.external_actions = self._on_action
        self._sender = asyncio.ensure_future(self._send_loop())
        for subject in self.core.subjects:
            self._subs.append(await self.nc.subscribe(subject, cb=self._on_msg))
        server.apply(self.core.start(self._loop.time()))

    def _on_action(self, action: Any) -> None:
        if isinstance(action, Publish):
            self._outbox.put_nowait((action.subject, encode_envelope(action.envelope)))
        else:
            log.error("unknown relay action %r", action)

    async def _on_msg(self, msg: Msg) -> None:
        if self.server is None or self.core is None:
            return
        self.server.apply(self.core.cluster_received(msg.data, self._loop.time()))

    async def _send_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if item is None:
                return
            subject, data = item
            try:
                await self.nc.publish(subject, data)
            except Exception as exc:  # NATS away and its buffer full: the heartbeat and resync repair it
                log.warning("nats publish failed subject=%s: %s", subject, exc or type(exc).__name__)

    async def close(self) -> None:
        """Say goodbye to the other nodes, send what is queued, close the NATS connection."""
        if self.core is not None and self.server is not None:
            for action in self.core.stop():
                self._on_action(action)
        self._outbox.put_nowait(None)
        if self._sender is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._sender, 3)
            if not self._sender.done():
                self._sender.cancel()
                await asyncio.gather(self._sender, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.flush(), 2)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.nc.close(), 3)


def _server_of(nc: NatsClient) -> str:
    return nc.connected_url.netloc if nc.connected_url else ""
