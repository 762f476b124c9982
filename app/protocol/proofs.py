"""The byte strings that identity keys sign, one per purpose.

Each transcript starts with its own purpose string and length-prefixes every
field, so a signature made for one purpose (or one relay, or one call) can
never be replayed as another.
"""

from __future__ import annotations

import struct

REGISTER_PURPOSE = b"wzp/register/v1"
MEDIA_JOIN_PURPOSE = b"wzp/media-join/v1"
DIRECT_PEER_PURPOSE = b"wzp/direct-peer-check/v1"


def _transcript(purpose: bytes, *fields: bytes | str) -> bytes:
    out = bytearray(purpose)
    for field in fields:
        data = field.encode() if isinstance(field, str) else field
        out += struct.pack("!H", len(data))
        out += data
    return bytes(out)


def register_transcript(relay_fingerprint: str, nonce: bytes, public_key: bytes) -> bytes:
    """What a client signs to register: bound to this relay's key and this challenge."""
    return _transcript(REGISTER_PURPOSE, relay_fingerprint, nonce, public_key)


def media_join_transcript(relay_fingerprint: str, nonce: bytes, call_id: str, fingerprint: str) -> bytes:
    """What a call party signs to enter the relay's media room of that call (bound to this connection's challenge)."""
    return _transcript(MEDIA_JOIN_PURPOSE, relay_fingerprint, nonce, call_id, fingerprint)


def direct_peer_transcript(
    call_id: str,
    signer_fingerprint: str,
    caller_ephemeral: bytes,
    callee_ephemeral: bytes,
    acceptor_tls_key: bytes,
) -> bytes:
    """What each side signs on a direct connection to prove it is the peer the relay named.

    It names the TLS key of the accepting side as the dialer saw it, so a proof
    cannot be forwarded through a man in the middle (who shows its own TLS key).
    """
    return _transcript(
        DIRECT_PEER_PURPOSE, call_id, signer_fingerprint, caller_ephemeral, callee_ephemeral, acceptor_tls_key
    )
