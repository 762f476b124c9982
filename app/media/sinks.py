"""Audio sinks: where decoded 48 kHz mono int16 PCM frames go."""

from __future__ import annotations

import logging
import struct
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
    """Writes a 48 kHz mono 16-bit WAV file: the header first (sizes patched on close), then each
    frame straight to the file's buffer (the `wave` module re-checks and re-counts per call, which
    was a tenth of a recording client's non-codec time)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._file: BinaryIO | None = open(self.path, "wb", buffering=1 << 16)  # ~17 frames per write
            self._file.write(_wav_header(0))
        except OSError as exc:
            raise AudioFileError(f"cannot create audio file {self.path}: {exc}") from exc
        self._bytes = 0
        self.frames_written = 0

    def write_frame(self, pcm: bytes) -> None:
        data = pcm if type(pcm) is bytes and not len(pcm) % 2 else _check_pcm(pcm)
        if self._file is None:
            raise ValueError(f"{self.path} is closed")
        try:
            self._file.write(data)
        except OSError as exc:
            raise AudioFileError(f"cannot write audio file {self.path}: {exc}") from exc
        self._bytes += len(data)
        self.frames_written += 1

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.seek(0)
                file.write(_wav_header(self._bytes))  # the RIFF and data sizes
            except OSError as exc:
                raise AudioFileError(f"cannot finish audio file {self.path}: {exc}") from exc
            finally:
                file.close()
            log.debug("wrote %s (%d frames)", self.path, self.frames_written)


def _wav_header(data_bytes: int) -> bytes:
    """The 44-byte header of a PCM WAV file holding `data_bytes` of 16-bit samples."""
    block = CHANNELS * 2
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, CHANNELS, SAMPLE_RATE, SAMPLE_RATE * block, block, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


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
