"""The receiver report: what one side measured about the media it received.

Once a report interval (1 s) each side sends one, sealed like a media datagram
(:mod:`app.media.packet`) with flag bit 2 (:data:`FLAG_REPORT`) set and its own nonce
prefix (:data:`REPORT_PREFIX`) and sequence numbers, so a report never appears as a gap
in the media sequence and has its own replay window.

Payload (big-endian, 8 bytes)::

    loss       uint16   fraction lost in the interval, in 1/10000 (0..10000)
    jitter     uint16   interarrival jitter, in 1/10 ms (saturates at 65535)
    received   uint32   media datagrams received so far (wraps)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from app.media.errors import MediaPacketError

__all__ = ["FLAG_REPORT", "REPORT_LEN", "REPORT_PREFIX", "ReceiverReport", "is_report"]

FLAG_REPORT = 0x04
REPORT_PREFIX = b"WZPr"
_REPORT = struct.Struct(">HHI")
REPORT_LEN = _REPORT.size


def is_report(datagram: bytes) -> bool:
    """Does this (still sealed) datagram claim to be a report? Its seal decides if it is one."""
    return len(datagram) >= 2 and bool(datagram[1] & FLAG_REPORT)


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    loss: float  # 0..1
    jitter_ms: float
    received: int

    def pack(self) -> bytes:
        loss = 0.0 if self.loss != self.loss else min(max(self.loss, 0.0), 1.0)
        jitter = 0.0 if self.jitter_ms != self.jitter_ms else max(self.jitter_ms, 0.0)
        return _REPORT.pack(int(loss * 10_000), min(65_535, int(jitter * 10)), self.received & 0xFFFFFFFF)

    @classmethod
    def unpack(cls, payload: bytes) -> ReceiverReport:
        """Parse a report payload; :class:`MediaPacketError` (reason ``report``) if malformed."""
        if len(payload) != REPORT_LEN:
            raise MediaPacketError(f"a receiver report is {REPORT_LEN} bytes, got {len(payload)}", "report")
        loss, jitter, received = _REPORT.unpack(payload)
        if loss > 10_000:
            raise MediaPacketError(f"receiver report loss {loss} out of range", "report")
        return cls(loss / 10_000, jitter / 10, received)
