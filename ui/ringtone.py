"""A generated ringtone (1 s of a 440 Hz tone, 2 s of silence) played on the chosen speaker.

Frames go to a `SpeakerSink` from a QTimer that keeps a few frames queued
ahead of the audio callback. Without a usable speaker (or with audio turned
off) the ringtone is silently skipped and a line is logged.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer

from app.media.sinks import AudioSink
from app.media.sources import SilenceSource, ToneSource

log = logging.getLogger(__name__)

FRAME_MS = 20
RING_ON_FRAMES = 50  # 1 s
RING_CYCLE_FRAMES = 150  # 3 s
QUEUE_AHEAD = 5


class Ringtone(QObject):
    def __init__(self, *, enabled: bool = True, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = enabled
        self.output_device = ""
        self._sink: AudioSink | None = None
        self._tone = ToneSource(440.0, amplitude=0.25)
        self._silence = SilenceSource()
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS)
        self._timer.timeout.connect(self._pump)

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def start(self, output_device: str = "") -> None:
        if self.playing:
            return
        if not self.enabled:
            log.info("ringtone skipped: audio is off")
            return
        try:
            from app.media.audio_devices import AudioDeviceError, SpeakerSink

            try:
                self._sink = SpeakerSink(output_device or None)
            except AudioDeviceError as exc:
                log.info("ringtone skipped: no speaker (%s)", exc)
                return
        except Exception as exc:  # PortAudio missing or broken: never fail an incoming call for a ringtone
            log.info("ringtone skipped: audio unavailable (%s)", exc)
            return
        self._frame = 0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close()
            except Exception:
                log.debug("closing the ringtone speaker failed", exc_info=True)

    def _pump(self) -> None:
        sink = self._sink
        if sink is None:
            self._timer.stop()
            return
        bridge = getattr(sink, "bridge", None)
        queued = len(bridge) if bridge is not None else 0
        for _ in range(max(1, QUEUE_AHEAD - queued)):
            on = self._frame % RING_CYCLE_FRAMES < RING_ON_FRAMES
            frame = (self._tone if on else self._silence).read_frame()
            self._frame += 1
            if frame is not None:
                sink.write_frame(frame)
