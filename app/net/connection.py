"""One QUIC connection living on a shared endpoint (either role).

A thin layer over aioquic's `QuicConnectionProtocol`: it adds QUIC datagrams
(bounded receive queue or a direct callback), a queue of streams opened by the
peer, the peer's certificate key, RTT, and a close reason. It never owns a
socket: the endpoint hands it a transport that writes on the shared socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events
from aioquic.quic.connection import QuicConnection, QuicConnectionState

from app.net.tls import certificate_public_key

if TYPE_CHECKING:
    from app.net.endpoint import QuicEndpoint

log = logging.getLogger(__name__)

#: Datagrams kept for a reader that is slower than the network; older ones go first.
DATAGRAM_QUEUE_LIMIT = 256
#: Peer-opened streams waiting for `accept_stream`; more are reset.
STREAM_QUEUE_LIMIT = 16

StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
DatagramHandler = Callable[[bytes], None]


class ConnectionClosed(ConnectionError):
    """The QUIC connection is closed (or failed to connect)."""


class QuicPeerConnection(QuicConnectionProtocol):
    """A QUIC connection multiplexed on a `QuicEndpoint`'s socket."""

    def __init__(
        self,
        quic: QuicConnection,
        *,
        endpoint: QuicEndpoint,
        remote: tuple[str, int],
        is_client: bool,
    ) -> None:
        super().__init__(quic)
        self.endpoint = endpoint
        #: Normalised (host, port) of the peer as first seen.
        self.remote = remote
        self.is_client = is_client
        self.close_reason: str = ""
        #: This connection's own connection IDs in the endpoint's table.
        self.cids: set[bytes] = set()
        #: QUIC error code of the close (ours or the peer's), once closed.
        self.close_code: int | None = None
        #: The signal stream that set this connection up, kept alive with it (owner's choice).
        self.signal_stream: object | None = None
        self.datagrams_dropped = 0
        self._datagrams: deque[bytes] = deque()
        self._datagram_waiter: asyncio.Future[None] | None = None
        self._datagram_handler: DatagramHandler | None = None
        self._streams: deque[StreamPair] = deque()
        self._stream_waiter: asyncio.Future[None] | None = None
        self._handshake_done = asyncio.Event()
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._ready.add_done_callback(_consume_exception)
        self._stream_handler = self._on_peer_stream

    # ----------------------------------------------------------------- state

    @property
    def is_closed(self) -> bool:
        return self._closed.is_set() or self._quic._state in (
            QuicConnectionState.CLOSING,
            QuicConnectionState.DRAINING,
            QuicConnectionState.TERMINATED,
        )

    @property
    def is_connected(self) -> bool:
        return self._handshake_done.is_set() and not self.is_closed

    @property
    def rtt(self) -> float | None:
        """Smoothed RTT in seconds, once QUIC has measured one."""
        recovery = self._quic._loss
        if not getattr(recovery, "_rtt_initialized", False):
            return None
        return float(recovery._rtt_smoothed)

    @property
    def peer_public_key(self) -> bytes | None:
        """The raw Ed25519 key of the peer's TLS certificate (servers only present one)."""
        return certificate_public_key(getattr(self._quic.tls, "_peer_certificate", None))

    @property
    def remote_addr(self) -> str:
        from app.nat.addresses import format_addr

        return format_addr(*self.remote)

    # --------------------------------------------------------------- datagrams

    def send_datagram(self, data: bytes) -> bool:
        """Queue one QUIC datagram; False (not raised) when the connection is gone."""
        if self.is_closed:
            return False
        self._quic.send_datagram_frame(data)
        self._transmit_soon()
        return True

    def set_datagram_handler(self, handler: DatagramHandler | None) -> None:
        """Deliver datagrams to `handler` (synchronously) instead of the queue."""
        self._datagram_handler = handler
        while handler is not None and self._datagrams:
            handler(self._datagrams.popleft())

    async def recv_datagram(self) -> bytes:
        """Next datagram from the peer; raises ConnectionClosed once closed and drained."""
        while not self._datagrams:
            if self._closed.is_set():
                raise ConnectionClosed(self.close_reason or "connection closed")
            self._datagram_waiter = self._loop.create_future()
            try:
                await self._datagram_waiter
            finally:
                self._datagram_waiter = None
        return self._datagrams.popleft()

    # ----------------------------------------------------------------- streams

    async def open_stream(self) -> StreamPair:
        if self.is_closed:
            raise ConnectionClosed(self.close_reason or "connection closed")
        return await self.create_stream()

    async def accept_stream(self) -> StreamPair:
        """Next bidirectional stream opened by the peer."""
        while not self._streams:
            if self._closed.is_set():
                raise ConnectionClosed(self.close_reason or "connection closed")
            self._stream_waiter = self._loop.create_future()
            try:
                await self._stream_waiter
            finally:
                self._stream_waiter = None
        return self._streams.popleft()

    def _on_peer_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._streams) >= STREAM_QUEUE_LIMIT:
            log.warning("stream refused: too many unaccepted streams remote=%s", self.remote_addr)
            writer.close()
            return
        self._streams.append((reader, writer))
        _wake(self._stream_waiter)

    # ----------------------------------------------------------------- closing

    def close(self, error_code: int = 0, reason_phrase: str = "") -> None:
        if not self.close_reason:
            self.close_reason = reason_phrase or "closed locally"
            self.close_code = error_code
        if self._quic._state in (QuicConnectionState.FIRSTFLIGHT, QuicConnectionState.CONNECTED):
            # Flush what is queued first: once a close is pending, aioquic sends only CONNECTION_CLOSE.
            self.transmit()
            super().close(error_code=error_code, reason_phrase=reason_phrase)
        elif not self._closed.is_set() and self._quic._state == QuicConnectionState.TERMINATED:
            self.abort()

    def abort(self) -> None:
        """Drop the connection now: no close frame, timers cancelled, entry freed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transmit_task is not None:
            self._transmit_task.cancel()
            self._transmit_task = None
        self._quic._state = QuicConnectionState.TERMINATED
        self._on_terminated("aborted")
        self._connection_terminated_handler()

    async def wait_connected(self) -> None:
        """Wait for the handshake; raises ConnectionClosed if the connection ends first."""
        await asyncio.shield(self._ready)

    # -------------------------------------------------------------- events

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.DatagramFrameReceived):
            self._on_datagram(event.data)
            return
        if isinstance(event, events.HandshakeCompleted):
            self._handshake_done.set()
            if not self._ready.done():
                self._ready.set_result(None)
            self.endpoint._on_handshake_completed(self)
        elif isinstance(event, events.ConnectionTerminated):
            reason = event.reason_phrase or f"error {event.error_code:#x}"
            if self.close_code is None:
                self.close_code = event.error_code
            self._on_terminated(reason)
        super().quic_event_received(event)

    def _on_datagram(self, data: bytes) -> None:
        handler = self._datagram_handler
        if handler is not None:
            try:
                handler(data)
            except Exception:
                log.exception("datagram handler failed remote=%s", self.remote_addr)
            return
        if len(self._datagrams) >= DATAGRAM_QUEUE_LIMIT:
            self._datagrams.popleft()
            self.datagrams_dropped += 1
        self._datagrams.append(data)
        _wake(self._datagram_waiter)

    def _on_terminated(self, reason: str) -> None:
        if not self.close_reason:
            self.close_reason = reason
        self._closed.set()
        for reader in self._stream_readers.values():
            if not reader.at_eof():
                reader.feed_eof()
        if not self._ready.done():
            self._ready.set_exception(ConnectionClosed(self.close_reason))
        _wake(self._datagram_waiter)
        _wake(self._stream_waiter)

    def __repr__(self) -> str:
        role = "client" if self.is_client else "server"
        return f"<QuicPeerConnection {role} {self.remote_addr} closed={self.is_closed}>"


def _consume_exception(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
