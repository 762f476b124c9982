"""Errors of the port-mapping protocols."""

from __future__ import annotations

__all__ = ["PortMapError", "PortMapProtocolError", "PortMapRefused"]


class PortMapError(Exception):
    """A port mapping could not be made (the call goes on without it)."""


class PortMapProtocolError(PortMapError):
    """A reply that does not answer our request (malformed, wrong opcode/nonce/port): ignored."""


class PortMapRefused(PortMapError):
    """The gateway answered our request with an error result."""
