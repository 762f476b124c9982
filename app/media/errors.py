"""Exceptions shared by the media modules."""

from __future__ import annotations

__all__ = ["AudioFileError", "CodecError", "MediaKeyError", "MediaPacketError"]


class MediaPacketError(ValueError):
    """A media datagram or RED container is malformed, forged, replayed or too old.

    ``reason`` is a short machine-readable tag (e.g. ``"short"``, ``"auth"``).
    """

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class CodecError(RuntimeError):
    """libopus refused a configuration or failed to encode/decode."""


class MediaKeyError(ValueError):
    """Call key agreement failed (bad peer key, all-zero shared secret, ...)."""


class AudioFileError(OSError):
    """An audio file is missing, unreadable or in an unsupported format."""
