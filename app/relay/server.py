"""The relay's asyncio layer: QUIC connections in, `RelayCore` actions out.

Each accepted connection gets one relay-opened stream that carries signal
messages. A connection that joins a media room carries QUIC datagrams that
`MediaRoom` forwards, unread, to the other party of the call.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.identity import Identity, load_or_create_identity
from app.nat.addresses import format_addr, parse_listen_addr
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection, TlsIdentity, make_certificate
from app.net.endpoint import SERVER_HANDSHAKE_LIMITS
from app.net.message_stream import MessageStream
from app.net.tls import certificate_pem, certificate_public_key, load_certificate_pem
from app.protocol import FrameTooLarge, ProtocolError, error_reply
from app.relay.limits import RelayLimits
from app.relay.media_room import MediaRoom
from app.relay.relay_core import (
    Action,
    ConnId,
    Disconnect,
    JoinRoom,
    RelayCore,
    RoomClosed,
    RoomOpened,
    Send,
)

log = logging.getLogger(__name__)

CERT_FILE = "relay-cert.pem"


def load_relay_tls(data_dir: Path) -> tuple[Identity, TlsIdentity]:
    """The relay's persistent identity key and a certificate made with it (kept in data_dir)."""
    identity = load_or_create_identity(data_dir)
    cert_path = data_dir / CERT_FILE
    if cert_path.exists():
        try:
            cert = load_certificate_pem(cert_path.read_bytes())
            if certificate_public_key(cert) == identity.public_key:
                return identity, TlsIdentity(certificate=cert, private_key=identity.signing_key)
            log.warning("relay certificate does not match the relay key; making a new one path=%s", cert_path)
        except ValueError:
            log.warning("relay certificate unreadable; making a new one path=%s", cert_path)
    tls = make_certificate(identity.signing_key, common_name=identity.fingerprint)
    tmp = cert_path.with_suffix(".tmp")
    tmp.write_bytes(certificate_pem(tls))
    tmp.replace(cert_path)
    return identity, tls


@dataclass
class _Peer:
    conn: QuicPeerConnection
    stream: MessageStream | None = None
    room: str | None = None  # the call id of the media room this connection joined
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class RelayServer:
    """A running relay: one endpoint (plus an optional NAT-probe endpoint) and its core."""

    def __init__(
        self,
        identity: Identity,
        tls: TlsIdentity,
        *,
        limits: RelayLimits | None = None,
        advertise: str | None = None,
    ) -> None:
        self.identity = identity
        self.tls = tls
        self.limits = limits or RelayLimits()
        self._advertise = advertise
        self.endpoints: list[QuicEndpoint] = []
        self.core: RelayCore | None = None
        self._peers: dict[ConnId, _Peer] = {}
        self._rooms: dict[str, MediaRoom] = {}
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._tick_handle: asyncio.Handle | None = None  # qasync's call_at returns a plain Handle
        self._tick_at = 0.0
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        #: Actions this server does not carry out itself (a cluster's `Publish`) go here.
        self.external_actions: Callable[[Any], None] | None = None

    @classmethod
    async def start(
        cls,
        listen: str,
        *,
        data_dir: Path | None = None,
        identity: Identity | None = None,
        advertise: str | None = None,
        probe_listen: str | None = None,
        limits: RelayLimits | None = None,
        core_wrapper: Callable[[RelayCore], Any] | None = None,
    ) -> RelayServer:
        """`core_wrapper` (a cluster) wraps the core before any connection reaches it."""
        if data_dir is not None:
            identity, tls = load_relay_tls(data_dir)
        else:
            identity = identity or Identity.generate()
            tls = make_certificate(identity.signing_key, common_name=identity.fingerprint)
        server = cls(identity, tls, limits=limits, advertise=advertise)
        await server._listen(listen)
        if core_wrapper is not None:
            assert server.core is not None
            server.core = core_wrapper(server.core)  # before the accept loop first runs
        if probe_listen:
            await server._listen(probe_listen)
        return server

    @property
    def fingerprint(self) -> str:
        return self.identity.fingerprint

    @property
    def port(self) -> int:
        return self.endpoints[0].port

    @property
    def media_addr(self) -> str:
        """The advertised media address; "" means "the address each client reached"."""
        assert self.core is not None
        return self.core.media_addr

    @property
    def rooms(self) -> dict[str, MediaRoom]:
        return dict(self._rooms)

    async def _listen(self, listen: str) -> None:
        host, port = parse_listen_addr(listen)
        bind_host = "::" if host in ("0.0.0.0", "::") else host
        # Clients never open streams toward the relay (it opens the signal stream itself), so a
        # peer may open none; half-open handshakes are capped, with Retry under load.
        endpoint = await QuicEndpoint.create(
            bind_host, port, tls=self.tls, accept_peer_streams=False, handshake=SERVER_HANDSHAKE_LIMITS
        )
        self.endpoints.append(endpoint)
        if self.core is None:
            # A wildcard is nobody's address: without --advertise, "" tells each client to send
            # media to the relay address it reached for signaling.
            media = self._advertise or ("" if host in ("0.0.0.0", "::") else format_addr(host, endpoint.port))
            self.core = RelayCore(
                relay_fingerprint=self.identity.fingerprint,
                media_addr=media,
                relay_alias=self.identity.alias,
                limits=self.limits,
            )
        self._spawn(self._accept_loop(endpoint))

    def listen_addrs(self) -> list[str]:
        return [format_addr("::" if e.dual_stack else "0.0.0.0", e.port) for e in self.endpoints]

    async def serve_forever(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for endpoint in self.endpoints:
            await endpoint.close()
        self._peers.clear()
        self._rooms.clear()
        log.info("relay stopped fingerprint=%s", self.fingerprint)

    # ------------------------------------------------------------- connections

    def _spawn(self, coro: object, peer: _Peer | None = None) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)  # type: ignore[arg-type]
        bucket = peer.tasks if peer is not None else self._tasks
        bucket.add(task)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            bucket.discard(t)
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("relay task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    async def _accept_loop(self, endpoint: QuicEndpoint) -> None:
        while True:
            try:
                conn = await endpoint.accept()
            except ConnectionClosed:
                return
            conn_id = next(self._ids)
            peer = _Peer(conn)
            self._peers[conn_id] = peer
            self._spawn(self._serve_connection(conn_id, peer), peer)

    async def _serve_connection(self, conn_id: ConnId, peer: _Peer) -> None:
        assert self.core is not None
        conn = peer.conn
        try:
            reader, writer = await conn.open_stream()
            peer.stream = MessageStream(reader, writer)
            self._apply(self.core.connection_opened(conn_id, conn.remote_addr, conn.remote[0], self._now()))
            while True:
                try:
                    msg = await peer.stream.recv()
                except FrameTooLarge as exc:
                    self._apply([Send(conn_id, error_reply(exc)), Disconnect(conn_id, exc.message)])
                    return
                except ProtocolError as exc:
                    log.info("bad message conn=%d remote=%s: %s", conn_id, conn.remote_addr, exc)
                    self._apply(self.core.bad_message(conn_id, str(exc), self._now()))
                    continue
                self._apply(self.core.message_received(conn_id, msg, self._now()))
        except ConnectionClosed:
            if self.core.is_media_connection(conn_id):
                await conn.wait_closed()  # a media connection lives on after its stream ends
        finally:
            self._connection_gone(conn_id)

    def _connection_gone(self, conn_id: ConnId) -> None:
        peer = self._peers.pop(conn_id, None)
        if peer is None or self.core is None:
            return
        room = self._rooms.get(peer.room or "")
        if room is not None:
            room.leave(peer.conn)
        if not peer.conn.is_closed:
            peer.conn.close(reason_phrase="relay closed the connection")
        self._apply(self.core.connection_closed(conn_id, self._now()))

    # ----------------------------------------------------------------- actions

    def _now(self) -> float:
        return self._loop.time()

    def apply(self, actions: list[Any]) -> None:
        """Carry out actions that did not come from a connection (a cluster's messages)."""
        self._apply(actions)

    def _apply(self, actions: list[Action]) -> None:
        """Carry out the core's actions, each on its own: one that fails never stops the rest."""
        if self._stopped.is_set():
            # Shutting down: connections close because the relay goes, not their users. Telling
            # peers "Offline" now would end calls that run direct and need no relay.
            return
        for action in actions:
            try:
                self._apply_one(action)
            except Exception:
                log.exception("relay action failed action=%s", type(action).__name__)
        self._schedule_tick()

    def _apply_one(self, action: Action) -> None:
        if isinstance(action, Send):
            self._send(action.conn, action)
        elif isinstance(action, Disconnect):
            peer = self._peers.get(action.conn)
            if peer is not None:
                log.info("disconnecting conn=%d remote=%s: %s", action.conn, peer.conn.remote_addr, action.reason)
                # After the queued frames go out (call_soon keeps order), close with the reason.
                self._loop.call_soon(peer.conn.close, 0, action.reason[:200])
        elif isinstance(action, RoomOpened):
            self._rooms[action.call_id] = MediaRoom(action.call_id, action.caller, action.callee)
        elif isinstance(action, JoinRoom):
            room = self._rooms.get(action.call_id)
            peer = self._peers.get(action.conn)
            if room is not None and peer is not None:
                room.join(action.fingerprint, peer.conn)
                peer.room = action.call_id
        elif isinstance(action, RoomClosed):
            room = self._rooms.pop(action.call_id, None)
            if room is not None:
                log.info("media room closed call_id=%s forwarded=%d", room.call_id, room.forwarded)
                room.close()
        elif self.external_actions is not None:
            self.external_actions(action)

    def _send(self, conn_id: ConnId, action: Send) -> None:
        """Send to one peer. Any failure (closed, reset by the peer, over its buffer cap) marks
        only that peer dead: its connection is closed and the core hears it is gone."""
        peer = self._peers.get(conn_id)
        if peer is None or peer.stream is None:
            return
        try:
            peer.stream.send(action.message)
        except Exception as exc:  # whatever the peer did, it must not reach other users
            log.warning(
                "send failed; dropping the peer conn=%d remote=%s message=%s: %s",
                conn_id,
                peer.conn.remote_addr,
                type(action.message).__name__,
                exc or type(exc).__name__,
            )
            peer.stream = None  # nothing more goes to it
            # Gone for the core at once (not after QUIC's closing period); after this action list.
            self._loop.call_soon(self._connection_gone, conn_id)

    def _schedule_tick(self) -> None:
        if self.core is None or self._stopped.is_set():
            return
        deadline = self.core.next_deadline()
        if self._tick_handle is not None:
            if deadline is not None and self._tick_at <= deadline:
                return
            self._tick_handle.cancel()
            self._tick_handle = None
        if deadline is not None:
            self._tick_at = deadline
            self._tick_handle = self._loop.call_at(deadline, self._on_tick)

    def _on_tick(self) -> None:
        self._tick_handle = None
        assert self.core is not None
        self._apply(self.core.tick(max(self._now(), self._tick_at)))
