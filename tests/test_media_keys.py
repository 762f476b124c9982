"""Per-call media keys: transcript, signatures and the X25519/HKDF key schedule."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media.errors import MediaKeyError
from app.media.media_keys import (
    EphemeralKey,
    MediaKeys,
    derive_media_keys,
    key_transcript,
    sign_ephemeral,
    verify_ephemeral,
)
from app.media.packet import MediaOpener, MediaSealer

CALL = "call-0001"
CALLER_FP = "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"
CALLEE_FP = "aaaa:bbbb:cccc:dddd:eeee:ffff:0000:1111"


def identity() -> tuple[Ed25519PrivateKey, bytes]:
    private = Ed25519PrivateKey.generate()
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def both_sides() -> tuple[MediaKeys, MediaKeys, EphemeralKey, EphemeralKey]:
    caller, callee = EphemeralKey.generate(), EphemeralKey.generate()
    a = derive_media_keys(caller, callee.public_bytes, CALL, CALLER_FP, CALLEE_FP, True)
    b = derive_media_keys(callee, caller.public_bytes, CALL, CALLER_FP, CALLEE_FP, False)
    return a, b, caller, callee


def test_ephemeral_key_basics() -> None:
    key = EphemeralKey.generate()
    assert len(key.public_bytes) == 32
    assert key.public_bytes != EphemeralKey.generate().public_bytes
    assert key.public_bytes.hex() in repr(key)


def test_each_sides_send_key_is_the_others_recv_key() -> None:
    a, b, _, _ = both_sides()
    assert a.send_key == b.recv_key
    assert a.recv_key == b.send_key
    assert a.send_key != a.recv_key
    assert len(a.send_key) == len(a.recv_key) == 32
    assert a.send_key.hex() not in repr(a)


def test_keys_work_with_the_media_packet_layer() -> None:
    a, b, _, _ = both_sides()
    datagram = MediaSealer(a.send_key).seal(0, 1, 0, b"hello")
    assert MediaOpener(b.recv_key).open(datagram).payload == b"hello"


@pytest.mark.parametrize("field", ["call", "caller_fp", "callee_fp"])
def test_keys_are_bound_to_call_and_fingerprints(field: str) -> None:
    caller, callee = EphemeralKey.generate(), EphemeralKey.generate()
    args = {"call": CALL, "caller_fp": CALLER_FP, "callee_fp": CALLEE_FP}
    a = derive_media_keys(
        caller, callee.public_bytes, args["call"], args["caller_fp"], args["callee_fp"], True
    )
    args[field] = args[field] + "x"
    b = derive_media_keys(
        callee, caller.public_bytes, args["call"], args["caller_fp"], args["callee_fp"], False
    )
    assert a.send_key != b.recv_key


def test_both_sides_claiming_the_same_role_do_not_agree() -> None:
    caller, callee = EphemeralKey.generate(), EphemeralKey.generate()
    a = derive_media_keys(caller, callee.public_bytes, CALL, CALLER_FP, CALLEE_FP, True)
    b = derive_media_keys(callee, caller.public_bytes, CALL, CALLER_FP, CALLEE_FP, True)
    assert a.send_key != b.recv_key


def test_fresh_ephemerals_give_fresh_keys() -> None:
    assert both_sides()[0].send_key != both_sides()[0].send_key


@pytest.mark.parametrize(
    "bad",
    [
        bytes(32),  # all-zero point: all-zero shared secret
        (1).to_bytes(32, "little"),  # low-order point
        bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    ],
)
def test_low_order_peer_keys_are_rejected(bad: bytes) -> None:
    with pytest.raises(MediaKeyError):
        derive_media_keys(EphemeralKey.generate(), bad, CALL, CALLER_FP, CALLEE_FP, True)


def test_malformed_peer_keys_are_rejected() -> None:
    own = EphemeralKey.generate()
    with pytest.raises(ValueError):
        derive_media_keys(own, b"short", CALL, CALLER_FP, CALLEE_FP, True)
    with pytest.raises(MediaKeyError):  # reflection of our own key
        derive_media_keys(own, own.public_bytes, CALL, CALLER_FP, CALLEE_FP, True)


def test_transcript_is_domain_separated_and_unambiguous() -> None:
    pub = EphemeralKey.generate().public_bytes
    base = key_transcript(CALL, CALLER_FP, CALLEE_FP, "caller", pub)
    assert base.startswith(b"wzp-media-ephemeral-v1\x00")
    assert key_transcript(CALL, CALLER_FP, CALLEE_FP, "callee", pub) != base
    # Moving bytes between fields changes the transcript (length prefixes).
    assert key_transcript("ab", "c", CALLEE_FP, "caller", pub) != key_transcript(
        "a", "bc", CALLEE_FP, "caller", pub
    )
    assert key_transcript(CALL, CALLEE_FP, CALLER_FP, "caller", pub) != base
    with pytest.raises(ValueError):
        key_transcript(CALL, CALLER_FP, CALLEE_FP, "observer", pub)
    with pytest.raises(ValueError):
        key_transcript(CALL, CALLER_FP, CALLEE_FP, "caller", pub[:31])
    with pytest.raises(ValueError):
        key_transcript("", CALLER_FP, CALLEE_FP, "caller", pub)


@settings(max_examples=100, deadline=None)
@given(
    st.tuples(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8)),
    st.tuples(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8)),
)
def test_transcripts_of_different_inputs_differ(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    pub = bytes(range(32))
    ta = key_transcript(a[0], a[1], CALLEE_FP, "caller", pub)
    tb = key_transcript(b[0], b[1], CALLEE_FP, "caller", pub)
    assert (ta == tb) == (a == b)


def test_sign_and_verify_ephemeral() -> None:
    private, public = identity()
    eph = EphemeralKey.generate()
    sig = sign_ephemeral(private.sign, CALL, CALLER_FP, CALLEE_FP, "caller", eph.public_bytes)
    assert len(sig) == 64
    assert verify_ephemeral(public, sig, CALL, CALLER_FP, CALLEE_FP, "caller", eph.public_bytes)
    # Any change of what was signed fails.
    other = EphemeralKey.generate().public_bytes
    assert not verify_ephemeral(public, sig, CALL, CALLER_FP, CALLEE_FP, "caller", other)
    assert not verify_ephemeral(public, sig, CALL, CALLER_FP, CALLEE_FP, "callee", eph.public_bytes)
    assert not verify_ephemeral(public, sig, "call-2", CALLER_FP, CALLEE_FP, "caller",
                                eph.public_bytes)
    assert not verify_ephemeral(identity()[1], sig, CALL, CALLER_FP, CALLEE_FP, "caller",
                                eph.public_bytes)
    tampered = bytes([sig[0] ^ 1]) + sig[1:]
    assert not verify_ephemeral(public, tampered, CALL, CALLER_FP, CALLEE_FP, "caller",
                                eph.public_bytes)


@pytest.mark.parametrize(
    "args",
    [
        (b"short", bytes(64), CALL, CALLER_FP, CALLEE_FP, "caller", bytes(32)),
        (bytes(32), b"short", CALL, CALLER_FP, CALLEE_FP, "caller", bytes(32)),
        (bytes(32), bytes(64), CALL, CALLER_FP, CALLEE_FP, "nobody", bytes(32)),
        (bytes(32), bytes(64), CALL, CALLER_FP, CALLEE_FP, "caller", b"x"),
        (None, None, None, None, None, None, None),
        ("str", "str", 1, 2, 3, 4, 5),
        (bytes(32), bytes(64), "", "", "", "", b""),
    ],
)
def test_verify_never_raises_on_garbage(args: tuple[object, ...]) -> None:
    assert verify_ephemeral(*args) is False  # type: ignore[arg-type]
