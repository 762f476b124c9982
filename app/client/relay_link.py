"""One registered signaling connection from the shared endpoint to a relay.

Opening it: QUIC handshake, check the relay's key against the pin (trust on
first use), read the relay's challenge, sign it, wait for `Registered`.
Then it reads messages until the connection drops, answering nothing itself:
every message goes to the owner's handler. It pings so that a dead relay is
noticed within seconds, not at the QUIC idle timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.identity import Identity, fingerprint_of
from app.identity.alias import display_alias
from app.nat.relay_address import RelayAddressError, connect_any, resolve_relay
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import FrameTooLarge, ProtocolError
from app.protocol import messages as m
from app.protocol.proofs import media_join_transcript, register_transcript

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
REGISTER_TIMEOUT = 5.0
PING_INTERVAL = 5.0
PING_TIMEOUT = 15.0
#: The most users `presence()` lists (5 pages): the relay charges presence queries by page
#: size, and nobody scrolls through more names than this.
MAX_LISTED_USERS = 500


class RelayError(Exception):
    """The relay could not be used; the message is a sentence for the user."""


class RelayKeyMismatch(RelayError):
    def __init__(self, relay: str, pinned: str, presented: str) -> None:
        super().__init__(
            f"The relay {relay} presented a different key ({presented}) than the one pinned "
            f"({pinned}). Someone may be intercepting your connection; if the relay's owner "
            "changed its key, confirm the new key before trusting it."
        )
        self.relay = relay
        self.pinned = pinned
        self.presented = presented


@dataclass(frozen=True)
class RegistrationInfo:
    fingerprint: str
    observed_addr: str
    relay_fingerprint: str
    key_status: str  # "new" | "verified"


async def open_relay_connection(
    endpoint: QuicEndpoint, relay: str, *, timeout: float = CONNECT_TIMEOUT
) -> tuple[QuicPeerConnection, MessageStream, m.RegisterChallenge]:
    """Connect to a relay and read its challenge (used for signaling, media and NAT probes).

    `relay` is a relay address as people type it (app.nat.relay_address): a host name is resolved
    and every A/AAAA record is tried (staggered, first answer wins)."""
    try:
        addresses = await resolve_relay(relay)
    except RelayAddressError as exc:
        raise RelayError(f"The relay {relay} cannot be found: {exc}.") from exc

    async def dial(addr: str) -> QuicPeerConnection:
        return await endpoint.connect(addr, server_name="wzp-relay", timeout=timeout)

    try:
        conn = await connect_any(addresses, dial, discard=lambda c: c.close(reason_phrase="another address won"))
    except ConnectionClosed as exc:
        raise RelayError(f"The relay {relay} did not answer ({exc}). Check the address and your network.") from exc
    try:
        reader, writer = await asyncio.wait_for(conn.accept_stream(), timeout)
        stream = MessageStream(reader, writer)
        challenge = await asyncio.wait_for(stream.recv(), timeout)
    except (TimeoutError, ConnectionClosed, ProtocolError) as exc:
        conn.close(reason_phrase="no challenge")
        raise RelayError(f"The relay {relay} did not start the session properly ({exc or 'timeout'}).") from exc
    except BaseException:
        conn.close(reason_phrase="abandoned")
        raise
    if not isinstance(challenge, m.RegisterChallenge):
        conn.close(reason_phrase="protocol error")
        raise RelayError(f"The relay {relay} sent {type(challenge).__name__} instead of a challenge.")
    presented = conn.peer_public_key
    if presented is None or fingerprint_of(presented) != challenge.relay_fingerprint:
        conn.close(reason_phrase="relay key mismatch")
        raise RelayError(f"The relay {relay} claims a key it does not hold; not using it.")
    return conn, stream, challenge


async def reflect_once(endpoint: QuicEndpoint, relay: str, timeout: float = 3.0) -> str:
    """Ask a relay (or its probe port) which address it sees; a fresh short connection."""
    conn, stream, _ = await open_relay_connection(endpoint, relay, timeout=timeout)
    try:
        stream.send(m.Reflect(request_id=1))
        while True:
            msg = await asyncio.wait_for(stream.recv(), timeout)
            if isinstance(msg, m.ReflectResponse):
                return msg.observed_addr
    except (TimeoutError, ConnectionClosed, ProtocolError) as exc:
        raise RelayError(f"no reflect answer from {relay}: {exc or 'timeout'}") from exc
    finally:
        conn.close(reason_phrase="probe done")


async def open_media_connection(
    endpoint: QuicEndpoint,
    relay: str,
    identity: Identity,
    call_id: str,
    *,
    expected_relay: str | None = None,
    timeout: float = CONNECT_TIMEOUT,
) -> QuicPeerConnection:
    """Open a media connection to the relay's room for `call_id`, proving we are a party.

    With `expected_relay` (the fingerprint of the relay we registered with, itself pinned),
    a media relay that holds another key is refused: media goes only where signaling trusts.
    """
    conn, stream, challenge = await open_relay_connection(endpoint, relay, timeout=timeout)
    if expected_relay is not None and challenge.relay_fingerprint != expected_relay:
        conn.close(reason_phrase="media relay key mismatch")
        raise RelayError(
            f"The media relay {relay} holds another key ({challenge.relay_fingerprint}) than your relay "
            f"({expected_relay}); not sending the call there."
        )
    transcript = media_join_transcript(challenge.relay_fingerprint, challenge.nonce, call_id, identity.fingerprint)
    stream.send(m.MediaJoin(call_id=call_id, fingerprint=identity.fingerprint, signature=identity.sign(transcript)))
    try:
        msg = await asyncio.wait_for(stream.recv(), timeout)
    except (TimeoutError, ConnectionClosed, ProtocolError) as exc:
        conn.close(reason_phrase="media join failed")
        raise RelayError(f"the relay did not open the media room: {exc or 'timeout'}") from exc
    except BaseException:
        conn.close(reason_phrase="abandoned")
        raise
    if not isinstance(msg, m.MediaJoined):
        conn.close(reason_phrase="media join refused")
        detail = msg.message if isinstance(msg, m.Error) else type(msg).__name__
        raise RelayError(f"the relay refused the media room: {detail}")
    conn.signal_stream = stream  # keep the stream open for the connection's lifetime
    return conn


class RelayLink:
    def __init__(
        self,
        endpoint: QuicEndpoint,
        identity: Identity,
        relay: str,
        *,
        alias: str,
        discoverable: bool,
        pinned: str | None,
        on_message: Callable[[m.Message], None],
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity
        self.relay = relay
        self.alias = alias
        self.discoverable = discoverable
        self.pinned = pinned
        self.on_message = on_message
        self.conn: QuicPeerConnection | None = None
        self.stream: MessageStream | None = None
        self.info: RegistrationInfo | None = None
        self.close_reason = ""
        self._pings = itertools.count(1)
        self._last_pong = 0.0
        # Replies are matched to requests by id; a request that times out removes its own entry.
        self._reflects: dict[int, asyncio.Future[str]] = {}
        self._presence: dict[int, asyncio.Future[m.PresenceList]] = {}

    @property
    def rtt(self) -> float | None:
        return self.conn.rtt if self.conn is not None else None

    async def open(self) -> RegistrationInfo:
        conn, stream, challenge = await open_relay_connection(self.endpoint, self.relay)
        self.conn, self.stream = conn, stream
        presented = challenge.relay_fingerprint
        if self.pinned is not None and self.pinned != presented:
            conn.close(reason_phrase="relay key changed")
            raise RelayKeyMismatch(self.relay, self.pinned, presented)
        transcript = register_transcript(presented, challenge.nonce, self.identity.public_key)
        stream.send(
            m.Register(
                public_key=self.identity.public_key,
                alias=display_alias(self.alias),
                nonce=challenge.nonce,
                signature=self.identity.sign(transcript),
                discoverable=self.discoverable,
            )
        )
        try:
            while True:
                msg = await asyncio.wait_for(stream.recv(), REGISTER_TIMEOUT)
                if isinstance(msg, m.Registered):
                    break
                if isinstance(msg, m.Error):
                    raise RelayError(f"The relay refused the registration: {msg.message}")
        except (TimeoutError, ConnectionClosed, ProtocolError) as exc:
            conn.close(reason_phrase="registration failed")
            raise RelayError(f"The relay {self.relay} did not confirm the registration ({exc or 'timeout'}).") from exc
        key_status = "verified" if self.pinned == presented else "new"
        self.info = RegistrationInfo(msg.fingerprint, msg.observed_addr, presented, key_status)
        log.info(
            "registered relay=%s fingerprint=%s reflexive=%s relay_key=%s (%s)",
            self.relay,
            msg.fingerprint,
            msg.observed_addr,
            presented,
            key_status,
        )
        return self.info

    def send(self, msg: m.Message) -> None:
        if self.stream is None or self.conn is None or self.conn.is_closed:
            raise ConnectionClosed("not connected to the relay")
        self.stream.send(msg)

    async def run(self) -> str:
        """Read messages until the connection ends; returns why it ended."""
        assert self.stream is not None and self.conn is not None
        loop = asyncio.get_running_loop()
        self._last_pong = loop.time()
        pinger = asyncio.ensure_future(self._ping_loop())
        try:
            while True:
                try:
                    msg = await self.stream.recv()
                except FrameTooLarge as exc:
                    return f"relay sent an oversized frame: {exc}"
                except ProtocolError as exc:
                    log.warning("bad message from relay: %s", exc)
                    continue
                self._dispatch(msg)
        except ConnectionClosed:
            return self.conn.close_reason or "connection closed"
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)
            self._fail_waiters()

    def _dispatch(self, msg: m.Message) -> None:
        if isinstance(msg, m.Pong):
            self._last_pong = asyncio.get_running_loop().time()
            return
        if isinstance(msg, m.ReflectResponse):
            fut = self._reflects.pop(msg.request_id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.observed_addr)
            return
        if isinstance(msg, m.PresenceList):
            page = self._presence.pop(msg.request_id, None)
            if page is not None and not page.done():
                page.set_result(msg)
            return
        try:
            self.on_message(msg)
        except Exception:
            log.exception("handler failed for %s", type(msg).__name__)

    async def _ping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self.conn is not None and not self.conn.is_closed:
            await asyncio.sleep(PING_INTERVAL)
            if loop.time() - self._last_pong > PING_TIMEOUT:
                log.warning("relay stopped answering pings relay=%s", self.relay)
                self.conn.close(reason_phrase="relay stopped answering")
                return
            try:
                self.send(m.Ping(nonce=next(self._pings)))
            except ConnectionClosed:
                return

    async def reflect(self, timeout: float = 3.0) -> str:
        request_id = next(self._pings)
        fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reflects[request_id] = fut
        try:
            self.send(m.Reflect(request_id=request_id))
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._reflects.pop(request_id, None)

    async def presence_page(
        self, after: str | None = None, limit: int = m.MAX_PRESENCE_PAGE, timeout: float = 3.0
    ) -> m.PresenceList:
        """One page of the relay's discoverable users, in fingerprint order after `after`."""
        request_id = next(self._pings)
        fut: asyncio.Future[m.PresenceList] = asyncio.get_running_loop().create_future()
        self._presence[request_id] = fut
        try:
            self.send(m.PresenceQuery(request_id=request_id, after=after, limit=limit))
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._presence.pop(request_id, None)

    async def presence(self, max_users: int = MAX_LISTED_USERS, timeout: float = 3.0) -> list[m.PresenceEntry]:
        """The discoverable users, page by page, up to `max_users` (a list people can read)."""
        users: list[m.PresenceEntry] = []
        after: str | None = None
        while len(users) < max_users:
            page = await self.presence_page(after, min(m.MAX_PRESENCE_PAGE, max_users - len(users)), timeout)
            users.extend(page.users)
            if not page.more or not page.users:
                break
            after = page.users[-1].fingerprint
        return users

    def _fail_waiters(self) -> None:
        waiters: list[asyncio.Future[Any]] = [*self._reflects.values(), *self._presence.values()]
        for fut in waiters:
            if not fut.done():
                fut.set_exception(ConnectionClosed("relay connection lost"))
            fut.exception() if fut.done() and not fut.cancelled() else None
        self._reflects.clear()
        self._presence.clear()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close(reason_phrase="client closing")
