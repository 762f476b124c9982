"""The shared QUIC endpoint: one UDP socket, client and server at once.

Everything a client does goes through one socket, so that its NAT keeps ONE
mapping: signaling to the relay, reflect, the relay media connection, direct
dials out and direct dials in. The relay uses the same class as its server.

Demultiplexing works like aioquic's `server.py`, for both roles: every
connection registers each of its own ("host") connection IDs in one table.
A packet's destination connection ID picks the connection. A long-header
Initial packet with an unknown destination ID (at least 1200 bytes, as the RFC
requires of a client's first flight) starts a new server-side connection,
registered under the client's chosen ID and its own. Anything else that
matches nothing is dropped and counted, never raised.

Handshake floods are bounded (`HandshakeLimits`): server connections whose
handshake has not completed ("half-open") are capped globally and per source
(an IPv4 address or an IPv6 /64), aborted after a short timeout, and above a
load threshold a new Initial gets a stateless Retry instead of state, so a
spoofed source cannot hold any. Version Negotiation answers only packets of
a full first-flight size (RFC 9000 §5.2.2). A client endpoint may accept
incoming connections only while someone holds `allow_incoming()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import ssl
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, cast

from aioquic import tls
from aioquic.buffer import Buffer
from aioquic.quic.configuration import SMALLEST_MAX_DATAGRAM_SIZE, QuicConfiguration
from aioquic.quic.packet import (
    QuicPacketType,
    encode_quic_retry,
    encode_quic_version_negotiation,
    pull_quic_header,
)
from aioquic.quic.retry import QuicRetryTokenHandler

from app.nat.addresses import normalize_sockaddr, parse_addr, source_key
from app.net.connection import (
    CONNECTION_RECEIVE_WINDOW,
    PEER_STREAMS_LIMIT,
    STREAM_RECEIVE_WINDOW,
    BoundedQuicConnection,
    ConnectionClosed,
    QuicPeerConnection,
)
from app.net.tls import TlsIdentity, make_certificate

log = logging.getLogger(__name__)

ALPN = "wzp"
CONNECTION_ID_LENGTH = 8
_SHORT_CID_END = 1 + CONNECTION_ID_LENGTH
#: Handshake-complete server connections waiting for `accept()`; more are refused.
ACCEPT_QUEUE_LIMIT = 64
DEFAULT_IDLE_TIMEOUT = 30.0
#: The biggest DATAGRAM frame we take: what one 1200-byte packet (the size every path carries,
#: and what every endpoint here sends) can hold. A bigger one could never be forwarded.
MAX_DATAGRAM_FRAME_SIZE = SMALLEST_MAX_DATAGRAM_SIZE
#: Bursts fit; a much bigger queue only turns overload into seconds of latency (bench_relay).
SOCKET_BUFFER_BYTES = 512 * 1024


Incoming = Literal["always", "on-demand"]


@dataclass(frozen=True)
class HandshakeLimits:
    """Bounds on server connections whose handshake has not completed ("half-open").

    Each costs ~100 KiB and an Ed25519 signature the moment its Initial arrives.
    """

    #: Half-open connections in all: 128 x ~100 KiB = ~13 MB at most.
    half_open: int = 128
    #: Per source (an IPv4 address, an IPv6 /64): a NAT of many users still handshakes 16 at once.
    half_open_per_source: int = 16
    #: With more than this many half-open, a new Initial gets a stateless Retry: only a client
    #: that receives at its source address (not a spoofer) can then create state. None: never.
    retry_above: int | None = 32
    #: A handshake not completed by then is aborted (a real one takes a few round trips).
    timeout: float = 5.0


#: Relays and, by default, every endpoint.
SERVER_HANDSHAKE_LIMITS = HandshakeLimits()
#: Clients accepting on demand (a race's direct dials in): a few at a time; no Retry round trip.
#: Client Initials refused for want of a permit are kept this long, at most this many (on-demand only).
EARLY_INITIAL_S = 0.5
EARLY_INITIALS = 8

CLIENT_HANDSHAKE_LIMITS = HandshakeLimits(half_open=16, half_open_per_source=8, retry_above=None)

# Reading in the owner's ticks (`QuicEndpoint.hold_reading`).
#: While reading is held, nobody has read the sockets for this long (the holder's timer stalled,
#: or it never released): the endpoint reads them itself, so the socket is never left unread.
HELD_READ_GRACE_S = 0.2
#: Datagrams read from one socket per `read_waiting()`; more wait for the next one.
READ_BATCH = 64
_RECV_SIZE = 65535
#: Linux's SO_TIMESTAMPNS (= SCM_TIMESTAMPNS): the kernel stamps each datagram with its arrival
#: time (CLOCK_REALTIME, a struct timespec), which a held reading needs (it reads up to 20 ms later).
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")
_ANC_SPACE = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0


class IncomingPermit:
    """Lets an on-demand endpoint accept incoming connections while held. Counted: the endpoint
    accepts while any permit is held. A context manager; `release()` is idempotent."""

    def __init__(self, endpoint: QuicEndpoint) -> None:
        self._endpoint: QuicEndpoint | None = endpoint
        endpoint._permits += 1
        if endpoint._permits == 1:
            endpoint._replay_early_initials()

    @property
    def held(self) -> bool:
        return self._endpoint is not None

    def release(self) -> None:
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            endpoint._permits -= 1

    def __enter__(self) -> IncomingPermit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class _HalfOpen:
    source: str
    timer: asyncio.TimerHandle


@dataclass
class EndpointStats:
    packets_in: int = 0
    packets_out: int = 0
    dropped_garbage: int = 0
    dropped_unknown_cid: int = 0
    dropped_send_errors: int = 0
    refused_accept_queue_full: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


class _Socket(asyncio.DatagramProtocol):
    """asyncio protocol for one UDP socket; hands packets to the endpoint."""

    def __init__(self, endpoint: QuicEndpoint, family: int) -> None:
        self.endpoint = endpoint
        self.family = family
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any, at: float | None = None) -> None:
        self.endpoint._datagram_received(data, addr, at=at)

    def error_received(self, exc: Exception) -> None:
        # ICMP unreachable and friends: normal for dials to dead candidates.
        log.debug("udp error on shared socket: %s", exc)


class SideSocket(asyncio.DatagramProtocol):
    """An extra IPv4 UDP socket of the endpoint (port spraying through a symmetric NAT).

    QUIC packets arriving on it go through the endpoint's one connection-ID table, like the
    shared socket's; a connection started with ``start_connect(..., via=side)`` writes through
    it (this object is that connection's transport), so it lives on the mapping this socket
    opened in the NAT. It never starts server connections. Anything that is not QUIC goes to
    ``on_raw(data, addr)`` (the spray's probes). Closed with `close()`, and by the endpoint's.
    """

    def __init__(self, endpoint: QuicEndpoint) -> None:
        self.endpoint = endpoint
        self.transport: asyncio.DatagramTransport | None = None
        self.on_raw: Callable[[bytes, tuple[str, int]], None] | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = self.transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: Any, at: float | None = None) -> None:
        if data and not data[0] & 0x40 and self.on_raw is not None:  # QUIC sets the fixed bit (0x40)
            self.on_raw(data, normalize_sockaddr(addr))
            return
        self.endpoint._datagram_received(data, addr, side=self, at=at)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error on side socket %d: %s", self.port, exc)

    def sendto(self, data: bytes, addr: Any) -> None:
        """The transport of the connections that run on this socket."""
        if self.transport is None or self.transport.is_closing():
            self.endpoint.stats.dropped_send_errors += 1
            return
        self.endpoint.stats.packets_out += 1
        self.transport.sendto(data, addr)

    def send_raw(self, data: bytes, addr: tuple[str, int], *, ttl: int | None = None) -> bool:
        if self.transport is None or self.transport.is_closing():
            return False
        sock = self.transport.get_extra_info("socket")
        try:
            if ttl is not None:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            self.transport.sendto(data, addr)
            return True
        except OSError as exc:
            log.debug("side socket send to %s failed: %s", addr, exc)
            return False
        finally:
            if ttl is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        self.on_raw = None
        if self.transport is not None:
            self.transport.close()
        self.endpoint._side_sockets.discard(self)


class _Sender:
    """The transport each connection writes through: picks the socket by family."""

    def __init__(self, endpoint: QuicEndpoint) -> None:
        self.endpoint = endpoint

    def sendto(self, data: bytes, addr: Any) -> None:
        self.endpoint._sendto(data, addr)


class QuicEndpoint:
    """One UDP socket (or a v4+v6 pair on one port) carrying many QUIC connections."""

    def __init__(
        self,
        tls: TlsIdentity,
        *,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        alpn: str = ALPN,
        incoming: Incoming = "always",
        handshake: HandshakeLimits | None = None,
        accept_peer_streams: bool = True,
    ) -> None:
        if incoming not in ("always", "on-demand"):
            raise ValueError(f"incoming must be 'always' or 'on-demand', not {incoming!r}")
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.alpn = alpn
        self.incoming: Incoming = incoming
        if handshake is None:
            handshake = CLIENT_HANDSHAKE_LIMITS if incoming == "on-demand" else SERVER_HANDSHAKE_LIMITS
        self.handshake = handshake
        #: Whether peers may open streams (bidirectional, up to PEER_STREAMS_LIMIT per connection);
        #: without, a peer that opens one is closed with STREAM_LIMIT_ERROR (the relay: it never reads them).
        self.accept_peer_streams = accept_peer_streams
        self._permits = 0
        #: Client Initials refused for want of a permit, kept briefly (see `_keep_early_initial`).
        self._early_initials: deque[tuple[float, bytes, Any]] = deque(maxlen=EARLY_INITIALS)
        self._half_open: dict[QuicPeerConnection, _HalfOpen] = {}
        self._half_open_by_source: dict[str, int] = {}
        self._retry = QuicRetryTokenHandler() if handshake.retry_above is not None else None
        self.stats = EndpointStats()
        self.port = 0
        self.dual_stack = False
        self._loop = asyncio.get_running_loop()
        self._sockets: dict[int, _Socket] = {}
        self._side_sockets: set[SideSocket] = set()
        self._dual: _Socket | None = None  # the one socket of a dual-stack endpoint
        self._sender = _Sender(self)
        self._by_cid: dict[bytes, QuicPeerConnection] = {}
        self._connections: set[QuicPeerConnection] = set()
        self._accept_queue: deque[QuicPeerConnection] = deque()
        self._accept_waiter: asyncio.Future[None] | None = None
        self._server_config = self._make_config(is_client=False)
        self._closed = False
        #: Holders of the reading (media sessions), the sockets they read, and when they last did.
        self._read_holds = 0
        self._held: list[tuple[socket.socket, _Socket | SideSocket, asyncio.DatagramTransport]] = []
        self._held_read_at = 0.0
        self._read_guard: asyncio.TimerHandle | None = None

    # --------------------------------------------------------------- creation

    @classmethod
    async def create(
        cls,
        host: str = "::",
        port: int = 0,
        *,
        tls: TlsIdentity | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        incoming: Incoming = "always",
        handshake: HandshakeLimits | None = None,
        accept_peer_streams: bool = True,
    ) -> QuicEndpoint:
        """Bind the shared socket. host "::" means dual-stack (v4 and v6 on one port).

        incoming="always" accepts every incoming connection (a relay; the default);
        "on-demand" only while an `allow_incoming()` permit is held (a client during a race).
        `handshake` bounds half-open connections (default: SERVER_HANDSHAKE_LIMITS, or
        CLIENT_HANDSHAKE_LIMITS when on demand). accept_peer_streams=False: peers may open
        no streams at all (a relay, which opens the one it uses).
        """
        endpoint = cls(
            tls or make_certificate(),
            idle_timeout=idle_timeout,
            incoming=incoming,
            handshake=handshake,
            accept_peer_streams=accept_peer_streams,
        )
        await endpoint._bind(host, port)
        return endpoint

    async def _bind(self, host: str, port: int) -> None:
        socks = _bind_sockets(host, port)
        for sock in socks:
            _, proto = await self._loop.create_datagram_endpoint(partial(_Socket, self, sock.family), sock=sock)
            self._sockets[sock.family] = cast(_Socket, proto)
        first = socks[0]
        self.port = first.getsockname()[1]
        self.dual_stack = first.family == socket.AF_INET6 and not first.getsockopt(
            socket.IPPROTO_IPV6, socket.IPV6_V6ONLY
        )
        self._dual = self._sockets[socket.AF_INET6] if self.dual_stack else None
        log.info(
            "shared endpoint bound port=%d families=%s dual_stack=%s",
            self.port,
            [socket.AddressFamily(f).name for f in self._sockets],
            self.dual_stack,
        )

    def _make_config(self, *, is_client: bool, server_name: str | None = None) -> QuicConfiguration:
        config = QuicConfiguration(
            is_client=is_client,
            alpn_protocols=[self.alpn],
            connection_id_length=CONNECTION_ID_LENGTH,
            idle_timeout=self.idle_timeout,
            max_datagram_frame_size=MAX_DATAGRAM_FRAME_SIZE,
            max_data=CONNECTION_RECEIVE_WINDOW,
            max_stream_data=STREAM_RECEIVE_WINDOW,
            verify_mode=ssl.CERT_NONE,
            server_name=server_name,
        )
        if not is_client:
            config.certificate = self.tls.certificate
            config.private_key = self.tls.private_key
        return config

    # ------------------------------------------------------------ public API

    @property
    def connections(self) -> frozenset[QuicPeerConnection]:
        return frozenset(self._connections)

    @property
    def cid_table_size(self) -> int:
        return len(self._by_cid)

    @property
    def half_open_count(self) -> int:
        """Server connections whose handshake has not completed."""
        return len(self._half_open)

    @property
    def accepting_incoming(self) -> bool:
        return not self._closed and (self.incoming == "always" or self._permits > 0)

    def allow_incoming(self) -> IncomingPermit:
        """Accept incoming connections while the returned permit is held (`with` or `release()`).

        Only matters for incoming="on-demand"; permits are counted, so overlapping races each
        hold one. Connections accepted meanwhile live on after the permit is released.
        """
        return IncomingPermit(self)

    def _new_quic(self, config: QuicConfiguration, **kwargs: Any) -> BoundedQuicConnection:
        peer_streams = PEER_STREAMS_LIMIT if self.accept_peer_streams else 0
        return BoundedQuicConnection(configuration=config, peer_streams=peer_streams, **kwargs)

    async def connect(
        self,
        addr: str | tuple[str, int],
        server_name: str = "wzp",
        *,
        timeout: float = 5.0,
    ) -> QuicPeerConnection:
        """Dial `addr` ("ip:port" or (host, port)) from the shared socket and wait for the handshake."""
        conn = self.start_connect(addr, server_name)
        try:
            await asyncio.wait_for(conn.wait_connected(), timeout)
        except TimeoutError:
            conn.abort()
            raise ConnectionClosed(f"no answer from {conn.remote_addr} within {timeout:g} s") from None
        except BaseException:
            # Cancelled (e.g. a race loser): tell the peer, which may have finished its side already.
            conn.close(reason_phrase="connect abandoned")
            raise
        return conn

    async def open_side_socket(self) -> SideSocket:
        """An extra IPv4 UDP socket on a free port (see `SideSocket`)."""
        if self._closed:
            raise ConnectionClosed("endpoint is closed")
        _, side = await self._loop.create_datagram_endpoint(
            lambda: SideSocket(self), local_addr=("0.0.0.0", 0), family=socket.AF_INET
        )
        self._side_sockets.add(side)
        return side

    def start_connect(
        self, addr: str | tuple[str, int], server_name: str = "wzp", *, via: SideSocket | None = None
    ) -> QuicPeerConnection:
        """Send the first flight to `addr` and return the (not yet connected) connection; from
        the shared socket, or from the side socket `via` (IPv4 only)."""
        if self._closed:
            raise ConnectionClosed("endpoint is closed")
        host, port = parse_addr(addr) if isinstance(addr, str) else addr
        if via is not None and (":" in host or via.closed):
            raise ConnectionClosed("a side socket dials IPv4 only, and only while it is open")
        sockaddr = (host, port) if via is not None else self._sockaddr_for(host, port)
        quic = self._new_quic(self._make_config(is_client=True, server_name=server_name))
        conn = self._adopt(quic, remote=(host, port), is_client=True, sender=via)
        conn.connect(sockaddr)
        return conn

    async def accept(self) -> QuicPeerConnection:
        """Next incoming connection whose handshake completed."""
        while True:
            while self._accept_queue:
                conn = self._accept_queue.popleft()
                if not conn.is_closed:
                    return conn
            if self._closed:
                raise ConnectionClosed("endpoint is closed")
            self._accept_waiter = self._loop.create_future()
            try:
                await self._accept_waiter
            finally:
                self._accept_waiter = None

    def send_raw(self, data: bytes, addr: str | tuple[str, int], *, ttl: int | None = None) -> bool:
        """Send one plain UDP packet from the shared socket (NAT punching); False on error."""
        host, port = parse_addr(addr) if isinstance(addr, str) else addr
        sockaddr = self._sockaddr_for(host, port)
        sock_proto = self._socket_for(sockaddr)
        if sock_proto is None or sock_proto.transport is None:
            return False
        sock = sock_proto.transport.get_extra_info("socket")
        v6_target = ":" in host
        restore: list[tuple[int, int, int]] = []
        try:
            if ttl is not None:
                for level, opt in _ttl_options(sock_proto.family, v6_target):
                    restore.append((level, opt, sock.getsockopt(level, opt)))
                    sock.setsockopt(level, opt, ttl)
            sock_proto.transport.sendto(data, sockaddr)  # sent at once on an idle UDP socket
            self.stats.packets_out += 1
            return True
        except OSError as exc:
            log.debug("raw send to %s failed: %s", addr, exc)
            self.stats.dropped_send_errors += 1
            return False
        finally:
            for level, opt, value in restore:
                try:
                    sock.setsockopt(level, opt, value)
                except OSError:
                    pass

    async def close(self, *, grace: float = 0.2) -> None:
        """Close every connection (sending CONNECTION_CLOSE), stop all timers, release the socket."""
        if self._closed:
            return
        if self._read_holds:  # the peers' confirmations of our close are read as they come
            self._read_holds = 1
            self.release_reading()
        self._closed = True
        conns = list(self._connections)
        for conn in conns:
            conn.close(reason_phrase="endpoint closing")
        if conns and grace > 0:
            waiters = [asyncio.ensure_future(c.wait_closed()) for c in conns]
            _, pending = await asyncio.wait(waiters, timeout=grace)
            for waiter in pending:  # peers that did not confirm in time: leave no task behind
                waiter.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        for conn in list(self._connections):
            conn.abort()
        for entry in self._half_open.values():
            entry.timer.cancel()
        self._half_open.clear()
        self._half_open_by_source.clear()
        self._connections.clear()
        self._by_cid.clear()
        _wake(self._accept_waiter)
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()
        for side in list(self._side_sockets):
            side.close()
        self._dual = None
        log.info("shared endpoint closed port=%d", self.port)

    # ---------------------------------------------------------------- internals

    def _adopt(
        self,
        quic: BoundedQuicConnection,
        *,
        remote: tuple[str, int],
        is_client: bool,
        sender: SideSocket | None = None,
    ) -> QuicPeerConnection:
        conn = QuicPeerConnection(quic, endpoint=self, remote=remote, is_client=is_client)
        conn.connection_made(cast(asyncio.DatagramTransport, sender if sender is not None else self._sender))
        conn._connection_id_issued_handler = partial(self._cid_issued, conn)
        conn._connection_id_retired_handler = partial(self._cid_retired, conn)
        conn._connection_terminated_handler = partial(self._terminated, conn)
        self._connections.add(conn)
        self._cid_issued(conn, quic.host_cid)
        return conn

    def _cid_issued(self, conn: QuicPeerConnection, cid: bytes) -> None:
        self._by_cid[cid] = conn
        conn.cids.add(cid)

    def _cid_retired(self, conn: QuicPeerConnection, cid: bytes) -> None:
        if self._by_cid.get(cid) is conn:
            del self._by_cid[cid]
        conn.cids.discard(cid)

    def _terminated(self, conn: QuicPeerConnection) -> None:
        for cid in conn.cids:
            if self._by_cid.get(cid) is conn:
                del self._by_cid[cid]
        conn.cids.clear()
        self._connections.discard(conn)
        self._half_open_done(conn)
        try:
            self._accept_queue.remove(conn)
        except ValueError:
            pass
        log.debug("connection terminated remote=%s reason=%s", conn.remote_addr, conn.close_reason)

    def connection_handshake_completed(self, conn: QuicPeerConnection) -> None:
        if conn.is_client:
            return
        self._half_open_done(conn)
        if len(self._accept_queue) >= ACCEPT_QUEUE_LIMIT:
            self.stats.refused_accept_queue_full += 1
            conn.close(reason_phrase="busy")
            return
        self._accept_queue.append(conn)
        _wake(self._accept_waiter)

    def _datagram_received(
        self, data: bytes, addr: Any, side: SideSocket | None = None, at: float | None = None
    ) -> None:
        """One datagram from a socket; `at`: when it arrived (loop clock), if it was read later."""
        self.stats.packets_in += 1
        if len(data) > _SHORT_CID_END and (data[0] & 0xC0) == 0x40:
            # A short-header packet (fixed bit set): its connection ID is the next 8 bytes, which is
            # all pull_quic_header would read of it. Unknown IDs take the full path below.
            conn = self._by_cid.get(data[1:_SHORT_CID_END])
            if conn is not None:
                try:
                    conn.datagram_received(data, addr, at)
                except Exception:
                    log.exception("connection failed to process a packet remote=%s", conn.remote_addr)
                    self._drop("processing-error")
                return
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=CONNECTION_ID_LENGTH)
        except Exception:
            self._drop("garbage")
            return
        conn = self._by_cid.get(header.destination_cid)
        is_new = False
        if conn is None and side is not None:
            self._drop("unknown-cid")  # a side socket only carries connections it dialed
            return
        if conn is None:
            conn = self._maybe_new_server_connection(data, addr, header)
            if conn is None:
                return
            is_new = True
        try:
            conn.datagram_received(data, addr, at)
        except Exception:
            # aioquic should never raise on bad input; if it does, the packet is dropped.
            log.exception("connection failed to process a packet remote=%s", conn.remote_addr)
            self._drop("processing-error")
        if is_new and not _decrypted_initial(conn):
            # Looked like a client's first flight but did not decrypt: keep no state for it.
            conn.abort()
            self._drop("bad-initial")

    def _maybe_new_server_connection(self, data: bytes, addr: Any, header: Any) -> QuicPeerConnection | None:
        if self._closed:
            return None
        if header.packet_type != QuicPacketType.INITIAL or header.version is None:
            if (
                header.version is not None
                and header.packet_type != QuicPacketType.VERSION_NEGOTIATION
                and header.version not in self._server_config.supported_versions
            ):
                self._send_version_negotiation(data, header, addr)
            else:
                self._drop("unknown-cid")
            return None
        if header.version not in self._server_config.supported_versions:
            self._send_version_negotiation(data, header, addr)
            return None
        if len(data) < SMALLEST_MAX_DATAGRAM_SIZE:
            self._drop("short-initial")
            return None
        if not self.accepting_incoming:
            self._drop("incoming-refused")
            self._keep_early_initial(data, addr)
            return None
        remote = normalize_sockaddr(addr)
        source = source_key(remote[0])
        limits = self.handshake
        if self._half_open_by_source.get(source, 0) >= limits.half_open_per_source:
            self._drop("half-open-source-full")
            return None
        original_dcid = header.destination_cid
        retry_scid: bytes | None = None
        if self._retry is not None and header.token:
            # A client answering our Retry: its token proves it receives at this address.
            try:
                original_dcid = self._retry.validate_token(
                    address=addr, destination_cid=header.destination_cid, token=header.token, now=self._loop.time()
                )
            except ValueError:
                self._drop("bad-token")
                return None
            retry_scid = header.destination_cid
        elif limits.retry_above is not None and len(self._half_open) >= limits.retry_above:
            self._send_retry(header, addr)
            return None
        if len(self._half_open) >= limits.half_open and not self._evict_half_open_for(source):
            self._drop("half-open-full")
            return None
        quic = self._new_quic(
            self._server_config,
            original_destination_connection_id=original_dcid,
            retry_source_connection_id=retry_scid,
        )
        conn = self._adopt(quic, remote=remote, is_client=False)
        self._cid_issued(conn, header.destination_cid)
        timer = self._loop.call_later(limits.timeout, self._half_open_expired, conn)
        self._half_open[conn] = _HalfOpen(source, timer)
        self._half_open_by_source[source] = self._half_open_by_source.get(source, 0) + 1
        return conn

    def _keep_early_initial(self, data: bytes, addr: Any) -> None:
        """A peer's first flight may arrive a moment before our side of the call opens a permit (its
        CallSetup came first, or it dialed at once): kept for `EARLY_INITIAL_S`, so the handshake need
        not wait for the peer's retransmission (~200 ms later). Bounded: `EARLY_INITIALS` datagrams;
        a kept Initial passes every check again when replayed, and none is kept without "on-demand"."""
        if self.incoming == "on-demand" and not self._closed:
            self._early_initials.append((self._loop.time(), bytes(data), addr))

    def _replay_early_initials(self) -> None:
        """A permit was opened: what was refused in the last `EARLY_INITIAL_S` is received now."""
        if not self._early_initials:
            return
        cutoff = self._loop.time() - EARLY_INITIAL_S
        kept = [(data, addr) for at, data, addr in self._early_initials if at >= cutoff]
        self._early_initials.clear()
        for data, addr in kept:
            self._count("early-initial-replayed")
            self._loop.call_soon(self._datagram_received, data, addr)

    def _evict_half_open_for(self, source: str) -> bool:
        """The half-open table is full: make room for `source` if another source holds more than its
        share. Without this, a few addresses that answer our Retries (real ones, so the Retry does not
        stop them) keep the table full and every newcomer waits for their handshakes to time out; with
        it, each source can keep only as many as the others. The oldest entry of the largest source is
        aborted (no close frame). False: `source` already holds as many as anyone (its Initial is dropped)."""
        mine = self._half_open_by_source.get(source, 0)
        largest, count = max(self._half_open_by_source.items(), key=lambda item: item[1])
        if count <= mine + 1:
            return False
        victim = next(conn for conn, entry in self._half_open.items() if entry.source == largest)
        self._count("half-open-evicted")
        log.info("handshake evicted remote=%s source_half_open=%d for=%s", victim.remote_addr, count, source)
        victim.abort()  # state freed now (and _terminated drops the entry)
        return True

    def _half_open_done(self, conn: QuicPeerConnection) -> None:
        entry = self._half_open.pop(conn, None)
        if entry is None:
            return
        entry.timer.cancel()
        left = self._half_open_by_source[entry.source] - 1
        if left:
            self._half_open_by_source[entry.source] = left
        else:
            del self._half_open_by_source[entry.source]

    def _half_open_expired(self, conn: QuicPeerConnection) -> None:
        if conn not in self._half_open:
            return
        self._count("half-open-timeout")
        log.info("handshake timed out remote=%s after=%.1fs", conn.remote_addr, self.handshake.timeout)
        conn.abort()  # no close frame, state freed now (and _terminated drops the entry)

    def _send_retry(self, header: Any, addr: Any) -> None:
        assert self._retry is not None
        self._count("retry")
        retry_scid = os.urandom(CONNECTION_ID_LENGTH)
        self._sendto(
            encode_quic_retry(
                version=header.version,
                source_cid=retry_scid,
                destination_cid=header.source_cid,
                original_destination_cid=header.destination_cid,
                retry_token=self._retry.create_token(
                    address=addr,
                    original_destination_connection_id=header.destination_cid,
                    retry_source_connection_id=retry_scid,
                    now=self._loop.time(),
                ),
            ),
            addr,
        )

    def _count(self, reason: str) -> None:
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1

    def _send_version_negotiation(self, data: bytes, header: Any, addr: Any) -> None:
        if len(data) < SMALLEST_MAX_DATAGRAM_SIZE or not self.accepting_incoming:
            # RFC 9000 §5.2.2: only a datagram a client's first flight could be is answered;
            # answering a few bytes with a longer list of versions is an amplifier.
            self._drop("short-version-negotiation" if self.accepting_incoming else "incoming-refused")
            return
        self._count("version-negotiation")
        self._sendto(
            encode_quic_version_negotiation(
                source_cid=header.destination_cid,
                destination_cid=header.source_cid,
                supported_versions=self._server_config.supported_versions,
            ),
            addr,
        )

    def _drop(self, reason: str) -> None:
        if reason == "unknown-cid":
            self.stats.dropped_unknown_cid += 1
        else:
            self.stats.dropped_garbage += 1
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1

    def _sockaddr_for(self, host: str, port: int) -> tuple[Any, ...]:
        v6 = ":" in host
        if self.dual_stack:
            return (host if v6 else f"::ffff:{host}", port, 0, 0)
        if v6:
            return (host, port, 0, 0)
        return (host, port)

    def _socket_for(self, sockaddr: tuple[Any, ...]) -> _Socket | None:
        if self._dual is not None:
            return self._dual
        family = socket.AF_INET6 if len(sockaddr) == 4 else socket.AF_INET
        return self._sockets.get(family)

    # ------------------------------------------------------ reading in ticks

    def hold_reading(self) -> bool:
        """The caller (a media session, which wakes every 20 ms anyway) reads the sockets from now
        on, by calling `read_waiting()` at each of its ticks, instead of the event loop waking for
        every datagram: one wake-up per frame instead of two. Each datagram keeps the time it
        arrived (the kernel's receive timestamp), so RTT samples and the jitter buffer's delay
        estimate are as exact as when it was read at once; other traffic on the socket (signalling,
        the standby path, a probe's handshake) waits at most a frame. Counted: reading returns to
        the loop when every holder has called `release_reading()`. If no holder has read for
        `HELD_READ_GRACE_S`, the endpoint reads by itself.

        False (nothing changes) where this cannot be done: no receive timestamps (only Linux gives
        them here), or an event loop without selector readers (Windows' proactor)."""
        if self._closed:
            return False
        if not self._read_holds:
            held = self._holdable_sockets()
            if held is None:
                return False
            for sock, _proto, _transport in held:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self._loop._remove_reader(sock.fileno())  # type: ignore[attr-defined]
            self._held = held
            self._held_read_at = self._loop.time()
            self._read_guard = self._loop.call_later(HELD_READ_GRACE_S, self._guard_held_reading)
            log.debug("socket reading held port=%d sockets=%d", self.port, len(held))
        self._read_holds += 1
        return True

    def release_reading(self) -> None:
        """One holder is done; the last one gives the reading back to the loop."""
        if self._read_holds == 0:
            return
        self._read_holds -= 1
        if self._read_holds:
            return
        self.read_waiting()  # what arrived since the holder's last tick
        if self._read_guard is not None:
            self._read_guard.cancel()
            self._read_guard = None
        held, self._held = self._held, []
        for sock, _proto, transport in held:
            if not transport.is_closing():
                self._loop._add_reader(sock.fileno(), transport._read_ready)  # type: ignore[attr-defined]
        log.debug("socket reading released port=%d", self.port)

    def read_waiting(self) -> None:
        """Read what waits in the held sockets now (at most `READ_BATCH` each), each datagram
        stamped with its arrival time on the loop's clock."""
        if not self._held:
            return
        loop_now = self._loop.time()
        self._held_read_at = loop_now
        realtime_offset = time.time() - loop_now
        for sock, proto, transport in self._held:
            if transport.is_closing():
                continue
            for _ in range(READ_BATCH):
                try:
                    data, ancillary, _flags, addr = sock.recvmsg(_RECV_SIZE, _ANC_SPACE)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:  # (what asyncio's reader does with an ICMP error)
                    proto.error_received(exc)
                    continue
                at = loop_now
                for level, kind, value in ancillary:
                    if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
                        seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                        at = min(loop_now, seconds + nanoseconds * 1e-9 - realtime_offset)
                proto.datagram_received(data, addr, at)

    def _holdable_sockets(self) -> list[tuple[socket.socket, _Socket | SideSocket, asyncio.DatagramTransport]] | None:
        if not sys.platform.startswith("linux") or not _ANC_SPACE:
            return None
        if not hasattr(self._loop, "_remove_reader") or not hasattr(self._loop, "_add_reader"):
            return None
        held: list[tuple[socket.socket, _Socket | SideSocket, asyncio.DatagramTransport]] = []
        protos: list[_Socket | SideSocket] = [*self._sockets.values(), *self._side_sockets]
        for proto in protos:
            transport = proto.transport
            sock = getattr(transport, "_sock", None)
            if transport is None or transport.is_closing():
                continue
            if not isinstance(sock, socket.socket) or not hasattr(transport, "_read_ready"):
                return None
            held.append((sock, proto, transport))
        return held or None

    def _guard_held_reading(self) -> None:
        self._read_guard = None
        if not self._read_holds or self._closed:
            return
        if self._loop.time() - self._held_read_at >= HELD_READ_GRACE_S:
            self._count("held-read-late")
            self.read_waiting()
        self._read_guard = self._loop.call_later(HELD_READ_GRACE_S, self._guard_held_reading)

    def _sendto(self, data: bytes, addr: Any) -> None:
        sock = self._dual if self._dual is not None else self._socket_for(tuple(addr))
        if sock is None or sock.transport is None or sock.transport.is_closing():
            self.stats.dropped_send_errors += 1
            return
        self.stats.packets_out += 1
        sock.transport.sendto(data, addr)


def _bind_sockets(host: str, port: int) -> list[socket.socket]:
    """One dual-stack socket where the OS allows it; else v4 + v6 on the same port; else v4."""
    if host in ("::", ""):
        if socket.has_ipv6:
            try:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                try:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                    sock.bind(("::", port, 0, 0))
                    return [_nonblocking(sock)]
                except OSError:
                    sock.close()
            except OSError:
                pass
            pair = _bind_pair(port)
            if pair:
                return pair
        host = "0.0.0.0"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port, 0, 0))
        else:
            sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return [_nonblocking(sock)]


def _bind_pair(port: int) -> list[socket.socket] | None:
    """A v4 socket and a v6-only socket sharing one port number."""
    for _ in range(8):
        v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            v4.bind(("0.0.0.0", port))
        except OSError:
            v4.close()
            return None
        chosen = v4.getsockname()[1]
        v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        try:
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::", chosen, 0, 0))
        except OSError as exc:
            v6.close()
            if exc.errno == errno.EADDRINUSE and port == 0:
                v4.close()
                continue
            return [_nonblocking(v4)]
        return [_nonblocking(v4), _nonblocking(v6)]
    return None


def _decrypted_initial(conn: QuicPeerConnection) -> bool:
    space = conn._quic._spaces.get(tls.Epoch.INITIAL)
    return space is not None and space.largest_received_packet >= 0


def _nonblocking(sock: socket.socket) -> socket.socket:
    sock.setblocking(False)
    _grow_buffers(sock)
    return sock


def _grow_buffers(sock: socket.socket) -> None:
    """Room for bursts (a relay forwarding many calls); the OS may cap it lower."""
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER_BYTES)
        except OSError:
            pass


def _ttl_options(sock_family: int, v6_target: bool) -> list[tuple[int, int]]:
    if sock_family == socket.AF_INET:
        return [(socket.IPPROTO_IP, socket.IP_TTL)]
    if v6_target:
        return [(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)]
    # v4-mapped destination on a dual-stack socket: Linux uses the IPv4 TTL.
    return [(socket.IPPROTO_IP, socket.IP_TTL), (socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)]


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)
