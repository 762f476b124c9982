"""Per-call media keys: signed ephemeral X25519 exchange + HKDF-SHA256.

Each side of a call generates a fresh :class:`EphemeralKey`, signs its public key
with its long-term Ed25519 identity over :func:`key_transcript` (which binds the
call id, both fingerprints and the signer's role), and sends key + signature over
the already authenticated signalling channel. Each side verifies the peer's
signature with :func:`verify_ephemeral`, then calls :func:`derive_media_keys`.

Key schedule::

    shared = X25519(own_private, peer_public)          # all-zero result rejected
    okm    = HKDF-SHA256(ikm=shared, salt="wzp-media-v1",
                         info=transcript(call_id, caller_fp, callee_fp,
                                         caller_ephemeral, callee_ephemeral), L=64)
    caller->callee key = okm[:32],  callee->caller key = okm[32:]

so one side's ``send_key`` is the other side's ``recv_key``. Ephemeral keys give
forward secrecy: once a call ends and the ephemeral keys are dropped, recorded
media cannot be decrypted even with the identity keys.
"""

from __future__ import annotations

import hmac
import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.media.errors import MediaKeyError

__all__ = [
    "EPHEMERAL_KEY_LEN",
    "MEDIA_KEY_LEN",
    "ROLE_CALLEE",
    "ROLE_CALLER",
    "EphemeralKey",
    "MediaKeys",
    "derive_media_keys",
    "key_transcript",
    "sign_ephemeral",
    "verify_ephemeral",
]

log = logging.getLogger(__name__)

EPHEMERAL_KEY_LEN = 32
MEDIA_KEY_LEN = 32
SIGNATURE_LEN = 64
IDENTITY_KEY_LEN = 32
ROLE_CALLER = "caller"
ROLE_CALLEE = "callee"
_ROLES = (ROLE_CALLER, ROLE_CALLEE)

_TRANSCRIPT_DOMAIN = b"wzp-media-ephemeral-v1"
_KDF_DOMAIN = b"wzp-media-keys-v1"
_KDF_SALT = b"wzp-media-v1"
_MAX_FIELD = 0xFFFF
_BYTES_LIKE = (bytes, bytearray, memoryview)


def _field(value: bytes) -> bytes:
    if len(value) > _MAX_FIELD:
        raise ValueError("transcript field too long")
    return struct.pack(">H", len(value)) + value


def _text(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value.encode("utf-8")


def _public(value: bytes, what: str) -> bytes:
    if not isinstance(value, _BYTES_LIKE):
        raise TypeError(f"{what} must be bytes, not {type(value).__name__}")
    data = bytes(value)
    if len(data) != EPHEMERAL_KEY_LEN:
        raise ValueError(f"{what} is {EPHEMERAL_KEY_LEN} bytes, got {len(data)}")
    return data


class EphemeralKey:
    """A one-call X25519 key pair. ``repr()`` never shows the private key."""

    __slots__ = ("_private", "_public")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private: X25519PrivateKey | None = private_key
        self._public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> EphemeralKey:
        return cls(X25519PrivateKey.generate())

    @property
    def public_bytes(self) -> bytes:
        """The 32-byte raw X25519 public key to send to the peer."""
        return self._public

    def exchange(self, peer_public: bytes) -> bytes:
        """Raw X25519 shared secret; :class:`MediaKeyError` for a bad or low-order key."""
        if self._private is None:
            raise MediaKeyError("this call key was already used and wiped")
        try:
            peer = X25519PublicKey.from_public_bytes(_public(peer_public, "peer public key"))
            shared = self._private.exchange(peer)
        except (TypeError, ValueError) as exc:
            raise MediaKeyError(f"X25519 key agreement failed: {exc}") from exc
        if hmac.compare_digest(shared, bytes(len(shared))):
            raise MediaKeyError("X25519 produced an all-zero shared secret (low-order key)")
        return shared

    def wipe(self) -> None:
        """Drop the private key (OpenSSL clears it when freed): once the media keys are derived,
        or the call is over, nothing can re-derive them (forward secrecy)."""
        self._private = None

    @property
    def wiped(self) -> bool:
        return self._private is None

    def __repr__(self) -> str:
        return f"EphemeralKey(public={self._public.hex()})"


def key_transcript(call_id: str, caller_fp: str, callee_fp: str, role: str, ephemeral_pub: bytes) -> bytes:
    """The unambiguous byte string an ephemeral public key is signed over.

    ``domain || 0x00 || len16(call_id) || len16(caller_fp) || len16(callee_fp) ||
    len16(role) || len16(ephemeral_pub)`` with UTF-8 text and 16-bit big-endian
    length prefixes, so no two different inputs give the same bytes.
    """
    if role not in _ROLES:
        raise ValueError(f"role must be {ROLE_CALLER!r} or {ROLE_CALLEE!r}, got {role!r}")
    return b"".join(
        [
            _TRANSCRIPT_DOMAIN,
            b"\x00",
            _field(_text(call_id, "call_id")),
            _field(_text(caller_fp, "caller_fp")),
            _field(_text(callee_fp, "callee_fp")),
            _field(role.encode("ascii")),
            _field(_public(ephemeral_pub, "ephemeral public key")),
        ]
    )


def sign_ephemeral(
    sign: Callable[[bytes], bytes],
    call_id: str,
    caller_fp: str,
    callee_fp: str,
    role: str,
    ephemeral_pub: bytes,
) -> bytes:
    """Sign the transcript with ``sign`` (e.g. ``Identity.sign``); returns the signature."""
    signature = sign(key_transcript(call_id, caller_fp, callee_fp, role, ephemeral_pub))
    return bytes(signature)


def verify_ephemeral(
    identity_public_key: bytes,
    signature: bytes,
    call_id: str,
    caller_fp: str,
    callee_fp: str,
    role: str,
    ephemeral_pub: bytes,
) -> bool:
    """True only for a valid Ed25519 signature over the transcript; never raises."""
    try:
        if not isinstance(identity_public_key, _BYTES_LIKE) or not isinstance(signature, _BYTES_LIKE):
            return False
        key, sig = bytes(identity_public_key), bytes(signature)
        if len(key) != IDENTITY_KEY_LEN or len(sig) != SIGNATURE_LEN:
            return False
        transcript = key_transcript(call_id, caller_fp, callee_fp, role, ephemeral_pub)
        Ed25519PublicKey.from_public_bytes(key).verify(sig, transcript)
    except InvalidSignature:
        return False
    except Exception:  # malformed input of any kind must not escape
        log.debug("ephemeral key signature rejected malformed input", exc_info=True)
        return False
    return True


@dataclass(frozen=True, slots=True)
class MediaKeys:
    """The two directional ChaCha20-Poly1305 keys of a call (never shown by repr)."""

    send_key: bytes = field(repr=False)
    recv_key: bytes = field(repr=False)


def derive_media_keys(
    own: EphemeralKey,
    peer_pub: bytes,
    call_id: str,
    caller_fp: str,
    callee_fp: str,
    is_caller: bool,
) -> MediaKeys:
    """Derive this side's send/recv keys; :class:`MediaKeyError` on a bad peer key."""
    peer = _public(peer_pub, "peer public key")
    if hmac.compare_digest(peer, own.public_bytes):
        raise MediaKeyError("the peer's ephemeral key equals ours (reflection)")
    shared = own.exchange(peer)
    caller_pub, callee_pub = (own.public_bytes, peer) if is_caller else (peer, own.public_bytes)
    info = b"".join(
        [
            _KDF_DOMAIN,
            b"\x00",
            _field(_text(call_id, "call_id")),
            _field(_text(caller_fp, "caller_fp")),
            _field(_text(callee_fp, "callee_fp")),
            _field(caller_pub),
            _field(callee_pub),
        ]
    )
    okm = HKDF(algorithm=hashes.SHA256(), length=2 * MEDIA_KEY_LEN, salt=_KDF_SALT, info=info).derive(shared)
    caller_to_callee, callee_to_caller = okm[:MEDIA_KEY_LEN], okm[MEDIA_KEY_LEN:]
    if is_caller:
        return MediaKeys(send_key=caller_to_callee, recv_key=callee_to_caller)
    return MediaKeys(send_key=callee_to_caller, recv_key=caller_to_callee)
