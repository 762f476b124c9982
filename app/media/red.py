"""RED-style audio redundancy (in the spirit of RFC 2198 / WebRTC's audio RED).

Each media payload can carry, besides the current ("primary") Opus packet, verbatim
copies of up to two *previous* Opus packets. A receiver that lost packet ``n`` but
gets ``n+1`` (or ``n+2``) decodes the copy at full quality, which in-band FEC (a
low-bitrate re-encoding) cannot match. The price is bandwidth, so
:class:`app.media.loss.RedundancyPolicy` switches it on only when the measured loss calls for it.

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
import struct
from collections import deque

from app.media import seqnum
from app.media.errors import MediaPacketError

__all__ = [
    "MAX_BLOCK_BYTES",
    "MAX_RED_DEPTH",
    "RedPacketizer",
    "expand_red",
    "pack_red",
    "unpack_red",
]

log = logging.getLogger(__name__)

MAX_RED_DEPTH = 2
MAX_BLOCK_BYTES = 1275  # one Opus frame at most
MAX_OFFSET = 255
_BLOCK_HEADER = struct.Struct(">BH")


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
            seqnum.add(seq, -offset),
            seqnum.add(timestamp, -offset * frame_samples),
            payload,
            True,
        )
        for offset, payload in blocks
    ]
    out.append((seqnum.wrap(seq), seqnum.wrap(timestamp), primary, False))
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
            offset = seqnum.wrap(seq - prev_seq)
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
        self._history.append((seqnum.wrap(seq), bytes(primary)))

    def reset(self) -> None:
        self._history.clear()
