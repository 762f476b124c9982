"""Audio sinks: where decoded 48 kHz mono int16 PCM frames go."""

from __future__ import annotations

import logging
import wave
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from app.media.codec import CHANNELS, SAMPLE_RATE
from app.media.errors import AudioFileError
from app.media.sources import level_dbfs

__all__ = ["AudioSink", "MemorySink", "NullSink", "WavFileSink", "level_dbfs"]

log = logging.getLogger(__name__)


def _check_pcm(pcm: bytes) -> bytes:
    if not isinstance(pcm, (bytes, bytearray, memoryview)):
        raise TypeError(f"pcm must be bytes, not {type(pcm).__name__}")
    data = bytes(pcm)
    if len(data) % 2:
        raise ValueError("PCM must be a whole number of int16 samples")
    return data


class AudioSink(ABC):
    """A consumer of 48 kHz mono int16 PCM frames (normally 960 samples each)."""

    @abstractmethod
    def write_frame(self, pcm: bytes) -> None:
        """Consume one frame; ValueError for a partial sample."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release resources; closing twice is harmless."""

    def __enter__(self) -> AudioSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class WavFileSink(AudioSink):
    """Writes a 48 kHz mono 16-bit WAV file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: BinaryIO = open(self.path, "wb")
        except OSError as exc:
            raise AudioFileError(f"cannot create audio file {self.path}: {exc}") from exc
        self._wav: wave.Wave_write | None = wave.open(self._file, "wb")
        self._wav.setnchannels(CHANNELS)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self.frames_written = 0

    def write_frame(self, pcm: bytes) -> None:
        data = _check_pcm(pcm)
        if self._wav is None:
            raise ValueError(f"{self.path} is closed")
        try:
            self._wav.writeframesraw(data)
        except OSError as exc:
            raise AudioFileError(f"cannot write audio file {self.path}: {exc}") from exc
        self.frames_written += 1

    def close(self) -> None:
        if self._wav is not None:
            wav, self._wav = self._wav, None
            try:
                wav.close()  # patches the RIFF sizes in the header
            except OSError as exc:
                raise AudioFileError(f"cannot finish audio file {self.path}: {exc}") from exc
            finally:
                self._file.close()
            log.debug("wrote %s (%d frames)", self.path, self.frames_written)


class NullSink(AudioSink):
    """Discards audio; counts frames and remembers the last level (for meters/tests)."""

    def __init__(self) -> None:
        self.frames_written = 0
        self.last_level_dbfs = level_dbfs(b"")
        self.closed = False

    def write_frame(self, pcm: bytes) -> None:
        data = _check_pcm(pcm)
        self.frames_written += 1
        self.last_level_dbfs = level_dbfs(data)

    def close(self) -> None:
        self.closed = True


class MemorySink(AudioSink):
    """Keeps everything written, for tests and offline tools."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.closed = False

    def write_frame(self, pcm: bytes) -> None:
        self._chunks.append(_check_pcm(pcm))

    @property
    def pcm(self) -> bytes:
        return b"".join(self._chunks)

    @property
    def frames_written(self) -> int:
        return len(self._chunks)

    def close(self) -> None:
        self.closed = True
