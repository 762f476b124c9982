"""Calling sounds right: the callee's ringtone, the caller's ringback while it rings, and the end cues,
each the shipped file (resources/sounds/) played on the output device chosen in Settings."""

from __future__ import annotations

from typing import Any

from ui_helpers import WAIT_MS, call_status, click, dial, wait_home, wait_in_call, wait_incoming

from app.media.codec import FRAME_BYTES
from app.media.pcm import level_dbfs
from app.media.sinks import MemorySink
from app.media.sources import WavFileSource
from ui.sounds import SOUNDS_DIR, end_cue


class Speakers:
    """What each sound would have played, per output device: a MemorySink for every sound started."""

    def __init__(self) -> None:
        self.opened: list[tuple[str, MemorySink]] = []

    def __call__(self, device: str) -> MemorySink:
        sink = MemorySink()
        self.opened.append((device, sink))
        return sink

    @property
    def last(self) -> MemorySink:
        return self.opened[-1][1]


def _file_pcm(name: str) -> bytes:
    source = WavFileSource(SOUNDS_DIR / f"{name}.wav")
    return b"".join(iter(source.read_frame, None))


def _starts_like(sink: MemorySink, name: str, frames: int) -> bool:
    return sink.frames_written >= frames and sink.pcm[: frames * FRAME_BYTES] == _file_pcm(name)[: frames * FRAME_BYTES]


def test_the_sound_files_are_real_sounds() -> None:
    for name, seconds in (("ringtone", 4.0), ("ringback", 4.0), ("busy", 1.6), ("declined", 1.0), ("ended", 0.9)):
        pcm = _file_pcm(name)
        assert abs(len(pcm) / FRAME_BYTES * 0.02 - seconds) < 0.03, name
        assert level_dbfs(pcm) > -40, name  # audible, not a silent placeholder
    ring = _file_pcm("ringtone")
    assert level_dbfs(ring[-FRAME_BYTES * 25 :]) < -60  # a pause before the next ring


def test_ringback_while_it_rings_ringtone_and_the_ended_cue(qtbot: Any, relay: Any, make_app: Any) -> None:
    a_out, b_out = Speakers(), Speakers()
    a = make_app("alice", relay, sound_sink=a_out)
    b = make_app("bob", relay, sound_sink=b_out)
    a.host.media.output_device = "Headset"  # the output chosen in Settings
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    qtbot.waitUntil(lambda: call_status(a) == "Ringing…", timeout=WAIT_MS)
    assert a.sounds.current == "ringback" and b.sounds.current == "ringtone"
    qtbot.waitUntil(lambda: _starts_like(a_out.last, "ringback", 10), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: _starts_like(b_out.last, "ringtone", 10), timeout=WAIT_MS)
    assert a_out.opened[-1][0] == "Headset"

    click(qtbot, b.incoming_dialog.accept_button)
    wait_in_call(qtbot, a, b)
    assert not a.sounds.playing and not b.sounds.playing
    assert a_out.last.closed and b_out.last.closed

    click(qtbot, a.window.call_page.hangup_button)
    wait_home(qtbot, a, b)
    for app, out in ((a, a_out), (b, b_out)):
        # What the speaker got proves the cue played (`current` is "" again once a 0.9 s cue is over,
        # which on a busy machine can be before this line runs).
        qtbot.waitUntil(lambda out=out: _starts_like(out.last, "ended", 10), timeout=WAIT_MS)
        qtbot.waitUntil(lambda app=app: not app.sounds.playing, timeout=WAIT_MS)  # a cue plays once
    assert len(_file_pcm("ended")) <= a_out.last.frames_written * FRAME_BYTES


def test_declined_cue_for_the_caller_none_for_the_callee(qtbot: Any, relay: Any, make_app: Any) -> None:
    a_out, b_out = Speakers(), Speakers()
    a = make_app("alice", relay, sound_sink=a_out)
    b = make_app("bob", relay, sound_sink=b_out)
    dial(qtbot, a, b.identity.fingerprint)
    wait_incoming(qtbot, b)
    click(qtbot, b.incoming_dialog.decline_button)
    wait_home(qtbot, a)
    qtbot.waitUntil(lambda: _starts_like(a_out.last, "declined", 10), timeout=WAIT_MS)
    assert not b.sounds.playing and b_out.last.closed  # the ringtone stopped; declining needs no cue


def test_end_cues() -> None:
    assert end_cue("Busy", outgoing=True, connected=False, declined_here=False) == "busy"
    assert end_cue("Declined", outgoing=True, connected=False, declined_here=False) == "declined"
    assert end_cue("Timeout", outgoing=True, connected=False, declined_here=False) == "declined"
    assert end_cue("Cancelled", outgoing=True, connected=False, declined_here=False) == ""
    assert end_cue("Normal", outgoing=False, connected=True, declined_here=False) == "ended"
    assert end_cue("Cancelled", outgoing=False, connected=False, declined_here=False) == ""
