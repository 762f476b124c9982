"""Encrypted media datagrams: round trip, tampering, replay window, fuzzing."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media.errors import MediaPacketError
from app.media.packet import (
    FLAG_DTX,
    FLAG_RED,
    HEADER_LEN,
    MIN_DATAGRAM_LEN,
    REPLAY_WINDOW,
    MediaOpener,
    MediaPacket,
    MediaSealer,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def pair(key: bytes = KEY) -> tuple[MediaSealer, MediaOpener]:
    return MediaSealer(key), MediaOpener(key)


def test_round_trip() -> None:
    sealer, opener = pair()
    datagram = sealer.seal(FLAG_RED, 7, 123_456, b"opus payload")
    assert len(datagram) == HEADER_LEN + len(b"opus payload") + 16
    assert datagram[:HEADER_LEN] == bytes([1, FLAG_RED]) + (7).to_bytes(4, "big") + (
        123_456
    ).to_bytes(4, "big")
    packet = opener.open(datagram)
    assert packet == MediaPacket(7, 123_456, FLAG_RED, b"opus payload")
    assert packet.is_red and not packet.is_dtx
    assert opener.stats.accepted == 1 and opener.stats.dropped == 0


def test_empty_payload_and_flags_round_trip() -> None:
    sealer, opener = pair()
    packet = opener.open(sealer.seal(FLAG_DTX, 1, 0, b""))
    assert packet.payload == b"" and packet.is_dtx


def test_payload_is_encrypted() -> None:
    sealer, _ = pair()
    payload = b"secret voice frame" * 3
    assert payload not in sealer.seal(0, 1, 0, payload)


def test_every_single_byte_tamper_is_rejected() -> None:
    sealer, _ = pair()
    datagram = sealer.seal(FLAG_RED, 1000, 960_000, b"some opus bytes here")
    for index in range(len(datagram)):
        for flip in (0x01, 0x80, 0xFF):
            tampered = bytearray(datagram)
            tampered[index] ^= flip
            opener = MediaOpener(KEY)
            with pytest.raises(MediaPacketError) as err:
                opener.open(bytes(tampered))
            expected = "bad_version" if index == 0 else "auth_failed"
            assert err.value.reason == expected
            assert opener.stats.dropped == 1


def test_truncated_and_extended_datagrams_are_rejected() -> None:
    sealer, opener = pair()
    datagram = sealer.seal(0, 1, 0, b"payload")
    for cut in range(len(datagram)):
        with pytest.raises(MediaPacketError):
            opener.open(datagram[:cut])
    with pytest.raises(MediaPacketError):
        opener.open(datagram + b"\x00")
    assert opener.open(datagram).payload == b"payload"
    assert opener.stats.short == MIN_DATAGRAM_LEN


def test_wrong_key_is_rejected() -> None:
    sealer = MediaSealer(KEY)
    opener = MediaOpener(OTHER_KEY)
    with pytest.raises(MediaPacketError) as err:
        opener.open(sealer.seal(0, 1, 0, b"x"))
    assert err.value.reason == "auth_failed"
    assert opener.stats.auth_failed == 1


def test_other_nonce_prefix_is_rejected() -> None:
    sealer = MediaSealer(KEY, nonce_prefix=b"AAAA")
    opener = MediaOpener(KEY, nonce_prefix=b"BBBB")
    with pytest.raises(MediaPacketError):
        opener.open(sealer.seal(0, 1, 0, b"x"))


def test_replay_and_duplicate_are_rejected() -> None:
    sealer, opener = pair()
    first = sealer.seal(0, 1, 0, b"a")
    second = sealer.seal(0, 2, 960, b"b")
    opener.open(first)
    opener.open(second)
    for again in (first, second, second):
        with pytest.raises(MediaPacketError) as err:
            opener.open(again)
        assert err.value.reason == "replayed"
    assert opener.stats.replayed == 3
    assert opener.stats.accepted == 2


def test_out_of_order_within_window_is_accepted_once() -> None:
    sealer, opener = pair()
    datagrams = [sealer.seal(0, seq, seq * 960, bytes([seq % 256])) for seq in range(1, 301)]
    order = list(range(300))
    order[10], order[11] = order[11], order[10]
    order.remove(50)
    order.append(50)  # 250 packets late, still inside the window
    for index in order:
        assert opener.open(datagrams[index]).seq == index + 1
    with pytest.raises(MediaPacketError):
        opener.open(datagrams[50])
    assert opener.stats.accepted == 300


def test_too_old_is_rejected() -> None:
    sealer, opener = pair()
    old = sealer.seal(0, 1, 0, b"old")
    for seq in range(2, REPLAY_WINDOW + 3):
        sealer.seal(0, seq, 0, b"")
    opener.open(sealer.seal(0, REPLAY_WINDOW + 3, 0, b"new"))
    with pytest.raises(MediaPacketError) as err:
        opener.open(old)
    assert err.value.reason == "too_old"
    assert opener.stats.too_old == 1


def test_forged_packets_do_not_move_the_replay_window() -> None:
    sealer, opener = pair()
    good = sealer.seal(0, 5, 0, b"good")
    forged = bytearray(sealer.seal(0, 100_000, 0, b"forged"))
    forged[-1] ^= 1
    with pytest.raises(MediaPacketError):
        opener.open(bytes(forged))
    assert opener.open(good).seq == 5


def test_sequence_wrap_keeps_working_and_nonces_unique() -> None:
    sealer, opener = pair()
    start = (1 << 32) - 5
    seqs = [(start + i) % (1 << 32) for i in range(10)]
    datagrams = [sealer.seal(0, seq, 0, b"frame") for seq in seqs]
    for seq, datagram in zip(seqs, datagrams, strict=True):
        assert opener.open(datagram).seq == seq
    assert opener.highest_seq == start + 9  # extended past 2**32
    assert opener.open(sealer.seal(0, 5, 0, b"next")).extended_seq == (1 << 32) + 5
    # The same 32-bit seq without the wrap (rollover 0) uses another nonce.
    unwrapped = MediaSealer(KEY).seal(0, 4, 0, b"frame")
    assert unwrapped[:HEADER_LEN] == datagrams[-1][:HEADER_LEN]
    assert unwrapped != datagrams[-1]
    with pytest.raises(MediaPacketError):
        opener.open(datagrams[-1])


def test_first_packet_seen_after_the_sender_wrapped() -> None:
    sealer, opener = pair()
    for seq in ((1 << 32) - 2, (1 << 32) - 1):
        sealer.seal(0, seq, 0, b"lost")  # never delivered
    assert opener.open(sealer.seal(0, 0, 0, b"after wrap")).payload == b"after wrap"


def test_sealer_refuses_to_reuse_a_sequence_number() -> None:
    sealer = MediaSealer(KEY)
    sealer.seal(0, 10, 0, b"x")
    for seq in (10, 9, 0):
        with pytest.raises(ValueError):
            sealer.seal(0, seq, 0, b"x")
    sealer.seal(0, 11, 0, b"x")


@pytest.mark.parametrize(
    ("flags", "seq", "ts"), [(256, 1, 0), (-1, 1, 0), (0, 1 << 32, 0), (0, 1, 1 << 32)]
)
def test_sealer_validates_header_fields(flags: int, seq: int, ts: int) -> None:
    with pytest.raises(ValueError):
        MediaSealer(KEY).seal(flags, seq, ts, b"x")


def test_bad_keys_rejected() -> None:
    with pytest.raises(ValueError):
        MediaSealer(b"short")
    with pytest.raises(ValueError):
        MediaOpener(bytes(31))
    with pytest.raises(TypeError):
        MediaOpener("k" * 32)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_ever_raise_media_packet_error(data: bytes) -> None:
    opener = MediaOpener(KEY)
    with pytest.raises(MediaPacketError):
        opener.open(data)
    assert opener.stats.dropped == 1


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=MIN_DATAGRAM_LEN, max_size=120), st.integers(0, 255))
def test_random_datagrams_with_valid_version_after_real_traffic(data: bytes, flags: int) -> None:
    sealer, opener = pair()
    for seq in range(1, 4):
        opener.open(sealer.seal(flags, seq, 0, os.urandom(8)))
    forged = b"\x01" + data[1:]
    with pytest.raises(MediaPacketError):
        opener.open(forged)
    assert opener.stats.accepted == 3
