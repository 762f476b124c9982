"""One call's media: Opus frames in sealed QUIC datagrams, both ways, on whichever path won.

Every 20 ms (on an absolute schedule, so timer jitter does not accumulate) the
session reads one frame from its source, encodes it, optionally wraps it with
the previous frames in a RED container, seals it and sends one datagram; and
it asks the jitter buffer what to play for this slot, decodes (or recovers
from FEC, or conceals) and hands the PCM to its sink. Received datagrams are
opened (authenticated, anti-replay) and put into the jitter buffer.

Once a second each side sends a receiver report (measured loss and jitter) in
its own sealed datagram stream (flag bit 2, its own nonce prefix, so it never
shows up as a gap in the media sequence). The sender turns the peer's loss into
the Opus expected-loss hint (in-band FEC with the wideband cap) and a RED depth.

`set_transport` moves the session to another QUIC connection (the race's
winner, a fall-back to the relay, an upgrade to direct) without touching the
codec state, keys or sequence numbers.

Failover: with the direct path in use, the relay media connection stays open as
a *standby* (`set_standby`): packets from it are played too (the peer may have
switched first; the replay window drops a copy that came both ways) and it gets
the receiver report every second, which keeps it alive. `PathLiveness` watches
the path in use; when nothing authenticated arrives on it for 0.8 s the session
calls `on_path_silent(path)` and the client moves the call to the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass

from app import events as ev
from app.call.liveness import PathLiveness
from app.media.codec import FRAME_SAMPLES, OpusDecoder, OpusEncoder
from app.media.errors import MediaPacketError
from app.media.jitter_buffer import JitterBuffer, PlayoutKind
from app.media.media_keys import MediaKeys
from app.media.packet import FLAG_DTX, FLAG_RED, MediaOpener, MediaSealer
from app.media.pcm import MIN_DBFS, level_dbfs, quieter_than, scale_pcm
from app.media.red import RedPacketizer, RedundancyPolicy, expand_red
from app.media.sinks import AudioSink
from app.media.sources import AudioSource
from app.net import QuicPeerConnection

log = logging.getLogger(__name__)

FRAME_S = 0.020
FLAG_REPORT = 0x04
REPORT_PREFIX = b"WZPr"
SILENCE = bytes(FRAME_SAMPLES * 2)
SILENT_DBFS = -55.0
#: After a switch the old path carries a copy of every frame this long: the peer may still be
#: listening there (it switches a round trip later), and the replay window drops the doubles.
SWITCH_OVERLAP_S = 0.3
#: How long the connection in use may hold an ACK back: a little more than a frame, so the ACK
#: for what we received goes out with our next frame (one packet each way per 20 ms, not two).
ACK_DELAY_S = FRAME_S + 0.005
_REPORT = struct.Struct(">HHI")  # loss in 1/10000, jitter in 1/10 ms, frames received


@dataclass
class MediaCounters:
    sent: int = 0
    send_failed: int = 0
    overlap_sent: int = 0  # copies sent on the previous path right after a switch
    duplicates: int = 0  # frames that arrived twice (by both paths at a switch) and played once
    stalls: int = 0  # times the frame loop fell more than 200 ms behind and skipped ahead
    received: int = 0
    bad: int = 0
    bytes_sent: int = 0


class MediaSession:
    def __init__(
        self,
        call_id: str,
        keys: MediaKeys,
        source: AudioSource,
        sink: AudioSink,
        *,
        bitrate: int = 24_000,
        dtx: bool = False,
        emit: Callable[[ev.ClientEvent], None] | None = None,
        stats_interval: float = 1.0,
        audio_origin: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.call_id = call_id
        self.source = source
        self.sink = sink
        self.emit = emit or (lambda e: None)
        self.stats_interval = stats_interval
        self._clock = clock  # None: the event loop's clock; tests drive the session with a fake one
        self.encoder = OpusEncoder(bitrate=bitrate, fec=True, dtx=dtx)
        self.decoder = OpusDecoder()
        self.jitter = JitterBuffer()
        self.red = RedPacketizer()
        # RED from 3 % measured loss: at 5 % it scores ~3.5 PESQ-WB against ~2.7 for FEC alone (bench_codec_loss).
        self.policy = RedundancyPolicy(on_depth1=0.03, off_depth1=0.01, on_depth2=0.12, off_depth2=0.07)
        self._sealer = MediaSealer(keys.send_key)
        self._opener = MediaOpener(keys.recv_key)
        self._report_sealer = MediaSealer(keys.send_key, nonce_prefix=REPORT_PREFIX)
        self._report_opener = MediaOpener(keys.recv_key, nonce_prefix=REPORT_PREFIX)
        self.counters = MediaCounters()
        self.conn: QuicPeerConnection | None = None
        self.path = ""
        #: The other path, kept open and alive for an instant failover (the relay while on direct).
        self.standby: QuicPeerConnection | None = None
        #: Called (once per death) when the path in use delivers nothing authenticated for a while.
        self.on_path_silent: Callable[[str], None] | None = None
        self.liveness = PathLiveness()
        self._overlap: QuicPeerConnection | None = None
        self._overlap_until = 0.0
        #: Loop time the first-audio delay counts from (accept or answer); None: from start().
        self.audio_origin = audio_origin
        self.first_audio_ms: int | None = None
        self.muted = False
        self.volume = 1.0
        # The last frame sent / played: their levels are computed when read (meters poll a few
        # times a second, stats once), not for every frame.
        self._last_input: bytes | None = None
        self._last_output: bytes | None = None
        self.peer_loss = 0.0  # what the peer reports about our stream
        self.red_depth = 0
        self._seq = 0
        self._report_seq = 0
        self._timestamp = 0
        self._source_done = False
        self._tasks: list[asyncio.Task[None]] = []
        self._frame_timer: asyncio.Handle | None = None
        self._next_frame_at = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        # receive-side loss measurement, per report interval
        self._interval_received = 0
        self._interval_base: int | None = None
        self._measured_loss = 0.0
        self._repair_depth = 0  # frames of repair data (RED copies / FEC) the peer sends: delay floor grows by it
        self._interval_red_depth = 0
        self._last_bytes = 0
        self._stopped = False

    # ----------------------------------------------------------------- control

    def set_transport(self, conn: QuicPeerConnection, path: str) -> None:
        """Send and receive on `conn` from now on (codec, keys and sequence numbers carry on)."""
        old = self.conn
        if old is not None and old is not conn:
            old.set_datagram_handler(None)
            if not old.is_closed:  # an upgrade (not a failover): no gap while the peer switches too
                self._overlap, self._overlap_until = old, self._now() + SWITCH_OVERLAP_S
        if self.standby is conn:
            self.standby = None
        self.conn = conn
        self.path = path
        conn.set_datagram_handler(self._on_active_datagram)
        conn.set_ack_delay(ACK_DELAY_S)  # we send a frame every 20 ms: ACKs ride with it
        self.liveness.started(self._now())
        log.info("media transport call_id=%s path=%s remote=%s", self.call_id, path, conn.remote_addr)

    def set_standby(self, conn: QuicPeerConnection | None) -> None:
        """Keep `conn` ready for a failover: play what arrives on it, keep it alive with reports."""
        old = self.standby
        if old is not None and old is not conn and old is not self.conn:
            old.set_datagram_handler(None)
        self.standby = conn
        if conn is not None:
            conn.set_datagram_handler(self._on_datagram)
            log.info("media standby call_id=%s remote=%s", self.call_id, conn.remote_addr)

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return self._loop.time() if self._loop is not None else asyncio.get_running_loop().time()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.audio_origin is None:
            self.audio_origin = self._loop.time()
        self.liveness.started(self._loop.time())
        self._next_frame_at = self._loop.time()
        self._frame_timer = self._loop.call_soon(self._frame_due)
        self._tasks = [asyncio.ensure_future(self._stats_loop())]

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        for task in self._tasks:
            task.cancel()
        try:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        finally:
            self._tasks = []  # a cancelled task's traceback holds its frame, which holds this session
            for conn in (self.conn, self.standby):
                if conn is not None:
                    conn.set_datagram_handler(None)
            for closer in (self.source.close, self.sink.close):
                try:
                    closer()
                except Exception:
                    log.exception("closing audio failed call_id=%s", self.call_id)
        js = self.jitter.stats()
        log.info(
            "media stopped call_id=%s sent=%d received=%d bad=%d duplicates=%d stalls=%d late=%d concealed=%d "
            "accelerated=%d stretched=%d forced_drops=%d skipped=%d underruns=%d resyncs=%d",
            self.call_id,
            self.counters.sent,
            self.counters.received,
            self.counters.bad,
            self.counters.duplicates,
            self.counters.stalls,
            js.late,
            js.concealed,
            js.accelerated,
            js.stretched,
            js.forced_drops,
            js.skipped,
            js.underruns,
            js.resyncs,
        )

    @property
    def input_level_db(self) -> float:
        """Level (dBFS) of the last frame sent (silence when muted); -100 before the first."""
        pcm = self._last_input
        return MIN_DBFS if pcm is None else level_dbfs(pcm)

    @property
    def output_level_db(self) -> float:
        """Level (dBFS) of the last frame played (after the volume); -100 before the first."""
        pcm = self._last_output
        return MIN_DBFS if pcm is None else level_dbfs(pcm)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted

    def set_volume(self, volume: float) -> None:
        self.volume = max(0.0, min(2.0, volume))

    # ----------------------------------------------------------------- sending

    def _frame_due(self) -> None:
        """The frame loop: one slot every 20 ms on an absolute schedule, run straight from a loop
        timer (no task, no future per frame: on the GUI's loop each of those is a Qt event)."""
        loop = self._loop
        assert loop is not None
        self._frame_timer = None
        if self._stopped:
            return
        try:
            self.frame_tick(loop.time())
        except Exception:  # one bad frame must not end the call
            log.exception("media frame failed call_id=%s", self.call_id)
        self._next_frame_at += FRAME_S
        delay = self._next_frame_at - loop.time()
        if delay < -0.2:  # far behind (machine stalled): skip ahead instead of bursting
            self.counters.stalls += 1
            log.warning("media loop stalled call_id=%s behind=%.0f ms: skipping ahead", self.call_id, -delay * 1000)
            self._next_frame_at = loop.time()
        if not self._stopped:
            self._frame_timer = loop.call_at(self._next_frame_at, self._frame_due)

    def frame_tick(self, now: float) -> None:
        """One 20 ms slot (the frame loop calls it on its schedule): send a frame, play a frame,
        and check that the path in use is still alive."""
        self._send_frame()
        self._play_frame(now)
        if self.liveness.check(now):
            self._path_silent()

    def _send_frame(self) -> None:
        pcm = None if self._source_done else self.source.read_frame()
        if pcm is None:
            self._source_done = True
            pcm = SILENCE
        if self.muted:
            pcm = SILENCE
        self._last_input = pcm
        opus = self.encoder.encode(pcm)
        flags = FLAG_DTX if (len(opus) <= 2 or quieter_than(pcm, SILENT_DBFS)) else 0
        seq = self._seq
        if self.red_depth > 0:
            payload = self.red.build(seq, opus, self.red_depth)
            flags |= FLAG_RED
        else:
            self.red.remember(seq, opus)  # history for when RED turns on
            payload = opus
        datagram = self._sealer.seal(flags, seq, self._timestamp, payload)
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self._timestamp = (self._timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        conn = self.conn
        if conn is not None and conn.send_datagram(datagram, transmit=False):
            self.counters.sent += 1
            self.counters.bytes_sent += len(datagram)
            conn.flush()  # now, in this callback (not one loop round later)
        else:
            self.counters.send_failed += 1
        old = self._overlap
        if old is not None:  # just switched: the old path carries a copy for a moment
            if self._now() < self._overlap_until and old.send_datagram(datagram):
                self.counters.overlap_sent += 1
            else:
                self._overlap = None

    # --------------------------------------------------------------- receiving

    def _path_silent(self) -> None:
        log.warning(
            "media path silent call_id=%s path=%s for %.1f s", self.call_id, self.path, self.liveness.timeout
        )
        if self.on_path_silent is not None:
            self.on_path_silent(self.path)

    def _on_active_datagram(self, data: bytes) -> None:
        if self._on_datagram(data) and self.liveness.heard(self._now()):
            log.info("media path alive again call_id=%s path=%s", self.call_id, self.path)

    def _on_datagram(self, data: bytes) -> bool:
        """Open and queue one datagram; True if it was authentic (media or report)."""
        if self._clock is not None:
            now = self._clock()
        else:
            now = self._loop.time() if self._loop is not None else 0.0
        if len(data) >= 2 and data[1] & FLAG_REPORT:
            return self._on_report(data)
        try:
            packet = self._opener.open(data)
        except MediaPacketError as exc:
            if exc.reason == "replayed":
                self.counters.duplicates += 1  # the same frame by the other path (a switch): not an attack
            else:
                self.counters.bad += 1
            return False
        self.counters.received += 1
        self._interval_received += 1
        if self._interval_base is None:
            self._interval_base = (self._opener.highest_seq or 0) - 1
        silent = packet.is_dtx
        if packet.is_red:
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
                self.jitter.put(seq, ts, payload, now, silent=silent and not redundant, redundant=redundant)
        else:
            self.jitter.put(packet.seq, packet.timestamp, packet.payload, now, silent=silent)
        return True

    def _on_report(self, data: bytes) -> bool:
        try:
            packet = self._report_opener.open(data)
            loss, _jitter, _count = _REPORT.unpack(packet.payload)
        except (MediaPacketError, struct.error):
            self.counters.bad += 1
            return False
        self.peer_loss = loss / 10_000
        depth = self.policy.update(self.peer_loss)
        settings = self.policy.codec_settings(self.peer_loss)
        self.red_depth = depth
        self.encoder.set_fec(settings.fec)
        self.encoder.set_expected_loss(settings.expected_loss_percent)
        return True

    # ----------------------------------------------------------------- playout

    def _play_frame(self, now: float) -> None:
        frame = self.jitter.pop(now)
        if frame.kind is PlayoutKind.DECODE and frame.payload is not None:
            pcm = self.decoder.decode(frame.payload)
            if self.first_audio_ms is None:
                self._first_audio(now)
        elif frame.kind is PlayoutKind.FEC and frame.payload is not None:
            pcm = self.decoder.decode_fec(frame.payload)
        elif frame.kind is PlayoutKind.CONCEAL:
            pcm = self.decoder.conceal()
        else:
            pcm = SILENCE
        if self.volume != 1.0:
            pcm = scale_pcm(pcm, self.volume)
        self._last_output = pcm
        self.sink.write_frame(pcm)

    def _first_audio(self, now: float) -> None:
        origin = self.audio_origin if self.audio_origin is not None else now
        self.first_audio_ms = max(0, round((now - origin) * 1000))
        log.info("first audio played call_id=%s after %d ms path=%s", self.call_id, self.first_audio_ms, self.path)
        self.emit(ev.FirstAudio(call_id=self.call_id, first_audio_ms=self.first_audio_ms, path=self.path))

    # ------------------------------------------------------------------- stats

    async def _stats_loop(self) -> None:
        while True:
            await asyncio.sleep(self.stats_interval)
            self.stats_tick()

    def stats_tick(self) -> None:
        """End of a report interval (the stats loop calls it every `stats_interval`): measure the
        interval's loss, send the receiver report, adapt the delay floor, emit `Stats`."""
        self._measure_loss()
        self._send_report()
        # Repair data (RED copies, or in-band FEC in the next packet) needs the delay floor one
        # frame per repair depth higher than the 20 ms base; back down once the network is clean.
        wanted = max(self._interval_red_depth, 1 if self._measured_loss > 0.005 else 0)
        self._interval_red_depth = 0
        if wanted != self._repair_depth:
            self._set_repair_depth(wanted)
        js = self.jitter.stats()
        conn = self.conn
        rtt = conn.rtt if conn is not None else None
        bitrate = (self.counters.bytes_sent - self._last_bytes) * 8 / self.stats_interval / 1000
        self._last_bytes = self.counters.bytes_sent
        processing = self.source.processing_stats()
        self.emit(
            ev.Stats(
                call_id=self.call_id,
                path=self.path,
                rtt_ms=round(rtt * 1000, 1) if rtt is not None else None,
                loss_pct=round(self._measured_loss * 100, 2),
                jitter_ms=round(js.jitter_ms, 2),
                jitter_buffer_ms=round(js.delay_ms, 1),
                bitrate_kbps=round(bitrate, 1),
                packets_sent=self.counters.sent,
                packets_received=self.counters.received,
                packets_concealed=js.concealed,
                input_level_db=round(self.input_level_db, 1),
                output_level_db=round(self.output_level_db, 1),
                echo_erle_db=processing.erle_db if processing else None,
                echo_delay_ms=processing.echo_delay_ms if processing else None,
                echo_drift_ms=processing.reference_slewed_ms if processing else None,
            )
        )

    def _set_repair_depth(self, depth: int) -> None:
        self._repair_depth = depth
        self.jitter.set_min_delay(FRAME_S * (1 + depth))

    def _measure_loss(self) -> None:
        highest = self._opener.highest_seq
        if highest is None or self._interval_base is None:
            return
        expected = highest - self._interval_base
        if expected > 0:
            self._measured_loss = max(0.0, min(1.0, 1.0 - self._interval_received / expected))
        self._interval_base = highest
        self._interval_received = 0

    def _send_report(self) -> None:
        conn = self.conn
        if conn is None:
            return
        js = self.jitter.stats()
        payload = _REPORT.pack(
            min(10_000, int(self._measured_loss * 10_000)),
            min(65_535, int(js.jitter_ms * 10)),
            self.counters.received & 0xFFFFFFFF,
        )
        for target in (conn, self.standby):  # the report also keeps the standby path alive
            if target is None:
                continue
            datagram = self._report_sealer.seal(FLAG_REPORT, self._report_seq, 0, payload)
            self._report_seq = (self._report_seq + 1) & 0xFFFFFFFF
            with contextlib.suppress(Exception):
                target.send_datagram(datagram)
