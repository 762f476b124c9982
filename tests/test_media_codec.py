"""Opus wrapper: configuration, round trip, and that in-band FEC really is there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media.codec import (
    FRAME_BYTES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    OpusDecoder,
    OpusEncoder,
    is_dtx_payload,
)
from app.media.errors import CodecError
from app.media.libopus import BANDWIDTH_FULLBAND, BANDWIDTH_WIDEBAND
from app.media.sources import float_to_pcm, pcm_to_float, read_wav, resample


def harmonic_speechlike(seconds: float) -> np.ndarray:
    """A voiced, vowel-like signal: gliding pitch, several harmonics, syllable envelope."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    formant_gain = [1.0, 0.8, 0.6, 0.35, 0.5, 0.25, 0.15, 0.1]
    voiced = sum(g * np.sin((k + 1) * phase) for k, g in enumerate(formant_gain))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 2.3 * t) ** 2
    return 0.15 * voiced * envelope


def speech_48k(tmp_path: Path) -> np.ndarray:
    """espeak-ng speech at 48 kHz if espeak-ng is installed, else a harmonic signal."""
    if shutil.which("espeak-ng") is None:
        return harmonic_speechlike(4.0)
    wav = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(wav), "Packet loss should not hurt this voice call at all."],
        check=True,
        timeout=30,
    )
    samples, rate = read_wav(wav)
    return resample(samples, rate, SAMPLE_RATE)


def frames_of(signal: np.ndarray) -> list[bytes]:
    pcm = float_to_pcm(signal)
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def snr_db(decoded: np.ndarray, original: np.ndarray) -> float:
    noise = float(np.sum((decoded - original) ** 2))
    return 10 * np.log10(float(np.sum(original**2)) / max(noise, 1e-12))


def test_defaults_and_fec_is_really_on() -> None:
    enc = OpusEncoder()
    assert enc.bitrate == 24_000
    assert enc.fec is True
    assert enc.dtx is False
    assert enc.expected_loss == 0
    assert enc.max_bandwidth == BANDWIDTH_FULLBAND
    assert OpusEncoder(fec=False).fec is False


def test_set_fec_switches_and_reads_back() -> None:
    enc = OpusEncoder(fec=False)
    enc.set_fec(True)
    assert enc.fec is True
    enc.set_fec(False)
    assert enc.fec is False


@pytest.mark.parametrize("bitrate", [16_000, 24_000, 48_000, 64_000])
def test_bitrate_range_accepted(bitrate: int) -> None:
    assert OpusEncoder(bitrate=bitrate).bitrate == bitrate


@pytest.mark.parametrize("bitrate", [15_999, 64_001, 0, -1])
def test_bitrate_out_of_range_rejected(bitrate: int) -> None:
    with pytest.raises(ValueError):
        OpusEncoder(bitrate=bitrate)
    with pytest.raises(ValueError):
        OpusEncoder().set_bitrate(bitrate)


def test_expected_loss_caps_bandwidth_and_zero_lifts_the_cap() -> None:
    enc = OpusEncoder()
    enc.set_expected_loss(10)
    assert enc.expected_loss == 10
    assert enc.max_bandwidth == BANDWIDTH_WIDEBAND
    enc.set_expected_loss(0)
    assert enc.expected_loss == 0
    assert enc.max_bandwidth == BANDWIDTH_FULLBAND
    for bad in (-1, 101):
        with pytest.raises(ValueError):
            enc.set_expected_loss(bad)


def test_encode_rejects_wrong_frame_size() -> None:
    enc = OpusEncoder()
    with pytest.raises(ValueError):
        enc.encode(bytes(FRAME_BYTES - 2))
    with pytest.raises(TypeError):
        enc.encode("not bytes")  # type: ignore[arg-type]


def test_round_trip_of_a_tone_is_faithful() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    frames = frames_of(0.3 * np.sin(2 * np.pi * 440 * t))
    enc, dec = OpusEncoder(), OpusDecoder()
    out = [dec.decode(enc.encode(f)) for f in frames]
    assert all(len(o) == FRAME_BYTES for o in out)
    decoded = pcm_to_float(b"".join(out))[enc.lookahead :]
    original = pcm_to_float(b"".join(frames))[: len(decoded)]
    assert snr_db(decoded[4800:], original[4800:]) > 10.0


def test_conceal_and_decode_fec_return_full_frames() -> None:
    enc, dec = OpusEncoder(), OpusDecoder()
    packet = enc.encode(bytes(FRAME_BYTES))
    assert len(dec.decode(packet)) == FRAME_BYTES
    assert len(dec.conceal()) == FRAME_BYTES
    assert len(dec.decode_fec(packet)) == FRAME_BYTES
    dec.reset()
    assert len(dec.decode(packet)) == FRAME_BYTES


def test_dtx_emits_tiny_packets_for_silence() -> None:
    enc = OpusEncoder(dtx=True)
    sizes = [len(enc.encode(bytes(FRAME_BYTES))) for _ in range(50)]
    assert any(is_dtx_payload(b"x" * size) for size in sizes[10:])


def test_fec_recovers_a_lost_frame_better_than_plc(tmp_path: Path) -> None:
    """At 10 % expected loss with the wideband cap the next packet carries LBRR data:
    decoding it with decode_fec is much closer to the original than concealment."""
    frames = frames_of(speech_48k(tmp_path))
    enc = OpusEncoder(bitrate=24_000, fec=True)
    enc.set_expected_loss(10)
    packets = [enc.encode(f) for f in frames]
    original = pcm_to_float(b"".join(frames))
    delay = enc.lookahead

    dec_fec, dec_plc = OpusDecoder(), OpusDecoder()
    fec_snr, plc_snr, differing = [], [], 0
    for i, packet in enumerate(packets[:-1]):
        if i % 7 == 3 and i * FRAME_SAMPLES >= delay:  # frame i is "lost"
            via_fec = pcm_to_float(dec_fec.decode_fec(packets[i + 1]))
            via_plc = pcm_to_float(dec_plc.conceal())
            differing += not np.array_equal(via_fec, via_plc)
            start = i * FRAME_SAMPLES - delay  # decoder output lags the input
            ref = original[start : start + FRAME_SAMPLES]
            if float(np.mean(ref**2)) > 1e-4:  # voiced frames only
                fec_snr.append(snr_db(via_fec, ref))
                plc_snr.append(snr_db(via_plc, ref))
        else:
            dec_fec.decode(packet)
            dec_plc.decode(packet)
    assert len(fec_snr) >= 8
    assert differing >= len(fec_snr)  # FEC data was present, not a PLC fallback
    assert float(np.mean(fec_snr)) > float(np.mean(plc_snr)) + 1.5
    assert float(np.median(fec_snr)) > float(np.median(plc_snr))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=100))
def test_garbage_payloads_give_a_frame_or_codec_error(data: bytes) -> None:
    dec = OpusDecoder()
    for method in (dec.decode, dec.decode_fec):
        try:
            assert len(method(data)) == FRAME_BYTES
        except CodecError:
            pass
    assert len(dec.conceal()) == FRAME_BYTES
