"""RED containers and the sender-side packetizer (the redundancy policy: test_media_loss.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media.errors import MediaPacketError
from app.media.red import (
    MAX_BLOCK_BYTES,
    RedPacketizer,
    expand_red,
    pack_red,
    unpack_red,
)


def test_round_trip_without_and_with_redundancy() -> None:
    assert unpack_red(pack_red(b"primary", [])) == (b"primary", [])
    data = pack_red(b"P" * 60, [(1, b"one" * 20), (2, b"two" * 10)])
    primary, blocks = unpack_red(data)
    assert primary == b"P" * 60
    assert blocks == [(2, b"two" * 10), (1, b"one" * 20)]  # oldest first
    assert len(data) == 1 + 2 * 3 + 60 + 60 + 30


def test_layout_is_compact_and_documented() -> None:
    data = pack_red(b"PP", [(1, b"abc")])
    assert data == bytes([1, 1, 0, 3]) + b"abc" + b"PP"


@pytest.mark.parametrize(
    ("primary", "redundant"),
    [
        (b"", []),
        (b"x" * (MAX_BLOCK_BYTES + 1), []),
        (b"p", [(0, b"x")]),
        (b"p", [(256, b"x")]),
        (b"p", [(1, b"")]),
        (b"p", [(1, b"x"), (1, b"y")]),
        (b"p", [(1, b"x"), (2, b"y"), (3, b"z")]),
        (b"p", [(1, b"x" * (MAX_BLOCK_BYTES + 1))]),
    ],
)
def test_pack_rejects_what_unpack_would(primary: bytes, redundant: list[tuple[int, bytes]]) -> None:
    with pytest.raises(ValueError):
        pack_red(primary, redundant)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x03" + b"\x00" * 20,  # too many blocks
        b"\x01\x01\x00",  # truncated block header
        b"\x01\x01\x00\x05abc",  # block runs past the end
        b"\x01\x01\x00\x03abc",  # no primary left
        b"\x01\x00\x00\x01ap",  # offset 0
        b"\x01\x01\x00\x00p",  # zero length
        b"\x02\x01\x00\x01\x01\x00\x01abp",  # duplicate offsets
        b"\x01\x01\xff\xff" + b"x" * 10,  # absurd length
        b"\x00" + b"x" * (MAX_BLOCK_BYTES + 1),  # oversized primary
    ],
)
def test_unpack_rejects_malformed(data: bytes) -> None:
    with pytest.raises(MediaPacketError):
        unpack_red(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_unpack_random_bytes_only_raises_media_packet_error(data: bytes) -> None:
    try:
        primary, blocks = unpack_red(data)
    except MediaPacketError:
        return
    assert primary and len(blocks) <= 2
    assert pack_red(primary, blocks) == data


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=1, max_size=200),
    st.lists(st.binary(min_size=1, max_size=200), max_size=2),
)
def test_round_trip_property(primary: bytes, payloads: list[bytes]) -> None:
    redundant = [(i + 1, p) for i, p in enumerate(payloads)]
    got_primary, blocks = unpack_red(pack_red(primary, redundant))
    assert got_primary == primary
    assert sorted(blocks) == sorted(redundant)


def test_expand_red_gives_jitter_buffer_entries_with_wrap() -> None:
    data = pack_red(b"p", [(1, b"a"), (2, b"b")])
    assert expand_red(1, 960, data) == [
        ((1 << 32) - 1, (1 << 32) - 960, b"b", True),
        (0, 0, b"a", True),
        (1, 960, b"p", False),
    ]


def test_packetizer_carries_previous_packets() -> None:
    red = RedPacketizer()
    assert unpack_red(red.build(10, b"p10", depth=2)) == (b"p10", [])
    assert unpack_red(red.build(11, b"p11", depth=2)) == (b"p11", [(1, b"p10")])
    assert unpack_red(red.build(12, b"p12", depth=2)) == (b"p12", [(2, b"p10"), (1, b"p11")])
    assert unpack_red(red.build(13, b"p13", depth=1)) == (b"p13", [(1, b"p12")])
    assert unpack_red(red.build(14, b"p14", depth=0)) == (b"p14", [])
    # A gap in the sender's sequence: too-old packets are not repeated.
    assert unpack_red(red.build(20, b"p20", depth=2)) == (b"p20", [])


def test_packetizer_respects_the_size_limit() -> None:
    red = RedPacketizer(max_bytes=250)
    red.build(1, b"a" * 100, depth=2)
    red.build(2, b"b" * 100, depth=2)
    data = red.build(3, b"c" * 100, depth=2)
    assert len(data) <= 250
    assert unpack_red(data)[1] == [(1, b"b" * 100)]


def test_packetizer_wraps_sequence_numbers() -> None:
    red = RedPacketizer()
    red.build((1 << 32) - 1, b"last", depth=1)
    assert unpack_red(red.build(0, b"first", depth=1)) == (b"first", [(1, b"last")])
