"""RED-style audio redundancy (in the spirit of RFC 2198 / WebRTC's audio RED).

Each media payload can carry, besides the current ("primary") Opus packet, verbatim
copies of up to two *previous* Opus packets. A receiver that lost packet ``n`` but
gets ``n+1`` (or ``n+2``) decodes the copy at full quality, which in-band FEC (a
low-bitrate re-encoding) cannot match. The price is bandwidth, so
:class:`RedundancyPolicy` switches it on only when the measured loss calls for it.

Container layout (all integers big-endian)::

    count      uint8              number of redundant blocks, 0..2
    count x    offset uint8       how many sequence numbers back (1..255)
               length uint16      byte length of that block (1..1275)
    blocks     the redundant payloads, in header order (oldest first)
    primary    the rest (at least 1 byte)

The container travels *inside* the encrypted media payload with flag bit 0 set
(see :mod:`app.media.packet`), so it needs no integrity check of its own, but
:func:`unpack_red` still validates everything and raises :class:`MediaPacketError`.
"""

from __future__ import annotations

import logging
import math
import struct
from collections import deque
from dataclasses import dataclass

from app.media.errors import MediaPacketError

__all__ = [
    "MAX_BLOCK_BYTES",
    "MAX_RED_DEPTH",
    "CodecSettings",
    "RedPacketizer",
    "RedundancyPolicy",
    "expand_red",
    "pack_red",
    "unpack_red",
]

log = logging.getLogger(__name__)

MAX_RED_DEPTH = 2
MAX_BLOCK_BYTES = 1275  # one Opus frame at most
MAX_OFFSET = 255
_BLOCK_HEADER = struct.Struct(">BH")
_SEQ_MOD = 1 << 32
_TS_MOD = 1 << 32


def _as_bytes(value: object, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    return bytes(value)


def pack_red(primary: bytes, redundant: list[tuple[int, bytes]]) -> bytes:
    """Build a RED container from the primary packet and ``(offset, payload)`` pairs.

    ``offset`` is how many sequence numbers before the primary the block belongs to
    (1..255, all different). Blocks are stored oldest (largest offset) first.
    ValueError for anything that :func:`unpack_red` would reject.
    """
    prim = _as_bytes(primary, "primary")
    if not 1 <= len(prim) <= MAX_BLOCK_BYTES:
        raise ValueError(f"primary must be 1..{MAX_BLOCK_BYTES} bytes, got {len(prim)}")
    if len(redundant) > MAX_RED_DEPTH:
        raise ValueError(f"at most {MAX_RED_DEPTH} redundant blocks, got {len(redundant)}")
    blocks: list[tuple[int, bytes]] = []
    for offset, payload in redundant:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError("offset must be an int")
        data = _as_bytes(payload, "redundant payload")
        if not 1 <= offset <= MAX_OFFSET:
            raise ValueError(f"offset must be 1..{MAX_OFFSET}, got {offset}")
        if not 1 <= len(data) <= MAX_BLOCK_BYTES:
            raise ValueError(f"a redundant block is 1..{MAX_BLOCK_BYTES} bytes, got {len(data)}")
        blocks.append((offset, data))
    if len({offset for offset, _ in blocks}) != len(blocks):
        raise ValueError("redundant offsets must be distinct")
    blocks.sort(key=lambda block: -block[0])
    header = bytearray([len(blocks)])
    for offset, data in blocks:
        header += _BLOCK_HEADER.pack(offset, len(data))
    return bytes(header) + b"".join(data for _, data in blocks) + prim


def unpack_red(data: bytes) -> tuple[bytes, list[tuple[int, bytes]]]:
    """Split a RED container into ``(primary, [(offset, payload), ...])``.

    Blocks come back oldest first. Raises :class:`MediaPacketError` (and nothing
    else) on any malformed input.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MediaPacketError("RED container must be bytes", "red")
    buf = bytes(data)
    if not buf:
        raise MediaPacketError("empty RED container", "red")
    count = buf[0]
    if count > MAX_RED_DEPTH:
        raise MediaPacketError(f"RED container claims {count} redundant blocks", "red")
    pos = 1
    header_end = 1 + count * _BLOCK_HEADER.size
    if len(buf) < header_end:
        raise MediaPacketError("truncated RED header", "red")
    entries: list[tuple[int, int]] = []
    for _ in range(count):
        offset, length = _BLOCK_HEADER.unpack_from(buf, pos)
        pos += _BLOCK_HEADER.size
        if offset == 0:
            raise MediaPacketError("RED block offset 0", "red")
        if not 1 <= length <= MAX_BLOCK_BYTES:
            raise MediaPacketError(f"RED block length {length} out of range", "red")
        entries.append((offset, length))
    offsets = [offset for offset, _ in entries]
    if len(set(offsets)) != len(offsets):
        raise MediaPacketError("duplicate RED block offsets", "red")
    blocks: list[tuple[int, bytes]] = []
    for offset, length in entries:
        if pos + length > len(buf):
            raise MediaPacketError("RED block runs past the end of the container", "red")
        blocks.append((offset, buf[pos : pos + length]))
        pos += length
    primary = buf[pos:]
    if not primary:
        raise MediaPacketError("RED container has no primary payload", "red")
    if len(primary) > MAX_BLOCK_BYTES:
        raise MediaPacketError("RED primary payload too large", "red")
    return primary, blocks


def expand_red(seq: int, timestamp: int, data: bytes, frame_samples: int = 960) -> list[tuple[int, int, bytes, bool]]:
    """Unpack a RED container into jitter-buffer entries.

    Returns ``(seq, timestamp, payload, is_redundant)`` tuples, redundant copies
    first (oldest first), then the primary; sequence numbers and timestamps wrap
    modulo 2**32. Raises :class:`MediaPacketError` on malformed input.
    """
    primary, blocks = unpack_red(data)
    out = [
        (
            (seq - offset) % _SEQ_MOD,
            (timestamp - offset * frame_samples) % _TS_MOD,
            payload,
            True,
        )
        for offset, payload in blocks
    ]
    out.append((seq % _SEQ_MOD, timestamp % _TS_MOD, primary, False))
    return out


class RedPacketizer:
    """Sender side: remembers recent Opus packets and builds RED containers.

    ``max_bytes`` bounds the container size; older copies are left out first when
    a container would not fit.
    """

    def __init__(self, max_depth: int = MAX_RED_DEPTH, max_bytes: int = 1000) -> None:
        if not 0 <= max_depth <= MAX_RED_DEPTH:
            raise ValueError(f"max_depth must be 0..{MAX_RED_DEPTH}")
        self._history: deque[tuple[int, bytes]] = deque(maxlen=max(max_depth, 1))
        self._max_bytes = max_bytes

    def build(self, seq: int, primary: bytes, depth: int) -> bytes:
        """Return the RED container for ``primary`` (sequence ``seq``) with ``depth``
        previous packets (fewer if they are unknown, too far back or too large),
        and remember ``primary`` for the next calls."""
        if not 0 <= depth <= MAX_RED_DEPTH:
            raise ValueError(f"depth must be 0..{MAX_RED_DEPTH}")
        redundant: list[tuple[int, bytes]] = []
        size = 1 + len(primary)
        for prev_seq, payload in reversed(self._history):
            if len(redundant) >= depth:
                break
            offset = (seq - prev_seq) % _SEQ_MOD
            if not 1 <= offset <= depth:
                continue
            cost = _BLOCK_HEADER.size + len(payload)
            if size + cost > self._max_bytes:
                break
            size += cost
            redundant.append((offset, payload))
        self.remember(seq, primary)
        return pack_red(primary, redundant)

    def remember(self, seq: int, primary: bytes) -> None:
        """Keep `primary` for later containers without building one (RED off)."""
        self._history.append((seq % _SEQ_MOD, bytes(primary)))

    def reset(self) -> None:
        self._history.clear()


@dataclass(frozen=True, slots=True)
class CodecSettings:
    """How the sender should configure its encoder and RED packetizer."""

    red_depth: int
    fec: bool
    expected_loss_percent: int


@dataclass(frozen=True, slots=True)
class _Thresholds:
    on_depth1: float
    on_depth2: float
    off_depth2: float
    off_depth1: float


class RedundancyPolicy:
    """Chooses the RED depth (0, 1 or 2) from the measured loss, with hysteresis.

    Going up is immediate: loss >= ``on_depth1`` (8 %) turns depth 1 on, loss >=
    ``on_depth2`` (15 %) goes to depth 2. Going down needs the loss to fall clearly
    below the entry threshold (< ``off_depth2`` = 10 % to leave depth 2, < ``off_depth1``
    = 4 % to switch off) for ``hold_reports`` consecutive updates, so that a loss
    rate hovering around a threshold does not make the bandwidth flap.
    """

    def __init__(
        self,
        on_depth1: float = 0.08,
        on_depth2: float = 0.15,
        off_depth2: float = 0.10,
        off_depth1: float = 0.04,
        hold_reports: int = 3,
    ) -> None:
        if not 0.0 <= off_depth1 < on_depth1 <= 1.0:
            raise ValueError("need 0 <= off_depth1 < on_depth1 <= 1")
        if not off_depth1 < off_depth2 < on_depth2 <= 1.0 or on_depth2 <= on_depth1:
            raise ValueError("need off_depth1 < off_depth2 < on_depth2 and on_depth1 < on_depth2")
        if hold_reports < 1:
            raise ValueError("hold_reports must be >= 1")
        self._t = _Thresholds(on_depth1, on_depth2, off_depth2, off_depth1)
        self._hold = hold_reports
        self._depth = 0
        self._below = 0

    @property
    def depth(self) -> int:
        """The current number of previous frames to repeat (0 = RED off)."""
        return self._depth

    def update(self, loss: float) -> int:
        """Feed a loss measurement (fraction 0..1, e.g. from a receiver report) and
        return the depth to use from now on."""
        if loss != loss or loss < 0.0:  # NaN or negative: ignore the report
            return self._depth
        loss = min(loss, 1.0)
        t = self._t
        wanted = 2 if loss >= t.on_depth2 else 1 if loss >= t.on_depth1 else 0
        if wanted > self._depth:
            self._set(wanted, loss)
            self._below = 0
            return self._depth
        floor = t.off_depth2 if self._depth == 2 else t.off_depth1
        if self._depth > 0 and loss < floor:
            self._below += 1
            if self._below >= self._hold:
                lower = 1 if self._depth == 2 and loss >= t.off_depth1 else 0
                self._set(lower, loss)
                self._below = 0
        else:
            self._below = 0
        return self._depth

    def codec_settings(self, loss: float) -> CodecSettings:
        """Encoder settings that go with the current depth at measured ``loss``.

        Without RED, in-band FEC is on and the encoder expects the measured loss.
        With RED, in-band FEC is switched off: the FEC data for frame ``n`` travels
        in packet ``n+1``, which already carries a full-quality copy of frame ``n``,
        so FEC could never recover anything RED does not, and its bits are better
        spent on the primary encoding. The encoder is then told the *residual* loss
        (frames whose packet and all packets carrying copies were lost,
        ``loss ** (depth + 1)`` for independent losses, at least 1 %), which keeps
        its loss-robust mode and the wideband cap.
        """
        loss = 0.0 if loss != loss else min(max(loss, 0.0), 1.0)
        measured = min(100, math.ceil(round(loss * 100, 6)))
        if self._depth == 0:
            return CodecSettings(0, True, measured)
        residual = loss ** (self._depth + 1)
        expected = max(1, math.ceil(round(residual * 100, 6))) if loss > 0 else 0
        return CodecSettings(self._depth, False, min(expected, measured))

    def _set(self, depth: int, loss: float) -> None:
        if depth != self._depth:
            log.info("RED depth %d -> %d at %.1f %% loss", self._depth, depth, 100 * loss)
        self._depth = depth
