"""MediaSession's adaptation, frame by frame, with a fake transport and a fake clock (no event loop
timing): the receiver measures loss per report interval and reports it; the sender turns the
peer's loss into a RED depth (and FEC / expected-loss hints); the receiver's jitter-buffer delay
floor rises by one frame per repair depth while repairs arrive, and falls back on a clean link.

Real Opus, real sealing and RED: only the QUIC connection and the clock are fakes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import cast

import pytest

from app import events as ev
from app.media.media_keys import EphemeralKey, derive_media_keys
from app.media.packet import FLAG_RED, MediaOpener
from app.media.pcm import level_dbfs
from app.media.red import expand_red
from app.media.report import FLAG_REPORT
from app.media.session import MAX_CATCH_UP, MediaSession
from app.media.sinks import MemorySink
from app.media.sources import SilenceSource, ToneSource
from app.net import QuicPeerConnection

FRAME = 0.020


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeTransport:
    """The part of a QuicPeerConnection a MediaSession uses: datagrams out are kept, in are handed over."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.handler: Callable[[bytes], None] | None = None
        self.rtt = 0.010
        self.remote_addr = "192.0.2.1:4433"

    def send_datagram(self, data: bytes, *, transmit: bool = True) -> bool:
        self.sent.append(data)
        return True

    def flush(self) -> None:
        pass

    def set_datagram_handler(self, handler: Callable[[bytes], None] | None) -> None:
        self.handler = handler

    def set_ack_delay(self, delay: float, *, ride_within: float | None = None) -> None:
        self.ack_delay = delay

    def take(self) -> list[bytes]:
        out, self.sent = self.sent, []
        return out


def is_report(datagram: bytes) -> bool:
    return bool(datagram[1] & FLAG_REPORT)


class Pair:
    """A talks (tone) to B; B stays silent. Both on fake transports, driven by one fake clock."""

    def __init__(self) -> None:
        ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
        call_id = "ab" * 16
        keys_a = derive_media_keys(ea, eb.public_bytes, call_id, "fp-a", "fp-b", True)
        keys_b = derive_media_keys(eb, ea.public_bytes, call_id, "fp-a", "fp-b", False)
        self.keys_b = keys_b
        self.clock = FakeClock()
        self.stats_b: list[ev.Stats] = []
        self.a = MediaSession(call_id, keys_a, ToneSource(440.0, 0.5), MemorySink(), clock=self.clock)
        self.b = MediaSession(
            call_id,
            keys_b,
            SilenceSource(),
            MemorySink(),
            clock=self.clock,
            emit=lambda e: self.stats_b.append(e) if isinstance(e, ev.Stats) else None,
        )
        self.ta, self.tb = FakeTransport(), FakeTransport()
        self.a.set_transport(cast(QuicPeerConnection, self.ta), "relay")
        self.b.set_transport(cast(QuicPeerConnection, self.tb), "relay")
        self.sent_a = 0  # media datagrams A sent, in order
        self.delivered: list[bytes] = []  # A's media datagrams B received

    def frames(self, n: int, lose: Callable[[int], bool] = lambda i: False) -> None:
        """n 20 ms slots: A sends a frame (lost when `lose(index)`), both play one."""
        for _ in range(n):
            self.clock.t += FRAME
            self.a.frame_tick(self.clock.t)
            for datagram in self.ta.take():
                index = self.sent_a
                self.sent_a += 1
                if not lose(index):
                    self.clock.t += 0.001
                    self.delivered.append(datagram)
                    assert self.tb.handler is not None
                    self.tb.handler(datagram)
            self.b.frame_tick(self.clock.t)
            assert self.ta.handler is not None
            for datagram in self.tb.take():  # B's silence reaches A (A's path stays alive)
                self.ta.handler(datagram)

    def report(self) -> ev.Stats:
        """End of B's report interval: B measures and reports; A gets the report."""
        self.b.stats_tick()
        reports = [d for d in self.tb.take() if is_report(d)]
        assert len(reports) == 1
        assert self.ta.handler is not None
        self.ta.handler(reports[0])
        return self.stats_b[-1]


@pytest.fixture
def pair() -> Pair:
    return Pair()


def every(n: int) -> Callable[[int], bool]:
    """Lose one datagram in n (never the last of an interval of a multiple of n: that one would
    only count as lost once a later one arrives, in the next interval)."""
    return lambda i: i % n == n // 2


def floor_ms(session: MediaSession) -> float:
    return round(session.jitter.config.min_delay_s * 1000, 3)


def red_depths(datagrams: list[bytes], opener: MediaOpener) -> list[int]:
    depths = []
    for d in datagrams:
        packet = opener.open(d)
        depths.append(len(expand_red(packet.seq, packet.timestamp, packet.payload)) - 1 if packet.is_red else 0)
    return depths


# ------------------------------------------------------------------------ loss measurement


def test_clean_link_measures_no_loss_and_sends_no_redundancy(pair: Pair) -> None:
    pair.frames(50)
    stats = pair.report()
    assert stats.loss_pct == 0.0 and stats.packets_received == 50
    assert pair.a.pipeline.peer_loss == 0.0 and pair.a.pipeline.red_depth == 0
    assert floor_ms(pair.b) == 20.0


@pytest.mark.parametrize(("n", "loss_pct"), [(10, 10.0), (20, 5.0), (4, 25.0)])
def test_receiver_measures_the_loss_of_each_interval_and_reports_it(pair: Pair, n: int, loss_pct: float) -> None:
    pair.frames(100, every(n))
    stats = pair.report()
    assert stats.loss_pct == loss_pct
    assert stats.packets_received == 100 - 100 // n
    assert pair.a.pipeline.peer_loss == pytest.approx(loss_pct / 100, abs=2e-4)  # the sender heard it (in 1/10000)
    # The next interval is measured on its own: a clean one reads 0 again.
    pair.frames(50)
    assert pair.report().loss_pct == 0.0
    assert pair.a.pipeline.peer_loss == 0.0


# ------------------------------------------------------------------------------ RED depth


def test_red_depth_follows_the_reported_loss(pair: Pair) -> None:
    pair.frames(100, every(50))  # 2 %: below the 3 % that turns RED on
    pair.report()
    assert pair.a.pipeline.red_depth == 0
    assert pair.a.encoder.fec and pair.a.encoder.expected_loss > 0  # in-band FEC covers light loss

    pair.frames(100, every(10))  # 10 %: one copy of the previous frame in each datagram
    pair.report()
    assert pair.a.pipeline.red_depth == 1
    assert not pair.a.encoder.fec  # RED already carries what FEC would
    pair.delivered.clear()
    pair.frames(10)
    assert all(d[1] & FLAG_RED for d in pair.delivered), "A's datagrams are not RED containers"
    assert set(red_depths(pair.delivered, MediaOpener(pair.keys_b.recv_key))) == {1}

    pair.frames(100, every(5))  # 20 %: two copies
    pair.report()
    assert pair.a.pipeline.red_depth == 2

    for _ in range(3):  # clean again: RED winds down (with hysteresis) to none
        pair.frames(100)
        pair.report()
    assert pair.a.pipeline.red_depth == 0
    pair.delivered.clear()
    pair.frames(10)
    assert not any(d[1] & FLAG_RED for d in pair.delivered)


# -------------------------------------------------------------------- jitter-buffer floor


def test_delay_floor_rises_with_the_repair_depth_at_once_and_falls_on_a_clean_link(pair: Pair) -> None:
    pair.frames(100, every(10))
    pair.report()  # A now sends RED depth 1; B's floor already counts the loss
    assert pair.a.pipeline.red_depth == 1
    assert floor_ms(pair.b) == 40.0
    pair.frames(1)  # the first RED container raises B's floor as it arrives, not a report later
    assert floor_ms(pair.b) == 40.0

    pair.frames(100, every(5))
    pair.report()
    assert pair.a.pipeline.red_depth == 2
    pair.frames(1)
    assert floor_ms(pair.b) == 60.0  # two copies: two frames more
    assert pair.b.jitter.target_delay >= 0.060

    # Clean link: the sender stops RED after a few clean reports, then the receiver's floor comes back.
    floors = []
    for _ in range(4):
        pair.frames(100)
        pair.report()
        floors.append(floor_ms(pair.b))
    assert pair.a.pipeline.red_depth == 0
    assert floors[-1] == 20.0, floors
    assert floors == sorted(floors, reverse=True), floors  # only ever down on a clean link


def test_loss_without_red_still_raises_the_floor_for_fec(pair: Pair) -> None:
    """Light loss (FEC only: the repair for frame N is in packet N+1): one frame more; none when clean."""
    pair.frames(200, every(100))  # 1 %
    pair.report()
    assert pair.a.pipeline.red_depth == 0
    assert floor_ms(pair.b) == 40.0
    pair.frames(100)
    pair.report()
    assert floor_ms(pair.b) == 20.0


# ---------------------------------------------------------------------- the frame clock


class SlotRecorder(MediaSession):
    """A session on a real event loop that notes, for every slot, the slot time it was served with
    and the loop time it was actually served at."""

    def __init__(self) -> None:
        ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
        keys = derive_media_keys(ea, eb.public_bytes, "ef" * 16, "fp-a", "fp-b", True)
        super().__init__("ef" * 16, keys, ToneSource(440.0, 0.5), MemorySink())
        self.slots: list[tuple[float, float]] = []
        self._waiting: list[tuple[int, asyncio.Event]] = []

    def frame_tick(self, now: float) -> None:
        self.slots.append((now, asyncio.get_running_loop().time()))
        for n, event in self._waiting:
            if len(self.slots) >= n:
                event.set()
        super().frame_tick(now)

    async def served(self, n: int) -> None:
        """Until `n` slots have been served."""
        event = asyncio.Event()
        self._waiting.append((n, event))
        await asyncio.wait_for(event.wait(), 10)


async def _serve_with_a_busy_loop(busy_s: float, want: int) -> SlotRecorder:
    session = SlotRecorder()
    transport = FakeTransport()
    session.set_transport(cast(QuicPeerConnection, transport), "relay")
    await session.start()
    await session.served(5)  # a few slots on time
    time.sleep(busy_s)  # then the loop is busy elsewhere (a slow callback, a starved process)
    await session.served(want)
    await session.stop()
    assert len(transport.sent) >= want
    return session


async def test_a_late_wake_serves_every_owed_slot_with_its_own_time() -> None:
    session = await _serve_with_a_busy_loop(0.1, 20)
    times = [slot for slot, _ in session.slots]
    steps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert steps == {FRAME}, steps  # one slot every 20 ms, never a slot skipped or served twice
    late = [(slot, real) for slot, real in session.slots if real - slot > 0.04]
    assert len(late) >= 3, late  # the slots that fell due while the loop was busy...
    assert late[-1][1] - late[0][1] < (late[-1][0] - late[0][0]) / 2, late  # ...were caught up at once
    assert all(real >= slot - 1e-6 for slot, real in session.slots)  # never served early
    assert session.counters.stalls == 0
    assert cast(MemorySink, session.sink).frames_written == len(session.slots)


async def test_a_stall_longer_than_the_catch_up_skips_ahead() -> None:
    session = await _serve_with_a_busy_loop(0.5, 30)
    times = [slot for slot, _ in session.slots]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert session.counters.stalls == 1
    assert sorted(set(gaps))[-1] > 0.2 and gaps.count(FRAME) == len(gaps) - 1  # one jump, then on time
    late = [slot for slot, real in session.slots if real - slot > 0.04]
    assert len(late) <= MAX_CATCH_UP + 1  # at most 200 ms caught up, the rest skipped


# ---------------------------------------------------------------------- a live source (a microphone)


class LiveSource(ToneSource):
    """A microphone's hand-over: frames of a tone appear when `capture(n)` says the device gave them."""

    live = True

    def __init__(self) -> None:
        super().__init__(440.0, 0.5)
        self.waiting: list[bytes] = []
        self.captured: list[bytes] = []

    def capture(self, n: int = 1) -> None:
        for _ in range(n):
            frame = super().read_frame()
            assert frame is not None
            self.waiting.append(frame)
            self.captured.append(frame)

    def read_frame(self) -> bytes | None:
        return self.waiting.pop(0) if self.waiting else None

    @property
    def backlog(self) -> int:
        return len(self.waiting)


def _live_session() -> tuple[MediaSession, LiveSource, FakeTransport, MediaOpener]:
    ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
    keys = derive_media_keys(ea, eb.public_bytes, "cd" * 16, "fp-a", "fp-b", True)
    peer = derive_media_keys(eb, ea.public_bytes, "cd" * 16, "fp-a", "fp-b", False)
    source = LiveSource()
    session = MediaSession("cd" * 16, keys, source, MemorySink(), clock=FakeClock())
    transport = FakeTransport()
    session.set_transport(cast(QuicPeerConnection, transport), "relay")
    return session, source, transport, MediaOpener(peer.recv_key)


def _sent_pcm(transport: FakeTransport, opener: MediaOpener) -> list[bytes]:
    from app.media.codec import OpusDecoder

    decoder = OpusDecoder()
    return [decoder.decode(opener.open(d).payload) for d in transport.take() if not is_report(d)]


def _slots(session: MediaSession, transport: FakeTransport, n: int, capture: Callable[[int], int]) -> list[int]:
    """n slots; before slot i the device gives capture(i) frames. Datagrams sent in each slot."""
    clock = session._clock
    assert isinstance(clock, FakeClock)
    source = session.source
    assert isinstance(source, LiveSource)
    counts = []
    for slot in range(n):
        clock.t += FRAME
        source.capture(capture(slot))
        before = len(transport.sent)
        session.frame_tick(clock.t)
        counts.append(len(transport.sent) - before)
    return counts


def test_a_late_microphone_frame_goes_with_the_next_slot_and_is_not_replaced_by_silence() -> None:
    """The microphone's callback comes after a slot now and then (through a sound server, in bursts):
    that slot sends nothing, the next sends the late frame, and the frame after it waits as a cushion for
    the next burst. Filling the late slot with silence cut 20 ms out of speech."""
    session, source, transport, opener = _live_session()
    counts = _slots(session, transport, 40, lambda i: {10: 0, 11: 2, 25: 0, 26: 2}.get(i, 1))
    # slot 10 waits; from then on one frame waits as the cushion, and slot 25's late callback needs it
    assert counts[10] == 0 and counts.count(1) == 39, counts  # never two at once
    pcm = _sent_pcm(transport, opener)
    assert len(pcm) == 39 and len(source.captured) == 40 and source.backlog == 1
    silent = [i for i, frame in enumerate(pcm) if level_dbfs(frame) < -40]
    assert silent == [], silent  # every frame sent is the tone: nothing was filled in
    assert session.counters.capture_late == 1 and session.counters.capture_gaps == 0
    # a device that keeps giving two frames every other slot is never late either
    counts = _slots(session, transport, 40, lambda i: 2 * (i % 2))
    assert counts == [1] * 40 and session.counters.capture_late == 1


def test_a_microphone_that_gives_nothing_for_a_while_is_covered_with_silence() -> None:
    """A stalled or re-opening device: after CAPTURE_GRACE_SLOTS empty slots the call sends silence (the
    path stays alive; the peer hears nothing, not an error), then the device's frames when they come."""
    from app.media.session import CAPTURE_GRACE_SLOTS

    session, _, transport, opener = _live_session()
    counts = _slots(session, transport, 10, lambda i: 0)
    assert counts == [0] * (CAPTURE_GRACE_SLOTS - 1) + [1] * (10 - CAPTURE_GRACE_SLOTS + 1)
    gaps = session.counters.capture_gaps
    assert gaps == 10 - CAPTURE_GRACE_SLOTS + 1 and session.counters.capture_late == CAPTURE_GRACE_SLOTS - 1
    _slots(session, transport, 5, lambda i: 3 if i == 0 else 1)  # the device is back with a burst
    pcm = _sent_pcm(transport, opener)
    assert len(pcm) == gaps + 5
    assert all(level_dbfs(frame) < -60 for frame in pcm[:gaps])  # silence, then the tone
    assert all(level_dbfs(frame) > -20 for frame in pcm[gaps + 1 :])


def test_a_cushion_the_bursts_never_needed_is_sent_to_cut_the_latency() -> None:
    """After a burst of 3 the capture runs 2 frames behind; when a whole window never needed them, they go out
    at once (60 ms less delay), and the steady device is on time after."""
    from app.media.session import CAPTURE_TRIM_MAX, CAPTURE_TRIM_SLOTS

    session, source, transport, _ = _live_session()
    counts = _slots(session, transport, CAPTURE_TRIM_SLOTS + 10, lambda i: 3 if i == 0 else 1)
    assert source.backlog == 0 and session.counters.capture_trimmed == CAPTURE_TRIM_MAX == 2
    assert counts[CAPTURE_TRIM_SLOTS - 1] == 1 + CAPTURE_TRIM_MAX and sum(counts) == len(source.captured)
    assert session.counters.capture_late == 0
