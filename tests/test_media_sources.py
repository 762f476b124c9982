"""Audio sources, sinks, the resampler and the level meter helper."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest

from app.media.codec import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE
from app.media.errors import AudioFileError
from app.media.sinks import AudioSink, MemorySink, NullSink, WavFileSink
from app.media.sources import (
    MIN_DBFS,
    AudioSource,
    PcmSource,
    SilenceSource,
    ToneSource,
    WavFileSource,
    float_to_pcm,
    level_dbfs,
    pcm_to_float,
    resample,
)


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    data = np.clip(np.rint(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(data.tobytes())
    return path


def read_all(source: AudioSource) -> list[bytes]:
    frames = []
    while (frame := source.read_frame()) is not None:
        frames.append(frame)
        assert len(frame) == FRAME_BYTES
    return frames


def sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)


def dominant_freq(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000, 96000])
def test_wav_source_converts_any_rate_to_48k(tmp_path: Path, rate: int) -> None:
    path = write_wav(tmp_path / "tone.wav", sine(1000, rate, 0.5), rate)
    source = WavFileSource(path)
    frames = read_all(source)
    assert len(frames) == math.ceil(0.5 * SAMPLE_RATE / FRAME_SAMPLES)
    out = pcm_to_float(b"".join(frames))
    body = out[2000:20000]
    assert dominant_freq(body, SAMPLE_RATE) == pytest.approx(1000, abs=5)
    ref = sine(1000, SAMPLE_RATE, 0.5)[2000:20000]
    error_db = 10 * np.log10(np.mean((body - ref) ** 2) / np.mean(ref**2))
    assert error_db < -60  # transparent (limited by 16-bit quantisation)
    assert source.read_frame() is None


def test_stereo_is_mixed_to_mono(tmp_path: Path) -> None:
    left = sine(500, 16000, 0.2)
    stereo = np.stack([left, left], axis=1).ravel()
    path = write_wav(tmp_path / "stereo.wav", stereo, 16000, channels=2)
    out = pcm_to_float(b"".join(read_all(WavFileSource(path))))
    assert dominant_freq(out[1000:8000], SAMPLE_RATE) == pytest.approx(500, abs=8)
    assert float(np.max(np.abs(out))) == pytest.approx(0.5, abs=0.02)


def test_partial_last_frame_is_zero_padded_and_loop_restarts(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "short.wav", np.full(1000, 0.25), SAMPLE_RATE)
    frames = read_all(WavFileSource(path))
    assert len(frames) == 2
    assert pcm_to_float(frames[1])[40:].max() == 0.0
    looping = WavFileSource(path, loop=True)
    assert [looping.read_frame() for _ in range(4)] == frames * 2


def test_missing_and_bad_files_raise_audio_file_error(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="not found"):
        WavFileSource(tmp_path / "nope.wav")
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not a wav file at all")
    with pytest.raises(AudioFileError, match="not a readable"):
        WavFileSource(garbage)
    eight_bit = tmp_path / "8bit.wav"
    with wave.open(str(eight_bit), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(bytes(100))
    with pytest.raises(AudioFileError, match="16-bit"):
        WavFileSource(eight_bit)
    with pytest.raises(AudioFileError):
        WavFileSource(tmp_path)  # a directory
    assert issubclass(AudioFileError, OSError)


def test_resampler_rejects_aliases_when_downsampling() -> None:
    # 10 kHz cannot exist at 16 kHz: it must be filtered out, not folded to 6 kHz.
    out = resample(sine(10_000, SAMPLE_RATE, 0.5), SAMPLE_RATE, 16_000)
    assert len(out) == 8000
    assert float(np.sqrt(np.mean(out[200:-200] ** 2))) < 1e-3
    passband = resample(sine(3_000, SAMPLE_RATE, 0.5), SAMPLE_RATE, 16_000)
    assert float(np.sqrt(np.mean(passband[200:-200] ** 2))) == pytest.approx(0.5 / math.sqrt(2),
                                                                              rel=0.01)


def test_resampler_edge_cases() -> None:
    x = np.arange(10, dtype=np.float64)
    assert np.array_equal(resample(x, 16000, 16000), x)
    assert resample(np.array([]), 8000, 48000).size == 0
    with pytest.raises(ValueError):
        resample(x, 0, 48000)


def test_tone_source_is_phase_continuous_and_finite() -> None:
    tone = ToneSource(440, amplitude=0.5, duration_s=0.1)
    frames = read_all(tone)
    assert len(frames) == 5
    samples = pcm_to_float(b"".join(frames))
    expected = sine(440, SAMPLE_RATE, 0.1)
    assert np.max(np.abs(samples - expected)) < 1e-4
    assert level_dbfs(frames[0]) == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.1)
    endless = ToneSource(1000)
    assert all(endless.read_frame() is not None for _ in range(100))
    with pytest.raises(ValueError):
        ToneSource(0)
    with pytest.raises(ValueError):
        ToneSource(30_000)
    with pytest.raises(ValueError):
        ToneSource(440, amplitude=1.5)


def test_silence_source() -> None:
    frames = read_all(SilenceSource(duration_s=0.2))
    assert frames == [bytes(FRAME_BYTES)] * 10
    endless = SilenceSource()
    assert endless.read_frame() == bytes(FRAME_BYTES)
    endless.close()
    assert endless.read_frame() is None


def test_pcm_source_and_context_manager() -> None:
    with PcmSource(bytes(FRAME_BYTES * 3)) as source:
        assert len(read_all(source)) == 3
    with pytest.raises(ValueError):
        PcmSource(b"\x00")


def test_level_dbfs() -> None:
    assert level_dbfs(bytes(FRAME_BYTES)) == MIN_DBFS
    assert level_dbfs(b"") == MIN_DBFS
    full_square = float_to_pcm(np.where(np.arange(960) % 2, 1.0, -1.0))
    assert level_dbfs(full_square) == pytest.approx(0.0, abs=0.01)
    quiet = float_to_pcm(sine(1000, SAMPLE_RATE, 0.02, amp=0.01))
    assert level_dbfs(quiet) == pytest.approx(-43.0, abs=0.1)


def test_wav_sink_round_trip_through_wav_source(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    frames = read_all(ToneSource(700, duration_s=0.2))
    with WavFileSink(path) as sink:
        for frame in frames:
            sink.write_frame(frame)
    sink.close()  # twice is harmless
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (48000, 1, 2)
        assert wav.getnframes() == 10 * FRAME_SAMPLES
    assert read_all(WavFileSource(path)) == frames
    with pytest.raises(ValueError):
        sink.write_frame(frames[0])


def test_wav_sink_unwritable_path(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError):
        WavFileSink(tmp_path / "missing-dir" / "out.wav")


def test_null_and_memory_sinks() -> None:
    null = NullSink()
    tone = ToneSource(440, amplitude=0.5)
    for _ in range(3):
        null.write_frame(tone.read_frame() or b"")
    assert null.frames_written == 3
    assert null.last_level_dbfs == pytest.approx(-9.03, abs=0.1)
    null.close()
    assert null.closed
    memory = MemorySink()
    memory.write_frame(b"\x01\x00")
    assert memory.pcm == b"\x01\x00" and memory.frames_written == 1
    with pytest.raises(ValueError):
        memory.write_frame(b"\x01")
    assert isinstance(memory, AudioSink)
