""" "Host a relay on this computer": a `RelayServer` running in-process on the app's asyncio loop."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.nat.addresses import format_addr
from app.nat.candidates import local_host_candidates
from app.relay.port_mapping import RelayPortMapping
from app.relay.server import RelayServer

log = logging.getLogger(__name__)

DEFAULT_PORT = 4433
EXTRA_PORTS = 5  # try DEFAULT_PORT+1 .. +5 before letting the system choose


class RelayHostError(Exception):
    """The relay could not start; the message is a sentence for the user."""


class RelayHost:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir / "relay"  # its own identity: never the user's key
        self.server: RelayServer | None = None
        #: The router's port mapping for the relay (Settings shows `port_mapping.status`).
        self.port_mapping: RelayPortMapping | None = None
        self.on_port_mapping: Callable[[dict[str, Any]], None] = lambda _status: None

    @property
    def running(self) -> bool:
        return self.server is not None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    @property
    def local_address(self) -> str:
        assert self.server is not None
        return format_addr("127.0.0.1", self.server.port)

    def lan_addresses(self) -> list[str]:
        """Where other computers on the network reach this relay."""
        if self.server is None:
            return []
        return local_host_candidates(self.server.port)

    async def start(self, port: int = DEFAULT_PORT) -> str:
        """Listen on all interfaces at `port` (or a nearby / free one); returns the address to connect to."""
        if self.server is not None:
            return self.local_address
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = [port, *range(port + 1, port + 1 + EXTRA_PORTS), 0] if port else [0]
        last: Exception | None = None
        for candidate in ports:
            advertise = None
            if candidate:
                lan = local_host_candidates(candidate)
                advertise = lan[0] if lan else None
            try:
                self.server = await RelayServer.start(
                    f"0.0.0.0:{candidate}", data_dir=self.data_dir, advertise=advertise
                )
            except OSError as exc:
                log.info("hosted relay: port %s unavailable (%s)", candidate, exc)
                last = exc
                continue
            log.info(
                "hosted relay listening on port %d fingerprint=%s lan=%s",
                self.server.port,
                self.server.fingerprint,
                self.lan_addresses(),
            )
            self.port_mapping = RelayPortMapping(self.server.port, on_change=self.on_port_mapping)
            self.port_mapping.start()  # in the background; invite links add `public_address` once mapped
            return self.local_address
        raise RelayHostError(f"A relay could not be started on this computer ({last}).")

    @property
    def public_address(self) -> str | None:
        """Where friends outside the LAN reach this relay: the router's mapping, if it made one."""
        return self.port_mapping.invite_address if self.port_mapping is not None else None

    async def stop(self) -> None:
        mapping, self.port_mapping = self.port_mapping, None
        if mapping is not None:
            await mapping.close()  # the router forwards nothing any more
        server, self.server = self.server, None
        if server is not None:
            await server.stop()
