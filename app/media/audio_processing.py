"""Echo cancellation, noise suppression and automatic gain control for the device path.

One small interface, `AudioProcessor`: feed it a block of captured PCM (`near`) and the block
of PCM the speaker played *at the same time* (`far`, same length, or None when nothing is
played), get the cleaned capture back. Both are 48 kHz mono int16 LE bytes, any multiple of
10 ms. Lining `far` up with `near` is the device layer's job (`app/media/echo_reference.py`);
what is left (the acoustic path and the sound server's buffers, tens of ms) is found by the
canceller's own delay estimator (WebRTC AEC3).

Two backends, both the WebRTC audio processing module (AEC3, NS, AGC2):

* `WebRtcAudioProcessor` (pywebrtc-audio): the default. Small (~1 MB), no threads, releases
  the GIL, any block length. Measured against livekit with `bench/bench_apm_libraries.py`.
* `LivekitAudioProcessor` (livekit `rtc.AudioProcessingModule`): newer WebRTC, 28 MB, starts
  threads, 10 ms frames only, on/off switches only. Not a dependency: install livekit to use it
  (`WZP_AUDIO_PROCESSING=livekit`).

Neither library reports the canceller's delay estimate or ERLE, so `ProcessingStats` carries
what we measure ourselves: the reference alignment from the device clocks and the energy ratio
of capture in to capture out while only the far end plays (our ERLE estimate).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Protocol

from app.media.audio_format import SAMPLE_RATE
from app.media.echo_delay import EchoDelayEstimator

log = logging.getLogger(__name__)

BLOCK_SAMPLES = SAMPLE_RATE // 100  # the processing module works in 10 ms blocks
BACKEND_ENV = "WZP_AUDIO_PROCESSING"
#: 12 dB suppression. 18 dB (level 2) cost espeak speech 0.3 more PESQ-WB for little more noise gone.
NS_LEVEL = 1
#: The adaptive gain's ceiling. With NS on, +10 dB on speech that is already at a normal level cost
#: 0.9 PESQ-WB (3.3 against 4.2, offline); at 9 dB the same speech scores 4.0.
AGC_MAX_GAIN_DB = 9.0


class AudioProcessingUnavailable(RuntimeError):
    """The processing library is missing or refused to start; the message is a sentence for the user."""


@dataclass(frozen=True)
class ProcessingConfig:
    """What the user switched on (Settings > Audio, `wzp-cli --no-aec/--no-ns/--no-agc`)."""

    echo_cancellation: bool = True
    noise_suppression: bool = True
    gain_control: bool = True

    @property
    def any(self) -> bool:
        return self.echo_cancellation or self.noise_suppression or self.gain_control

    def describe(self) -> str:
        on = [
            n
            for n, v in (("aec", self.echo_cancellation), ("ns", self.noise_suppression), ("agc", self.gain_control))
            if v
        ]
        return "+".join(on) or "off"


class AudioProcessor(Protocol):
    """The one interface a processing backend implements."""

    name: str
    config: ProcessingConfig

    def process(self, near: bytes, far: bytes | None) -> bytes:
        """Clean one captured block; `far` is what played meanwhile (same length) or None."""
        ...


def _np() -> Any:
    import numpy

    return numpy


class WebRtcAudioProcessor:
    """pywebrtc-audio's `AudioProcessor` (HPF -> AEC3 -> NS -> AGC2 in one pass)."""

    name = "pywebrtc-audio"

    def __init__(
        self, config: ProcessingConfig, *, ns_level: int = NS_LEVEL, agc_max_gain_db: float = AGC_MAX_GAIN_DB
    ) -> None:
        try:
            from pywebrtc_audio import AudioProcessor as _Apm
        except ImportError as exc:
            raise AudioProcessingUnavailable(f"echo cancellation needs pywebrtc-audio ({exc})") from exc
        self.config = config
        self._apm = _Apm(
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            echo_cancellation=config.echo_cancellation,
            noise_suppression=config.noise_suppression,
            high_pass_filter=config.any,
            auto_gain_control=config.gain_control,
            ns_level=ns_level,
            agc_max_gain_db=agc_max_gain_db,
        )
        self._silence: bytes = b""

    def process(self, near: bytes, far: bytes | None) -> bytes:
        np = _np()
        x = np.frombuffer(near, dtype="<i2")
        if self.config.echo_cancellation:
            if far is None or len(far) != len(near):
                if len(self._silence) != len(near):
                    self._silence = bytes(len(near))
                far = self._silence  # the canceller must see time pass on the far side too
            out = self._apm.process(x, np.frombuffer(far, dtype="<i2"))
        else:
            out = self._apm.process(x)
        return out.astype("<i2", copy=False).tobytes()


class LivekitAudioProcessor:
    """livekit's `rtc.AudioProcessingModule`: 10 ms frames, reverse stream first, then capture."""

    name = "livekit"

    def __init__(self, config: ProcessingConfig) -> None:
        try:
            from livekit import rtc
        except ImportError as exc:
            raise AudioProcessingUnavailable(f"the livekit audio processing is not installed ({exc})") from exc
        self.config = config
        self._rtc = rtc
        self._apm = rtc.AudioProcessingModule(
            echo_cancellation=config.echo_cancellation,
            noise_suppression=config.noise_suppression,
            high_pass_filter=config.any,
            auto_gain_control=config.gain_control,
        )

    def _frame(self, pcm: bytes | bytearray) -> Any:
        return self._rtc.AudioFrame(bytearray(pcm), SAMPLE_RATE, 1, len(pcm) // 2)

    def process(self, near: bytes, far: bytes | None) -> bytes:
        step = BLOCK_SAMPLES * 2
        out = bytearray()
        for i in range(0, len(near) - step + 1, step):
            if self.config.echo_cancellation:
                chunk = far[i : i + step] if far is not None and len(far) == len(near) else bytes(step)
                self._apm.process_reverse_stream(self._frame(chunk))
                self._apm.set_stream_delay_ms(0)  # required with AEC on; AEC3 estimates the delay itself
            frame = self._frame(near[i : i + step])
            self._apm.process_stream(frame)
            out += bytes(frame.data.cast("B")) if isinstance(frame.data, memoryview) else bytes(frame.data)
        return bytes(out) + near[len(out) :]  # a trailing part-block (never from the device path) passes


BACKENDS = {"pywebrtc": WebRtcAudioProcessor, "livekit": LivekitAudioProcessor}


def make_processor(config: ProcessingConfig, backend: str | None = None) -> AudioProcessor | None:
    """The configured backend, or None when everything is switched off."""
    if not config.any:
        return None
    name = backend or os.environ.get(BACKEND_ENV, "") or "pywebrtc"
    cls = BACKENDS.get(name)
    if cls is None:
        raise AudioProcessingUnavailable(f"unknown audio processing backend {name!r} (one of {', '.join(BACKENDS)})")
    processor: AudioProcessor = cls(config)
    log.info("audio processing backend=%s %s", processor.name, config.describe())
    return processor


def energy_db(pcm: bytes) -> float:
    """Mean square of int16 PCM in dB full scale (-120 for digital silence)."""
    np = _np()
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not len(x):
        return -120.0
    ms = float(np.mean(x * x)) / (32768.0 * 32768.0)
    return 10 * math.log10(ms) if ms > 1e-12 else -120.0


@dataclass(frozen=True)
class ProcessingStats:
    """What the `stats` event shows about the processing (None: not measured yet / not on)."""

    backend: str
    erle_db: float | None  # capture energy in / out while the far end plays (our estimate)
    echo_delay_ms: float | None  # reference -> its echo in the raw capture (our estimate, see EchoDelayEstimator)
    reference_slewed_ms: float | None  # how far the reference aligner has slipped to follow clock drift
    reference_resyncs: int
    frames: int
    failures: int


FAR_ACTIVE_DB = -50.0
CONVERGED_DB = 10.0
NEAR_FLOOR_DB = -70.0  # a quieter capture has no echo worth measuring (a headset, a muted microphone)


ERLE_WINDOW_BLOCKS = 100  # 2 s of 20 ms blocks


class EchoCoupling:
    """Is there an acoustic path from the speaker into the microphone at all (a headset has none)?

    AEC3 assumes an echo until its filter has converged on one, so without any echo path it keeps
    suppressing the near talker whenever the far end talks: measured, PESQ-WB 1.4 against 3.6 for
    the first ~15 s of a headset call, in both libraries. With an echo path, every stretch of far
    speech comes back, a little later (70-130 ms measured here). Two signs there is none, each
    enough: a half second (of the last `SEGMENTS` with far speech) where the capture stays
    `NO_ECHO_DB` below the far signal; or, from the first second on and also while the near end talks
    (its pauses between words), `QUIET_BLOCKS` blocks that are `NO_ECHO_DB` below the quietest of the
    `WINDOW_BLOCKS` far blocks before them, all far speech: an echo of any of them would be louder.
    An echo our delay estimator sees keeps the canceller's output for `STICKY_BLOCKS`.
    """

    SEGMENT_BLOCKS = 25  # 0.5 s of 20 ms blocks
    SEGMENTS = 20  # the last 10 s of far speech
    NO_ECHO_DB = -30.0
    STICKY_BLOCKS = 500  # 10 s after an echo was seen
    WINDOW_BLOCKS = 15  # 0.3 s: echo delays measured here are 70-130 ms after the reference
    QUIET_BLOCKS = 3
    EVIDENCE_BLOCKS = 500  # quiet blocks count for 10 s

    def __init__(self) -> None:
        from collections import deque

        self._segments: deque[bool] = deque(maxlen=self.SEGMENTS)  # True: that half second had no echo
        self._window: deque[float] = deque(maxlen=self.WINDOW_BLOCKS)  # the last far levels (dB)
        self._quiet: deque[int] = deque()  # the blocks that showed no echo
        self._near = self._far = 0.0
        self._far_active = self._in_segment = 0
        self._blocks = 0
        self._echo_seen_at: int | None = None

    def add(self, near_db: float, far_db: float, echo_detected: bool) -> bool:
        """One block; True while there is evidently no echo path."""
        self._blocks += 1
        if echo_detected:
            self._echo_seen_at = self._blocks
        window = self._window
        if len(window) == window.maxlen and min(window) > FAR_ACTIVE_DB and near_db <= min(window) + self.NO_ECHO_DB:
            self._quiet.append(self._blocks)
        while self._quiet and self._blocks - self._quiet[0] >= self.EVIDENCE_BLOCKS:
            self._quiet.popleft()
        window.append(far_db)
        self._near += 10 ** (near_db / 10)
        self._far += 10 ** (far_db / 10)
        self._far_active += far_db > FAR_ACTIVE_DB
        self._in_segment += 1
        if self._in_segment == self.SEGMENT_BLOCKS:
            if self._far_active >= 0.6 * self.SEGMENT_BLOCKS:
                ratio_db = 10 * math.log10(max(self._near, 1e-12) / max(self._far, 1e-12))
                self._segments.append(ratio_db <= self.NO_ECHO_DB)
            self._near = self._far = 0.0
            self._far_active = self._in_segment = 0
        if self._echo_seen_at is not None and self._blocks - self._echo_seen_at < self.STICKY_BLOCKS:
            return False
        return any(self._segments) or len(self._quiet) >= self.QUIET_BLOCKS

    @property
    def undecided(self) -> bool:
        """Neither an echo measured nor its absence shown yet (the call's first second or two)."""
        return self._echo_seen_at is None and not (any(self._segments) or len(self._quiet) >= self.QUIET_BLOCKS)


class CaptureProcessing:
    """The microphone callback's processing: the aligned reference, the backend, its figures.

    Used from one thread (the capture callback); `stats()` may be read from any thread.
    A failure inside the backend passes the raw capture through (the call goes on) and is counted.

    With `bypass` (the same processing without the echo canceller, run on every block so its state
    is current), its output is used while `EchoCoupling` finds no echo path: a headset is not
    harmed by the canceller being on. Until it knows either way, the bypass's output is used too, so a
    headset is not harmed from the call's first block.
    """

    def __init__(
        self,
        processor: AudioProcessor,
        reference: Any | None,
        bypass: AudioProcessor | None = None,
    ) -> None:
        from app.media.echo_reference import ReferenceAligner, RenderReference

        self.processor = processor
        self.bypass = bypass
        self.coupling = EchoCoupling()
        self.bypassed = 0  # blocks that took the bypass's output
        self.capped = 0  # blocks held at the raw capture's level before the canceller converged
        self._far_heard = False
        self._converged = False
        self._recent: list[tuple[float, float]] = []  # (in, out) dB of far-speech blocks
        self._echo_state = ""
        self.reference: RenderReference | None = reference
        self.aligner = ReferenceAligner(reference) if reference is not None else None
        self.frames = 0
        self.failures = 0
        self._erle_in: list[float] = []
        self._erle_out: list[float] = []
        self.delay = EchoDelayEstimator()
        self._jumps = 0  # the aligner's jumps seen
        self._events = 0  # and its jumps + glitches
        self._stats = ProcessingStats(processor.name, None, None, None, 0, 0, 0)

    def process(self, near: bytes, adc_time: float, *, glitch: bool = False) -> bytes:
        """Clean one captured block (its first sample at the ADC at `adc_time`; `glitch`: input overflow)."""
        far = None
        if self.aligner is not None and self.processor.config.echo_cancellation:
            block = self.aligner.far_for(len(near) // 2, adc_time, glitch=glitch)
            far = block.tobytes() if block is not None else None
        try:
            out = self.processor.process(near, far)
            plain = self.bypass.process(near, None) if self.bypass is not None else None
        except Exception:
            self.failures += 1
            if self.failures == 1:
                log.exception("audio processing failed; the capture passes unprocessed")
            return near
        self.frames += 1
        near_db = energy_db(near)
        far_db = energy_db(far) if far is not None else -120.0
        if far is not None:
            lag = self._measure(near, far)
            no_echo = self.coupling.add(near_db, far_db, lag is not None or self.delay.estimate() is not None)
            state = "absent" if no_echo else "not known yet" if self.coupling.undecided else "present"
            if state != self._echo_state:
                self._echo_state = state
                bypass = state != "present" and plain is not None
                log.info("echo path %s: %s", state, "the capture bypasses the canceller" if bypass else "canceller on")
            if plain is not None and no_echo:
                out = plain
                self.bypassed += 1
            elif plain is not None and self.coupling.undecided:
                # No echo measured yet (the first ~1.5 s of far speech): the capture goes out as it would
                # with the canceller off (noise suppression and gain control, continuously), so a headset's
                # near talker is untouched from the first block; the canceller adapts all the same and takes
                # over once an echo shows. The cost: on a speakerphone the gain control lifts the echo of
                # that first far speech (measured: -15 dBFS over the first 2 s vs -25 with no processing).
                # Holding the gain control back meanwhile (NS only while the far end talks, or a cap at the
                # raw level + 3 dB) cost a headset's near talker 0.2-0.7 PESQ-WB in its first 3 s.
                out = plain
                self.bypassed += 1
            else:
                out = self._not_louder(near_db, far_db, out)
        if far is not None and near_db > NEAR_FLOOR_DB and far_db > FAR_ACTIVE_DB:
            self._erle_in.append(near_db)
            self._erle_out.append(energy_db(out))
            self._recent.append((near_db, self._erle_out[-1]))
        if self.frames % 50 == 0:
            self._publish()
        return out

    def _measure(self, near: bytes, far: bytes) -> int | None:
        """The echo delay on the raw capture, handed to the aligner; after any jump of the reference the
        measurement starts over, and the output is held at the raw capture's level until it reconverged."""
        aligner = self.aligner
        lag = self.delay.add(near, far)
        if aligner is None:
            return lag
        aligner.measured(lag)
        if aligner.jumps != self._jumps:
            self._jumps = aligner.jumps
            self.delay.reset()
        if aligner.jumps + aligner.glitches != self._events:
            # a jump, or a device glitch (silence played that was never written, capture lost): the echo's
            # delay changed and the canceller re-learns it; meanwhile the gain control must not lift the echo
            # above what the microphone took (measured: up to 7 dB louder than no processing for ~1 s)
            self._events = aligner.jumps + aligner.glitches
            self._converged = False
            self._recent.clear()
        return lag

    def _not_louder(self, near_db: float, far_db: float, out: bytes) -> bytes:
        """Once the far end has played something, and until the canceller has converged (the last half
        second of far speech came out `CONVERGED_DB` below what went in), the output is never louder than
        the raw capture: the gain control would otherwise lift the echo not learnt yet (measured: the
        first 2 s of a speakerphone call came back up to 8 dB louder than with no processing). Converged
        once, the cap is gone until the reference jumps or a device reports a glitch (`_measure`)."""
        if far_db > FAR_ACTIVE_DB:
            self._far_heard = True
            recent = self._recent[-25:]
            if len(recent) >= 25 and not self._converged:
                gone = sum(10 ** (i / 10) for i, _ in recent) / max(sum(10 ** (o / 10) for _, o in recent), 1e-12)
                # once is enough: in double talk the near voice keeps in and out alike, and holding the
                # gain control back then would leave the near talker 10 dB quieter whenever both talk
                self._converged = 10 * math.log10(max(gone, 1e-12)) >= CONVERGED_DB
        if not self._far_heard or self._converged:
            return out
        return self._capped(near_db, out)

    def _capped(self, near_db: float, out: bytes) -> bytes:
        """`out`, no louder than the raw capture (`near_db`)."""
        out_db = energy_db(out)
        if out_db <= near_db:
            return out
        np = _np()
        scale = 10 ** ((near_db - out_db) / 20)
        y = np.frombuffer(out, dtype="<i2").astype(np.float32) * scale
        self.capped += 1
        return np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()

    def _publish(self) -> None:
        erle = None
        if len(self._erle_in) >= 10:
            ins = [10 ** (d / 10) for d in self._erle_in[-ERLE_WINDOW_BLOCKS:]]
            outs = [10 ** (d / 10) for d in self._erle_out[-ERLE_WINDOW_BLOCKS:]]
            erle = round(10 * math.log10(max(sum(ins), 1e-12) / max(sum(outs), 1e-12)), 1)
        del self._erle_in[:-ERLE_WINDOW_BLOCKS], self._erle_out[:-ERLE_WINDOW_BLOCKS], self._recent[:-25]
        aligner = self.aligner
        self._stats = ProcessingStats(
            backend=self.processor.name,
            erle_db=erle if self.processor.config.echo_cancellation else None,
            echo_delay_ms=self.delay.estimate(),
            reference_slewed_ms=round(aligner.slewed / 48, 2) if aligner is not None else None,
            reference_resyncs=aligner.jumps if aligner is not None else 0,
            frames=self.frames,
            failures=self.failures,
        )

    def stats(self) -> ProcessingStats:
        return self._stats
