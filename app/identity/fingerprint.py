"""Human-comparable fingerprints of Ed25519 public keys.

A fingerprint is the first 16 bytes of SHA-256(public key), written as 8
colon-separated groups of 4 lowercase hex digits::

    1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d

:func:`parse_fingerprint` is the single entry point for fingerprints typed or
pasted by a person; it is forgiving about case, surrounding whitespace and the
separator used, and precise about what is wrong otherwise.
"""

from __future__ import annotations

import hashlib
import re

__all__ = [
    "FINGERPRINT_BYTES",
    "FingerprintError",
    "fingerprint_of",
    "is_fingerprint",
    "parse_fingerprint",
]

FINGERPRINT_BYTES = 16
_HEX_DIGITS = FINGERPRINT_BYTES * 2
_GROUP_LEN = 4
_GROUPS = _HEX_DIGITS // _GROUP_LEN
_PUBLIC_KEY_LEN = 32

_HEX = frozenset("0123456789abcdefABCDEF")
# Between groups a person may type or paste colons, dashes or any whitespace
# (including tabs, newlines and no-break spaces), alone or in runs like " : ".
_SEPARATOR_RUN = re.compile(r"[\s:\-]+")


class FingerprintError(ValueError):
    """Raised when text is not a valid fingerprint; the message says why, for people."""


def fingerprint_of(public_key: bytes) -> str:
    """Return the canonical fingerprint of a 32-byte raw Ed25519 public key."""
    key = bytes(public_key)
    if len(key) != _PUBLIC_KEY_LEN:
        raise ValueError(f"a public key is {_PUBLIC_KEY_LEN} bytes, got {len(key)}")
    digest = hashlib.sha256(key).digest()[:FINGERPRINT_BYTES].hex()
    return ":".join(digest[i : i + _GROUP_LEN] for i in range(0, _HEX_DIGITS, _GROUP_LEN))


def _is_separator(char: str) -> bool:
    return char in ":-" or char.isspace()


def parse_fingerprint(text: str) -> str:
    """Return the canonical form of a fingerprint typed or pasted by a person.

    Accepted: any letter case, surrounding whitespace, and either no separators
    at all (32 hex digits) or 8 groups of 4 hex digits separated by colons,
    dashes or whitespace. Anything else raises :class:`FingerprintError`.
    """
    if not isinstance(text, str):
        raise FingerprintError(f"a fingerprint must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise FingerprintError("the fingerprint is empty")

    for position, char in enumerate(stripped, start=1):
        if char not in _HEX and not _is_separator(char):
            raise FingerprintError(
                f"{char!r} (character {position}) is not a hex digit; a fingerprint uses only 0-9 and a-f"
            )

    groups = _SEPARATOR_RUN.split(stripped)
    digits = "".join(groups)
    if len(digits) != _HEX_DIGITS:
        raise FingerprintError(f"a fingerprint has {_HEX_DIGITS} hex digits, this has {len(digits)}")
    if len(groups) > 1 and (len(groups) != _GROUPS or any(len(group) != _GROUP_LEN for group in groups)):
        sizes = ", ".join(str(len(group)) for group in groups)
        raise FingerprintError(
            f"separators must split a fingerprint into {_GROUPS} groups of {_GROUP_LEN} "
            f"hex digits, this is split into groups of {sizes}"
        )

    lowered = digits.lower()
    return ":".join(lowered[i : i + _GROUP_LEN] for i in range(0, _HEX_DIGITS, _GROUP_LEN))


def is_fingerprint(text: str) -> bool:
    """Return True if :func:`parse_fingerprint` would accept ``text``."""
    try:
        parse_fingerprint(text)
    except FingerprintError:
        return False
    return True
