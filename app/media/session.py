"""One call's media on the network and the sound card: timers and transports around a `MediaPipeline`.

Everything that decides something (Opus, RED, sealing, the jitter buffer, loss and receiver
reports) is in the sans-IO :class:`app.media.pipeline.MediaPipeline`. This session only

* runs the frame clock: slot ``n`` is due at ``start + n * 20 ms``. Every slot owed since the
  start is served (send one frame, play one frame), back to back when late, and the pipeline gets
  the slot's own time, not the time the timer happened to fire: on a busy machine a late wake
  plays the owed frames in order instead of the jitter buffer reading the lateness as delay
  (which made it drop speech frames to "catch up"). Datagrams read while the timer is overdue
  may have waited in the socket: they are played but kept out of the delay estimate. At most
  `MAX_CATCH_UP` slots are owed; further behind (the machine stalled), the clock skips ahead
  (`stalls`) instead of bursting;
* moves bytes between the capture source, the pipeline, the playback sink and the QUIC
  connection in use; once a second it sends the receiver report and emits `Stats`;
* keeps the transports: `set_transport` moves the call to another QUIC connection (the race's
  winner, a fall-back to the relay, an upgrade to direct) without touching codec state, keys or
  sequence numbers; after an upgrade the old path carries a copy of every frame for
  `SWITCH_OVERLAP_S` (the replay window drops the doubles).

Failover: with the direct path in use, the relay media connection stays open as a *standby*
(`set_standby`): packets from it are played too (the peer may have switched first) and it gets
the receiver report every second, which keeps it alive. `PathLiveness` watches the path in use;
when nothing authenticated arrives on it for 0.8 s the session calls `on_path_silent(path)` and
the client moves the call to the standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable

from app import events as ev
from app.call.liveness import PathLiveness
from app.media.codec import OpusDecoder, OpusEncoder
from app.media.jitter_buffer import JitterBuffer, PlayoutKind
from app.media.media_keys import MediaKeys
from app.media.pcm import MIN_DBFS, level_dbfs, scale_pcm
from app.media.pipeline import FRAME_S, SILENCE, MediaCounters, MediaPipeline
from app.media.report import FLAG_REPORT
from app.media.sinks import AudioSink
from app.media.sources import AudioSource
from app.net import QuicPeerConnection
from app.net.connection import ConnectionOwner

__all__ = ["FLAG_REPORT", "FRAME_S", "MAX_CATCH_UP", "MediaCounters", "MediaSession"]

log = logging.getLogger(__name__)

#: After a switch the old path carries a copy of every frame this long: the peer may still be
#: listening there (it switches a round trip later), and the replay window drops the doubles.
SWITCH_OVERLAP_S = 0.3
#: How long the connection in use may hold an ACK back, and when a frame takes it along: once it
#: is due within a frame. So an ACK goes out with every third or fourth frame, never alone (one
#: packet each way per 20 ms, not two), and the peer's loss recovery handles one ACK per ~60 ms
#: instead of one per frame (~50 us each on a busy machine).
ACK_DELAY_S = 0.075
ACK_RIDES_WITHIN_S = FRAME_S + 0.005
#: Slots owed at most (200 ms, what the capture bridge holds): further behind, the clock skips ahead.
MAX_CATCH_UP = 10
#: A live source (a microphone) gives frames on its own clock and in bursts (through PulseAudio, a
#: third of the slots find none and the next finds two, measured): each slot sends the oldest frame
#: captured, and a slot that finds none sends nothing; the frame waiting from then on is a cushion
#: against the next burst (the sender's own jitter buffer). Filling that slot with silence instead cut
#: 20 ms out of speech (PESQ-WB 2.6 against 3.4, tests/test_echo_path.py); sending both frames of a burst
#: at once passed the device's jitter on to the peer (its jitter buffer stretched and concealed: 2.4-3.2).
#: Only after CAPTURE_GRACE_SLOTS slots without a frame (the device stalled, or is being re-opened) does
#: the call send silence, which keeps the path alive.
CAPTURE_GRACE_SLOTS = 3
#: Latency: when a whole window of slots (5 s) always left a frame more than the bursts needed waiting, up to
#: CAPTURE_TRIM_MAX of them go out at once (after a stall, or a device clock faster than ours).
CAPTURE_TRIM_SLOTS = 250
CAPTURE_TRIM_MAX = 2
#: The frame timer this much overdue means the loop is busy: what it reads now may have waited.
LATE_WAKE_S = 0.010


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
        self.pipeline = MediaPipeline(keys, bitrate=bitrate, dtx=dtx)
        self.counters: MediaCounters = self.pipeline.counters
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
        self._source_done = False
        self._capture_waits = 0  # slots in a row a live source had no frame for
        self._capture_window = 0  # slots in the current trim window
        self._capture_spare = 0  # the fewest frames left waiting after a slot in this window
        self._tasks: list[asyncio.Task[None]] = []
        self._frame_timer: asyncio.Handle | None = None
        self._origin = 0.0  # loop time of slot 0
        self._slot = 0  # the next slot to serve
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_bytes = 0
        self._stopped = False
        #: The endpoint whose socket this session reads at each tick (see `_hold_reading`), and
        #: whether it may (a call's race that is still deciding wants its handshakes read at once).
        self._reading: ConnectionOwner | None = None
        self._reading_allowed = True

    # The pipeline's parts, for tests and benches that look inside.
    @property
    def encoder(self) -> OpusEncoder:
        return self.pipeline.encoder

    @property
    def decoder(self) -> OpusDecoder:
        return self.pipeline.decoder

    @property
    def jitter(self) -> JitterBuffer:
        return self.pipeline.jitter

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
        conn.set_ack_delay(ACK_DELAY_S, ride_within=ACK_RIDES_WITHIN_S)  # a frame every 20 ms takes it
        self._hold_reading()
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

    def allow_held_reading(self, allowed: bool) -> None:
        """Whether this session may read its socket in its ticks (`_hold_reading`): the call's race
        allows it once settled and takes it back while it probes or fails over."""
        self._reading_allowed = allowed
        if allowed:
            self._hold_reading()
        elif self._reading is not None:
            self._reading.release_reading()
            self._reading = None

    def _hold_reading(self) -> None:
        """Once running on a real connection: read its endpoint's socket at each frame tick
        instead of the loop waking for every datagram (one wake-up per 20 ms instead of two; the
        datagrams keep their arrival times). Where the endpoint cannot, datagrams are read as
        they arrive, as before."""
        conn = self.conn
        if (
            self._reading is not None
            or not self._reading_allowed
            or self._loop is None
            or self._stopped
            or self._clock is not None
        ):
            return
        if isinstance(conn, QuicPeerConnection) and conn.endpoint.hold_reading():
            self._reading = conn.endpoint

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return self._loop.time() if self._loop is not None else asyncio.get_running_loop().time()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        now = self._loop.time()
        if self.audio_origin is None:
            self.audio_origin = now
        self.liveness.started(now)
        self._origin, self._slot = now, 0
        self._hold_reading()
        self._frame_timer = self._loop.call_soon(self._frame_due)
        self._tasks = [asyncio.ensure_future(self._stats_loop())]

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._frame_timer is not None:
            self._frame_timer.cancel()
            self._frame_timer = None
        if self._reading is not None:
            self._reading.release_reading()
            self._reading = None
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
        js = self.pipeline.jitter_stats()
        c = self.counters
        log.info(
            "media stopped call_id=%s sent=%d received=%d bad=%d duplicates=%d stalls=%d late=%d concealed=%d "
            "accelerated=%d stretched=%d forced_drops=%d skipped=%d underruns=%d resyncs=%d delayed=%d "
            "capture_late=%d capture_gaps=%d capture_trimmed=%d",
            self.call_id,
            c.sent,
            c.received,
            c.bad,
            c.duplicates,
            c.stalls,
            js.late,
            js.concealed,
            js.accelerated,
            js.stretched,
            js.forced_drops,
            js.skipped,
            js.underruns,
            js.resyncs,
            js.delayed_arrivals,
            c.capture_late,
            c.capture_gaps,
            c.capture_trimmed,
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

    # -------------------------------------------------------------- frame clock

    def _frame_due(self) -> None:
        """Serve the next slot owed since the start, with its own time, then wait for the one after
        (run straight from a loop timer: no task or future per frame, which on the GUI's loop would
        each be a Qt event). Behind schedule, the next owed slot is served in the next loop round,
        not in this callback: asyncio reads one datagram per socket per round, so the packets that
        waited in the socket while we were late get read between the slots that play them."""
        loop = self._loop
        assert loop is not None
        self._frame_timer = None
        if self._stopped:
            return
        now = loop.time()
        owed = math.floor((now - self._origin) / FRAME_S + 1e-9) + 1 - self._slot
        if owed > MAX_CATCH_UP:  # far behind (the machine stalled): skip ahead instead of bursting
            self.counters.stalls += 1
            log.warning("media loop stalled call_id=%s behind=%.0f ms: skipping ahead", self.call_id, owed * 20)
            self._slot += owed - MAX_CATCH_UP
            owed = MAX_CATCH_UP
        if owed > 0:
            try:
                self.frame_tick(self._origin + self._slot * FRAME_S)
            except Exception:  # one bad frame must not end the call
                log.exception("media frame failed call_id=%s", self.call_id)
            self._slot += 1
        if self._stopped:
            return
        if owed > 1:
            self._frame_timer = loop.call_soon(self._frame_due)
        else:
            self._frame_timer = loop.call_at(self._origin + self._slot * FRAME_S, self._frame_due)

    def frame_tick(self, now: float) -> None:
        """One 20 ms slot that starts at `now`: read what arrived (when this session holds the
        socket's reading), send a frame, play a frame, and check that the path in use is still alive."""
        if self._reading is not None:
            self._reading.read_waiting()
        self._send_frame(now)
        self._play_frame(now)
        if self.liveness.check(now):
            self._path_silent()

    # ----------------------------------------------------------------- sending

    def _send_frame(self, now: float) -> None:
        if self.source.live:
            self._send_captured(now)
            return
        pcm = None if self._source_done else self.source.read_frame()
        if pcm is None:
            self._source_done = True
            pcm = SILENCE
        self._send_pcm(pcm, now)

    def _send_captured(self, now: float) -> None:
        """The oldest frame the microphone captured; nothing when none is waiting (it goes with the next
        slot, the one after waits as a cushion); silence after CAPTURE_GRACE_SLOTS empty slots."""
        source = self.source
        pcm = source.read_frame()
        if pcm is None:
            self._capture_waits += 1
            if self._capture_waits < CAPTURE_GRACE_SLOTS:
                self.counters.capture_late += 1
                return
            self.counters.capture_gaps += 1
            self._send_pcm(SILENCE, now)
            return
        self._capture_waits = 0
        self._send_pcm(pcm, now)
        spare = source.backlog
        if self._capture_window == 0 or spare < self._capture_spare:
            self._capture_spare = spare
        self._capture_window += 1
        if self._capture_window < CAPTURE_TRIM_SLOTS:
            return
        self._capture_window = 0
        for _ in range(min(self._capture_spare, CAPTURE_TRIM_MAX)):
            extra = source.read_frame()
            if extra is None:
                break
            self.counters.capture_trimmed += 1
            self._send_pcm(extra, now)

    def _send_pcm(self, pcm: bytes, now: float) -> None:
        if self.muted:
            pcm = SILENCE
        self._last_input = pcm
        datagram = self.pipeline.send(pcm)
        conn = self.conn
        if conn is not None and conn.send_datagram(datagram, transmit=False):
            self.counters.sent += 1
            self.counters.bytes_sent += len(datagram)
            conn.flush()  # now, in this callback (not one loop round later)
        else:
            self.counters.send_failed += 1
        old = self._overlap
        if old is not None:  # just switched: the old path carries a copy for a moment
            if now < self._overlap_until and old.send_datagram(datagram):
                self.counters.overlap_sent += 1
            else:
                self._overlap = None

    # --------------------------------------------------------------- receiving

    def _path_silent(self) -> None:
        log.warning("media path silent call_id=%s path=%s for %.1f s", self.call_id, self.path, self.liveness.timeout)
        if self.on_path_silent is not None:
            self.on_path_silent(self.path)

    def _on_active_datagram(self, data: bytes, at: float | None = None) -> None:
        if self._on_datagram(data, at) and self.liveness.heard(self._now()):
            log.info("media path alive again call_id=%s path=%s", self.call_id, self.path)

    def _on_datagram(self, data: bytes, at: float | None = None) -> bool:
        """Hand one datagram to the pipeline, stamped with the time it arrived (`at`, from the
        connection); True if authentic. Read at a tick of ours, that time is the kernel's and
        exact. Read as it came but with the frame timer overdue, the loop was busy: the datagram
        may have waited in the socket, so its read time must not teach the jitter buffer a
        network delay."""
        if self._reading is not None and at is not None:
            return self.pipeline.receive(data, at)
        now = self._now() if at is None else at
        overdue = self._loop is not None and now - (self._origin + self._slot * FRAME_S) > LATE_WAKE_S
        return self.pipeline.receive(data, now, delayed=overdue)

    # ----------------------------------------------------------------- playout

    def _play_frame(self, now: float) -> None:
        played = self.pipeline.play(now)
        if played.kind is PlayoutKind.DECODE and self.first_audio_ms is None:
            self._first_audio(now)
        pcm = played.pcm if self.volume == 1.0 else scale_pcm(played.pcm, self.volume)
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
        """End of a report interval (the stats loop calls it every `stats_interval`): the pipeline
        measures the interval, the receiver report goes out on every path, `Stats` is emitted."""
        loss = self.pipeline.end_interval()
        for target in (self.conn, self.standby):  # the report also keeps the standby path alive
            if target is not None:
                with contextlib.suppress(Exception):
                    target.send_datagram(self.pipeline.seal_report())
        js = self.pipeline.jitter_stats()
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
                loss_pct=round(loss * 100, 2),
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
