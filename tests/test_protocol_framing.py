"""Tests for app.protocol.framing (length-prefixed frames, sans-IO decoder)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.protocol import (
    HEADER_SIZE,
    MAX_FRAME_SIZE,
    FrameDecoder,
    FrameTooLarge,
    MalformedMessage,
    Ping,
    PresenceEntry,
    PresenceList,
    ProtocolError,
    decode_message,
    encode_message,
    frame_message,
    frame_payload,
)

FP = "0123:4567:89ab:cdef:0123:4567:89ab:cdef"


def _header(size: int) -> bytes:
    return size.to_bytes(HEADER_SIZE, "big")


def test_constants() -> None:
    assert MAX_FRAME_SIZE == 65536
    assert HEADER_SIZE == 4


def test_frame_message_layout() -> None:
    msg = Ping(nonce=42)
    payload = encode_message(msg)
    framed = frame_message(msg)
    assert framed == len(payload).to_bytes(4, "big") + payload
    assert framed[:4] == b"\x00\x00\x00\x1a"  # {"type":"Ping","nonce":42} is 26 bytes


def test_frame_payload_limit() -> None:
    assert frame_payload(b"x" * MAX_FRAME_SIZE)[:4] == _header(MAX_FRAME_SIZE)
    with pytest.raises(FrameTooLarge) as info:
        frame_payload(b"x" * (MAX_FRAME_SIZE + 1))
    assert info.value.size == MAX_FRAME_SIZE + 1
    assert info.value.limit == MAX_FRAME_SIZE
    assert info.value.code == "FrameTooLarge"
    assert isinstance(info.value, ProtocolError)


def test_frame_message_too_large() -> None:
    big = PresenceList(users=[PresenceEntry(fingerprint=FP, alias="a" * 256)] * 300)  # encoding checks no bounds
    with pytest.raises(FrameTooLarge):
        frame_message(big)


def test_byte_by_byte() -> None:
    msgs = [Ping(nonce=n) for n in (0, 1, 2**63 - 1)]
    stream = b"".join(frame_message(m) for m in msgs)
    decoder = FrameDecoder()
    payloads: list[bytes] = []
    for i in range(len(stream)):
        payloads += decoder.feed(stream[i : i + 1])
    assert [decode_message(p) for p in payloads] == msgs
    assert decoder.buffered == 0


def test_many_frames_in_one_chunk() -> None:
    payloads = [encode_message(Ping(nonce=n)) for n in range(500)]
    decoder = FrameDecoder()
    assert decoder.feed(b"".join(frame_payload(p) for p in payloads)) == payloads
    assert decoder.buffered == 0


def test_partial_frames_are_kept() -> None:
    decoder = FrameDecoder()
    stream = frame_payload(b"abc") + frame_payload(b"defgh")
    assert decoder.feed(stream[:9]) == [b"abc"]
    assert decoder.buffered == 2
    assert decoder.feed(b"") == []
    assert decoder.feed(stream[9:]) == [b"defgh"]
    assert decoder.buffered == 0


def test_max_size_frame_fed_in_small_chunks() -> None:
    payload = bytes(range(256)) * (MAX_FRAME_SIZE // 256)
    stream = frame_payload(payload)
    decoder = FrameDecoder()
    out: list[bytes] = []
    for i in range(0, len(stream), 7):
        out += decoder.feed(stream[i : i + 7])
    assert out == [payload]


def test_zero_length_frame() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(_header(0) + frame_payload(b"x")) == [b"", b"x"]
    with pytest.raises(MalformedMessage):
        decode_message(b"")


def test_oversize_header_raises_immediately_and_poisons() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(frame_payload(b"ok")[:3]) == []
    assert decoder.feed(frame_payload(b"ok")[3:]) == [b"ok"]
    assert decoder.feed(_header(MAX_FRAME_SIZE + 1)[:3]) == []  # header not complete yet
    with pytest.raises(FrameTooLarge) as info:
        decoder.feed(_header(MAX_FRAME_SIZE + 1)[3:])  # no body needed to fail
    assert info.value.size == MAX_FRAME_SIZE + 1
    assert decoder.poisoned
    assert decoder.buffered == 0
    with pytest.raises(FrameTooLarge):
        decoder.feed(frame_payload(b"valid"))
    with pytest.raises(FrameTooLarge):
        decoder.feed(b"")


def test_oversize_header_after_frames_in_same_chunk() -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameTooLarge):
        decoder.feed(frame_payload(b"a") + b"\xff\xff\xff\xff")


def test_header_at_limit_is_accepted() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(_header(MAX_FRAME_SIZE) + b"x" * 10) == []
    assert not decoder.poisoned


def test_custom_limit() -> None:
    decoder = FrameDecoder(max_frame_size=8)
    assert decoder.feed(frame_payload(b"12345678")) == [b"12345678"]
    with pytest.raises(FrameTooLarge):
        decoder.feed(_header(9))


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=20),
    data=st.data(),
)
def test_random_chunk_splits(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(frame_payload(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=30)))
    bounds = [0, *cuts, len(stream)]
    decoder = FrameDecoder()
    out: list[bytes] = []
    for start, end in itertools.pairwise(bounds):
        out += decoder.feed(stream[start:end])
    assert out == payloads
    assert decoder.buffered == 0


@given(data=st.binary(max_size=64), chunk=st.integers(1, 8))
def test_random_bytes_only_raise_frame_too_large(data: bytes, chunk: int) -> None:
    decoder = FrameDecoder()
    try:
        for i in range(0, len(data), chunk):
            for payload in decoder.feed(data[i : i + chunk]):
                assert len(payload) <= MAX_FRAME_SIZE
    except FrameTooLarge:
        assert decoder.poisoned
