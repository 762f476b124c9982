"""Exceptions raised by the sans-IO signal protocol.

Every failure that untrusted input can provoke in :mod:`app.protocol` is a
:class:`ProtocolError`. The ``code`` is a stable, machine readable string meant
to be sent to the peer in an ``Error`` message; the human message (``str(exc)``,
also ``exc.message``) is for logs and UI.
"""

from __future__ import annotations

# Longest type name we keep on an exception; it may be echoed back to the peer
# in ``Error.ref_type``, which is itself bounded to 256 characters.
_MAX_TYPE_NAME = 256


def _clip(text: str, limit: int = _MAX_TYPE_NAME) -> str:
    return text if len(text) <= limit else text[:limit]


class ProtocolError(Exception):
    """Base class of every error raised while framing or decoding messages."""

    default_code: str = "ProtocolError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message: str = message
        self.code: str = code if code is not None else self.default_code

    def __str__(self) -> str:
        return self.message


class FrameTooLarge(ProtocolError):
    """A frame (announced or about to be sent) is larger than the frame limit."""

    default_code = "FrameTooLarge"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes exceeds the limit of {limit} bytes")
        self.size: int = size
        self.limit: int = limit


class MalformedMessage(ProtocolError):
    """The payload is not valid JSON, not an object, or fails validation.

    ``type_name`` is the message type when it was recognised (the failure is then
    in one of its fields), otherwise ``None``.
    """

    default_code = "MalformedMessage"

    def __init__(self, message: str, *, type_name: str | None = None) -> None:
        super().__init__(message)
        self.type_name: str | None = _clip(type_name) if type_name is not None else None


class UnknownMessageType(ProtocolError):
    """A well-formed JSON object whose ``type`` is not a known message type.

    The connection can be kept: answer with an ``Error`` and carry on.
    ``type_name`` is clipped to 256 characters so it can be echoed back.
    """

    default_code = "UnknownMessageType"

    def __init__(self, type_name: str) -> None:
        self.type_name: str = _clip(type_name)
        shown = self.type_name if len(self.type_name) <= 64 else self.type_name[:64] + "..."
        super().__init__(f"unknown message type {shown!r}")


__all__ = ["FrameTooLarge", "MalformedMessage", "ProtocolError", "UnknownMessageType"]
