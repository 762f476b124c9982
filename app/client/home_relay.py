"""`HomeRelay`: stay registered on our own relay service, whatever the network does.

One registered signalling link (`RelayLink`) at a time; after a drop it tries again with back-off
1, 2, 4, 8, 15, 30 s, moving to the next node when the service has several. A relay whose key
changed, or a session replaced by a sign-in elsewhere, waits for the user instead of retrying.
Its messages go to `on_message`; its progress is told as events (`app.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from app import events as ev
from app.client.errors import ClientError
from app.client.relay_link import RegistrationInfo, RelayError, RelayKeyMismatch, RelayLink
from app.client.relay_pins import RelayPins
from app.identity import Identity
from app.net import ConnectionClosed, QuicEndpoint
from app.protocol import messages as m

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


class HomeRelay:
    def __init__(
        self,
        identity: Identity,
        relays: list[str],
        pins: RelayPins,
        *,
        alias: str,
        discoverable: bool,
        on_message: Callable[[m.Message], None],
        on_lost: Callable[[str], None],
        emit: Callable[[ev.ClientEvent], None],
        registered: asyncio.Event,
    ) -> None:
        self.identity = identity
        self.relays = relays  # the nodes of our relay service, tried in turn
        self.relay = relays[0]  # the node in use
        self.pins = pins
        self.alias = alias
        self.discoverable = discoverable
        self.on_message = on_message
        self.on_lost = on_lost
        self.emit = emit
        self.link: RelayLink | None = None
        self.registration: RegistrationInfo | None = None
        self.status = "offline"  # offline | connecting | connected | reconnecting | key-changed | replaced
        self.registered = registered
        self.stopping = False
        self._wake = asyncio.Event()

    # ------------------------------------------------------------ the user's say

    def trust_key(self, fingerprint: str) -> None:
        """The user confirmed the relay's new key: pin it and reconnect."""
        self._pin(fingerprint)
        self._wake.set()

    def reconnect_now(self) -> None:
        self._wake.set()

    def replaced(self) -> None:
        """The relay says this identity signed in elsewhere: stop retrying until the user asks."""
        self._set_status("replaced")

    # ------------------------------------------------------------ sending

    def send(self, msg: m.Message) -> None:
        if self.link is None:
            raise ClientError("Not connected to the relay. Check your network; WZP keeps retrying.")
        try:
            self.link.send(msg)
        except ConnectionClosed as exc:
            raise ClientError("The connection to the relay dropped. WZP is reconnecting.") from exc

    def close(self) -> None:
        self.stopping = True
        self._wake.set()
        if self.link is not None:
            self.link.close()

    # ------------------------------------------------------------ the loop

    async def run(self, endpoint: QuicEndpoint) -> None:
        """Register on `endpoint`'s socket and stay registered until `close()`."""
        attempt = 0
        while not self.stopping:
            # Cleared here, so a reconnect_now() that comes while this attempt runs is not lost.
            self._wake.clear()
            self._set_status("connecting" if attempt == 0 else "reconnecting")
            self.emit(ev.Connecting(relay=self.relay))
            link = RelayLink(
                endpoint,
                self.identity,
                self.relay,
                alias=self.alias,
                discoverable=self.discoverable,
                pinned=self._service_pin(),
                on_message=self.on_message,
            )
            if (problem := self.pins.take_problem()) is not None:
                self.emit(ev.Notice(level="warning", message=problem))
            reason = ""
            try:
                info = await link.open()
            except RelayKeyMismatch as exc:
                self._set_status("key-changed")
                self.emit(ev.RelayKeyChanged(relay=self.relay, pinned=exc.pinned, presented=exc.presented))
                self.emit(ev.Notice(level="error", message=str(exc)))
                reason = "relay key changed"
            except RelayError as exc:
                reason = str(exc)
            else:
                if info.key_status == "new":
                    self._pin(info.relay_fingerprint)
                self.link, self.registration = link, info
                self._set_status("connected")
                attempt = 0
                self.registered.set()
                self.emit(
                    ev.Registered(
                        fingerprint=info.fingerprint,
                        alias=self.alias,
                        relay=self.relay,
                        relay_fingerprint=info.relay_fingerprint,
                        reflexive_addr=info.observed_addr,
                        key_status=info.key_status,
                    )
                )
                reason = await link.run()
                self.registered.clear()
                self.link = None
                self.on_lost(reason)
            if self.stopping:
                return
            if self.status in ("key-changed", "replaced"):
                # Retrying cannot help: wait until the user trusts the new key or asks to reconnect.
                log.info("relay link down relay=%s reason=%s; waiting for the user", self.relay, reason)
                await self._wake.wait()
                attempt = 0
                continue
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            attempt += 1
            self._set_status("reconnecting")
            log.info("relay link down relay=%s reason=%s retry_in=%.0fs", self.relay, reason, delay)
            self.emit(ev.Reconnecting(relay=self.relay, delay=delay, attempt=attempt, reason=reason))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            if len(self.relays) > 1:  # then the next node of the service
                self.relay = self.relays[(self.relays.index(self.relay) + 1) % len(self.relays)]

    # ------------------------------------------------------------ helpers

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.emit(ev.StatusChanged(status=status))

    def _service_pin(self) -> str | None:
        """The pinned key of this node, else of any node in the list: all nodes of a service share one key."""
        for addr in [self.relay, *self.relays]:
            if (pinned := self.pins.get(addr)) is not None:
                return pinned
        return None

    def _pin(self, fingerprint: str) -> None:
        try:
            self.pins.pin(self.relay, fingerprint)
        except OSError as exc:
            log.error("relay key not saved relay=%s: %s", self.relay, exc)
            self.emit(
                ev.Notice(
                    level="warning",
                    message=f"The relay's key could not be saved ({exc}); you will be asked again next time.",
                )
            )
