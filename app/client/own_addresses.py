"""`OwnAddresses`: where a peer can reach us, as our offers and answers tell it.

LAN host candidates on the shared socket's port, the public address our router mapped for us
(`app.nat.portmap`; a public entry in the list is read as a `mapped` candidate), or, behind a NAT
that maps per destination, a "spray me" hint (`app.nat.spray`). An offer or answer waits briefly
(`settled`) for what may still be arriving: the router's mapping and our NAT type.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app import events as ev
from app.nat.candidates import local_host_candidates
from app.nat.nat_type import NatReport
from app.nat.portmap import MappingStatus, PortMapper
from app.nat.spray import hard_hint, spray_enabled
from app.tasks import TaskSet

log = logging.getLogger(__name__)

#: An offer or answer waits at most this long for a port mapping still being asked for.
MAPPING_WAIT_S = 0.5


class OwnAddresses:
    def __init__(self, emit: Callable[[ev.ClientEvent], None]) -> None:
        self.emit = emit
        self.port = 0
        #: The router's port mapping for our shared socket (`status` for the GUI).
        self.port_mapper: PortMapper | None = None
        #: Our NAT, classified once after the first registration when spraying is on.
        self.nat_report: NatReport | None = None
        self._nat_known = asyncio.Event()

    def start(
        self,
        port: int,
        tasks: TaskSet,
        *,
        registered: asyncio.Event,
        detect_nat: Callable[[], Awaitable[NatReport]],
    ) -> None:
        self.port = port
        self.port_mapper = PortMapper(port, on_change=self._on_port_mapping)
        self.port_mapper.start()
        if spray_enabled():
            tasks.spawn(self._classify_nat(registered, detect_nat), "classify our NAT")
        else:
            self._nat_known.set()

    async def close(self) -> None:
        if self.port_mapper is not None:
            await self.port_mapper.close()  # the router forwards nothing to us any more

    def candidates(self) -> list[str]:
        """Our address list for an offer/answer."""
        local = local_host_candidates(self.port)
        mapping = self.port_mapper.mapping if self.port_mapper is not None else None
        if mapping is not None and mapping.external not in local:
            local.append(mapping.external)
        elif self.nat_report is not None and self.nat_report.nat_type == "symmetric" and self.nat_report.public_ip:
            local.append(hard_hint(self.nat_report.public_ip))  # "spray me"
        return local

    async def settled(self) -> None:
        """Wait (at most `MAPPING_WAIT_S`) for the router's port mapping and our NAT type."""
        waits = [asyncio.wait_for(self._nat_known.wait(), MAPPING_WAIT_S)]
        if self.port_mapper is not None:
            waits.append(self.port_mapper.wait_settled(MAPPING_WAIT_S))
        await asyncio.gather(*waits, return_exceptions=True)

    async def _classify_nat(self, registered: asyncio.Event, detect_nat: Callable[[], Awaitable[NatReport]]) -> None:
        """Once registered: does our NAT map per destination? Then calls may spray."""
        try:
            await registered.wait()
            self.nat_report = await detect_nat()
            log.info("nat classified type=%s public_ip=%s", self.nat_report.nat_type, self.nat_report.public_ip)
        finally:
            self._nat_known.set()

    def _on_port_mapping(self, status: MappingStatus) -> None:
        mapping = status.mapping
        self.emit(
            ev.PortMapping(
                state=status.state,
                method=mapping.method if mapping else None,
                mapped_addr=mapping.external if mapping else None,
                answers=dict(status.answers),
            )
        )
