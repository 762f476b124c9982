"""The hosted relay's port mapping: a relay on a home computer asks the router for a public
port (UPnP-IGD, NAT-PMP, PCP; `app.nat.portmap`), so a friend outside the LAN can reach it.

The GUI's hosted relay and `wzp-relay --map-port` use it the same way::

    mapping = RelayPortMapping(server.port, on_change=show)   # show(status_dict)
    mapping.start()
    ...  mapping.status -> {"state", "method", "mapped_addr", "answer", "answers"}
    ...  mapping.invite_address -> "ip:port" to put in an invite link, or None
    await mapping.close()                                     # deletes the mapping
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from app.nat.portmap import MappingStatus, PortMapper

__all__ = ["RelayPortMapping"]

log = logging.getLogger(__name__)


class RelayPortMapping:
    def __init__(
        self,
        port: int,
        *,
        methods: Iterable[str] | None = None,
        on_change: Callable[[dict[str, Any]], None] = lambda _status: None,
    ) -> None:
        self._on_change = on_change
        self.mapper = PortMapper(port, methods=methods, description="WZP relay", on_change=self._changed)

    def start(self) -> None:
        self.mapper.start()

    async def wait_settled(self, timeout: float) -> str | None:
        await self.mapper.wait_settled(timeout)
        return self.invite_address

    async def close(self) -> None:
        await self.mapper.close()

    @property
    def invite_address(self) -> str | None:
        """The public address outside friends reach the relay at, while the mapping holds."""
        mapping = self.mapper.mapping
        return mapping.external if mapping is not None else None

    @property
    def status(self) -> dict[str, Any]:
        """For Settings: whether it worked (`state`), how (`method`), where (`mapped_addr`) and
        what the router said (`answer` for the method in use, `answers` for every method tried)."""
        status = self.mapper.status.as_dict()
        mapping = self.mapper.mapping
        status.pop("mapping", None)
        status["answer"] = mapping.answer if mapping else "; ".join(f"{k}: {v}" for k, v in status["answers"].items())
        return status

    def _changed(self, _status: MappingStatus) -> None:
        status = self.status
        log.info("relay port mapping %s method=%s mapped=%s", status["state"], status["method"], status["mapped_addr"])
        self._on_change(status)
