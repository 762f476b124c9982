"""One call's media, sans-IO: PCM frames in, sealed datagrams out, and back.

:class:`MediaPipeline` is everything between the sound card and the socket that decides
something, with no socket, task or clock of its own (every call that needs the time takes
``now``, seconds on any monotonic origin):

* :meth:`~MediaPipeline.send` encodes a 20 ms frame with Opus, adds the previous frames
  as RED copies when the peer reports loss, and seals the datagram with the call's send key.
* :meth:`~MediaPipeline.receive` opens a datagram (authentication, replay window),
  expands RED copies into the jitter buffer, or applies a receiver report (RED depth,
  FEC, expected loss). It never raises: anything malformed, forged or replayed is counted.
* :meth:`~MediaPipeline.play` asks the jitter buffer for the slot at ``now`` and decodes,
  recovers from FEC, conceals, or plays silence before the stream starts.
* :meth:`~MediaPipeline.end_interval` and :meth:`~MediaPipeline.seal_report`, once a report
  interval: measure the interval's loss, adapt the jitter-buffer delay floor to the repair
  data in flight, and seal the receiver report for the peer.

:class:`app.media.session.MediaSession` drives it from timers and moves its datagrams.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.media.codec import FRAME_SAMPLES, OpusDecoder, OpusEncoder
from app.media.errors import CodecError, MediaPacketError
from app.media.jitter_buffer import JitterBuffer, JitterConfig, JitterStats, PlayoutKind
from app.media.loss import LossMeter, RedundancyPolicy
from app.media.media_keys import MediaKeys
from app.media.packet import FLAG_DTX, FLAG_RED, MediaOpener, MediaSealer
from app.media.pcm import quieter_than
from app.media.red import RedPacketizer, expand_red
from app.media.report import FLAG_REPORT, REPORT_PREFIX, ReceiverReport, is_report

__all__ = ["FRAME_S", "SILENCE", "MediaCounters", "MediaPipeline", "Playout"]

log = logging.getLogger(__name__)

FRAME_S = FRAME_SAMPLES / 48_000
SILENCE = bytes(FRAME_SAMPLES * 2)
#: Frames quieter than this are flagged as silence: the receiver may skip them to shrink its delay.
SILENT_DBFS = -55.0


@dataclass
class MediaCounters:
    """The pipeline counts `sealed`, `received`, `bad`, `duplicates`, `reports`, `decode_errors`;
    the session that moves the datagrams counts the transport fields (`sent` .. `stalls`)."""

    sealed: int = 0
    received: int = 0  # authentic media datagrams (each frame once)
    bad: int = 0  # forged, malformed, too old, or an authentic container that does not parse
    duplicates: int = 0  # frames that arrived twice (by both paths at a switch) and played once
    reports: int = 0  # receiver reports applied
    decode_errors: int = 0  # authentic payloads libopus refused (concealed instead)
    sent: int = 0
    send_failed: int = 0
    overlap_sent: int = 0  # copies sent on the previous path right after a switch
    stalls: int = 0  # times the frame loop fell too far behind and skipped ahead
    capture_late: int = 0  # slots the microphone had no frame for yet (it went with a later slot)
    capture_gaps: int = 0  # slots filled with silence: the microphone gave nothing for a while
    capture_trimmed: int = 0  # frames sent early to cut the capture's latency (see CAPTURE_TRIM_SLOTS)
    bytes_sent: int = 0


@dataclass(frozen=True, slots=True)
class Playout:
    """One played slot: the PCM (20 ms, 48 kHz mono s16le), how it was made, and the sequence
    number of the frame it stands for (None before the stream starts)."""

    pcm: bytes
    kind: PlayoutKind
    seq: int | None = None


class MediaPipeline:
    """Encode/seal and open/decode for one call; see the module docstring."""

    def __init__(
        self,
        keys: MediaKeys,
        *,
        bitrate: int = 24_000,
        dtx: bool = False,
        policy: RedundancyPolicy | None = None,
        jitter: JitterConfig | None = None,
    ) -> None:
        self.encoder = OpusEncoder(bitrate=bitrate, fec=True, dtx=dtx)
        self.decoder = OpusDecoder()
        self.jitter = JitterBuffer(jitter)
        self.policy = policy or RedundancyPolicy()
        self.loss_meter = LossMeter()
        self.counters = MediaCounters()
        self._red = RedPacketizer()
        self._sealer = MediaSealer(keys.send_key)
        self._opener = MediaOpener(keys.recv_key)
        self._report_sealer = MediaSealer(keys.send_key, nonce_prefix=REPORT_PREFIX)
        self._report_opener = MediaOpener(keys.recv_key, nonce_prefix=REPORT_PREFIX)
        self._seq = 0
        self._report_seq = 0
        self._timestamp = 0
        self.peer_loss = 0.0  # what the peer's last report said about our stream
        self.red_depth = 0  # RED copies we send (from the peer's loss)
        self._repair_depth = 0  # repair frames the peer sends us: the delay floor grows by it
        self._interval_red_depth = 0

    @property
    def opener_stats(self) -> dict[str, int]:
        """Dropped media datagrams by reason (short, bad_version, auth_failed, replayed, too_old)."""
        return self._opener.stats.as_dict()

    # -------------------------------------------------------------------- send

    def send(self, pcm: bytes) -> bytes:
        """The sealed datagram for the next 20 ms frame (the frame count is the media clock,
        so no `now`: a frame sent late still carries its own timestamp)."""
        opus = self.encoder.encode(pcm)
        flags = FLAG_DTX if (len(opus) <= 2 or quieter_than(pcm, SILENT_DBFS)) else 0
        seq = self._seq
        if self.red_depth > 0:
            payload = self._red.build(seq, opus, self.red_depth)
            flags |= FLAG_RED
        else:
            self._red.remember(seq, opus)  # history for when RED turns on
            payload = opus
        datagram = self._sealer.seal(flags, seq, self._timestamp, payload)
        self._seq = (seq + 1) & 0xFFFFFFFF
        self._timestamp = (self._timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        self.counters.sealed += 1
        return datagram

    # ----------------------------------------------------------------- receive

    def receive(self, datagram: bytes, now: float, *, delayed: bool = False) -> bool:
        """Take one datagram that arrived at `now`; True if it was authentic (media or report),
        i.e. proof that the path it came by is alive. Never raises. `delayed`: the caller read
        it late (its loop was busy), so `now` says nothing about the network's delay."""
        if is_report(datagram):
            return self._receive_report(datagram)
        try:
            packet = self._opener.open(datagram)
        except MediaPacketError as exc:
            if exc.reason == "replayed":
                self.counters.duplicates += 1  # the same frame by the other path (a switch): not an attack
            else:
                self.counters.bad += 1
            return False
        self.counters.received += 1
        self.loss_meter.received(packet.extended_seq)
        silent = packet.is_dtx
        if not packet.is_red:
            self.jitter.put(packet.seq, packet.timestamp, packet.payload, now, silent=silent, delayed=delayed)
            return True
        try:
            entries = expand_red(packet.seq, packet.timestamp, packet.payload)
        except MediaPacketError:
            self.counters.bad += 1
            return True  # authentic, but the container is broken: the path is alive
        depth = len(entries) - 1
        self._interval_red_depth = max(self._interval_red_depth, depth)
        if depth > self._repair_depth:  # copies come one packet later per frame back: wait for them
            self._set_repair_depth(depth)
        for seq, ts, payload, redundant in entries:
            self.jitter.put(
                seq, ts, payload, now, silent=silent and not redundant, redundant=redundant, delayed=delayed
            )
        return True

    def _receive_report(self, datagram: bytes) -> bool:
        try:
            report = ReceiverReport.unpack(self._report_opener.open(datagram).payload)
        except MediaPacketError:
            self.counters.bad += 1
            return False
        self.counters.reports += 1
        self.peer_loss = report.loss
        self.red_depth = self.policy.update(report.loss)
        settings = self.policy.codec_settings(report.loss)
        self.encoder.set_fec(settings.fec)
        self.encoder.set_expected_loss(settings.expected_loss_percent)
        return True

    # -------------------------------------------------------------------- play

    def play(self, now: float) -> Playout:
        """The 20 ms to play in the slot that starts at `now`."""
        frame = self.jitter.pop(now)
        kind, seq = frame.kind, frame.seq
        try:
            if kind is PlayoutKind.DECODE and frame.payload is not None:
                return Playout(self.decoder.decode(frame.payload), kind, seq)
            if kind is PlayoutKind.FEC and frame.payload is not None:
                return Playout(self.decoder.decode_fec(frame.payload), kind, seq)
        except CodecError:
            self.counters.decode_errors += 1  # an authentic payload libopus refuses: conceal it
            kind = PlayoutKind.CONCEAL
        if kind is PlayoutKind.CONCEAL:
            return Playout(self.decoder.conceal(), kind, seq)
        return Playout(SILENCE, PlayoutKind.NOTHING)

    # ------------------------------------------------------------ report interval

    @property
    def measured_loss(self) -> float:
        """The loss of our peer's stream in the last report interval (0..1)."""
        return self.loss_meter.loss

    def end_interval(self) -> float:
        """Close a report interval: measure its loss and set the delay floor for the repair
        data that arrives (RED copies, or in-band FEC in the next packet: one frame per repair
        depth above the 20 ms base; back down once the network is clean). Returns the loss."""
        loss = self.loss_meter.end_interval()
        wanted = max(self._interval_red_depth, 1 if loss > 0.005 else 0)
        self._interval_red_depth = 0
        if wanted != self._repair_depth:
            self._set_repair_depth(wanted)
        return loss

    def seal_report(self) -> bytes:
        """A sealed receiver report of the last interval (each call seals a fresh one: one per
        path it goes out on, so the peer's replay window accepts every copy)."""
        report = ReceiverReport(self.loss_meter.loss, self.jitter.stats().jitter_ms, self.counters.received)
        datagram = self._report_sealer.seal(FLAG_REPORT, self._report_seq, 0, report.pack())
        self._report_seq = (self._report_seq + 1) & 0xFFFFFFFF
        return datagram

    def jitter_stats(self) -> JitterStats:
        return self.jitter.stats()

    def _set_repair_depth(self, depth: int) -> None:
        self._repair_depth = depth
        self.jitter.set_min_delay(FRAME_S * (1 + depth))
