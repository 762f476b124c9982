"""The long-term identity: a 32-byte seed and the Ed25519 signing key derived from it.

The seed is the only secret that is stored. The signing key is derived with
HKDF-SHA256 so that the seed can later feed other keys (with other ``info``
strings) without ever reusing key material across purposes.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.identity.alias import alias_from_seed
from app.identity.fingerprint import fingerprint_of

__all__ = [
    "PUBLIC_KEY_LEN",
    "SEED_LEN",
    "SIGNATURE_LEN",
    "Identity",
    "verify_signature",
]

log = logging.getLogger(__name__)

SEED_LEN = 32
PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64

_BYTES_LIKE = (bytes, bytearray, memoryview)
_HKDF_SALT = b"wzp-identity-v1"
_HKDF_INFO_SIGNING = b"ed25519-signing-key"


# Public keys of small order (the 8-torsion of Ed25519), by y coordinate modulo p.
# OpenSSL accepts them, and with such a key signatures like all-zero bytes verify
# for ANY message, so a peer could present a key that "signs" everything. We reject
# them, along with non-canonical encodings (y >= p). Same list as libsodium's.
_P = 2**255 - 19
_Y_ORDER_8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset({0, 1, _P - 1, _Y_ORDER_8, _P - _Y_ORDER_8})


def _is_unsafe_public_key(key: bytes) -> bool:
    y = int.from_bytes(key, "little") & ((1 << 255) - 1)  # top bit is the sign of x
    return y >= _P or y in _SMALL_ORDER_Y


def _derive_signing_key(seed: bytes) -> Ed25519PrivateKey:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO_SIGNING)
    return Ed25519PrivateKey.from_private_bytes(hkdf.derive(seed))


class Identity:
    """An immutable identity built from a 32-byte seed.

    ``repr()`` never shows the seed. Two identities are equal when their seeds are.
    """

    __slots__ = ("_alias", "_fingerprint", "_private_key", "_public_key", "_seed")

    _seed: bytes
    _private_key: Ed25519PrivateKey
    _public_key: bytes
    _fingerprint: str
    _alias: str

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, _BYTES_LIKE):
            raise TypeError(f"seed must be bytes, not {type(seed).__name__}")
        seed = bytes(seed)
        if len(seed) != SEED_LEN:
            raise ValueError(f"an identity seed is {SEED_LEN} bytes, got {len(seed)}")
        private_key = _derive_signing_key(seed)
        public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        set_ = object.__setattr__
        set_(self, "_seed", seed)
        set_(self, "_private_key", private_key)
        set_(self, "_public_key", public_key)
        set_(self, "_fingerprint", fingerprint_of(public_key))
        set_(self, "_alias", alias_from_seed(seed))

    @classmethod
    def generate(cls) -> Identity:
        """Create a brand-new identity from a fresh random seed."""
        return cls(secrets.token_bytes(SEED_LEN))

    @classmethod
    def from_seed(cls, seed: bytes) -> Identity:
        """Rebuild an identity from its seed; ValueError unless it is exactly 32 bytes."""
        return cls(seed)

    @property
    def seed(self) -> bytes:
        """The 32-byte secret seed. Treat as a private key: never log or send it."""
        return self._seed

    @property
    def public_key(self) -> bytes:
        """The 32-byte raw Ed25519 public key."""
        return self._public_key

    @property
    def fingerprint(self) -> str:
        """The canonical fingerprint of :attr:`public_key`."""
        return self._fingerprint

    @property
    def alias(self) -> str:
        """A friendly two-word label; not a security property."""
        return self._alias

    @property
    def signing_key(self) -> Ed25519PrivateKey:
        """The Ed25519 private key (for a TLS certificate made with this identity)."""
        return self._private_key

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        return self._private_key.sign(bytes(data))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return hmac.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash(self._public_key)

    def __repr__(self) -> str:
        return f"Identity(fingerprint={self._fingerprint!r}, alias={self._alias!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Lets copy/deepcopy work (the derived key object itself is not copyable).
        return (type(self), (self._seed,))


def verify_signature(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Return True only if ``signature`` is a valid Ed25519 signature of ``data``.

    Never raises: wrong types, wrong lengths, an invalid or small-order public key
    or a bad signature all give False.
    """
    try:
        if not all(isinstance(arg, _BYTES_LIKE) for arg in (public_key, signature, data)):
            return False
        key_bytes, sig_bytes = bytes(public_key), bytes(signature)
        if len(key_bytes) != PUBLIC_KEY_LEN or len(sig_bytes) != SIGNATURE_LEN:
            return False
        if _is_unsafe_public_key(key_bytes):
            return False
        Ed25519PublicKey.from_public_bytes(key_bytes).verify(sig_bytes, bytes(data))
    except InvalidSignature:
        return False
    except Exception:  # bad input of any kind must not escape to the caller
        log.debug("signature verification rejected malformed input", exc_info=True)
        return False
    return True
