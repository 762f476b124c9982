"""Links to *other people's* relays, for calls across relays.

Each client stays registered on its home relay. To call someone whose home relay is another
one, the client also connects to theirs from the same shared socket, proves its key there
(a normal registration, but hidden: no presence broadcast) and places the call on that link.
The pool opens such a link on first use, shares it between calls, and closes it once no call
has used it for `idle_close` seconds. A relay's key is pinned by its name on first use, like the
home relay's (`RelayPins`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from app.client.relay_link import RelayError, RelayLink
from app.client.relay_pins import RelayPins
from app.identity import Identity
from app.net import QuicEndpoint
from app.protocol import messages as m

log = logging.getLogger(__name__)

IDLE_CLOSE = 30.0
MAX_FOREIGN_LINKS = 8


@dataclass
class _Entry:
    link: RelayLink
    task: asyncio.Task[None] | None = None
    users: set[str] = field(default_factory=set)  # call ids using the link
    idle: asyncio.TimerHandle | None = None


class RelayPool:
    def __init__(
        self,
        endpoint: QuicEndpoint,
        identity: Identity,
        alias: str,
        pins: RelayPins,
        *,
        on_message: Callable[[m.Message, str], None],
        on_lost: Callable[[str, str], None],
        idle_close: float = IDLE_CLOSE,
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity
        self.alias = alias
        self.pins = pins
        self.on_message = on_message
        self.on_lost = on_lost
        self.idle_close = idle_close
        self._entries: dict[str, _Entry] = {}
        self._opening: dict[str, asyncio.Future[RelayLink]] = {}
        self._closed = False

    def link(self, relay: str) -> RelayLink | None:
        entry = self._entries.get(relay)
        return entry.link if entry is not None else None

    @property
    def relays(self) -> list[str]:
        return list(self._entries)

    async def acquire(self, relay: str, call_id: str) -> RelayLink:
        """A registered link to `relay` (opened if needed), held for `call_id` until `release`.

        Raises `RelayError` (with a sentence) when the relay cannot be reached or refuses us.
        """
        if self._closed:
            raise RelayError("The client is shutting down.")
        entry = self._entries.get(relay)
        if entry is None:
            opening = self._opening.get(relay)
            if opening is None:
                if len(self._entries) + len(self._opening) >= MAX_FOREIGN_LINKS:
                    raise RelayError("Too many relays in use at once; end a call first.")
                opening = asyncio.ensure_future(self._open(relay))
                self._opening[relay] = opening
                opening.add_done_callback(lambda _f: self._opening.pop(relay, None))
            await asyncio.shield(opening)
            if relay not in self._entries:
                raise RelayError(f"The relay {relay} closed the connection.")
        self.hold(relay, call_id)
        return self._entries[relay].link

    def hold(self, relay: str, call_id: str) -> None:
        """Keep an open link for `call_id` (also an incoming call that arrived on it): no idle close."""
        entry = self._entries.get(relay)
        if entry is None:
            raise RelayError(f"The relay {relay} is not connected.")
        entry.users.add(call_id)
        if entry.idle is not None:
            entry.idle.cancel()
            entry.idle = None

    def release(self, relay: str, call_id: str) -> None:
        entry = self._entries.get(relay)
        if entry is None:
            return
        entry.users.discard(call_id)
        if not entry.users and entry.idle is None:
            entry.idle = asyncio.get_running_loop().call_later(self.idle_close, self._close_idle, relay)

    async def _open(self, relay: str) -> RelayLink:
        link = RelayLink(
            self.endpoint,
            self.identity,
            relay,
            alias=self.alias,
            discoverable=False,  # a visitor: never listed on someone else's relay
            pinned=self.pins.get(relay),
            on_message=lambda msg: self.on_message(msg, relay),
        )
        info = await link.open()  # RelayError (incl. RelayKeyMismatch) goes to the caller
        if info.key_status == "new":
            try:
                self.pins.pin(relay, info.relay_fingerprint)
            except OSError as exc:
                log.warning("relay key not saved relay=%s: %s", relay, exc)
        entry = _Entry(link=link)
        self._entries[relay] = entry
        entry.task = asyncio.ensure_future(self._run(relay, entry))
        log.info("visiting relay relay=%s relay_key=%s (%s)", relay, info.relay_fingerprint, info.key_status)
        return link

    async def _run(self, relay: str, entry: _Entry) -> None:
        reason = await entry.link.run()
        if self._entries.get(relay) is entry:
            del self._entries[relay]
        if entry.idle is not None:
            entry.idle.cancel()
        log.info("link to visited relay ended relay=%s reason=%s", relay, reason)
        if not self._closed:
            self.on_lost(relay, reason)

    def _close_idle(self, relay: str) -> None:
        entry = self._entries.get(relay)
        if entry is None or entry.users:
            return
        log.info("closing idle link to visited relay relay=%s", relay)
        entry.idle = None
        del self._entries[relay]
        entry.link.close()

    async def close(self) -> None:
        self._closed = True
        for opening in list(self._opening.values()):
            opening.cancel()
        entries = list(self._entries.values())
        self._entries.clear()
        for entry in entries:
            if entry.idle is not None:
                entry.idle.cancel()
            entry.link.close()
        tasks = [e.task for e in entries if e.task is not None]
        for task in tasks:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), 1.0)
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
