"""MediaPipeline back to back: A.send -> (a lossy, reordering, duplicating "network") -> B.receive
-> B.play, with a fake clock, real Opus, real keys and sealing. No sockets, no event loop."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.media.jitter_buffer import PlayoutKind
from app.media.media_keys import EphemeralKey, MediaKeys, derive_media_keys
from app.media.packet import FLAG_RED, MediaSealer
from app.media.pipeline import FRAME_S, SILENCE, MediaPipeline
from app.media.report import FLAG_REPORT, REPORT_PREFIX
from app.media.sources import ToneSource, level_dbfs, pcm_to_float

CALL_ID = "cd" * 16


def keys_pair() -> tuple[MediaKeys, MediaKeys]:
    ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
    return (
        derive_media_keys(ea, eb.public_bytes, CALL_ID, "fp-a", "fp-b", True),
        derive_media_keys(eb, ea.public_bytes, CALL_ID, "fp-a", "fp-b", False),
    )


Network = Callable[[int, list[bytes]], list[bytes]]


def clean(_i: int, datagrams: list[bytes]) -> list[bytes]:
    return datagrams


class Call:
    """A talks a 440 Hz tone to B; one `slot` is 20 ms: A sends a frame, the network delivers
    whatever it delivers (1 ms later), B plays a frame. B's receiver report goes back every second."""

    def __init__(self, network: Network = clean) -> None:
        self.keys_a, self.keys_b = keys_pair()
        self.a, self.b = MediaPipeline(self.keys_a), MediaPipeline(self.keys_b)
        self.network = network
        self.source = ToneSource(440.0, 0.3)
        self.now = 100.0
        self.slots = 0
        self.played: list[tuple[PlayoutKind, int | None]] = []
        self.pcm: list[bytes] = []
        self.held: list[bytes] = []  # datagrams the network holds back a slot (reordering)

    def run(self, n: int) -> None:
        for _ in range(n):
            pcm = self.source.read_frame()
            assert pcm is not None
            out = self.network(self.slots, [self.a.send(pcm)])
            for datagram in out:
                self.b.receive(datagram, self.now + 0.001)
            played = self.b.play(self.now + 0.002)
            self.played.append((played.kind, played.seq))
            self.pcm.append(played.pcm)
            self.slots += 1
            self.now += FRAME_S
            if self.slots % 50 == 0:
                self.b.end_interval()
                assert self.a.receive(self.b.seal_report(), self.now)

    def decoded_seqs(self) -> list[int]:
        return [seq for kind, seq in self.played if kind is PlayoutKind.DECODE and seq is not None]


def test_clean_call_plays_every_frame_once_in_order_at_full_level() -> None:
    call = Call()
    call.run(150)
    seqs = call.decoded_seqs()
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # in order, none twice, none missing
    assert seqs[0] == 0 and len(seqs) >= 145  # playout starts within a couple of slots
    stats = call.b.jitter_stats()
    assert stats.concealed == 0 and stats.late == 0
    assert call.b.counters.received == 150 and call.b.counters.bad == 0
    assert call.b.measured_loss == 0.0 and call.a.red_depth == 0
    tail = pcm_to_float(b"".join(call.pcm[-50:]))
    assert level_dbfs(b"".join(call.pcm[-50:])) > -15.0
    spectrum = np.abs(np.fft.rfft(tail))
    assert abs(np.argmax(spectrum) * 48_000 / len(tail) - 440.0) < 5.0


def test_duplicates_by_both_paths_play_once_and_are_counted() -> None:
    call = Call(lambda i, d: d + d if i % 3 == 0 else d)  # every third datagram arrives twice
    call.run(150)
    seqs = call.decoded_seqs()
    assert len(seqs) == len(set(seqs)), "a frame was played twice"
    assert seqs == sorted(seqs)
    assert call.b.counters.duplicates == 50 and call.b.counters.bad == 0
    assert call.b.counters.received == 150
    assert call.b.jitter_stats().concealed == 0


def test_reordered_datagrams_play_in_order() -> None:
    def swap_pairs(i: int, datagrams: list[bytes]) -> list[bytes]:
        # Slots 10, 12, 14...: hold the datagram back one slot, deliver it after the next one.
        if i % 2 == 0 and i >= 10:
            call.held = datagrams
            return []
        out, call.held = datagrams + call.held, []
        return out

    call = Call(swap_pairs)
    call.b.jitter.set_min_delay(0.060)  # room for a datagram 20 ms late
    call.run(200)
    seqs = call.decoded_seqs()
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    assert call.b.counters.received == 200 and call.b.counters.bad == 0
    assert call.b.jitter_stats().concealed == 0


def test_loss_is_reported_turns_red_on_and_red_copies_repair_it() -> None:
    rng = random.Random(7)
    call = Call(lambda i, d: d if rng.random() >= 0.10 else [])
    call.run(50)  # one report interval: B measures ~10 % and tells A
    assert 0.03 <= call.b.measured_loss <= 0.2
    assert call.a.red_depth >= 1 and not call.a.encoder.fec  # the product policy: RED from 3 %
    before = call.b.jitter_stats()
    call.run(250)
    after = call.b.jitter_stats()
    assert after.red_recovered - before.red_recovered > 10
    lost = call.slots - call.b.counters.received
    assert after.concealed - before.concealed < lost / 3, "RED copies did not repair most losses"
    assert call.b.jitter.config.min_delay_s >= 0.040  # B waits a frame longer for the copies


def test_wrong_keys_are_rejected_and_counted() -> None:
    _keys_x, keys_y = keys_pair()
    a = MediaPipeline(keys_pair()[0])
    stranger = MediaPipeline(keys_y)
    source = ToneSource(440.0, 0.3)
    now = 0.0
    for _ in range(20):
        pcm = source.read_frame()
        assert pcm is not None
        assert stranger.receive(a.send(pcm), now) is False
        assert stranger.play(now).kind is PlayoutKind.NOTHING
        now += FRAME_S
    assert stranger.counters.bad == 20 and stranger.counters.received == 0
    assert stranger.opener_stats["auth_failed"] == 20
    # A report sealed with the wrong key is rejected too, and changes nothing.
    a.end_interval()
    assert stranger.receive(a.seal_report(), now) is False
    assert stranger.counters.bad == 21 and stranger.counters.reports == 0


_GARBAGE_KEYS = keys_pair()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_is_counted_never_raised(data: bytes) -> None:
    pipeline = MediaPipeline(_GARBAGE_KEYS[1])
    assert pipeline.receive(data, 1.0) is False
    assert pipeline.receive(bytes([1, FLAG_REPORT]) + data, 1.0) is False
    assert pipeline.counters.bad + pipeline.counters.duplicates == 2
    assert pipeline.play(1.02).pcm == SILENCE


@pytest.mark.parametrize(
    ("flags", "payload", "what"),
    [
        (FLAG_RED, b"\x02\x01", "a RED container cut short"),
        (FLAG_RED, b"\x01\x01\x00\x10abc", "a RED block running past the end"),
        (0, b"\xff\xff\xff\xff\xff", "an Opus packet libopus refuses"),
    ],
)
def test_authentic_but_malformed_media_is_counted_and_concealed(flags: int, payload: bytes, what: str) -> None:
    keys_a, keys_b = keys_pair()
    a, b = MediaPipeline(keys_a), MediaPipeline(keys_b)
    pcm = ToneSource(440.0, 0.3).read_frame()
    assert pcm is not None
    sealer = MediaSealer(keys_a.send_key)
    now = 0.0
    for seq in range(10):  # a good stream, then the bad datagram, then good again
        if seq == 5:
            datagram = sealer.seal(flags, seq, seq * 960, payload)
        else:
            datagram = sealer.seal(0, seq, seq * 960, a.encoder.encode(pcm))
        assert b.receive(datagram, now + 0.001), what  # authentic: the path is alive
        b.play(now + 0.002)
        now += FRAME_S
    for _ in range(5):
        b.play(now)
        now += FRAME_S
    broken = b.counters.bad + b.counters.decode_errors
    assert broken == 1, what
    assert b.jitter_stats().decoded >= 8


def test_a_report_of_the_wrong_size_is_counted() -> None:
    keys_a, keys_b = keys_pair()
    b = MediaPipeline(keys_b)
    forged = MediaSealer(keys_a.send_key, nonce_prefix=REPORT_PREFIX).seal(FLAG_REPORT, 0, 0, b"\x00" * 5)
    assert b.receive(forged, 0.0) is False
    assert b.counters.bad == 1 and b.counters.reports == 0
