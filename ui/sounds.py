"""The app's sounds (resources/sounds/, made by resources/make_sounds.py) played on the chosen speaker.

One sound plays at a time: the ringtone (incoming call, looped), the ringback
(our call rings at the other end, looped) or a short cue when a call ends
(busy, declined, ended). Frames go to an `AudioSink` (a `SpeakerSink` on the
output device chosen in Settings) from a QTimer that keeps a few frames queued
ahead of the audio callback. Without a usable speaker (or with audio turned
off) a sound is skipped and a line is logged: never fail a call for a sound.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from app.media.sinks import AudioSink
from app.media.sources import PcmSource, WavFileSource

log = logging.getLogger(__name__)

SOUNDS_DIR = Path(__file__).resolve().parents[1] / "resources" / "sounds"
RINGTONE, RINGBACK, BUSY, DECLINED, ENDED = "ringtone", "ringback", "busy", "declined", "ended"
LOOPED = frozenset({RINGTONE, RINGBACK})
FRAME_MS = 20
QUEUE_AHEAD = 5  # frames queued ahead of the device (100 ms)

SinkFactory = Callable[[str], AudioSink]  # output device name ("" = default) -> sink


def end_cue(reason: str, *, outgoing: bool, connected: bool, declined_here: bool) -> str:
    """The cue for a call that ended: "busy", "declined", "ended", or "" (none: we ended it before it began)."""
    if connected:
        return ENDED
    if not outgoing or declined_here or reason == "Cancelled":
        return ""  # a missed or declined incoming call: the ringtone stopping says it
    if reason in ("Busy", "LimitExceeded"):
        return BUSY
    return DECLINED  # declined, no answer, offline: the call did not happen


def speaker_sink(output_device: str) -> AudioSink:
    from app.media.audio_devices import SpeakerSink

    return SpeakerSink(output_device or None)


class Sounds(QObject):
    def __init__(
        self, *, enabled: bool = True, sink_factory: SinkFactory | None = None, parent: QObject | None = None
    ) -> None:
        """`sink_factory` replaces the speaker (tests record what would be played)."""
        super().__init__(parent)
        self.enabled = enabled
        self.sink_factory: SinkFactory = sink_factory or speaker_sink
        self.current = ""  # the sound playing now, "" for none
        self._pcm: dict[str, bytes] = {}
        self._sink: AudioSink | None = None
        self._source: PcmSource | None = None
        self._started = 0.0
        self._written = 0
        self._draining = False  # a cue's last frame is written: stop once the device has played it
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._pump)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def play(self, name: str, output_device: str = "") -> None:
        """Play `name` (looped if it is the ringtone or the ringback) instead of whatever plays now."""
        if self.current == name and self.playing:
            return
        self.stop()
        if not self.enabled:
            log.info("sound %s skipped: audio is off", name)
            return
        pcm = self._load(name)
        if pcm is None:
            return
        try:
            self._sink = self.sink_factory(output_device)
        except Exception as exc:  # PortAudio missing or broken, device gone: a call never fails for a sound
            log.info("sound %s skipped: no speaker (%s)", name, exc)
            return
        self._source = PcmSource(pcm, loop=name in LOOPED)
        self.current = name
        self._started, self._written, self._draining = time.monotonic(), 0, False
        self._timer.start()
        self._pump()
        log.debug("playing sound %s on %r", name, output_device or "default")

    def stop(self, name: str | None = None) -> None:
        """Stop the sound playing now (only if it is `name`, when given)."""
        if name is not None and self.current != name:
            return
        self._timer.stop()
        self.current = ""
        self._source = None
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close()
            except Exception:
                log.debug("closing the sound's speaker failed", exc_info=True)

    def _load(self, name: str) -> bytes | None:
        if name not in self._pcm:
            path = SOUNDS_DIR / f"{name}.wav"
            try:
                source = WavFileSource(path)
            except Exception as exc:  # a broken install: say so in the log, play nothing
                log.warning("sound %s cannot be read from %s: %s", name, path, exc)
                return None
            self._pcm[name] = b"".join(iter(source.read_frame, None))
        return self._pcm[name]

    def _pump(self) -> None:
        sink, source = self._sink, self._source
        if sink is None or source is None:
            self._timer.stop()
            return
        bridge = getattr(sink, "bridge", None)
        if self._draining:
            if bridge is None or len(bridge) == 0:
                self.stop()
            return
        if bridge is not None:  # a device: keep its queue topped up
            count = max(0, QUEUE_AHEAD - len(bridge))
        else:  # a file or memory: as fast as a device would take it
            due = int((time.monotonic() - self._started) * 1000 / FRAME_MS) + QUEUE_AHEAD
            count = max(0, due - self._written)
        for _ in range(count):
            frame = source.read_frame()
            if frame is None:  # a cue played to its end
                self._draining = True
                return
            sink.write_frame(frame)
            self._written += 1
