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
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any, cast

from aioquic import tls
from aioquic.buffer import Buffer
from aioquic.quic.configuration import SMALLEST_MAX_DATAGRAM_SIZE, QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicPacketType, encode_quic_version_negotiation, pull_quic_header

from app.nat.addresses import normalize_sockaddr, parse_addr
from app.net.connection import ConnectionClosed, QuicPeerConnection
from app.net.tls import TlsIdentity, make_certificate

log = logging.getLogger(__name__)

ALPN = "wzp"
CONNECTION_ID_LENGTH = 8
#: Handshake-complete server connections waiting for `accept()`; more are refused.
ACCEPT_QUEUE_LIMIT = 64
DEFAULT_IDLE_TIMEOUT = 30.0
MAX_DATAGRAM_FRAME_SIZE = 65536
#: Bursts fit; a much bigger queue only turns overload into seconds of latency (bench_relay).
SOCKET_BUFFER_BYTES = 512 * 1024


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

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.endpoint._datagram_received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP unreachable and friends: normal for dials to dead candidates.
        log.debug("udp error on shared socket: %s", exc)


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
    ) -> None:
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.alpn = alpn
        self.stats = EndpointStats()
        self.port = 0
        self.dual_stack = False
        self._loop = asyncio.get_running_loop()
        self._sockets: dict[int, _Socket] = {}
        self._dual: _Socket | None = None  # the one socket of a dual-stack endpoint
        self._sender = _Sender(self)
        self._by_cid: dict[bytes, QuicPeerConnection] = {}
        self._connections: set[QuicPeerConnection] = set()
        self._accept_queue: deque[QuicPeerConnection] = deque()
        self._accept_waiter: asyncio.Future[None] | None = None
        self._server_config = self._make_config(is_client=False)
        self._closed = False

    # --------------------------------------------------------------- creation

    @classmethod
    async def create(
        cls,
        host: str = "::",
        port: int = 0,
        *,
        tls: TlsIdentity | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> QuicEndpoint:
        """Bind the shared socket. host "::" means dual-stack (v4 and v6 on one port)."""
        endpoint = cls(tls or make_certificate(), idle_timeout=idle_timeout)
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

    def start_connect(self, addr: str | tuple[str, int], server_name: str = "wzp") -> QuicPeerConnection:
        """Send the first flight to `addr` and return the (not yet connected) connection."""
        if self._closed:
            raise ConnectionClosed("endpoint is closed")
        host, port = parse_addr(addr) if isinstance(addr, str) else addr
        sockaddr = self._sockaddr_for(host, port)
        quic = QuicConnection(configuration=self._make_config(is_client=True, server_name=server_name))
        conn = self._adopt(quic, remote=(host, port), is_client=True)
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
        self._connections.clear()
        self._by_cid.clear()
        _wake(self._accept_waiter)
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()
        self._dual = None
        log.info("shared endpoint closed port=%d", self.port)

    # ---------------------------------------------------------------- internals

    def _adopt(self, quic: QuicConnection, *, remote: tuple[str, int], is_client: bool) -> QuicPeerConnection:
        conn = QuicPeerConnection(quic, endpoint=self, remote=remote, is_client=is_client)
        conn.connection_made(cast(asyncio.DatagramTransport, self._sender))
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
        try:
            self._accept_queue.remove(conn)
        except ValueError:
            pass
        log.debug("connection terminated remote=%s reason=%s", conn.remote_addr, conn.close_reason)

    def _on_handshake_completed(self, conn: QuicPeerConnection) -> None:
        if conn.is_client:
            return
        if len(self._accept_queue) >= ACCEPT_QUEUE_LIMIT:
            self.stats.refused_accept_queue_full += 1
            conn.close(reason_phrase="busy")
            return
        self._accept_queue.append(conn)
        _wake(self._accept_waiter)

    def _datagram_received(self, data: bytes, addr: Any) -> None:
        self.stats.packets_in += 1
        try:
            header = pull_quic_header(Buffer(data=data), host_cid_length=CONNECTION_ID_LENGTH)
        except Exception:
            self._drop("garbage")
            return
        conn = self._by_cid.get(header.destination_cid)
        is_new = False
        if conn is None:
            conn = self._maybe_new_server_connection(data, addr, header)
            if conn is None:
                return
            is_new = True
        try:
            conn.datagram_received(data, addr)
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
                self._send_version_negotiation(header, addr)
            else:
                self._drop("unknown-cid")
            return None
        if header.version not in self._server_config.supported_versions:
            self._send_version_negotiation(header, addr)
            return None
        if len(data) < SMALLEST_MAX_DATAGRAM_SIZE:
            self._drop("short-initial")
            return None
        quic = QuicConnection(
            configuration=self._server_config,
            original_destination_connection_id=header.destination_cid,
        )
        conn = self._adopt(quic, remote=normalize_sockaddr(addr), is_client=False)
        self._cid_issued(conn, header.destination_cid)
        return conn

    def _send_version_negotiation(self, header: Any, addr: Any) -> None:
        self.stats.by_reason["version-negotiation"] = self.stats.by_reason.get("version-negotiation", 0) + 1
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
