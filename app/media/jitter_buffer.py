"""Sans-IO adaptive jitter buffer.

No clocks, threads or sockets: the network side calls :meth:`JitterBuffer.put` for
every received frame and the playout side calls :meth:`JitterBuffer.pop` every
20 ms; both pass ``now`` (seconds, any monotonic origin). ``pop`` says what to
play: decode a packet, decode the lost frame from the *next* packet's in-band FEC,
conceal (PLC), or nothing yet (before playout starts).

Delay model
    For every primary packet the buffer records its relative transit
    ``D = arrival - timestamp / clock_rate``. The reference is the fastest transit
    over the last second, ``min(D)``, and ``r = D - min(D)`` (computed on arrival) is
    how late a packet was compared to the fastest one. The playout delay of the frame
    about to play is ``L = now - timestamp / clock_rate - min(D)``: a packet is on
    time iff its ``r`` is at most ``L``. The *target* delay is the 95th percentile of
    ``r`` over the last 4 s, clamped to 20..200 ms. It rises at once when jitter
    rises and decays by at most 40 ms per second once the network calms down, so a
    short calm spell in a jittery network does not make the buffer oscillate. An
    RFC 3550 interarrival jitter estimate is kept too, for statistics only.

    The short (1 s) window for ``min(D)`` is what absorbs clock skew: with a
    sender 1 % slow or fast, ``min(D)`` drifts by only ~10 ms per window, so the
    target is not inflated by the drift, while ``L`` moves by ~10 ms per second and
    is corrected in the next pause (see below).

Adapting without clicks
    The buffer never sees PCM, so it does not time-stretch. It changes the delay
    only where doing so is inaudible, and keeps ``L`` in ``[target, target + 20 ms]``:

    * Shrinking (``L`` more than one frame above target): a frame marked *silent*
      (``put(..., silent=True)``: the sender sets the DTX/silence flag on frames its
      VAD calls silence, and 1-2 byte Opus DTX packets always count as silent) is
      skipped, provided the frame after it is present. Removing 20 ms of silence is
      inaudible. Only when the excess exceeds 80 ms (after a burst, or clock skew in
      speech without pauses) is a non-silent frame dropped, at most one per 100 ms,
      which bounds the delay without waiting for a pause (``forced_drops``).
    * Growing (``L`` below target): a concealment frame is inserted in front of a
      silent frame (PLC after silence is silence) (``stretched``). In speech, growth
      happens only when a frame has not arrived at its slot: the slot is concealed
      and the playout position waits for it (an *underrun*).
    * A missing frame whose successor is present is recovered from the successor's
      in-band FEC (``fec_recovered``); with more than one frame missing, the earlier
      ones are concealed. Slots already concealed during an underrun are not
      concealed twice: if waiting left the playout behind schedule, the missing
      frames whose time has passed are skipped (``skipped``), so neither a late
      burst nor an outage leaves a permanent extra delay.
    * A timestamp jump with contiguous sequence numbers (a sender in DTX sends
      nothing in pauses) is filled with concealment frames (``dtx_filled``), as is
      an underrun right after a silent frame; neither counts as loss.

Robustness
    32-bit sequence numbers and timestamps are unwrapped to unbounded integers, so
    wrap-around is transparent. Duplicates and packets whose slot has passed are
    dropped and counted (``duplicate``, ``late``). A sender restart is recognised
    after three consistent packets more than 30 s ahead, 2 s behind or 5 s off in
    timestamp, or after ten consecutive duplicate/late packets (a restart reusing
    old sequence numbers); the buffer then resynchronises (``resyncs``). One stray
    packet is ignored. After one second of continuous underrun the buffer goes back
    to buffering (``pop`` returns NOTHING, i.e. play silence) and starts again like
    at the beginning of the call.

RED
    Copies unpacked from RED containers are passed with ``redundant=True``: they fill
    holes (``red_recovered`` when played) but do not feed the delay estimator, and a
    copy of a frame already held or played is ignored without being counted.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import deque
from dataclasses import dataclass, replace
from enum import Enum

from app.media import seqnum

__all__ = [
    "JitterBuffer",
    "JitterConfig",
    "JitterStats",
    "PlayoutFrame",
    "PlayoutKind",
]

log = logging.getLogger(__name__)

_MOD = seqnum.MOD
_DTX_MAX_BYTES = 2
_SEEN_MAX = 4096


class PlayoutKind(Enum):
    NOTHING = "nothing"  # playout has not started (or is rebuffering): play silence
    DECODE = "decode"  # decode ``payload``
    FEC = "fec"  # the frame is lost: ``decode_fec(payload)`` with the NEXT packet
    CONCEAL = "conceal"  # packet-loss concealment (decoder PLC)


@dataclass(frozen=True, slots=True)
class PlayoutFrame:
    """What to play for one 20 ms slot.

    ``seq``/``timestamp`` identify the frame this output stands for (32-bit values;
    None for NOTHING). ``payload`` is the packet to decode for DECODE, the *next*
    packet for FEC, and None otherwise. ``reason`` explains CONCEAL frames:
    ``"loss"``, ``"underrun"``, ``"stretch"`` (inserted to grow the delay) or
    ``"dtx"`` (filling a timestamp gap left by a sender in DTX).
    """

    kind: PlayoutKind
    seq: int | None = None
    timestamp: int | None = None
    payload: bytes | None = None
    reason: str = ""
    redundant: bool = False  # DECODE of a copy that arrived in a RED container


@dataclass(frozen=True, slots=True)
class JitterConfig:
    frame_ms: int = 20
    clock_rate: int = 48_000
    min_delay_s: float = 0.020
    max_delay_s: float = 0.200
    quantile: float = 0.95
    window_s: float = 4.0
    min_window_s: float = 1.0
    decay_s_per_s: float = 0.040
    hysteresis_s: float = 0.020
    force_excess_s: float = 0.080
    force_interval_s: float = 0.100
    rebuffer_after_s: float = 1.0
    max_seq_jump: int = 1500  # further ahead than this: a restart, not a gap
    max_late_frames: int = 100  # further behind than this: a restart, not a late packet
    max_transit_jump_s: float = 5.0
    resync_packets: int = 3
    restart_after_rejected: int = 10  # consecutive duplicate/late packets

    @property
    def frame_s(self) -> float:
        return self.frame_ms / 1000.0

    @property
    def frame_ticks(self) -> int:
        return self.clock_rate * self.frame_ms // 1000


@dataclass(slots=True)
class JitterStats:
    delay_ms: float = 0.0  # playout delay L of the last played frame
    target_ms: float = 0.0
    jitter_ms: float = 0.0  # RFC 3550 interarrival jitter
    buffered_frames: int = 0
    received: int = 0
    late: int = 0
    duplicate: int = 0
    decoded: int = 0
    concealed: int = 0  # PLC frames for missing audio (loss + underrun)
    fec_recovered: int = 0
    red_recovered: int = 0
    accelerated: int = 0  # silent frames skipped to shrink the delay
    forced_drops: int = 0  # non-silent frames dropped because the delay was far too high
    stretched: int = 0  # concealment frames inserted before silence to grow the delay
    dtx_filled: int = 0
    skipped: int = 0  # missing frames jumped over when already behind schedule
    underruns: int = 0
    resyncs: int = 0
    delayed_arrivals: int = 0  # packets read late by a busy caller: kept out of the delay estimate


@dataclass(slots=True)
class _Entry:
    ts: int  # unwrapped timestamp
    payload: bytes
    silent: bool
    redundant: bool


class _State(Enum):
    BUFFERING = 1
    PLAYING = 2


class JitterBuffer:
    """Adaptive jitter buffer; see the module docstring for the algorithm."""

    def __init__(self, config: JitterConfig | None = None) -> None:
        self.config = config or JitterConfig()
        c = self.config
        if not 0 < c.min_delay_s <= c.max_delay_s:
            raise ValueError("need 0 < min_delay_s <= max_delay_s")
        if not 0.0 < c.quantile <= 1.0:
            raise ValueError("quantile must be in (0, 1]")
        self._stats = JitterStats()
        self._target = c.min_delay_s
        self._last_target_update: float | None = None
        self._reset_stream()

    # -- state ---------------------------------------------------------------------

    def _reset_stream(self) -> None:
        self._packets: dict[int, _Entry] = {}
        self._state = _State.BUFFERING
        self._highest: int | None = None  # highest unwrapped seq received
        self._ts_ref: int | None = None  # unwrapped ts of the latest packet
        self._next: int | None = None  # unwrapped seq to play next
        self._play_ts = 0  # unwrapped ts of the slot to play next
        self._last_played: int | None = None
        self._seen: dict[int, bool] = {}  # unwrapped seq -> primary (not only a copy) seen
        self._seen_order: deque[int] = deque()
        # Monotonic deque of (arrival, transit D) for the sliding-window minimum.
        self._transits: deque[tuple[float, float]] = deque()
        self._lateness: deque[tuple[float, float]] = deque()  # (arrival, r = D - min D)
        self._lateness_sorted: list[float] = []  # the same r values, kept sorted (for the quantile)
        self._min_transit: float | None = None
        self._prev_transit: float | None = None
        self._jitter = 0.0
        self._underrun_since: float | None = None
        self._stalled = 0  # underrun slots concealed while waiting for ``_next``
        self._last_silent = False  # the last decoded frame was silence/DTX
        self._last_forced = -math.inf
        self._resync_votes: list[tuple[int, int, bytes, bool, bool]] = []
        self._rejected: deque[tuple[int, int, bytes, bool, bool]] = deque(maxlen=self.config.restart_after_rejected)

    def set_min_delay(self, seconds: float) -> None:
        """Change the delay floor (e.g. one frame more while the sender adds RED copies or FEC,
        which arrive one packet later than the frame they repair)."""
        seconds = min(max(seconds, 0.001), self.config.max_delay_s)
        if seconds != self.config.min_delay_s:
            self.config = replace(self.config, min_delay_s=seconds)
            self._target = max(self._target, seconds)

    def reset(self) -> None:
        """Forget the stream (statistics are kept)."""
        self._reset_stream()

    @property
    def playing(self) -> bool:
        return self._state is _State.PLAYING

    @property
    def target_delay(self) -> float:
        """The current target playout delay in seconds."""
        return self._target

    def stats(self) -> JitterStats:
        """A snapshot of the counters and delay figures."""
        self._stats.target_ms = self._target * 1000.0
        self._stats.jitter_ms = self._jitter * 1000.0
        self._stats.buffered_frames = len(self._packets)
        return replace(self._stats)

    # -- input -----------------------------------------------------------------------

    def put(
        self,
        seq: int,
        timestamp: int,
        payload: bytes,
        now: float,
        *,
        silent: bool = False,
        redundant: bool = False,
        delayed: bool = False,
    ) -> bool:
        """Add a received frame; returns False if it was dropped (late, duplicate,
        or a stray packet far from the stream).

        ``silent`` marks frames the sender flagged as silence/DTX (they may be
        skipped to shrink the delay). ``redundant`` marks copies taken from a RED
        container: they fill holes but do not feed the delay estimator and are not
        counted as late or duplicate. ``delayed`` says ``now`` is not when the packet
        arrived but later (the caller's loop was busy and read it late): the frame is
        stored but does not feed the delay estimator, so our own scheduling jitter is
        not taken for network jitter (``delayed_arrivals``).
        """
        if delayed and not redundant:
            self._stats.delayed_arrivals += 1
        seq %= _MOD
        timestamp %= _MOD
        data = bytes(payload)
        silent = silent or len(data) <= _DTX_MAX_BYTES
        if self._highest is None or self._ts_ref is None:
            return self._store(seq, timestamp, data, now, silent, redundant, delayed)
        ext = seqnum.unwrap(seq, self._highest)
        ts = seqnum.unwrap(timestamp, self._ts_ref)
        anchor = self._next if self._next is not None else self._highest
        transit = now - ts / self.config.clock_rate
        out_of_range = ext > self._highest + self.config.max_seq_jump or (ext < anchor - self.config.max_late_frames)
        if not out_of_range and self._min_transit is not None and not redundant:
            out_of_range = abs(transit - self._min_transit) > self.config.max_transit_jump_s
        if out_of_range:
            return self._vote_resync(seq, timestamp, data, now, silent, redundant)
        self._resync_votes.clear()
        stored = self._store(ext, ts, data, now, silent, redundant, delayed)
        if not redundant:
            rejected = self._rejected
            if stored:
                rejected.clear()
            else:
                # A long run of nothing but duplicates/late packets: a sender that
                # restarted with sequence numbers we have already seen.
                rejected.append((seq, timestamp, data, silent, redundant))
                if len(rejected) >= self.config.restart_after_rejected:
                    self._resync(list(rejected)[-self.config.resync_packets :], now)
                    return True
        return stored

    def _store(
        self, ext: int, ts: int, data: bytes, now: float, silent: bool, redundant: bool, delayed: bool = False
    ) -> bool:
        st = self._stats
        if not redundant:
            st.received += 1
        primary_seen = self._seen.get(ext)
        if primary_seen is not None:
            if redundant:
                return False  # a RED copy of something we already have or had
            if primary_seen:
                st.duplicate += 1
                return False
            # The primary arriving after its RED copy.
            self._seen[ext] = True
            if not delayed:
                self._observe_transit(now, ts)
            existing = self._packets.get(ext)
            if existing is not None:
                existing.redundant = False
                return True
            st.late += 1
            return False
        self._remember(ext, primary=not redundant)
        if not redundant and (not delayed or self._min_transit is None):
            self._observe_transit(now, ts)
        if self._highest is None or ext > self._highest:
            self._highest = ext
            self._ts_ref = ts
        is_late = (self._next is not None and ext < self._next) or (
            self._next is None and self._last_played is not None and ext <= self._last_played
        )
        if is_late:
            if not redundant:
                st.late += 1
            return False
        self._packets[ext] = _Entry(ts, data, silent, redundant)
        return True

    def _remember(self, ext: int, primary: bool) -> None:
        self._seen[ext] = primary
        self._seen_order.append(ext)
        while len(self._seen_order) > _SEEN_MAX:
            self._seen.pop(self._seen_order.popleft(), None)

    def _vote_resync(self, seq: int, timestamp: int, data: bytes, now: float, silent: bool, redundant: bool) -> bool:
        votes = self._resync_votes
        if votes:
            if abs(seqnum.delta(seq, votes[-1][0])) > 2 * self.config.resync_packets + 8:
                votes.clear()
        votes.append((seq, timestamp, data, silent, redundant))
        if len(votes) < self.config.resync_packets:
            return False
        self._resync(list(votes), now)
        return True

    def _resync(self, pending: list[tuple[int, int, bytes, bool, bool]], now: float) -> None:
        log.info("jitter buffer resync at seq %d", pending[-1][0])
        self._stats.resyncs += 1
        self._reset_stream()
        for v_seq, v_ts, v_data, v_silent, v_red in sorted(pending, key=lambda v: (v[0] - pending[0][0]) % _MOD):
            self.put(v_seq, v_ts, v_data, now, silent=v_silent, redundant=v_red)

    # -- delay estimation ---------------------------------------------------------------

    def _observe_transit(self, now: float, ts: int) -> None:
        transit = now - ts / self.config.clock_rate
        if self._prev_transit is not None:  # RFC 3550, A.8
            self._jitter += (abs(transit - self._prev_transit) - self._jitter) / 16.0
        self._prev_transit = transit
        transits = self._transits
        while transits and transits[-1][1] >= transit:
            transits.pop()
        transits.append((now, transit))
        self._prune(now)
        lateness = transit - self._min_transit_now()
        self._lateness.append((now, lateness))
        bisect.insort(self._lateness_sorted, lateness)

    def _min_transit_now(self) -> float:
        self._min_transit = self._transits[0][1]
        return self._min_transit

    def _prune(self, now: float) -> None:
        c = self.config
        transits = self._transits
        horizon = now - c.min_window_s
        while len(transits) > 1 and transits[0][0] < horizon:
            transits.popleft()
        if transits:
            self._min_transit = transits[0][1]
        lateness = self._lateness
        ordered = self._lateness_sorted
        horizon = now - c.window_s
        while len(lateness) > 1 and lateness[0][0] < horizon:
            _, old = lateness.popleft()
            del ordered[bisect.bisect_left(ordered, old)]

    def _update_target(self, now: float) -> None:
        c = self.config
        self._prune(now)
        if self._min_transit is None or not self._lateness:
            return
        lateness = self._lateness_sorted  # sorted incrementally: no sort of 200 values per frame
        index = max(0, math.ceil(c.quantile * len(lateness)) - 1)
        raw = min(max(lateness[index], c.min_delay_s), c.max_delay_s)
        last = self._last_target_update
        dt = 0.0 if last is None else max(0.0, now - last)
        self._last_target_update = now
        if raw >= self._target:
            self._target = raw
        else:
            self._target = max(raw, self._target - c.decay_s_per_s * dt)

    def _delay_of(self, ts: int, now: float) -> float:
        """Playout delay L a frame with timestamp ``ts`` would have if played now."""
        assert self._min_transit is not None
        return now - ts / self.config.clock_rate - self._min_transit

    # -- output ----------------------------------------------------------------------

    def pop(self, now: float) -> PlayoutFrame:
        """What to play in the 20 ms slot starting at ``now``."""
        self._update_target(now)
        if self._state is _State.BUFFERING and not self._try_start(now):
            return PlayoutFrame(PlayoutKind.NOTHING)
        frame = self._next_frame(now)
        self._drop_played()
        return frame

    def _try_start(self, now: float) -> bool:
        if not self._packets or self._min_transit is None:
            return False
        first = min(self._packets)
        entry = self._packets[first]
        if self._delay_of(entry.ts, now) < self._target - 1e-9:
            return False
        self._state = _State.PLAYING
        self._next = first
        self._play_ts = entry.ts
        self._underrun_since = None
        log.debug("jitter buffer starts playout at seq %d", first % _MOD)
        return True

    def _drop_played(self) -> None:
        if self._next is None:
            return
        for ext in [e for e in self._packets if e < self._next]:
            del self._packets[ext]

    def _advance(self, ts_of_slot: int) -> None:
        assert self._next is not None
        self._last_played = self._next
        self._next += 1
        self._stalled = 0
        self._play_ts = ts_of_slot + self.config.frame_ticks

    def _next_frame(self, now: float) -> PlayoutFrame:
        c = self.config
        st = self._stats
        assert self._next is not None
        hyst = c.hysteresis_s - 1e-9
        for _ in range(c.max_seq_jump + 2):  # each iteration skips or returns
            cur = self._next
            entry = self._packets.get(cur)
            if entry is None:
                return self._missing(now)
            self._underrun_since = None
            if entry.ts > self._play_ts + c.frame_ticks // 2:
                # A timestamp gap (sender in DTX): fill it unless we are behind.
                if self._delay_of(self._play_ts, now) - self._target > hyst:
                    self._play_ts = entry.ts
                else:
                    ts_slot = self._play_ts
                    self._play_ts += c.frame_ticks
                    st.dtx_filled += 1
                    return self._conceal(cur, ts_slot, "dtx")
            delay = self._delay_of(entry.ts, now)
            excess = delay - self._target
            successor = self._packets.get(cur + 1)
            if excess > hyst and successor is not None:
                forced = excess > c.force_excess_s - 1e-9 or delay > c.max_delay_s + hyst
                if entry.silent:
                    st.accelerated += 1
                    self._advance(entry.ts)
                    continue
                if forced and now - self._last_forced >= c.force_interval_s - 1e-9:
                    self._last_forced = now
                    st.forced_drops += 1
                    self._advance(entry.ts)
                    continue
            if excess < -1e-9 and entry.silent:
                st.stretched += 1
                return self._conceal(cur, entry.ts, "stretch")
            st.delay_ms = delay * 1000.0
            st.decoded += 1
            self._last_silent = entry.silent
            if entry.redundant:
                st.red_recovered += 1
            self._advance(entry.ts)
            return PlayoutFrame(
                PlayoutKind.DECODE,
                cur % _MOD,
                entry.ts % _MOD,
                entry.payload,
                redundant=entry.redundant,
            )
        return self._missing(now)  # pragma: no cover - bounded by the jump limit

    def _missing(self, now: float) -> PlayoutFrame:
        c = self.config
        st = self._stats
        assert self._next is not None
        cur = self._next
        later = [e for e in self._packets if e > cur]
        if not later:
            return self._underrun(now, cur)
        self._underrun_since = None
        nxt = min(later)
        nxt_entry = self._packets[nxt]
        # Slots already filled while waiting for ``cur`` (underrun concealment) are
        # not filled twice: if that left us behind schedule, skip the missing frames
        # whose time has passed instead of concealing each of them.
        behind = math.floor((self._delay_of(self._play_ts, now) - self._target) / c.frame_s + 1e-6)
        skip = min(self._stalled, behind, nxt - cur)
        self._stalled = 0
        if skip > 0:
            st.skipped += skip
            if skip == nxt - cur:
                self._next = nxt
                self._play_ts = nxt_entry.ts
                return self._next_frame(now)
            self._next = cur + skip
            self._play_ts += skip * c.frame_ticks
            cur = self._next
        ts_slot = self._play_ts
        self._advance(ts_slot)
        st.delay_ms = self._delay_of(ts_slot, now) * 1000.0
        if nxt == cur + 1:
            st.fec_recovered += 1
            return PlayoutFrame(PlayoutKind.FEC, cur % _MOD, ts_slot % _MOD, nxt_entry.payload)
        st.concealed += 1
        return PlayoutFrame(PlayoutKind.CONCEAL, cur % _MOD, ts_slot % _MOD, reason="loss")

    def _underrun(self, now: float, cur: int) -> PlayoutFrame:
        """Nothing to play: conceal while waiting for ``cur``; the delay grows a frame."""
        c = self.config
        st = self._stats
        if self._underrun_since is None:
            self._underrun_since = now
            if not self._last_silent:
                st.underruns += 1
        elif now - self._underrun_since >= c.rebuffer_after_s - 1e-9:
            log.info("jitter buffer: no audio for %.1f s, rebuffering", c.rebuffer_after_s)
            self._state = _State.BUFFERING
            self._last_played = cur - 1
            self._next = None
            self._underrun_since = None
            self._stalled = 0
            return PlayoutFrame(PlayoutKind.NOTHING)
        self._stalled += 1
        st.delay_ms = self._delay_of(self._play_ts, now) * 1000.0
        if self._last_silent:  # the sender went quiet (DTX): this is not a loss
            st.dtx_filled += 1
            return self._conceal(cur, self._play_ts, "dtx")
        st.concealed += 1
        return self._conceal(cur, self._play_ts, "underrun")

    def _conceal(self, cur: int, ts_slot: int, reason: str) -> PlayoutFrame:
        return PlayoutFrame(PlayoutKind.CONCEAL, cur % _MOD, ts_slot % _MOD, reason=reason)
