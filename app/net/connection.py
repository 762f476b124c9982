"""One QUIC connection living on a shared endpoint (either role).

A thin layer over aioquic's `QuicConnectionProtocol`: it adds QUIC datagrams
(bounded receive queue or a direct callback), a queue of streams opened by the
peer, the peer's certificate key, RTT, and a close reason. It never owns a
socket: the endpoint hands it a transport that writes on the shared socket.

Everything it holds for or toward the peer is bounded:

* receive: `BoundedQuicConnection` grants flow-control credit for what the
  application has *read* (aioquic doubles its windows from bytes *received*,
  so a stream nobody reads would buffer without end): at most
  `STREAM_RECEIVE_WINDOW` unread bytes per stream and
  `CONNECTION_RECEIVE_WINDOW` per connection; a peer may open at most
  `PEER_STREAMS_LIMIT` bidirectional streams (none where the owner never
  accepts streams: the relay) and no unidirectional ones;
* send: `SEND_BUFFER_LIMIT` bytes queued on the streams (`SendBufferFull`
  above it), `DATAGRAM_SEND_QUEUE_LIMIT` datagrams waiting for the congestion
  window (oldest dropped), and no datagram bigger than one packet can carry.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

from aioquic import tls
from aioquic.asyncio.protocol import QuicConnectionProtocol, QuicStreamAdapter
from aioquic.buffer import Buffer, BufferReadError, size_uint_var
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import (
    CONNECTION_LIMIT_FRAME_CAPACITY,
    MAX_STREAM_DATA_FRAME_CAPACITY,
    QuicConnection,
    QuicConnectionState,
)
from aioquic.quic.crypto import CryptoError, KeyUnavailableError
from aioquic.quic.packet import (
    PACKET_SPIN_BIT,
    QuicErrorCode,
    QuicFrameType,
    QuicPacketType,
    pull_ack_frame,
    pull_quic_transport_parameters,
    push_ack_frame,
    push_quic_transport_parameters,
)
from aioquic.quic.packet_builder import PACKET_NUMBER_SEND_SIZE, QuicPacketBuilder, QuicSentPacket
from aioquic.quic.recovery import K_GRANULARITY, MAX_ACK_RANGES, QuicPacketSpace
from aioquic.quic.stream import QuicStream

from app.net.tls import certificate_public_key

log = logging.getLogger(__name__)

#: Datagrams kept for a reader that is slower than the network; older ones go first.
DATAGRAM_QUEUE_LIMIT = 256
#: Peer-opened streams waiting for `accept_stream`; more are reset.
STREAM_QUEUE_LIMIT = 16
#: Bidirectional streams a peer may open over a connection's life where streams are accepted at all
#: (aioquic never raises MAX_STREAMS): the relay opens one signal stream, a direct dialer one.
PEER_STREAMS_LIMIT = 4
#: Unread bytes a peer may have in flight or buffered per stream / per connection. Signal frames
#: are at most 64 KiB + 4 bytes, and credit follows what the application reads, so two frames
#: per stream keep a reader busy while the next one arrives (128 KiB / 50 ms RTT = 2.6 MB/s).
STREAM_RECEIVE_WINDOW = 128 * 1024
CONNECTION_RECEIVE_WINDOW = 256 * 1024
#: Bytes queued on a connection's streams (sent and unacknowledged, or waiting for credit).
#: Eight full signal frames: a burst of presence pages fits, a reader that grants no credit does not.
SEND_BUFFER_LIMIT = 512 * 1024
#: Datagrams waiting for the congestion window, per connection; the oldest go first. 64 media
#: frames are 1.3 s of audio, older than any jitter buffer waits for.
DATAGRAM_SEND_QUEUE_LIMIT = 64
#: Frames that never need an answer sooner than the ACK timer, and ACK frames (see `_on_ack_frame`).
_QUIET_FRAMES = frozenset({QuicFrameType.PADDING, QuicFrameType.DATAGRAM, QuicFrameType.DATAGRAM_WITH_LENGTH})
_ACK_FRAMES = frozenset({QuicFrameType.ACK, QuicFrameType.ACK_ECN})
#: The longest we hold back an ACK, and what we advertise as max_ack_delay (aioquic: 25 ms). A
#: media connection holds its ACKs so that one covers several frames (`set_ack_delay`); a peer's
#: tail-loss timer for stream data waits this much longer than with 25 ms (only when a packet is lost).
MAX_ACK_DELAY = 0.100
#: The loop timer follows the connection's next deadline, which moves with nearly every packet: an
#: ACK due on receipt, loss detection later with each frame sent. Earlier (by more than the slack):
#: re-armed at once. Later: left alone until it would fire within `TIMER_REARM_HORIZON_S`, then
#: re-armed (a timer that fires for a deadline that has moved costs a loop wake-up, ~100 us on a
#: busy 2-core machine; re-arming every frame costs ~10 us; this re-arms every few frames).
TIMER_SLACK_S = 0.002
TIMER_REARM_HORIZON_S = 0.030
#: Short header: first byte, the peer's connection ID, a 2-byte packet number, the AEAD tag.
_SHORT_HEADER_FIXED = 1 + PACKET_NUMBER_SEND_SIZE + 16
#: Header protection samples 16 bytes from 4 bytes past the packet number's start.
_HP_SAMPLE_END = 4 + 16
#: Receive fast path: 1-RTT packets made only of these frames (see `receive_media_packet`).
_PADDING = int(QuicFrameType.PADDING)
_ACK = int(QuicFrameType.ACK)
_ACK_ECN = int(QuicFrameType.ACK_ECN)
_DATAGRAM = int(QuicFrameType.DATAGRAM)
_DATAGRAM_WITH_LENGTH = int(QuicFrameType.DATAGRAM_WITH_LENGTH)
_CONNECTED = QuicConnectionState.CONNECTED

StreamPair = tuple[asyncio.StreamReader, asyncio.StreamWriter]
#: Called with each datagram received and the time its packet arrived (the loop's clock).
DatagramHandler = Callable[[bytes, float], None]


class ConnectionOwner(Protocol):
    """What a connection needs from the endpoint that carries it (so that this module does not
    import the endpoint's)."""

    def connection_handshake_completed(self, conn: QuicPeerConnection) -> None:
        """The connection's handshake completed (a server-side one may now be accepted)."""

    def hold_reading(self) -> bool:
        """The caller reads the socket in its own ticks (`read_waiting`); see the endpoint's."""

    def release_reading(self) -> None:
        """A holder of the reading is done."""

    def read_waiting(self) -> None:
        """Read what waits in the held sockets now."""


class ConnectionClosed(ConnectionError):
    """The QUIC connection is closed (or failed to connect)."""


class SendBufferFull(ConnectionClosed):
    """The peer takes data slower than we queue it: more than `SEND_BUFFER_LIMIT` bytes are waiting.

    A `ConnectionClosed`, so that existing handlers treat the peer as gone (it is of no use)."""


class BoundedQuicConnection(QuicConnection):
    """aioquic's connection with receive credit that follows what the application reads.

    aioquic doubles MAX_DATA / MAX_STREAM_DATA whenever the peer has *sent* half of the
    window, read or not, so a peer pushing into a stream nobody reads gets ever more credit
    and the receiver buffers it all. Here the limit offered is `consumed + window`, where
    `consumed(stream_id)` (set by the owner) says how many bytes the application has taken
    from a stream; the owner calls `credit_due()` after a read to send the update promptly.
    """

    def __init__(
        self,
        *,
        configuration: QuicConfiguration,
        peer_streams: int = PEER_STREAMS_LIMIT,
        stream_window: int = STREAM_RECEIVE_WINDOW,
        connection_window: int = CONNECTION_RECEIVE_WINDOW,
        **kwargs: Any,
    ) -> None:
        super().__init__(configuration=configuration, **kwargs)
        self.stream_window = stream_window
        self.connection_window = connection_window
        #: Bytes the application has read from a stream (the owner replaces this).
        self.consumed: Callable[[int], int] = lambda stream_id: 0
        # Transport parameters are written at connect / at the first Initial, after this.
        for limit, value in ((self._local_max_streams_bidi, peer_streams), (self._local_max_streams_uni, 0)):
            limit.value = limit.sent = value
        self._datagrams_pending = deque(maxlen=DATAGRAM_SEND_QUEUE_LIMIT)
        #: Whether the packets received since the owner last looked may need an answer now
        #: (see `take_transmit_due`): anything but DATAGRAM, ACK and PADDING frames, a loss, ...
        self.transmit_due = False
        handlers = self._QuicConnection__frame_handlers  # type: ignore[attr-defined]
        for frame_type, (handler, epochs) in list(handlers.items()):
            if frame_type in _QUIET_FRAMES:
                continue
            wrapped = self._on_ack_frame if frame_type in _ACK_FRAMES else self._answer_due
            handlers[frame_type] = (partial(wrapped, handler), epochs)
        loss = self._loss
        packets_lost = loss._on_packets_lost

        def on_packets_lost(*, packets: Any, **kwargs: Any) -> None:
            packets = list(packets)
            if packets:  # their frames go again (datagrams do not, but cheaper to look)
                self.transmit_due = True
            packets_lost(packets=packets, **kwargs)

        loss._on_packets_lost = on_packets_lost  # type: ignore[method-assign]
        #: Packets handled by `receive_media_packet` / by aioquic's whole `receive_datagram`, and
        #: those the fast path dropped (not authentic, duplicates).
        #: See `set_ack_delay` (None: a waiting ACK rides with any datagram).
        self._ack_ride_within: float | None = None
        self._deadline_moved_earlier = False
        self.packets_fast = 0
        self.packets_full = 0
        self.packets_dropped = 0
        #: Packets built by `send_media_packet` / by aioquic's `datagrams_to_send`.
        self.packets_sent_fast = 0
        self.packets_sent_full = 0
        self._one_rtt: tuple[Any, QuicPacketSpace] | None = None  # (CryptoPair, space) once confirmed

    # -------------------------------------------------------- receive fast path

    def receive_datagram(self, data: bytes, addr: Any, now: float) -> None:
        self.packets_full += 1
        super().receive_datagram(data, addr, now)

    def receive_media_packet(self, data: bytes, addr: Any, now: float) -> list[bytes] | None:
        """The receive path of an established call's packets, without aioquic's general machinery.

        Takes a UDP datagram that is one short-header (1-RTT) packet on the current path and
        connection ID of a confirmed connection, and whose frames are only DATAGRAM, ACK and
        PADDING: it is decrypted and authenticated by aioquic's own crypto (header protection,
        AEAD, key phase), checked for duplicates, its ACKs go to aioquic's loss recovery, and it is
        recorded for our ACKs exactly as `receive_datagram` records it (expected packet number,
        spin bit, idle timeout, ack queue, received window, ACK deadline). Returns the datagrams'
        payloads (no events are queued for them), or [] when the packet is dropped as aioquic
        drops it (fails to decrypt, duplicate).

        Returns None, having changed nothing the full path depends on, for anything else (another
        frame, another path or connection ID, reserved bits set, a malformed frame, a connection
        not yet confirmed or closing, qlog on): the caller hands it to `receive_datagram`, which
        then does what aioquic does (close with the right error, migration, ...). A key update
        seen here is kept: the full path then decrypts with the new keys, as it would have.
        """
        if (
            self._state is not _CONNECTED
            or not self._handshake_confirmed
            or self._close_pending
            or self._quic_logger is not None
            or (data[0] & 0xC0) != 0x40  # short header, fixed bit
        ):
            return None
        path = self._network_paths[0]
        host_cid = self.host_cid
        offset = 1 + len(host_cid)
        if (
            path.addr != addr
            or not path.is_validated
            or len(data) < offset + _HP_SAMPLE_END
            or data[1:offset] != host_cid
            or self._peer_cid.sequence_number is None
        ):
            return None
        one_rtt = self._one_rtt
        if one_rtt is None:
            if self._cryptos[tls.Epoch.ZERO_RTT].recv.is_valid():
                return None  # (a server drops its 0-RTT keys on the first 1-RTT packet: full path)
            one_rtt = self._one_rtt = (self._cryptos[tls.Epoch.ONE_RTT], self._spaces[tls.Epoch.ONE_RTT])
        crypto, space = one_rtt
        try:
            plain_header, payload, packet_number = crypto.decrypt_packet(data, offset, space.expected_packet_number)
        except KeyUnavailableError:
            return None
        except CryptoError:
            self.packets_dropped += 1
            return []  # not authentic: dropped, as aioquic drops it
        if packet_number in space.received_packets:
            self.packets_dropped += 1
            return []  # a duplicate (RFC 9000 section 12.3)
        first = plain_header[0]
        if first & 0x18:
            return None  # reserved bits: the full path closes the connection

        # Parse everything before changing anything, so that the full path can still take it.
        datagrams: list[bytes] = []
        acks: list[tuple[Any, int]] = []
        max_frame = self._configuration.max_datagram_frame_size
        buf = Buffer(data=payload)
        end = len(payload)
        try:
            while not buf.eof():
                frame_type = buf.pull_uint_var()
                if frame_type == _DATAGRAM_WITH_LENGTH or frame_type == _DATAGRAM:
                    start = buf.tell()
                    length = buf.pull_uint_var() if frame_type == _DATAGRAM_WITH_LENGTH else end - start
                    datagrams.append(buf.pull_bytes(length))
                    if max_frame is None or buf.tell() - start >= max_frame:
                        return None  # too big: the full path closes with PROTOCOL_VIOLATION
                elif frame_type == _PADDING:
                    pos = buf.tell()
                    while pos < end and payload[pos] == 0:
                        pos += 1
                    buf.seek(pos)
                elif frame_type == _ACK or frame_type == _ACK_ECN:
                    acks.append(pull_ack_frame(buf))
                    if frame_type == _ACK_ECN:
                        buf.pull_uint_var()
                        buf.pull_uint_var()
                        buf.pull_uint_var()
                else:
                    return None
        except (BufferReadError, ValueError):
            return None  # malformed: the full path closes with FRAME_ENCODING_ERROR
        if end == 0:
            return None  # no frames: a PROTOCOL_VIOLATION on the full path

        # What receive_datagram does for this packet, in its order.
        self.packets_fast += 1
        if packet_number > space.expected_packet_number:
            space.expected_packet_number = packet_number + 1
        if packet_number > self._spin_highest_pn:
            spin_bit = bool(first & PACKET_SPIN_BIT)
            self._spin_bit = not spin_bit if self._is_client else spin_bit
            self._spin_highest_pn = packet_number
        if acks:
            self._deadline_moved_earlier = True
            loss = self._loss
            loss.peer_completed_address_validation = True
            exponent = self._remote_ack_delay_exponent
            for rangeset, delay in acks:
                ack_delay = (delay << exponent) / 1000000
                loss.on_ack_received(ack_rangeset=rangeset, ack_delay=ack_delay, now=now, space=space)
            if self._datagrams_pending or any(stream.sender._buffer for stream in self._streams.values()):
                self.transmit_due = True  # (as `_on_ack_frame`)
            if self._state is not _CONNECTED or self._close_pending:
                return datagrams
        self._close_at = now + self._idle_timeout()
        self._ack_eliciting_sent_since_receipt = False
        if packet_number > space.largest_received_packet:
            space.largest_received_packet = packet_number
            space.largest_received_time = now
        space.ack_queue.add(packet_number)
        space.received_packets.add(packet_number)
        if len(space.ack_queue) > MAX_ACK_RANGES:
            space.ack_queue.shift()
        if datagrams and space.ack_at is None:  # DATAGRAM frames are ack-eliciting
            space.ack_at = now + self._ack_delay
            self._deadline_moved_earlier = True
        return datagrams

    # ----------------------------------------------------- answering a packet

    def _answer_due(self, handler: Callable[..., None], *args: Any) -> None:
        self.transmit_due = True
        handler(*args)

    def _on_ack_frame(self, handler: Callable[..., None], *args: Any) -> None:
        handler(*args)
        # An ACK frees congestion window: what waited for it can go now.
        if self._datagrams_pending or any(stream.sender._buffer for stream in self._streams.values()):
            self.transmit_due = True

    def take_deadline_moved_earlier(self) -> bool:
        """Whether a packet taken by `receive_media_packet` since the last call may have brought the
        connection's next deadline forward (an ACK newly due, or an ACK received: loss detection);
        anything else it does only moves deadlines later (idle timeout), which the timer tolerates."""
        moved, self._deadline_moved_earlier = self._deadline_moved_earlier, False
        return moved

    def take_transmit_due(self) -> bool:
        """Whether what was received since the last call may have to be answered at once (stream
        data, flow control, handshake, connection IDs, a path challenge, a close, a loss, data
        waiting for the window an ACK opened). Packets of media datagrams and ACKs alone never do:
        their ACK waits for its timer or for the next frame out."""
        due = self.transmit_due or not self._handshake_complete or self._state != QuicConnectionState.CONNECTED
        self.transmit_due = False
        return due

    # ----------------------------------------------------------- send fast path

    def send_media_packet(self, now: float) -> tuple[bytes, Any] | None:
        """The one datagram queued (a media frame), with the ACK that waits, as one 1-RTT packet
        built here instead of by aioquic's packet builder: the same bytes on the wire (short
        header, spin bit, key phase, 2-byte packet number, ACK then DATAGRAM frame, sealed by
        aioquic's crypto) and the same bookkeeping (loss recovery and congestion control, the ACK's
        delivery handler, pacing, idle timer, path bytes). Returns (packet, address).

        Returns None, having changed nothing, whenever aioquic would write anything else or decide
        otherwise: no or several datagrams queued, stream data, flow-control or stream limits,
        connection IDs, a PING or probe, path validation, a close, a key update, ACK ranges (the
        ACK-of-ACK rule), pacing or the congestion window holding it back, qlog on. The caller then
        runs `datagrams_to_send`.
        """
        pending = self._datagrams_pending
        if (
            len(pending) != 1
            or self._state is not _CONNECTED
            or not self._handshake_confirmed
            or self._close_pending
            or self._quic_logger is not None
            or self._probe_pending
            or self._ping_pending
            or self._handshake_done_pending
            or self._streams_blocked_pending
            or self._retire_connection_ids
            or len(self._network_paths) != 1
            or (self._is_client and self._remote_preferred_address is not None)
        ):
            return None
        path = self._network_paths[0]
        if not path.is_validated or path.remote_challenges:
            return None
        one_rtt = self._one_rtt
        if one_rtt is None:
            one_rtt = self._one_rtt = (self._cryptos[tls.Epoch.ONE_RTT], self._spaces[tls.Epoch.ONE_RTT])
        crypto, space = one_rtt
        if crypto._update_key_requested or not crypto.send.is_valid() or self._something_else_to_send():
            return None
        loss = self._loss
        ack = self._ack_rides(space, now)
        if ack and len(space.ack_queue) > 1:
            return None
        pacer = loss._pacer
        if pacer.next_send_time(now=now) is not None:  # (as `_write_application`: ack_at is now at most)
            return None

        data = pending[0]
        peer_cid = self._peer_cid.cid
        number = self._packet_number
        buf = Buffer(capacity=self._max_datagram_size)
        handlers: list[tuple[Any, Any]] = []
        if ack:
            delay = int((now - space.largest_received_time) * 1000000) >> self._local_ack_delay_exponent
            buf.push_uint_var(_ACK)
            push_ack_frame(buf, space.ack_queue, delay, self._max_datagram_size)
            handlers.append((self._on_ack_delivery, (space, space.largest_received_packet)))
        buf.push_uint_var(_DATAGRAM_WITH_LENGTH)
        buf.push_uint_var(len(data))
        payload_end = buf.tell() + len(data)
        header_size = 3 + len(peer_cid)
        room = min(self._max_datagram_size, loss.congestion_window - loss.bytes_in_flight)
        if header_size + payload_end + crypto.aead_tag_size > room:
            return None  # too big for the packet or the congestion window: aioquic decides
        buf.push_bytes(data)
        first = 0x40 | (self._spin_bit << 5) | (crypto.key_phase << 2) | (PACKET_NUMBER_SEND_SIZE - 1)
        header = bytes((first,)) + peer_cid + (number & 0xFFFF).to_bytes(2, "big")
        packet = crypto.encrypt_packet(header, buf.data, number)

        # What datagrams_to_send records for this packet.
        pending.popleft()
        if ack:
            space.ack_at = None
        self._pacing_at = None
        self._packet_number = number + 1
        pacer.update_after_send(now=now)
        sent = QuicSentPacket(
            epoch=tls.Epoch.ONE_RTT,
            in_flight=True,
            is_ack_eliciting=True,
            is_crypto_packet=False,
            packet_number=number,
            packet_type=QuicPacketType.ONE_RTT,
            sent_time=now,
            sent_bytes=len(packet),
            delivery_handlers=handlers,
        )
        loss.on_packet_sent(packet=sent, space=space)
        if not self._ack_eliciting_sent_since_receipt:
            self._close_at = now + self._idle_timeout()
            self._ack_eliciting_sent_since_receipt = True
        path.bytes_sent += len(packet)
        self.packets_sent_fast += 1
        return packet, path.addr

    def _something_else_to_send(self) -> bool:
        """Whether `_write_application` would write a frame other than ACK and DATAGRAM now."""
        if not self._crypto_streams[tls.Epoch.ONE_RTT].sender.buffer_is_empty:
            return True
        if any(not cid.was_sent for cid in self._host_cids):
            return True
        max_data = self._local_max_data
        if max_data.value != max_data.sent or self._connection_target() is not None:
            return True
        for limit in (self._local_max_streams_bidi, self._local_max_streams_uni):
            if limit.value != limit.sent and limit.sent - limit.used < limit.value - limit.sent:
                return True
        for stream in self._streams.values():
            if stream.max_stream_data_local_sent != stream.max_stream_data_local or self._stream_target(stream):
                return True
        for stream in self._streams_queue:
            if (
                stream.is_finished
                or stream.receiver.stop_pending
                or stream.sender.reset_pending
                or not stream.sender.buffer_is_empty
            ):
                return True
        return False

    # -------------------------------------------------------------------- acks

    def datagrams_to_send(self, now: float) -> list[tuple[bytes, Any]]:
        """aioquic's, except that an ACK that is waiting rides along with a datagram going out now
        (aioquic writes an ACK only once it is due, and then in a packet of its own)."""
        if self._datagrams_pending:
            space = self._spaces.get(tls.Epoch.ONE_RTT)
            if space is not None and self._ack_rides(space, now):
                space.ack_at = now
        datagrams = super().datagrams_to_send(now)
        self.packets_sent_full += len(datagrams)
        return datagrams

    def set_ack_delay(self, delay: float, *, ride_within: float | None = None) -> None:
        """Hold an ACK back up to `delay` (at most `MAX_ACK_DELAY`) so that it goes with a datagram
        instead of alone. `ride_within`: a datagram takes the ACK along only if the ACK would be due
        within that time (the sender's interval: the last datagram before it is due takes it, so one
        ACK covers several); None: any datagram takes it at once."""
        self._ack_delay = min(MAX_ACK_DELAY, max(K_GRANULARITY, delay))
        self._ack_ride_within = ride_within

    def _ack_rides(self, space: QuicPacketSpace, now: float) -> bool:
        """Whether the ACK that waits goes out with a datagram sent now."""
        ack_at = space.ack_at
        if ack_at is None:
            return False
        within = self._ack_ride_within
        return within is None or ack_at - now <= within

    def _serialize_transport_parameters(self) -> bytes:
        """aioquic's, with our max_ack_delay (`MAX_ACK_DELAY`; aioquic writes 25 ms)."""
        params = pull_quic_transport_parameters(Buffer(data=super()._serialize_transport_parameters()))
        params.max_ack_delay = round(MAX_ACK_DELAY * 1000)
        buf = Buffer(capacity=3 * self._max_datagram_size)
        push_quic_transport_parameters(buf, params)
        return buf.data

    # ------------------------------------------------------------------ credit

    def _stream_target(self, stream: QuicStream) -> int | None:
        """The MAX_STREAM_DATA to offer now, or None if the current one is still good enough."""
        current = stream.max_stream_data_local
        if not current or stream.receiver.is_finished:  # 0: our own unidirectional stream
            return None
        target = self.consumed(stream.stream_id) + self.stream_window
        return target if target - current >= self.stream_window // 2 else None

    def _connection_target(self) -> int | None:
        max_data = self._local_max_data
        unread = 0
        for stream in self._streams.values():
            if stream.max_stream_data_local:
                unread += max(0, stream.receiver.highest_offset - self.consumed(stream.stream_id))
        target = max_data.used - unread + self.connection_window
        return target if target - max_data.value >= self.connection_window // 2 else None

    def credit_due(self, stream_id: int) -> bool:
        """True when reading from `stream_id` freed enough room to tell the peer."""
        stream = self._streams.get(stream_id)
        if stream is not None and self._stream_target(stream) is not None:
            return True
        return self._connection_target() is not None

    def _write_connection_limits(self, builder: QuicPacketBuilder, space: QuicPacketSpace) -> None:
        """aioquic's, except that MAX_DATA grows with what was read, not with what arrived."""
        max_data = self._local_max_data
        target = self._connection_target()
        if target is not None:
            max_data.value = target
        for limit in (max_data, self._local_max_streams_bidi, self._local_max_streams_uni):
            if limit is not max_data and limit.sent - limit.used >= limit.value - limit.sent:
                continue
            if limit.value != limit.sent:
                buf = builder.start_frame(
                    limit.frame_type,
                    capacity=CONNECTION_LIMIT_FRAME_CAPACITY,
                    handler=self._on_connection_limit_delivery,
                    handler_args=(limit,),
                )
                buf.push_uint_var(limit.value)
                limit.sent = limit.value

    def _write_stream_limits(self, builder: QuicPacketBuilder, space: QuicPacketSpace, stream: QuicStream) -> None:
        """aioquic's, except that MAX_STREAM_DATA grows with what was read, not with what arrived."""
        target = self._stream_target(stream)
        if target is not None:
            stream.max_stream_data_local = target
        if stream.max_stream_data_local_sent != stream.max_stream_data_local:
            buf = builder.start_frame(
                QuicFrameType.MAX_STREAM_DATA,
                capacity=MAX_STREAM_DATA_FRAME_CAPACITY,
                handler=self._on_max_stream_data_delivery,
                handler_args=(stream,),
            )
            buf.push_uint_var(stream.stream_id)
            buf.push_uint_var(stream.max_stream_data_local)
            stream.max_stream_data_local_sent = stream.max_stream_data_local


class _CreditReader(asyncio.StreamReader):
    """A StreamReader that counts what the application took, so credit can follow it.

    Like asyncio's own transports (which resume reading whenever a reader waits), a reader
    waiting for more data counts what it holds as taken: `readexactly(n)` may buffer n bytes,
    because the application asked for them. Unread data nobody waits on gets no more credit.
    """

    def __init__(self, on_consumed: Callable[[], None]) -> None:
        super().__init__(limit=STREAM_RECEIVE_WINDOW)
        self.fed = 0
        self._waited_at = 0  # bytes fed when the application last waited for more
        self._on_consumed = on_consumed

    @property
    def consumed(self) -> int:
        return max(self.fed - len(self._buffer), self._waited_at)

    def feed_data(self, data: bytes) -> None:
        self.fed += len(data)
        super().feed_data(data)

    def _maybe_resume_transport(self) -> None:  # asyncio calls this after every read
        super()._maybe_resume_transport()
        self._on_consumed()

    async def _wait_for_data(self, func_name: str) -> None:  # the application wants more than it has
        if self.fed > self._waited_at:
            self._waited_at = self.fed
            self._on_consumed()
        await super()._wait_for_data(func_name)


class QuicPeerConnection(QuicConnectionProtocol):
    """A QUIC connection multiplexed on a `QuicEndpoint`'s socket."""

    def __init__(
        self,
        quic: QuicConnection,
        *,
        endpoint: ConnectionOwner,
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
        self._received_at = 0.0  # when the packet being handled arrived
        self._streams: deque[StreamPair] = deque()
        self._adapters: list[QuicStreamAdapter] = []
        self._stream_waiter: asyncio.Future[None] | None = None
        #: Datagrams not sent: too big for one packet (`datagrams_too_big`) or pushed out of the
        #: send queue by newer ones while the congestion window was full (`datagrams_send_dropped`).
        self.datagrams_too_big = 0
        self.datagrams_send_dropped = 0
        self.send_buffer_limit = SEND_BUFFER_LIMIT
        self._handshake_done = asyncio.Event()
        self._ready: asyncio.Future[None] = self._loop.create_future()
        self._ready.add_done_callback(_consume_exception)
        self._stream_handler = self._on_peer_stream
        if isinstance(quic, BoundedQuicConnection):
            quic.consumed = self._consumed

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
    def min_rtt(self) -> float | None:
        """Lowest RTT sample so far: the path's own delay, untouched by a busy event loop
        (a late timer only ever makes a sample larger)."""
        recovery = self._quic._loss
        if not getattr(recovery, "_rtt_initialized", False):
            return None
        return float(recovery._rtt_min)

    @property
    def peer_public_key(self) -> bytes | None:
        """The raw Ed25519 key of the peer's TLS certificate (servers only present one)."""
        return certificate_public_key(getattr(self._quic.tls, "_peer_certificate", None))

    @property
    def remote_addr(self) -> str:
        from app.nat.addresses import format_addr

        return format_addr(*self.remote)

    # ------------------------------------------------------------------ timer

    def transmit(self) -> None:
        """aioquic's, but the media frame's fast path when it can (see `send_media_packet`)."""
        self._transmit_task = None
        quic = self._quic
        now = self._loop.time()
        if isinstance(quic, BoundedQuicConnection) and quic._datagrams_pending:
            sent = quic.send_media_packet(now)
            if sent is not None:  # an established call's media frame: built without aioquic's builder
                self._transport.sendto(*sent)
                self._arm_timer()
                return
        for data, addr in quic.datagrams_to_send(now=now):
            self._transport.sendto(data, addr)
        self._arm_timer()

    def _handle_timer(self) -> None:
        due = self._quic.get_timer()
        if due is not None and self._timer_at is not None and due > self._timer_at:  # it moved later meanwhile
            self._timer = self._loop.call_at(due, self._handle_timer)
            self._timer_at = due
            return
        super()._handle_timer()

    def datagram_received(self, data: bytes | str, addr: Any, at: float | None = None) -> None:
        """aioquic's, except that a packet that needs no answer now (media datagrams, ACKs) does not
        run a whole transmit (which built nothing but cost as much as a real one): only the timer
        is checked. Everything else is answered at once, as before. An established call's packets
        take `BoundedQuicConnection.receive_media_packet` and are handed over without events.
        `at`: when the packet arrived, if it was read later (the endpoint's held reading): RTT
        samples, ACK delays and the datagram handler get that time."""
        quic = self._quic
        now = self._received_at = self._loop.time() if at is None else at
        if isinstance(quic, BoundedQuicConnection):
            datagrams = quic.receive_media_packet(data, addr, now)  # type: ignore[arg-type]
            if datagrams is not None:  # an established call's packet: no events, no transmit
                if quic._events:  # (an ACK may have acknowledged a PING)
                    self._process_events()
                for datagram in datagrams:
                    self._on_datagram(datagram, now)
                if quic.take_transmit_due():
                    self.transmit()
                elif quic.take_deadline_moved_earlier():  # (else the armed timer is still right)
                    self._arm_timer()
                return
        quic.receive_datagram(data, addr, now=now)  # type: ignore[arg-type]
        self._process_events()
        if not isinstance(quic, BoundedQuicConnection) or quic.take_transmit_due():
            self.transmit()
        else:
            self._arm_timer()

    def _arm_timer(self) -> None:
        timer_at = self._quic.get_timer()
        timer = self._timer
        if timer is not None:
            armed = self._timer_at
            if (
                timer_at is None
                or timer_at < armed - TIMER_SLACK_S
                or (timer_at > armed + TIMER_SLACK_S and armed - self._loop.time() < TIMER_REARM_HORIZON_S)
            ):
                timer.cancel()
                timer = self._timer = None
        if timer is None and timer_at is not None:
            self._timer = self._loop.call_at(timer_at, self._handle_timer)
            self._timer_at = timer_at

    def set_ack_delay(self, delay: float, *, ride_within: float | None = None) -> None:
        """The owner sends datagrams often (media frames): ACKs wait up to `delay` for one of them
        instead of going out alone (see `BoundedQuicConnection.set_ack_delay`)."""
        if isinstance(self._quic, BoundedQuicConnection):
            self._quic.set_ack_delay(delay, ride_within=ride_within)

    # --------------------------------------------------------------- datagrams

    @property
    def max_datagram_payload(self) -> int:
        """The biggest datagram this connection can send: one that fits in one (empty) packet
        of the path's size and in the peer's max_datagram_frame_size. Bigger ones would sit at
        the head of aioquic's queue forever and block every later one."""
        quic = self._quic
        room = quic._max_datagram_size - _SHORT_HEADER_FIXED - len(quic._peer_cid.cid) - 1  # - frame type
        payload = room - size_uint_var(room)
        remote = quic._remote_max_datagram_frame_size
        if remote is not None:  # (None until the handshake brought the peer's parameters)
            # RFC 9221 counts the whole frame; aioquic receivers refuse a frame of exactly the limit.
            payload = min(payload, remote - 1 - size_uint_var(remote))
        elif quic._handshake_complete:
            payload = 0  # the peer takes no datagrams
        return max(0, payload)

    def send_datagram(self, data: bytes, *, transmit: bool = True) -> bool:
        """Queue one QUIC datagram; False (not raised) when it cannot go: the connection is gone,
        or it is bigger than one packet carries. While the congestion window is full at most
        `DATAGRAM_SEND_QUEUE_LIMIT` wait; a newer one pushes out the oldest.

        It goes out on the next loop round (at once when it is alone and the send fast path takes
        it); with ``transmit=False`` only when the caller calls `flush()` (a media frame: queued and
        sent in the same callback, no extra loop round)."""
        if self.is_closed:
            return False
        if len(data) > self.max_datagram_payload:
            self.datagrams_too_big += 1
            if self.datagrams_too_big & (self.datagrams_too_big - 1) == 0:  # 1, 2, 4, 8, ...: no log flood
                log.info(
                    "datagram dropped: too big remote=%s size=%d max=%d count=%d",
                    self.remote_addr,
                    len(data),
                    self.max_datagram_payload,
                    self.datagrams_too_big,
                )
            return False
        pending = self._quic._datagrams_pending
        if len(pending) >= DATAGRAM_SEND_QUEUE_LIMIT:
            pending.popleft()
            self.datagrams_send_dropped += 1
        quic = self._quic
        quic.send_datagram_frame(data)
        if transmit:
            if self._transmit_task is None and isinstance(quic, BoundedQuicConnection) and len(pending) == 1:
                # A lone datagram (the relay forwarding a media frame): out now if the fast path
                # takes it, not one loop round (and one asyncio handle) later.
                sent = quic.send_media_packet(self._loop.time())
                if sent is not None:
                    self._transport.sendto(*sent)
                    self._arm_timer()
                    return True
            self._transmit_soon()
        return True

    def flush(self) -> None:
        """Send what is queued now (see `send_datagram(transmit=False)`)."""
        if not self.is_closed:
            self.transmit()

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

    @property
    def send_buffered_bytes(self) -> int:
        """Bytes queued on this connection's streams: not yet sent (no credit, no congestion
        window) or sent and not yet acknowledged."""
        return sum(len(stream.sender._buffer) for stream in self._quic._streams.values())

    @property
    def receive_buffered_bytes(self) -> int:
        """Bytes received and not yet read: aioquic's reassembly buffers plus our stream readers."""
        readers = sum(len(reader._buffer) for reader in self._stream_readers.values())
        return readers + sum(len(stream.receiver._buffer) for stream in self._quic._streams.values())

    def check_send_room(self, size: int) -> None:
        """Raise SendBufferFull if `size` more bytes would put the queue over `send_buffer_limit`."""
        queued = self.send_buffered_bytes
        if queued + size > self.send_buffer_limit:
            log.warning(
                "send buffer full remote=%s queued=%d adding=%d limit=%d",
                self.remote_addr,
                queued,
                size,
                self.send_buffer_limit,
            )
            raise SendBufferFull(
                f"peer {self.remote_addr} is not taking data: {queued} bytes queued, limit {self.send_buffer_limit}"
            )

    def _create_stream(self, stream_id: int) -> StreamPair:
        # aioquic's, with a reader that reports what the application read (receive credit follows it).
        adapter = QuicStreamAdapter(self, stream_id)
        self._adapters.append(adapter)
        reader = _CreditReader(lambda: self._stream_read(stream_id))
        protocol = asyncio.streams.StreamReaderProtocol(reader)
        writer = asyncio.StreamWriter(adapter, protocol, reader, self._loop)
        self._stream_readers[stream_id] = reader
        return reader, writer

    def _consumed(self, stream_id: int) -> int:
        reader = self._stream_readers.get(stream_id)
        return reader.consumed if isinstance(reader, _CreditReader) else 0

    def _stream_read(self, stream_id: int) -> None:
        quic = self._quic
        if isinstance(quic, BoundedQuicConnection) and not self.is_closed and quic.credit_due(stream_id):
            self._transmit_soon()

    def _on_peer_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._streams) >= STREAM_QUEUE_LIMIT:
            log.warning("stream refused: too many unaccepted streams remote=%s", self.remote_addr)
            stream_id = writer.get_extra_info("stream_id")
            try:
                self._quic.stop_stream(stream_id, QuicErrorCode.NO_ERROR)  # read no more of it
            except ValueError:
                pass
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
            self._on_datagram(event.data, self._received_at)
            return
        if isinstance(event, events.HandshakeCompleted):
            self._handshake_done.set()
            if not self._ready.done():
                self._ready.set_result(None)
            self.endpoint.connection_handshake_completed(self)
        elif isinstance(event, events.ConnectionTerminated):
            reason = event.reason_phrase or f"error {event.error_code:#x}"
            if self.close_code is None:
                self.close_code = event.error_code
            self._on_terminated(reason)
        super().quic_event_received(event)

    def _on_datagram(self, data: bytes, at: float) -> None:
        handler = self._datagram_handler
        if handler is not None:
            try:
                handler(data, at)
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
        # Its streams are over too. Otherwise a StreamWriter collected later "closes" its stream
        # from __del__, which schedules a transmit and so brings the whole dead connection (its
        # QUIC state, crypto buffers, ~100 KiB) back to life until the next garbage collection.
        for adapter in self._adapters:
            adapter._closing = True
        self._adapters.clear()
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
