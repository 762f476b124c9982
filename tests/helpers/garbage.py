"""Hostile signal-stream input: seeded random frames of every malformed kind."""

from __future__ import annotations

import json
import random
import secrets

from app.protocol import messages as m
from app.protocol.codec import encode_message
from app.protocol.framing import MAX_FRAME_SIZE


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def _truncated_message(rng: random.Random) -> bytes:
    msg = rng.choice(
        [
            m.Register(
                public_key=rng.randbytes(32),
                alias="x" * rng.randint(0, 40),
                nonce=rng.randbytes(32),
                signature=rng.randbytes(64),
            ),
            m.DirectCallOffer(
                call_id=secrets.token_hex(16),
                caller_fingerprint="0000:" * 7 + "0000",
                target_fingerprint="ffff:" * 7 + "ffff",
                ephemeral_key=rng.randbytes(32),
                key_signature=rng.randbytes(64),
            ),
            m.Reflect(request_id=rng.randint(0, 2**40)),
        ]
    )
    data = encode_message(msg)
    return data[: rng.randint(1, len(data) - 1)]


def garbage_payload(rng: random.Random) -> bytes:
    """One payload that must not decode into a valid, acceptable request."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randint(0, 300))
    if kind == 1:
        return json.dumps({"type": f"NoSuchType{rng.randint(0, 10**6)}", "v": rng.random()}).encode()
    if kind == 2:
        return _truncated_message(rng)
    if kind == 3:  # a known type with fields that fail validation
        return json.dumps({"type": "DirectCallOffer", "call_id": "not-hex", "caller_fingerprint": 7}).encode()
    if kind == 4:  # valid requests an unregistered connection may not make
        return encode_message(rng.choice([m.PresenceQuery(), m.Hangup(call_id=secrets.token_hex(16))]))
    if kind == 5:  # deep nesting
        depth = rng.randint(100, 2000)
        return b"[" * depth + b"]" * depth
    if kind == 6:  # not an object / no type / wrong type of type
        return rng.choice([b"[]", b"null", b'"Ping"', b"{}", b'{"type": 5}', b'{"type": null}', b"\xff\xfe"])
    return json.dumps({"type": "Ping", "nonce": -rng.randint(1, 10)}).encode()  # out of range


def garbage_batch(rng: random.Random, count: int, *, oversize_tail: bool = False) -> tuple[bytes, int]:
    """`count` framed garbage payloads, then (always if `oversize_tail`, else sometimes) an oversize
    length header or unframed noise that reads as one.

    Returns the bytes and the number of frames in them (oversize/unframed tails count as one).
    """
    frames = [frame(garbage_payload(rng)) for _ in range(count)]
    tail = rng.randrange(2) if oversize_tail else rng.randrange(4)
    if tail == 0:  # a length header above the limit (the body never comes)
        frames.append(rng.randint(MAX_FRAME_SIZE + 1, 2**32 - 1).to_bytes(4, "big"))
    elif tail == 1:  # unframed noise: its first byte is non-zero, so it reads as an oversize header
        frames.append(bytes([rng.randint(1, 255)]) + rng.randbytes(rng.randint(3, 500)))
    return b"".join(frames), len(frames)
