"""Length-prefixed framing: 4-byte big-endian payload length, then the payload."""

from __future__ import annotations

from typing import Final

from .codec import encode_message
from .errors import FrameTooLarge
from .messages import Message

MAX_FRAME_SIZE: Final = 65536
"""Largest payload (excluding the 4-byte header) accepted or produced."""

HEADER_SIZE: Final = 4


def frame_payload(payload: bytes) -> bytes:
    """Prefix an already-encoded payload with its length."""
    size = len(payload)
    if size > MAX_FRAME_SIZE:
        raise FrameTooLarge(size, MAX_FRAME_SIZE)
    return size.to_bytes(HEADER_SIZE, "big") + payload


def frame_message(msg: Message) -> bytes:
    """Encode ``msg`` and frame it; raises :class:`FrameTooLarge` over the limit."""
    return frame_payload(encode_message(msg))


class FrameDecoder:
    """Incremental, sans-IO frame splitter.

    Feed it whatever bytes arrive; it returns the payloads of the frames that
    became complete. A header announcing more than ``max_frame_size`` bytes raises
    :class:`FrameTooLarge` immediately (before the body arrives) and poisons the
    decoder: every later :meth:`feed` raises the same error. Payloads completed
    earlier in the same chunk are dropped then, as the stream is unusable anyway.

    A zero-length frame yields ``b""`` (rejected later by ``decode_message``).
    """

    def __init__(self, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        self._max: int = max_frame_size
        self._buf: bytearray = bytearray()
        self._error: FrameTooLarge | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as part of a complete frame."""
        return len(self._buf)

    @property
    def poisoned(self) -> bool:
        return self._error is not None

    def feed(self, data: bytes) -> list[bytes]:
        if self._error is not None:
            raise FrameTooLarge(self._error.size, self._error.limit)
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        offset = 0
        end = len(buf)
        with memoryview(buf) as view:
            while end - offset >= HEADER_SIZE:
                size = int.from_bytes(view[offset : offset + HEADER_SIZE], "big")
                if size > self._max:
                    self._error = FrameTooLarge(size, self._max)
                    break
                start = offset + HEADER_SIZE
                if end - start < size:
                    break
                frames.append(bytes(view[start : start + size]))
                offset = start + size
        if self._error is not None:
            buf.clear()
            raise self._error
        if offset:
            # One compaction per feed: each byte is moved at most once while it
            # waits for the rest of its frame, so buffering stays linear.
            del buf[:offset]
        return frames


__all__ = ["HEADER_SIZE", "MAX_FRAME_SIZE", "FrameDecoder", "frame_message", "frame_payload"]
