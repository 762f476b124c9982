"""The encrypted media datagram.

Layout (big-endian)::

    version    uint8    1
    flags      uint8    bit 0: payload is a RED container, bit 1: DTX / silence,
                        bits 2-7: reserved (sent as 0, carried through on receive)
    seq        uint32   packet sequence number, +1 per datagram, wraps
    timestamp  uint32   48 kHz sample clock of the (primary) frame, wraps
    ciphertext          ChaCha20-Poly1305(payload), associated data = the 10 header bytes

Nonce: a 4-byte constant prefix followed by the 8-byte big-endian *extended*
sequence number (``rollover_count << 32 | seq``), so the nonce never repeats even
after the 32-bit field wraps. Each call direction has its own key (see
:mod:`app.media.media_keys`), so both directions may use the same prefix.

The sender (:class:`MediaSealer`) refuses a sequence number that is not ahead of
the previous one, which would reuse a nonce. The receiver (:class:`MediaOpener`)
reconstructs the extended sequence number like SRTP, authenticates, then checks a
1024-packet sliding anti-replay window (duplicates and too-old packets are dropped)
and counts every dropped datagram by reason.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from app.media import seqnum
from app.media.errors import MediaPacketError

__all__ = [
    "FLAG_DTX",
    "FLAG_RED",
    "HEADER_LEN",
    "MEDIA_VERSION",
    "MIN_DATAGRAM_LEN",
    "REPLAY_WINDOW",
    "MediaOpener",
    "MediaPacket",
    "MediaSealer",
    "OpenerStats",
]

log = logging.getLogger(__name__)

MEDIA_VERSION = 1
FLAG_RED = 0x01
FLAG_DTX = 0x02
_HEADER = struct.Struct(">BBII")
HEADER_LEN = _HEADER.size  # 10
TAG_LEN = 16
MIN_DATAGRAM_LEN = HEADER_LEN + TAG_LEN
REPLAY_WINDOW = 1024
KEY_LEN = 32
NONCE_PREFIX = b"WZPm"
_SEQ_MOD = seqnum.MOD
_MAX_EXTENDED = (1 << 64) - 1


def _nonce(prefix: bytes, extended_seq: int) -> bytes:
    return prefix + extended_seq.to_bytes(8, "big")


def _check_key(key: bytes) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError(f"key must be bytes, not {type(key).__name__}")
    data = bytes(key)
    if len(data) != KEY_LEN:
        raise ValueError(f"a media key is {KEY_LEN} bytes, got {len(data)}")
    return data


def _check_prefix(prefix: bytes) -> bytes:
    data = bytes(prefix)
    if len(data) != 4:
        raise ValueError("the nonce prefix is 4 bytes")
    return data


@dataclass(frozen=True, slots=True)
class MediaPacket:
    """An authenticated, decrypted media datagram."""

    seq: int
    timestamp: int
    flags: int
    payload: bytes
    extended_seq: int = field(default=0, compare=False)

    @property
    def is_red(self) -> bool:
        return bool(self.flags & FLAG_RED)

    @property
    def is_dtx(self) -> bool:
        return bool(self.flags & FLAG_DTX)


class MediaSealer:
    """Encrypts outgoing media payloads for one direction of one call."""

    def __init__(self, key: bytes, nonce_prefix: bytes = NONCE_PREFIX) -> None:
        self._aead = ChaCha20Poly1305(_check_key(key))
        self._prefix = _check_prefix(nonce_prefix)
        self._last: int | None = None  # extended seq of the last sealed datagram

    def seal(self, flags: int, seq: int, timestamp: int, payload: bytes) -> bytes:
        """Return the datagram for ``payload``.

        ``seq`` must move forward (by less than 2**31, wrapping modulo 2**32) from
        the previous call; ValueError otherwise, because it would reuse a nonce.
        """
        for name, value, limit in (
            ("flags", flags, 0xFF),
            ("seq", seq, 0xFFFFFFFF),
            ("timestamp", timestamp, 0xFFFFFFFF),
        ):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int")
            if not 0 <= value <= limit:
                raise ValueError(f"{name} out of range: {value}")
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
        if self._last is None:
            extended = seq
        else:
            extended = seqnum.unwrap(seq, self._last)
            if extended <= self._last:
                raise ValueError(
                    f"sequence number {seq} does not advance (nonce reuse); last was {self._last % _SEQ_MOD}"
                )
        if extended > _MAX_EXTENDED:
            raise ValueError("sequence space exhausted; rekey the call")
        header = _HEADER.pack(MEDIA_VERSION, flags, seq, timestamp)
        ciphertext = self._aead.encrypt(_nonce(self._prefix, extended), bytes(payload), header)
        self._last = extended
        return header + ciphertext


@dataclass(slots=True)
class OpenerStats:
    """Counters of datagrams dropped by :class:`MediaOpener`, by reason."""

    accepted: int = 0
    short: int = 0
    bad_version: int = 0
    auth_failed: int = 0
    replayed: int = 0
    too_old: int = 0

    @property
    def dropped(self) -> int:
        return self.short + self.bad_version + self.auth_failed + self.replayed + self.too_old

    def as_dict(self) -> dict[str, int]:
        return {
            "accepted": self.accepted,
            "short": self.short,
            "bad_version": self.bad_version,
            "auth_failed": self.auth_failed,
            "replayed": self.replayed,
            "too_old": self.too_old,
        }


class MediaOpener:
    """Authenticates and decrypts incoming media datagrams for one direction.

    :meth:`open` raises :class:`MediaPacketError` (whose ``reason`` is one of
    ``short``, ``bad_version``, ``auth_failed``, ``replayed``, ``too_old``) and never
    anything else, whatever bytes it is given.
    """

    def __init__(self, key: bytes, nonce_prefix: bytes = NONCE_PREFIX, window: int = REPLAY_WINDOW) -> None:
        if window < 1:
            raise ValueError("the replay window must hold at least one packet")
        self._aead = ChaCha20Poly1305(_check_key(key))
        self._prefix = _check_prefix(nonce_prefix)
        self._window = window
        self._highest: int | None = None  # highest authenticated extended seq
        self._bitmap = 0  # bit i set: extended seq (highest - i) was received
        self.stats = OpenerStats()

    @property
    def highest_seq(self) -> int | None:
        """The highest authenticated extended sequence number so far."""
        return self._highest

    def _drop(self, reason: str, message: str) -> MediaPacketError:
        setattr(self.stats, reason, getattr(self.stats, reason) + 1)
        log.debug("media datagram dropped: %s", message)
        return MediaPacketError(message, reason)

    def open(self, datagram: bytes) -> MediaPacket:
        """Verify and decrypt one datagram; see the class docstring for errors."""
        if not isinstance(datagram, (bytes, bytearray, memoryview)):
            raise self._drop("short", "datagram is not bytes")
        data = bytes(datagram)
        if len(data) < MIN_DATAGRAM_LEN:
            raise self._drop("short", f"datagram of {len(data)} bytes is too short")
        version, flags, seq, timestamp = _HEADER.unpack_from(data)
        if version != MEDIA_VERSION:
            raise self._drop("bad_version", f"unsupported media version {version}")

        if self._highest is None:
            # The sender's first datagram has rollover count 0, but the first one we
            # see may come after a wrap if the stream started near 2**32.
            candidates = [seq, seq + _SEQ_MOD]
        else:
            extended = seqnum.unwrap(seq, self._highest)
            if extended < 0 or extended > _MAX_EXTENDED:
                raise self._drop("too_old", f"sequence {seq} is outside the sequence space")
            if extended <= self._highest - self._window:
                raise self._drop("too_old", f"sequence {seq} is older than the replay window")
            if extended <= self._highest and (self._bitmap >> (self._highest - extended)) & 1:
                raise self._drop("replayed", f"sequence {seq} was already received")
            candidates = [extended]

        header, ciphertext = data[:HEADER_LEN], data[HEADER_LEN:]
        for extended in candidates:
            try:
                payload = self._aead.decrypt(_nonce(self._prefix, extended), ciphertext, header)
            except InvalidTag:
                continue
            self._accept(extended)
            self.stats.accepted += 1
            return MediaPacket(seq, timestamp, flags, payload, extended)
        raise self._drop("auth_failed", f"datagram {seq} failed authentication")

    def _accept(self, extended: int) -> None:
        if self._highest is None:
            self._highest, self._bitmap = extended, 1
        elif extended > self._highest:
            shift = extended - self._highest
            mask = (1 << self._window) - 1
            self._bitmap = ((self._bitmap << shift) | 1) & mask if shift < self._window else 1
            self._highest = extended
        else:
            self._bitmap |= 1 << (self._highest - extended)
