"""The receive fast path of established calls (`BoundedQuicConnection.receive_media_packet`).

Sans-IO: two real aioquic connections (ours) handshake by handing each other their datagrams
with an explicit clock; packets are then fed as the endpoint feeds them (fast path first, aioquic's
full path when it declines). Packets with frames of our choosing are sealed with the sender's
real 1-RTT keys. Then over real UDP on loopback: both paths are taken in a real connection,
and garbage with a valid connection ID is only counted.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from typing import Any

import pytest
from aioquic import tls
from aioquic.buffer import Buffer
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnectionState
from aioquic.quic.packet import QuicErrorCode, pull_ack_frame, pull_quic_header

from app.net import QuicEndpoint
from app.net.connection import BoundedQuicConnection
from app.net.endpoint import CONNECTION_ID_LENGTH, MAX_DATAGRAM_FRAME_SIZE
from app.net.tls import make_certificate

CLIENT_ADDR = ("127.0.0.1", 40001)
SERVER_ADDR = ("127.0.0.1", 40002)


class Pair:
    """A client and a server connection, handshaken, and a clock."""

    def __init__(self) -> None:
        identity = make_certificate()

        def config(is_client: bool) -> QuicConfiguration:
            cfg = QuicConfiguration(
                is_client=is_client,
                alpn_protocols=["wzp"],
                connection_id_length=CONNECTION_ID_LENGTH,
                max_datagram_frame_size=MAX_DATAGRAM_FRAME_SIZE,
                server_name="wzp" if is_client else None,
                verify_mode=ssl.CERT_NONE,
            )
            if not is_client:
                cfg.certificate = identity.certificate
                cfg.private_key = identity.private_key
            return cfg

        self.now = 1000.0
        self.received: dict[int, list[bytes]] = {}
        self.client = BoundedQuicConnection(configuration=config(True))
        self.client.connect(SERVER_ADDR, now=self.now)
        first = [data for data, _ in self.client.datagrams_to_send(self.now)]
        header = pull_quic_header(Buffer(data=first[0]), host_cid_length=CONNECTION_ID_LENGTH)
        self.server = BoundedQuicConnection(
            configuration=config(False), original_destination_connection_id=header.destination_cid
        )
        for data in first:
            self.deliver(self.server, data)
        for _ in range(10):
            self.exchange()
        assert self.client._handshake_confirmed and self.server._handshake_confirmed
        self.received: dict[int, list[bytes]] = {id(self.client): [], id(self.server): []}

    def addr_of(self, conn: BoundedQuicConnection) -> tuple[str, int]:
        return CLIENT_ADDR if conn is self.client else SERVER_ADDR

    def other(self, conn: BoundedQuicConnection) -> BoundedQuicConnection:
        return self.server if conn is self.client else self.client

    def deliver(self, to: BoundedQuicConnection, data: bytes, addr: Any = None) -> list[bytes]:
        """What `QuicPeerConnection.datagram_received` does: the fast path, else aioquic's."""
        addr = addr or self.addr_of(self.other(to))
        got = to.receive_media_packet(data, addr, self.now)
        if got is None:
            to.receive_datagram(data, addr, self.now)
            got = []
        while (event := to.next_event()) is not None:
            if isinstance(event, events.DatagramFrameReceived):
                got.append(event.data)
        self.received[id(to)] = self.received.get(id(to), []) + got
        return got

    def send(self, conn: BoundedQuicConnection) -> list[bytes]:
        """What `QuicPeerConnection.transmit` does: the fast path for a media frame, else aioquic's."""
        fast = conn.send_media_packet(self.now) if conn._datagrams_pending else None
        if fast is not None:
            assert fast[1] == self.addr_of(self.other(conn))
            out = [fast[0]]
        else:
            out = [data for data, _ in conn.datagrams_to_send(self.now)]
        for data in out:
            self.deliver(self.other(conn), data)
        return out

    def exchange(self, dt: float = 0.02) -> None:
        self.now += dt
        for conn in (self.client, self.server):
            timer = conn.get_timer()
            if timer is not None and timer <= self.now:
                conn.handle_timer(self.now)
        self.send(self.client)
        self.send(self.server)


def test_media_acks_cover_several_frames_and_never_go_alone() -> None:
    """A media connection holds its ACK (75 ms) until a frame goes out within a frame of it being due:
    one ACK per three or four frames, each riding on a frame, none alone, none late (the peer knows
    we may hold ACKs 100 ms: it never fires a probe), and the call's packets all acknowledged."""
    from app.media.session import ACK_DELAY_S, ACK_RIDES_WITHIN_S
    from app.net.connection import MAX_ACK_DELAY

    pair = Pair()
    client, server = pair.client, pair.server
    assert client._loss.max_ack_delay == server._loss.max_ack_delay == MAX_ACK_DELAY  # advertised
    acks = {id(client): 0, id(server): 0}
    for conn in (client, server):
        conn.set_ack_delay(ACK_DELAY_S, ride_within=ACK_RIDES_WITHIN_S)
        handle = conn._loss.on_ack_received

        def counted(*args: Any, _handle: Any = handle, _conn: Any = conn, **kwargs: Any) -> None:
            acks[id(_conn)] += 1
            _handle(*args, **kwargs)

        conn._loss.on_ack_received = counted  # type: ignore[method-assign]
    full_before = (client.packets_sent_full, server.packets_sent_full)
    for i in range(500):
        client.send_datagram_frame(b"c%04d" % i)
        server.send_datagram_frame(b"s%04d" % i)
        pair.exchange()
    assert pair.received[id(server)] == [b"c%04d" % i for i in range(500)]
    assert pair.received[id(client)] == [b"s%04d" % i for i in range(500)]
    # Every packet was a media frame built by the fast path: no ACK went in a packet of its own.
    assert (client.packets_sent_full, server.packets_sent_full) == full_before
    for conn in (client, server):
        # Each side handled one ACK per 3-4 of its frames (it was one per frame).
        assert 500 / 5 <= acks[id(conn)] <= 500 / 2.5, acks
        assert conn._loss._pto_count == 0 and not conn._probe_pending and not conn._ping_pending
        space = conn._spaces[tls.Epoch.ONE_RTT]
        assert len(space.sent_packets) <= 5, len(space.sent_packets)  # the last ACK's worth at most
        assert conn._loss._rtt_initialized


def seal(sender: BoundedQuicConnection, payload: bytes, *, first_bits: int = 0, dcid: bytes | None = None) -> bytes:
    """A 1-RTT packet from `sender` with exactly `payload` as its frames, under its real keys."""
    crypto = sender._cryptos[tls.Epoch.ONE_RTT]
    number = sender._packet_number
    sender._packet_number += 1
    dcid = sender._peer_cid.cid if dcid is None else dcid
    header = bytes([0x40 | first_bits | 0x01]) + dcid + (number & 0xFFFF).to_bytes(2, "big")
    return crypto.encrypt_packet(header, payload.ljust(4, b"\0"), number)


def datagram_frame(data: bytes) -> bytes:
    return bytes([0x31, 0x40 | (len(data) >> 8), len(data) & 0xFF]) + data


def test_call_traffic_takes_the_fast_path_and_stays_acknowledged() -> None:
    pair = Pair()
    client, server = pair.client, pair.server
    full_before = (client.packets_full, server.packets_full)
    for i in range(500):  # 10 s of a call: one media frame each way per 20 ms
        client.send_datagram_frame(b"c%04d" % i)
        server.send_datagram_frame(b"s%04d" % i)
        pair.exchange()
    assert pair.received[id(server)] == [b"c%04d" % i for i in range(500)]
    assert pair.received[id(client)] == [b"s%04d" % i for i in range(500)]
    # Every packet of the call took the fast path (after the handshake's last few).
    assert client.packets_fast >= 500 and server.packets_fast >= 500
    assert (client.packets_full, server.packets_full) == full_before
    # ... and was built by the send fast path (aioquic's builder only for the handshake's).
    assert client.packets_sent_fast >= 499 and server.packets_sent_fast >= 499
    for conn in (client, server):
        space = conn._spaces[tls.Epoch.ONE_RTT]
        # Our ACKs went out and were taken: nothing of the call is waiting for one or was lost.
        assert len(space.sent_packets) <= 3, len(space.sent_packets)
        assert conn._loss._rtt_initialized
        assert space.largest_received_packet >= 500 and len(space.ack_queue) == 1  # no gaps
        assert conn._close_at > pair.now + 10  # the idle timeout moves with each packet
        assert conn._state == QuicConnectionState.CONNECTED


def test_anything_else_takes_the_full_path_and_both_paths_agree() -> None:
    pair = Pair()
    client, server = pair.client, pair.server
    # Stream data and a PING take aioquic's path; media datagrams around them the fast one.
    stream_id = client.get_next_available_stream_id()
    client.send_datagram_frame(b"before")
    pair.exchange()
    fast, full = server.packets_fast, server.packets_full
    client.send_stream_data(stream_id, b"signal")
    client.send_ping(7)
    pair.exchange()
    assert server.packets_full > full
    client.send_datagram_frame(b"after")
    pair.exchange()
    assert server.packets_fast > fast
    assert pair.received[id(server)] == [b"before", b"after"]
    got_stream = server._streams[stream_id].receiver
    assert got_stream.highest_offset == 6
    # A datagram from another address is the full path's business (a client drops it).
    packet = seal(server, datagram_frame(b"elsewhere"))
    fast = client.packets_fast
    assert pair.deliver(client, packet, ("127.0.0.1", 9)) == []
    assert client.packets_fast == fast
    # The same packet from the right address: taken once, its replay dropped as a duplicate.
    assert pair.deliver(client, packet) == [b"elsewhere"]
    dropped = client.packets_dropped
    assert pair.deliver(client, packet) == []
    assert client.packets_dropped == dropped + 1
    # Padding alone: recorded, not ack-eliciting (no ACK deadline armed for it).
    space = client._spaces[tls.Epoch.ONE_RTT]
    space.ack_at = None
    pair.deliver(client, seal(server, b"\0" * 40))
    assert space.ack_at is None and client._state == QuicConnectionState.CONNECTED
    pair.deliver(client, seal(server, datagram_frame(b"x") + b"\0" * 10))
    assert space.ack_at is not None


def test_tampered_packet_is_dropped_and_counted_the_connection_lives_on() -> None:
    pair = Pair()
    client, server = pair.client, pair.server
    packet = bytearray(seal(client, datagram_frame(b"genuine")))
    packet[-3] ^= 0x40  # the AEAD tag no longer matches
    expected = server._spaces[tls.Epoch.ONE_RTT].expected_packet_number
    assert pair.deliver(server, bytes(packet)) == []
    assert server.packets_dropped == 1
    assert server._spaces[tls.Epoch.ONE_RTT].expected_packet_number == expected
    client.send_datagram_frame(b"still here")
    pair.exchange()
    assert pair.received[id(server)] == [b"still here"]


@pytest.mark.parametrize(
    ("payload", "first_bits", "error"),
    [
        (datagram_frame(b"reserved"), 0x08, QuicErrorCode.PROTOCOL_VIOLATION),  # reserved header bit
        (bytes([0x30]) + b"x" * MAX_DATAGRAM_FRAME_SIZE, 0, QuicErrorCode.PROTOCOL_VIOLATION),  # too big
        (bytes([0x31, 0x44, 0x00]) + b"short", 0, QuicErrorCode.FRAME_ENCODING_ERROR),  # length past the end
        (bytes([0x02, 0x05, 0x00, 0x00, 0x09]), 0, QuicErrorCode.FRAME_ENCODING_ERROR),  # ACK below zero
        (bytes([0x02, 0x05, 0x00, 0x40]), 0, QuicErrorCode.FRAME_ENCODING_ERROR),  # ACK cut short
        (bytes([0x1F]), 0, QuicErrorCode.FRAME_ENCODING_ERROR),  # an unknown frame type
    ],
)
def test_bad_packets_fall_back_and_aioquic_closes_as_it_always_did(payload: bytes, first_bits: int, error: int) -> None:
    """The fast path declines (changing nothing); aioquic's own path then closes the connection
    with the error it always chose. Removing a check from the fast path fails one of these."""
    pair = Pair()
    client, server = pair.client, pair.server
    packet = seal(client, payload, first_bits=first_bits)
    fast = server.packets_fast
    assert server.receive_media_packet(packet, CLIENT_ADDR, pair.now) is None
    assert server.packets_fast == fast
    pair.deliver(server, packet)
    assert pair.received[id(server)] == []
    close = server._close_event
    assert close is not None and close.error_code == error, close


async def test_real_connection_takes_both_paths_and_counts_garbage_with_a_valid_cid() -> None:
    a = await QuicEndpoint.create("::", 0)
    b = await QuicEndpoint.create("::", 0)
    try:
        client, server = await asyncio.gather(a.connect(("127.0.0.1", b.port)), b.accept())
        quic = server._quic
        assert isinstance(quic, BoundedQuicConnection)
        received: list[bytes] = []
        arrived = asyncio.Event()

        def on_datagram(data: bytes, _at: float) -> None:
            received.append(data)
            arrived.set()

        server.set_datagram_handler(on_datagram)
        for i in range(50):
            arrived.clear()
            client.send_datagram(b"frame %d" % i)
            await asyncio.wait_for(arrived.wait(), 5)
        assert received == [b"frame %d" % i for i in range(50)]
        # A lone datagram sent with transmit=True (the relay's forwarding) went out at once.
        sent_fast = client._quic.packets_sent_fast
        assert client.send_datagram(b"now")
        assert client._quic.packets_sent_fast == sent_fast + 1 and client._transmit_task is None
        arrived.clear()
        await asyncio.wait_for(arrived.wait(), 5)
        assert received[-1] == b"now"
        assert quic.packets_fast >= 45 and quic.packets_full > 0  # the handshake took the full path
        _, writer = await client.open_stream()
        writer.write(b"stream")
        s_reader, _ = await asyncio.wait_for(server.accept_stream(), 5)
        assert await asyncio.wait_for(s_reader.readexactly(6), 5) == b"stream"
        # Short-header garbage carrying the server's real connection ID, from the client's own
        # socket (the fast path's checks pass up to the decryption) and from another one (the
        # full path's business): all dropped and counted, the connection unaffected.
        cid = quic.host_cid
        rng = random.Random(7)
        garbage = [bytes([0x40 | rng.getrandbits(6)]) + cid + rng.randbytes(size) for size in range(0, 300, 3)]
        full, dropped = quic.packets_full, quic.packets_dropped
        for data in garbage:
            assert a.send_raw(data, ("127.0.0.1", b.port))
        attacker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for data in garbage:
                attacker.sendto(data, ("127.0.0.1", b.port))
        finally:
            attacker.close()
        arrived.clear()
        client.send_datagram(b"after the garbage")
        await asyncio.wait_for(arrived.wait(), 5)
        assert received[-1] == b"after the garbage"
        long_enough = sum(1 for data in garbage if len(data) >= 1 + len(cid) + 20)
        assert quic.packets_dropped - dropped == long_enough  # not authentic
        # Too short to sample, or from elsewhere (and any PING or probe of the real connection).
        assert quic.packets_full - full >= 2 * len(garbage) - long_enough
        assert server.is_connected and client.is_connected
        assert b.stats.by_reason.get("processing-error", 0) == 0
        assert quic._network_paths[0].addr[1] == a.port and len(quic._network_paths) == 1
    finally:
        await a.close()
        await b.close()


def test_a_peer_switching_connection_id_goes_through_the_full_path() -> None:
    """A packet to another of the server's connection IDs (a client that moved, RFC 9000 9.5) is
    aioquic's to handle (the server follows it); the next ones on that ID are fast again."""
    pair = Pair()
    client, server = pair.client, pair.server
    old_cid = server.host_cid
    new_cid = client._peer_cid_available[0].cid
    full, fast = server.packets_full, server.packets_fast
    assert pair.deliver(server, seal(client, datagram_frame(b"on a new connection ID"), dcid=new_cid))
    assert server.host_cid == new_cid != old_cid
    assert server.packets_full == full + 1 and server.packets_fast == fast
    assert pair.deliver(server, seal(client, datagram_frame(b"and again"), dcid=new_cid))
    assert server.packets_fast == fast + 1
    assert pair.received[id(server)] == [b"on a new connection ID", b"and again"]


def plain_frames(receiver: BoundedQuicConnection, packet: bytes) -> tuple[int, list[tuple[int, bytes]]]:
    """The first byte and the frames of a packet, read with the receiver's keys (no state changed
    but a key update): (type, body) with ACK bodies cut to their range fields."""
    crypto = receiver._cryptos[tls.Epoch.ONE_RTT]
    space = receiver._spaces[tls.Epoch.ONE_RTT]
    header, payload, _ = crypto.decrypt_packet(packet, 1 + CONNECTION_ID_LENGTH, space.expected_packet_number)
    buf = Buffer(data=payload)
    frames = []
    while not buf.eof():
        kind = buf.pull_uint_var()
        start = buf.tell()
        if kind == 0x02:
            pull_ack_frame(buf)
            frames.append((kind, b""))
        elif kind == 0x31:
            frames.append((kind, buf.pull_bytes(buf.pull_uint_var())))
        else:
            frames.append((kind, payload[start:]))
            break
    return header[0], frames


def test_send_fast_path_builds_what_aioquic_builds() -> None:
    pair = Pair()
    client, server = pair.client, pair.server
    built = []
    for path in ("fast", "full"):
        server.send_datagram_frame(b"s")
        pair.send(server)  # the client has an ACK to send now
        client.send_datagram_frame(b"media frame")
        spin = client._spin_bit  # (it follows the packets received: compared apart)
        if path == "fast":
            out = client.send_media_packet(pair.now)
            assert out is not None
            packet = out[0]
        else:
            ((packet, _),) = client.datagrams_to_send(pair.now)
        first, frames = plain_frames(server, packet)
        assert first & 0x20 == spin << 5
        built.append((len(packet), first & ~0x20, frames))
        assert client._spaces[tls.Epoch.ONE_RTT].ack_at is None
        pair.deliver(server, packet)
    assert built[0] == built[1]
    assert built[0][2] == [(0x02, b""), (0x31, b"media frame")]
    assert pair.received[id(server)] == [b"media frame", b"media frame"]


@pytest.mark.parametrize(
    "other", ["stream data", "ping", "two datagrams", "key update", "window full", "ack ranges", "new cid"]
)
def test_send_fast_path_leaves_anything_else_to_aioquic(other: str) -> None:
    pair = Pair()
    client, server = pair.client, pair.server
    client.send_datagram_frame(b"media")
    if other == "stream data":
        client.send_stream_data(client.get_next_available_stream_id(), b"signal")
    elif other == "ping":
        client.send_ping(1)
    elif other == "two datagrams":
        client.send_datagram_frame(b"more media")
    elif other == "key update":
        client.request_key_update()
    elif other == "window full":
        client._loss._cc.bytes_in_flight = client._loss.congestion_window - 30
    elif other == "ack ranges":  # a packet from the server was lost: our ACK has two ranges
        for data in (b"lost", b"arrives"):
            server.send_datagram_frame(data)
            ((packet, _),) = server.datagrams_to_send(pair.now)
        pair.deliver(client, packet)
        assert len(client._spaces[tls.Epoch.ONE_RTT].ack_queue) == 2
    elif other == "new cid":  # the peer retired one of ours: a NEW_CONNECTION_ID is due
        client._host_cids[-1].was_sent = False
    number = client._packet_number
    assert client.send_media_packet(pair.now) is None
    assert client._packet_number == number and len(client._datagrams_pending) >= 1  # nothing changed
    if other == "window full":
        client._loss._cc.bytes_in_flight = 0
    pair.send(client)
    assert pair.received[id(server)][:1] == [b"media"]
    if other == "two datagrams":
        assert pair.received[id(server)] == [b"media", b"more media"]
    for _ in range(5):
        client.send_datagram_frame(b"next")
        pair.exchange()
    assert pair.received[id(server)][-1] == b"next" and client.packets_sent_fast > 0
    assert server._state == QuicConnectionState.CONNECTED
