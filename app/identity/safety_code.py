"""The safety code two people compare to verify each other: digits derived from both identities.

Both sides compute the same code from the two fingerprints (each a hash of an
Ed25519 public key), in either order. If what one person reads aloud matches
what the other sees, each holds the other's real key and nobody sits between
them. A man in the middle would need two keys of his own whose codes with
Alice and with Bob collide: 24 digits (~80 bits) put that at ~2^40 tries per
side, and each try costs `ITERATIONS` SHA-512 rounds (as in Signal's safety
numbers), about 2^52 hash operations in all.
"""

from __future__ import annotations

import hashlib

from app.identity.fingerprint import parse_fingerprint

VERSION = b"WZP safety code v1\x00"
GROUPS = 6
DIGITS = 4
ITERATIONS = 5200


def safety_code(fingerprint_a: str, fingerprint_b: str) -> str:
    """`GROUPS` groups of `DIGITS` digits, like "0412 9930 1275 5508 7731 2046"; the same for (a, b) and (b, a).

    FingerprintError for a malformed fingerprint; ValueError if both are the same identity."""
    a, b = sorted(bytes.fromhex(parse_fingerprint(f).replace(":", "")) for f in (fingerprint_a, fingerprint_b))
    if a == b:
        raise ValueError("a safety code needs two different identities")
    digest = VERSION + a + b
    for _ in range(ITERATIONS):
        digest = hashlib.sha512(digest + a + b).digest()
    modulus = 10**DIGITS
    groups = (int.from_bytes(digest[i * 5 : i * 5 + 5], "big") % modulus for i in range(GROUPS))
    return " ".join(f"{g:0{DIGITS}d}" for g in groups)
