"""The far-end reference for the echo canceller: what the speaker played, lined up with the capture.

The speaker's PortAudio callback hands every block it writes (silence included) to
`RenderReference.played` with the time its first sample reaches the DAC. The microphone's
callback asks `ReferenceAligner.far_for` for the samples that were played while its block
was captured (from the block's ADC time): the echo of those comes a little later (the
acoustic path, the sound server's buffers), and the canceller's delay estimator finds that.

Sans-IO: both take explicit times (PortAudio's stream times, seconds on one clock), so tests
drive them with made-up clocks. Thread model: one writer (the output callback), one reader
(the input callback); the writer fills the ring, then publishes its anchor with one attribute
assignment, so neither ever waits for the other.

Alignment is kept by a cursor into the render timeline that advances by exactly the number
of samples captured, so the reference has no holes or jumps from timestamp jitter. The
timestamps only steer it, because they are rough: through PulseAudio's ALSA plugin a
callback's ADC time moves 15-50 ms from one 20 ms block to the next (measured here). The
difference between where they say the cursor should be and where it is is smoothed over
~2 s, and the cursor slips one sample every `SLEW_EVERY` blocks towards it while that is more
than `SLEW_THRESHOLD_S` off: it follows the clock drift between two devices (up to 300 ppm;
real devices are within ~100 ppm), slowly enough for the canceller to follow, and a
one-sample slip is nothing to it. The dead band is wide because the timestamps also creep by a
few ms over tens of seconds when nothing moved (PulseAudio adjusting its buffers): following
that moved the echo's delay by as much, and the canceller lost 20 dB tracking it (measured);
a drift of 40 ms is well inside what the canceller's own delay estimator covers.

Jumps: for the first `SETTLE_S` of capture the timestamps settle (by 20-400 ms through
PulseAudio), and the cursor follows a step that lasts `SETTLE_BLOCKS` blocks when it says the
cursor is more than `SETTLE_RESYNC_S` behind (the echo would come close to or before its
reference, which can never be cancelled) or more than `SETTLE_LATE_S` ahead (beyond the
canceller's reach); the same quick rule holds for `SETTLE_S` after a glitch either stream reports
(PortAudio's output underflow or input overflow). Each such jump costs the canceller seconds of
reconvergence (a 75 ms jump at 1.4 s cost the first 3.5 s), and it is the timestamps, not the
echo, that moved: so once the echo is measured (`measured`, from `echo_delay.EchoDelayEstimator`)
within the canceller's reach, they move the cursor no more. Otherwise only a step beyond
`RESYNC_S` that lasts `RESYNC_BLOCKS` blocks (a device switch, a stall) moves it, a measured echo
out of reach is brought to `LOCK_TARGET_S`, and reads that keep running past what the speaker
was given (a starved output: the device played silence we never wrote, and the reference would
be zeros for the rest of the call) step back. No jump ever lands past what was written.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from app.media.audio_format import SAMPLE_RATE, Int16Array

log = logging.getLogger(__name__)

RING_SECONDS = 2.0
#: The reference is taken this much later than the capture block: a timestamp that is a few ms
#: off must not make the echo arrive before its reference (the canceller cannot look ahead).
REFERENCE_LEAD_S = 0.030
SLEW_THRESHOLD_S = 0.040
SLEW_EVERY = 3
RESYNC_S = 0.150
RESYNC_BLOCKS = 50
SETTLE_S = 3.0
SETTLE_RESYNC_S = 0.020
SETTLE_LATE_S = 0.250
SETTLE_BLOCKS = 5
SMOOTHING = 0.01
#: Locked on the measured echo delay: a step this large, measured twice (within LOCK_AGREE_S), becomes the
#: new lock when it is within the canceller's reach (its own delay estimator follows such a step faster
#: than we could confirm it: undoing it afterwards cost 2-3 s of echo, measured; so did slewing the
#: cursor to hold the measured delay still, which module-loopback's rate control moves by ms a second).
LOCK_STEP_S = 0.004
LOCK_AGREE_S = 0.002
#: A first measured delay outside this range is moved to LOCK_TARGET_S (an echo at or before its
#: reference cannot be cancelled; one far behind it is near the end of the canceller's reach).
LOCK_MIN_S = 0.010
LOCK_MAX_S = 0.350
LOCK_TARGET_S = 0.080
#: Reads running at least UNWRITTEN_MIN_S past what the speaker was given, this many blocks in a row: the
#: device played silence we never wrote (a starved output: measured on a loaded machine, the canceller
#: then got zeros for the rest of the call, wholly or in every block's tail, and cancelled nothing), so
#: the reference steps back by the least overshoot of the last 10 of them plus one block. (Now and then it is normal:
#: PulseAudio asks for output in bursts, and the rest is written a moment later.)
UNWRITTEN_BLOCKS = 25
UNWRITTEN_MIN_S = 0.002


@dataclass(frozen=True)
class _Anchor:
    dac_time: float  # when render sample `position` reaches the DAC
    position: int
    end: int  # one past the last sample written


class RenderReference:
    """A ring of the samples the speaker played, on an absolute sample timeline."""

    def __init__(self, seconds: float = RING_SECONDS) -> None:
        import numpy as np

        self._np = np
        self.capacity = int(seconds * SAMPLE_RATE)
        self._ring = np.zeros(self.capacity, dtype=np.int16)
        self._anchor: _Anchor | None = None
        self.blocks = 0
        self.glitches = 0  # output underflows reported with a block

    def played(self, pcm: bytes | memoryview, dac_time: float, *, glitch: bool = False) -> None:
        """The output callback wrote `pcm` (int16 mono); its first sample reaches the DAC at `dac_time`.
        `glitch`: the stream reported an underflow before this block (the timeline may have stepped)."""
        if glitch:
            self.glitches += 1
        np = self._np
        samples = np.frombuffer(pcm, dtype="<i2")
        n = len(samples)
        if n == 0:
            return
        anchor = self._anchor
        start = anchor.end if anchor is not None else 0
        if n > self.capacity:
            samples, start = samples[-self.capacity :], start + n - self.capacity
            n = self.capacity
        i = start % self.capacity
        first = min(n, self.capacity - i)
        self._ring[i : i + first] = samples[:first]
        if first < n:
            self._ring[: n - first] = samples[first:]
        self._anchor = _Anchor(dac_time, start, start + n)
        self.blocks += 1

    @property
    def end(self) -> int | None:
        """One past the last sample written (None before anything was played)."""
        anchor = self._anchor
        return anchor.end if anchor is not None else None

    def position_at(self, t: float) -> float | None:
        """The render sample that is at the DAC at time `t` (None before anything was played)."""
        anchor = self._anchor
        if anchor is None:
            return None
        return anchor.position + (t - anchor.dac_time) * SAMPLE_RATE

    def read(self, start: int, n: int) -> Int16Array:
        """Samples [start, start+n) of the timeline; zeros where nothing was written (or it is gone)."""
        np = self._np
        out = np.zeros(n, dtype=np.int16)
        anchor = self._anchor
        if anchor is None:
            return out
        lo = max(start, anchor.end - self.capacity)
        hi = min(start + n, anchor.end)
        if hi <= lo:
            return out
        i = lo % self.capacity
        count = hi - lo
        first = min(count, self.capacity - i)
        out[lo - start : lo - start + first] = self._ring[i : i + first]
        if first < count:
            out[lo - start + first : hi - start] = self._ring[: count - first]
        return out


class ReferenceAligner:
    """For each captured block, the far-end samples played meanwhile (see the module docstring)."""

    def __init__(self, reference: RenderReference, *, lead_s: float = REFERENCE_LEAD_S) -> None:
        self.reference = reference
        self.lead = lead_s * SAMPLE_RATE
        self._cursor: int | None = None
        self._error = 0.0  # smoothed (where the clocks say) - (cursor), in samples
        self._blocks = 0
        self._captured = 0  # samples
        self._quick_until = 0  # follow steps quickly until this many samples were captured (after a glitch)
        self._glitches_seen = 0
        self.glitches = 0
        self._far_off = 0  # consecutive blocks the clocks put the cursor more than RESYNC_S away
        self._unwritten = 0  # consecutive blocks that read past what the speaker was given
        self._overs: deque[int] = deque(maxlen=10)  # how far the last of them ran past it (samples)
        self._n = 0  # the last block's length
        self.resyncs = 0  # jumps the timestamps asked for
        self.realigns = 0  # jumps the measured echo delay asked for (or reading past what was written)
        self.slewed = 0  # samples the cursor slipped to follow drift
        # The measured echo delay the canceller sees (samples), once locked; the pending step; the deviation
        # left to slew away.
        self.locked: int | None = None
        self._step: int | None = None
        self._in_reach = False  # a measurement put the echo within the canceller's reach since the last jump

    @property
    def jumps(self) -> int:
        """Every jump of the reference (the canceller's delay changed; the echo measurement starts over)."""
        return self.resyncs + self.realigns

    def far_for(self, n: int, adc_time: float, *, glitch: bool = False) -> Int16Array | None:
        """The reference for `n` captured samples whose first was at the ADC at `adc_time`;
        None while the speaker has played nothing. `glitch`: the input reported an overflow."""
        if glitch or self.reference.glitches != self._glitches_seen:
            log.info("echo reference: the %s reported a glitch", "microphone" if glitch else "speaker")
            self._glitches_seen = self.reference.glitches
            self.glitches += 1
            self._quick_until = self._captured + int(SETTLE_S * SAMPLE_RATE)
        target_f = self.reference.position_at(adc_time)
        if target_f is None:
            self._cursor = None
            return None
        target = target_f + self.lead
        cursor = self._cursor
        settling = self._captured < max(SETTLE_S * SAMPLE_RATE, self._quick_until)
        self._captured += n
        self._n = n
        # The canceller sees an echo delay of (acoustic delay + cursor - target): a cursor behind its target
        # shortens it towards an echo that comes before its reference; one ahead only lengthens it.
        # Locked on the measured echo, only a step beyond RESYNC_S (a device switch, a stall) is the clocks'.
        if settling and not self._in_reach:  # a cursor behind is urgent; one ahead only past the canceller's reach
            low, high, blocks = -SETTLE_LATE_S, SETTLE_RESYNC_S, SETTLE_BLOCKS
        else:
            low, high, blocks = -RESYNC_S, RESYNC_S, RESYNC_BLOCKS
        if cursor is not None and not low * SAMPLE_RATE <= target - cursor <= high * SAMPLE_RATE:
            self._far_off += 1
        else:
            self._far_off = 0
        if cursor is None or self._far_off >= blocks:
            # never to samples the speaker was not given yet (the clocks put them there: they cannot be right)
            end = self.reference.end
            new = round(target) if end is None else min(round(target), end - n)
            self._error = 0.0
            self._far_off = 0
            if cursor is None or abs(new - cursor) >= LOCK_STEP_S * SAMPLE_RATE:
                if cursor is not None:
                    self.resyncs += 1
                    log.info("echo reference resync off_by_ms=%.1f", (new - cursor) / SAMPLE_RATE * 1000)
                cursor = new
                self.locked = self._step = None
                self._in_reach = False
        else:
            self._error += SMOOTHING * ((target - cursor) - self._error)
            self._blocks += 1
            if abs(self._error) > SLEW_THRESHOLD_S * SAMPLE_RATE and self._blocks % SLEW_EVERY == 0:
                step = 1 if self._error > 0 else -1
                cursor += step
                self._error -= step
                self.slewed += step
        cursor = self._written(cursor, n)
        far = self.reference.read(cursor, n)
        self._cursor = cursor + n
        return far

    def _written(self, cursor: int, n: int) -> int:
        """The cursor, stepped back when its reads ran past what the speaker was given for UNWRITTEN_BLOCKS."""
        end = self.reference.end
        over = cursor + n - end if end is not None else 0
        if over < UNWRITTEN_MIN_S * SAMPLE_RATE:
            self._unwritten = 0
            return cursor
        self._unwritten += 1
        self._overs.append(over)
        if self._unwritten < UNWRITTEN_BLOCKS:
            return cursor
        self._unwritten = 0
        back = min(self._overs) + n  # the overshoot that lasted (of the last blocks), and one block more
        self.realigns += 1
        log.info("echo reference past what was played back_ms=%.1f", back / SAMPLE_RATE * 1000)
        return cursor - back

    def measured(self, lag: int | None) -> None:
        """The echo delay the canceller sees (samples; `EchoDelayEstimator`, echo_delay.py) measured on the raw
        capture and the reference as fed, or None. The first clear measurement locks it; from then on the
        settling device timestamps no longer move the cursor (only a step beyond RESYNC_S does: a device
        switch, a stall), and a measured echo out of the canceller's reach (the device played silence we
        never wrote, capture was lost) is brought back to LOCK_TARGET_S."""
        if lag is None or self._cursor is None:
            return
        in_reach = LOCK_MIN_S * SAMPLE_RATE <= lag <= LOCK_MAX_S * SAMPLE_RATE
        self._in_reach = self._in_reach or in_reach  # the settling timestamps are not followed any more
        if self.locked is None:
            if self._step is None or abs(lag - self._step) > LOCK_AGREE_S * SAMPLE_RATE:
                self._step = lag  # wait for a second measurement that agrees
                return
            self._step = None
            if in_reach:
                self.locked = lag
                log.info("echo reference locked on the measured echo delay_ms=%.1f", lag / SAMPLE_RATE * 1000)
                return
            self.locked = round(LOCK_TARGET_S * SAMPLE_RATE)
            self._shift(self.locked - lag, lag)
            return
        error = lag - self.locked
        if abs(error) < LOCK_STEP_S * SAMPLE_RATE:
            self._step = None
            return
        if self._step is None or abs(lag - self._step) > LOCK_AGREE_S * SAMPLE_RATE:
            self._step = lag
            return
        self._step = None
        if in_reach:
            self.locked = lag
            log.info("echo reference lock follows a measured step delay_ms=%.1f", lag / SAMPLE_RATE * 1000)
            return
        self.locked = round(LOCK_TARGET_S * SAMPLE_RATE)
        self._shift(self.locked - lag, lag)

    def _shift(self, shift: int, lag: int) -> None:
        """Move the cursor by `shift` samples (the canceller's delay changes by as much), never past what
        was written: what cannot be moved forward is left in the lock (the canceller sees a longer delay)."""
        assert self._cursor is not None and self.locked is not None
        end = self.reference.end
        if shift > 0 and end is not None:
            room = max(end - (self._cursor + self._n), 0)
            if shift > room:
                self.locked -= shift - room
                shift = room
        self._cursor += shift
        self.realigns += 1
        log.info(
            "echo reference realigned on the measured echo delay_ms=%.1f shift_ms=%.1f",
            lag / SAMPLE_RATE * 1000,
            shift / SAMPLE_RATE * 1000,
        )

    @property
    def offset_ms(self) -> float:
        """How far the cursor currently is from where the clocks put it (ms; drift shows here)."""
        return self._error / SAMPLE_RATE * 1000
