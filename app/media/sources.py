"""Audio sources: where the PCM that gets encoded comes from.

Every source yields 20 ms frames of 48 kHz mono int16 little-endian PCM (960 samples,
1920 bytes) from :meth:`AudioSource.read_frame`, and ``None`` once it is exhausted.

:func:`resample` is a Kaiser-windowed sinc interpolator (arbitrary ratio, 64 taps,
anti-aliasing cut-off at 0.95 of the lower Nyquist frequency) written in numpy; it
is transparent for speech, so PESQ scores are not hurt by the conversion.
"""

from __future__ import annotations

import logging
import math
import wave
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from app.media.codec import FRAME_BYTES, FRAME_SAMPLES, SAMPLE_RATE
from app.media.errors import AudioFileError
from app.media.pcm import MIN_DBFS, level_dbfs, mono_of, sine_pcm

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from app.media.audio_processing import ProcessingStats

    FloatArray = npt.NDArray[np.float64]
else:
    FloatArray = Any

__all__ = [
    "MIN_DBFS",
    "AudioSource",
    "PcmSource",
    "SilenceSource",
    "ToneSource",
    "WavFileSource",
    "float_to_pcm",
    "level_dbfs",
    "pcm_to_float",
    "read_wav",
    "resample",
]

log = logging.getLogger(__name__)

_FULL_SCALE = 32768.0
_SINC_HALF_WIDTH = 32
_KAISER_BETA = 8.6
_CUTOFF = 0.95
_CHUNK = 16_384
_MAX_POLYPHASE = 8192

# -- helpers (numpy, imported on first use: the running app does not need it) --------


def _numpy() -> Any:
    try:
        import numpy
    except ImportError as exc:
        raise AudioFileError(
            "converting audio files needs numpy, which this build does not include; use a 48 kHz WAV file"
        ) from exc
    return numpy


def pcm_to_float(pcm: bytes) -> FloatArray:
    """int16 LE PCM bytes -> float64 samples in [-1, 1)."""
    np = _numpy()
    return np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float64) / _FULL_SCALE


def float_to_pcm(samples: Any) -> bytes:
    """float samples in [-1, 1] -> int16 LE PCM bytes (rounded and clipped)."""
    np = _numpy()
    scaled = np.rint(np.asarray(samples, dtype=np.float64) * _FULL_SCALE)
    return np.clip(scaled, -32768, 32767).astype("<i2").tobytes()


def _kaiser(x: FloatArray, half_width: float) -> FloatArray:
    np = _numpy()
    ratio = np.clip(x / half_width, -1.0, 1.0)
    return np.i0(_KAISER_BETA * np.sqrt(1.0 - ratio * ratio)) / np.i0(_KAISER_BETA)


def _sinc_weights(frac: FloatArray, offsets: FloatArray, scale: float, half: int) -> FloatArray:
    np = _numpy()
    dist = offsets[None, :] - frac[:, None]  # tap position minus exact position
    return scale * np.sinc(scale * dist) * _kaiser(dist, float(half))


def resample(samples: Any, rate_in: int, rate_out: int) -> FloatArray:
    """Resample a 1-D float signal from ``rate_in`` to ``rate_out`` Hz.

    Band-limited interpolation with a Kaiser-windowed sinc (64 taps at the lower of
    the two rates); the output has ``round(len * rate_out / rate_in)`` samples. For
    the usual rational ratios the filter weights are computed once per polyphase
    branch.
    """
    np = _numpy()
    x = np.asarray(samples, dtype=np.float64).ravel()
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError("sample rates must be positive")
    if rate_in == rate_out or x.size == 0:
        return x.copy()
    n_out = round(x.size * rate_out / rate_in)
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    scale = min(1.0, rate_out / rate_in) * _CUTOFF  # cut-off relative to input Nyquist
    half = math.ceil(_SINC_HALF_WIDTH / min(1.0, rate_out / rate_in))
    offsets = np.arange(-half + 1, half + 1, dtype=np.float64)
    padded = np.concatenate([np.zeros(half), x, np.zeros(half + 1)])
    table = None
    if up <= _MAX_POLYPHASE:
        table = _sinc_weights(np.arange(up) / up, offsets, scale, half)
    out = np.empty(n_out)
    for start in range(0, n_out, _CHUNK):
        n = np.arange(start, min(n_out, start + _CHUNK), dtype=np.int64)
        base = (n * down) // up
        phase = (n * down) % up
        weights = table[phase] if table is not None else _sinc_weights(phase / up, offsets, scale, half)
        idx = base[:, None] + np.arange(-half + 1, half + 1)[None, :] + half
        out[start : start + n.size] = np.einsum("ij,ij->i", padded[idx], weights)
    return out


def _read_wav_pcm(path: str | Path) -> tuple[bytes, int, int]:
    """The raw int16 PCM of a 16-bit WAV file, its channel count and rate (validated)."""
    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"audio file not found: {p}")
    try:
        with wave.open(str(p), "rb") as wav:
            channels = wav.getnchannels()
            width = wav.getsampwidth()
            rate = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFileError(f"not a readable PCM WAV file: {p} ({exc})") from exc
    except OSError as exc:
        raise AudioFileError(f"cannot read audio file {p}: {exc}") from exc
    if width != 2:
        raise AudioFileError(f"{p}: only 16-bit PCM WAV is supported, got {8 * width}-bit")
    if channels not in (1, 2):
        raise AudioFileError(f"{p}: only mono or stereo is supported, got {channels} channels")
    if rate <= 0:
        raise AudioFileError(f"{p}: invalid sample rate {rate}")
    return raw, channels, rate


def read_wav(path: str | Path) -> tuple[FloatArray, int]:
    """Read a 16-bit PCM WAV file as mono float64 samples and its sample rate.

    Stereo is mixed down to mono. Raises :class:`AudioFileError` with a clear
    message for a missing, unreadable or unsupported file.
    """
    raw, channels, rate = _read_wav_pcm(path)
    np = _numpy()
    usable = len(raw) - len(raw) % (2 * channels)
    samples = np.frombuffer(raw[:usable], dtype="<i2").astype(np.float64) / _FULL_SCALE
    if channels == 2:
        samples = samples.reshape(-1, 2).mean(axis=1)
    return samples, rate


# -- sources ------------------------------------------------------------------------


class AudioSource(ABC):
    """A producer of 20 ms frames of 48 kHz mono int16 PCM."""

    #: Frames come on a device's clock (a microphone): `read_frame` returns None while none has been
    #: captured since the last read, and the source never ends. The call waits for a late frame instead of
    #: filling its slot with silence (that cut 20 ms out of speech; see MediaSession._send_captured).
    live: bool = False

    @abstractmethod
    def read_frame(self) -> bytes | None:
        """Return the next 1920-byte frame, or None when the source is exhausted (a live source: when
        no frame has been captured yet)."""

    @property
    def backlog(self) -> int:
        """A live source: frames captured and not read yet (0 for the others)."""
        return 0

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release resources; reading after close returns None."""

    def processing_stats(self) -> ProcessingStats | None:
        """Echo canceller / noise suppressor figures (only the microphone has any)."""
        return None

    def __enter__(self) -> AudioSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _frame_count(duration_s: float | None) -> int | None:
    if duration_s is None:
        return None
    if duration_s < 0 or not math.isfinite(duration_s):
        raise ValueError("duration must be a non-negative finite number of seconds")
    return math.ceil(round(duration_s * 1000 / 20, 6))


class PcmSource(AudioSource):
    """Frames from 48 kHz mono int16 PCM held in memory; the tail is zero-padded."""

    def __init__(self, pcm: bytes, loop: bool = False) -> None:
        data = bytes(pcm)
        if len(data) % 2:
            raise ValueError("PCM must be a whole number of int16 samples")
        if data and len(data) % FRAME_BYTES:
            data = data.ljust(len(data) + FRAME_BYTES - len(data) % FRAME_BYTES, b"\x00")
        self._data = data
        self._pos = 0
        self._loop = loop
        self._closed = False

    @property
    def frames(self) -> int:
        """Total number of frames in one pass."""
        return len(self._data) // FRAME_BYTES

    def read_frame(self) -> bytes | None:
        if self._closed or not self._data:
            return None
        if self._pos >= len(self._data):
            if not self._loop:
                return None
            self._pos = 0
        frame = self._data[self._pos : self._pos + FRAME_BYTES]
        self._pos += FRAME_BYTES
        return frame

    def close(self) -> None:
        self._closed = True


class WavFileSource(PcmSource):
    """A 16-bit WAV file (any rate, mono or stereo), converted to 48 kHz mono.

    The whole file is read and resampled when the source is created, so format
    errors surface immediately as :class:`AudioFileError`.
    """

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        raw, channels, rate = _read_wav_pcm(path)
        if rate == SAMPLE_RATE:
            usable = len(raw) - len(raw) % (2 * channels)
            pcm = mono_of(raw[:usable], channels)
        else:
            samples, rate = read_wav(path)
            pcm = float_to_pcm(resample(samples, rate, SAMPLE_RATE))
        self.path = Path(path)
        self.source_rate = rate
        super().__init__(pcm, loop=loop)
        log.debug("opened %s (%d Hz, %d frames)", self.path, rate, self.frames)


class ToneSource(AudioSource):
    """A phase-continuous sine tone; endless unless ``duration_s`` is given."""

    def __init__(self, freq_hz: float, amplitude: float = 0.5, duration_s: float | None = None) -> None:
        if not 0.0 < freq_hz < SAMPLE_RATE / 2:
            raise ValueError(f"frequency must be between 0 and {SAMPLE_RATE // 2} Hz")
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError("amplitude is a fraction of full scale, 0..1")
        self.freq_hz = float(freq_hz)
        self.amplitude = float(amplitude)
        self._remaining = _frame_count(duration_s)
        self._phase = 0.0
        self._closed = False

    def read_frame(self) -> bytes | None:
        if self._closed or self._remaining == 0:
            return None
        if self._remaining is not None:
            self._remaining -= 1
        step = 2.0 * math.pi * self.freq_hz / SAMPLE_RATE
        # The running phase stays in [0, 2pi), so precision never degrades on long calls.
        pcm, self._phase = sine_pcm(FRAME_SAMPLES, self._phase, step, self.amplitude)
        return pcm

    def close(self) -> None:
        self._closed = True


class SilenceSource(AudioSource):
    """Digital silence; endless unless ``duration_s`` is given."""

    _FRAME = bytes(FRAME_BYTES)

    def __init__(self, duration_s: float | None = None) -> None:
        self._remaining = _frame_count(duration_s)
        self._closed = False

    def read_frame(self) -> bytes | None:
        if self._closed or self._remaining == 0:
            return None
        if self._remaining is not None:
            self._remaining -= 1
        return self._FRAME

    def close(self) -> None:
        self._closed = True
