"""The echo reference aligner (made-up clocks) and the processing backends (real WebRTC APM).

The real echo path (PulseAudio, two clients) is tests/test_echo_path.py; here the clocks are
driven by the test so drift over minutes takes a second: the speaker's clock runs 200 ppm fast
against the microphone's, the timestamps jitter by +-10 ms, and the echo must stay cancelled.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from app.media.audio_format import SAMPLE_RATE
from app.media.audio_processing import (
    BACKENDS,
    CaptureProcessing,
    EchoCoupling,
    ProcessingConfig,
    WebRtcAudioProcessor,
    energy_db,
    make_processor,
)
from app.media.echo_delay import EchoDelayEstimator
from app.media.echo_reference import ReferenceAligner, RenderReference

BLOCK = 960


def _speechlike(n: int, seed: int) -> np.ndarray:
    """Band-limited noise bursts with pauses: enough structure for the canceller, cheap to make."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    x = np.convolve(x, np.ones(8) / 8, mode="same")
    envelope = (np.sin(2 * np.pi * 1.3 * np.arange(n) / SAMPLE_RATE) > -0.3).astype(float)
    return 0.2 * x * envelope


def test_render_reference_reads_what_was_played_and_zeros_elsewhere() -> None:
    ref = RenderReference(seconds=0.1)  # 4800 samples: wraps quickly
    played = np.arange(1, 10_001, dtype=np.int16)
    for i in range(0, len(played), BLOCK):
        ref.played(played[i : i + BLOCK].tobytes(), dac_time=i / SAMPLE_RATE)
    assert ref.position_at(0.5) == pytest.approx(24_000, abs=1)
    got = ref.read(9000, 2000)
    assert list(got[:1000]) == list(played[9000:10_000])  # the newest samples
    assert not got[1000:].any()  # not played yet
    assert not ref.read(0, 100).any()  # overwritten long ago
    assert RenderReference().read(0, 10).tolist() == [0] * 10  # nothing played at all


def test_aligner_follows_200_ppm_drift_with_jittery_timestamps_without_jumps() -> None:
    ref = RenderReference()
    aligner = ReferenceAligner(ref, lead_s=0.0)
    rng = random.Random(1)
    render_rate = SAMPLE_RATE * (1 + 200e-6)  # the speaker's clock is fast
    t_render = 0.0
    errors = []
    for block in range(50 * 300):  # five minutes of 20 ms capture blocks
        t_capture = block * BLOCK / SAMPLE_RATE
        while t_render < t_capture + 0.1:  # the output stream runs ahead, as PortAudio's does
            ref.played(bytes(BLOCK * 2), dac_time=t_render + rng.uniform(-0.01, 0.01))
            t_render += BLOCK / render_rate
        aligner.far_for(BLOCK, t_capture + rng.uniform(-0.01, 0.01))
        if block > 50 * 10:
            true = t_capture * render_rate
            errors.append((aligner._cursor or 0) - BLOCK - true)
    assert aligner.resyncs == 0
    assert max(abs(e) for e in errors) < 0.050 * SAMPLE_RATE  # within 50 ms of the truth all along (40 ms dead band)
    assert aligner.slewed > (300 * 200e-6 - 0.045) * SAMPLE_RATE  # it followed the drift beyond the dead band


def test_aligner_resyncs_when_the_output_restarts_but_not_for_one_late_timestamp() -> None:
    ref = RenderReference()
    aligner = ReferenceAligner(ref, lead_s=0.0)
    t = 0.0
    for block in range(50 * 10):
        t = block * BLOCK / SAMPLE_RATE
        ref.played(bytes(BLOCK * 2), dac_time=t + 0.05)
        # one absurd ADC time after the settling period: ignored
        aligner.far_for(BLOCK, t + (0.5 if block == 400 else 0.0))
    assert aligner.resyncs == 0
    # the output stream restarts: its timeline jumps 300 ms
    for block in range(500, 500 + 50 * 2):
        t = block * BLOCK / SAMPLE_RATE
        ref.played(bytes(BLOCK * 2), dac_time=t + 0.35)
        aligner.far_for(BLOCK, t)
    assert aligner.resyncs == 1


def _run_echo(processor: CaptureProcessing, far: np.ndarray, *, render_rate: float, jitter: float) -> np.ndarray:
    """Far speech played at `render_rate`, heard back at -6 dB 60 ms later by a 48 kHz microphone."""
    ref = processor.reference
    assert ref is not None
    rng = random.Random(2)
    far_pcm = (far * 32767).astype("<i2")
    # the echo as the microphone's clock samples it: the render signal resampled by the drift
    n_cap = int(len(far) * SAMPLE_RATE / render_rate) - SAMPLE_RATE
    t_cap = np.arange(n_cap) / SAMPLE_RATE - 0.060
    echo = 0.5 * np.interp(t_cap * render_rate, np.arange(len(far)), far)
    mic = (echo * 32767).astype("<i2")
    out = []
    t_render, played = 0.0, 0
    for start in range(0, n_cap - BLOCK, BLOCK):
        t = start / SAMPLE_RATE
        while t_render < t + 0.08 and played + BLOCK <= len(far_pcm):
            ref.played(far_pcm[played : played + BLOCK].tobytes(), t_render + rng.uniform(-jitter, jitter))
            played += BLOCK
            t_render += BLOCK / render_rate
        out.append(processor.process(mic[start : start + BLOCK].tobytes(), t + rng.uniform(-jitter, jitter)))
    return np.frombuffer(b"".join(out), dtype="<i2").astype(np.float64) / 32768, mic[: len(out) * BLOCK] / 32768


@pytest.mark.slow
def test_echo_stays_cancelled_after_minutes_of_clock_drift() -> None:
    seconds = 150
    far = _speechlike(seconds * SAMPLE_RATE, seed=4)
    processing = CaptureProcessing(WebRtcAudioProcessor(ProcessingConfig(True, False, False)), RenderReference())
    out, mic = _run_echo(processing, far, render_rate=SAMPLE_RATE * (1 + 300e-6), jitter=0.01)
    last = slice(len(out) - 20 * SAMPLE_RATE, len(out))  # the last 20 s, ~45 ms of drift later
    reduction = 10 * math.log10(np.mean(mic[last] ** 2) / max(np.mean(out[last] ** 2), 1e-15))
    print(f"echo reduction after {seconds} s at 300 ppm drift: {reduction:.1f} dB; slewed {processing.aligner.slewed}")
    assert reduction >= 25.0
    assert processing.stats().erle_db is not None and processing.stats().erle_db >= 20.0


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_backend_keeps_length_and_passes_silence(backend: str) -> None:
    try:
        processor = BACKENDS[backend](ProcessingConfig())
    except Exception as exc:  # livekit is optional: say so instead of skipping silently
        assert backend == "livekit", exc
        print(f"{backend} not installed: {exc}")
        return
    out = processor.process(bytes(BLOCK * 2), None)
    assert len(out) == BLOCK * 2 and energy_db(out) < -90
    speech = (_speechlike(BLOCK, seed=1) * 32767).astype("<i2").tobytes()
    assert len(processor.process(speech, bytes(BLOCK * 2))) == BLOCK * 2


def test_everything_off_means_no_processor() -> None:
    assert make_processor(ProcessingConfig(False, False, False)) is None
    assert ProcessingConfig().describe() == "aec+ns+agc"


def test_a_failing_backend_passes_the_capture_through_and_is_counted() -> None:
    class Broken:
        name = "broken"
        config = ProcessingConfig()

        def process(self, near: bytes, far: bytes | None) -> bytes:
            raise RuntimeError("boom")

    processing = CaptureProcessing(Broken(), None)
    block = b"\x01\x00" * BLOCK
    assert processing.process(block, 0.0) == block
    assert processing.failures == 1


def test_aligner_follows_a_small_step_quickly_only_after_a_reported_glitch() -> None:
    def run(glitch: bool, lost: float) -> ReferenceAligner:
        ref = RenderReference()
        aligner = ReferenceAligner(ref, lead_s=0.0)
        for block in range(50 * 10):
            t = block * BLOCK / SAMPLE_RATE
            ref.played(bytes(BLOCK * 2), dac_time=t + 0.05)
            # the input overflowed at block 400: `lost` seconds of capture never reached us
            aligner.far_for(BLOCK, t + (lost if block >= 400 else 0.0), glitch=glitch and block == 400)
        return aligner

    # 60 ms lost: the cursor is now behind, the echo would come 60 ms closer to its reference: follow at once
    assert run(glitch=True, lost=0.06).resyncs == 1
    assert run(glitch=False, lost=0.06).resyncs == 0  # without a glitch reported, a step under 150 ms is left
    # a step the other way only lengthens the echo's delay: left to the canceller's delay estimator
    assert run(glitch=True, lost=-0.06).resyncs == 0


def _echo_of(far: np.ndarray, delay: int, gain: float = 0.5) -> np.ndarray:
    return np.concatenate([np.zeros(max(delay, 0)), gain * far[: len(far) - max(delay, 0)]])[: len(far)]


def _pcm(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("delay", [3_917, 77, -2_400])  # 81.6 ms; 1.6 ms; the reference 50 ms after its echo
def test_echo_delay_is_measured_to_the_sample(delay: int) -> None:
    far = _speechlike(4 * SAMPLE_RATE, seed=7)
    if delay >= 0:
        near = _echo_of(far, delay)
    else:  # the echo comes first: the reference fed is late
        near, far = 0.5 * far, _echo_of(far, -delay, gain=1.0)
    near = near + 0.003 * np.random.default_rng(3).standard_normal(len(near))
    estimator = EchoDelayEstimator()
    lags = [estimator.add(_pcm(near[i : i + BLOCK]), _pcm(far[i : i + BLOCK])) for i in range(0, len(far), BLOCK)]
    measured = [lag for lag in lags if lag is not None]
    assert len(measured) >= 8 and set(measured) == {delay}, measured
    assert estimator.estimate() == pytest.approx(delay / 48, abs=0.01)


def test_no_echo_and_a_near_voice_unlike_the_far_one_measure_nothing() -> None:
    far = _speechlike(4 * SAMPLE_RATE, seed=7)
    for near in (np.zeros(len(far)), _speechlike(len(far), seed=8)):  # a headset; a near talker alone
        estimator = EchoDelayEstimator()
        lags = [estimator.add(_pcm(near[i : i + BLOCK]), _pcm(far[i : i + BLOCK])) for i in range(0, len(far), BLOCK)]
        assert not [lag for lag in lags if lag is not None] and estimator.estimate() is None


def _settling_run(measured_lag: int | None) -> ReferenceAligner:
    """The device timestamps step 60 ms early in the call (as PulseAudio's do while settling)."""
    ref = RenderReference()
    aligner = ReferenceAligner(ref, lead_s=0.0)
    for block in range(50 * 3):
        t = block * BLOCK / SAMPLE_RATE
        ref.played(bytes(BLOCK * 2), dac_time=t + 0.1)
        aligner.far_for(BLOCK, t + (0.06 if block >= 80 else 0.0))
        if measured_lag is not None and block in (60, 72):  # two measurements, 0.25 s apart, agree
            aligner.measured(measured_lag)
    return aligner


def test_a_measured_echo_in_reach_keeps_the_settling_timestamps_from_moving_the_reference() -> None:
    assert _settling_run(None).resyncs == 1  # timestamps alone: followed (the canceller then re-learns)
    locked = _settling_run(4_000)  # the echo measured 83 ms after its reference: nothing to move
    assert locked.resyncs == 0 and locked.realigns == 0 and locked.locked == 4_000


def test_an_echo_measured_out_of_reach_is_brought_back() -> None:
    aligner = _settling_run(-1_000)  # the echo 21 ms before its reference: never cancellable
    # moved towards 80 ms as far as the speaker was given samples (here 100 ms ahead of the DAC)
    assert aligner.realigns == 1 and aligner.locked is not None and 0.010 * SAMPLE_RATE <= aligner.locked <= 3_840


def test_the_reference_never_stays_past_what_the_speaker_was_given() -> None:
    """A starved output after the timestamps settled: for 0.12 s the speaker gets nothing (the device plays
    silence we never wrote). The clocks say the cursor is 120 ms ahead, less than a resync needs, and from then
    on the cursor reads only what was never written: the canceller would get zeros for the rest of the call."""
    ref = RenderReference()
    aligner = ReferenceAligner(ref, lead_s=0.0)
    unwritten = []
    for block in range(50 * 8):
        t = block * BLOCK / SAMPLE_RATE
        if not 200 <= block < 206:
            ref.played(np.full(BLOCK, 1000, dtype="<i2").tobytes(), dac_time=t + 0.06)
        far = aligner.far_for(BLOCK, t)
        unwritten.append(far is not None and not far.any())
    assert aligner.resyncs == 0 and aligner.realigns == 1  # stepped back to what was written, once
    assert not any(unwritten[240:])  # the reference is what was played again


def _coupling(near: np.ndarray, far: np.ndarray) -> list[bool]:
    coupling = EchoCoupling()
    decisions = []
    for i in range(0, len(far) - BLOCK + 1, BLOCK):
        decisions.append(coupling.add(energy_db(_pcm(near[i : i + BLOCK])), energy_db(_pcm(far[i : i + BLOCK])), False))
    return decisions


def test_a_headset_is_recognised_in_the_first_second_even_while_both_talk() -> None:
    t = np.arange(6 * SAMPLE_RATE) / SAMPLE_RATE
    carrier = np.convolve(np.random.default_rng(4).standard_normal(len(t)), np.ones(8) / 8, mode="same")
    far = 0.2 * carrier * (t % 2.3 < 2.0)  # 2 s phrases
    near = _speechlike(len(t), seed=5)  # the near talker from the start, over the far one (words and pauses); no echo
    decisions = _coupling(near, far)
    assert any(decisions[:60]), "not recognised within 1.2 s"
    # with an echo path (-6 dB, 80 ms) and the same double talk, never
    assert not any(_coupling(near + _echo_of(far, 3_840), far))
