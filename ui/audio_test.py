"""Settings' audio checks: a live microphone level (and the microphone played back on the speaker,
through the same echo cancellation, noise suppression and gain control as a call), and a short
test tone on the speaker."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer, Signal

from app.media.audio_processing import ProcessingConfig
from app.media.sinks import AudioSink
from app.media.sources import AudioSource, ToneSource, level_dbfs

log = logging.getLogger(__name__)


class MicTester(QObject):
    level = Signal(float)
    problem = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._source: AudioSource | None = None
        self._sink: AudioSink | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._poll)

    @property
    def running(self) -> bool:
        return self._source is not None

    def start(
        self, device: str, *, output_device: str | None = None, processing: ProcessingConfig | None = None
    ) -> bool:
        """Show the level of `device`; with `output_device` (a name, "" = the default) also play it back."""
        self.stop()
        try:
            from app.media.audio_devices import MicrophoneSource, SpeakerSink
            from app.media.session_factory import make_device_processing

            capture, reference = make_device_processing(
                processing or ProcessingConfig(), to_speaker=output_device is not None, notice=self.problem.emit
            )
            if output_device is not None:
                self._sink = SpeakerSink(output_device or None, reference=reference)
            self._source = MicrophoneSource(device or None, processing=capture)
        except Exception as exc:
            log.info("microphone test failed: %s", exc)
            self.problem.emit(self.tr("The microphone could not be opened: {error}").format(error=exc))
            self.stop()
            return False
        self._timer.start()
        return True

    def stop(self) -> None:
        self._timer.stop()
        source, self._source = self._source, None
        if source is not None:
            source.close()
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.close()
        self.level.emit(-100.0)

    def _poll(self) -> None:
        source = self._source
        if source is None:
            return
        bridge = getattr(source, "bridge", None)
        frames = []
        while bridge is not None and len(bridge):
            frame = bridge.pull()
            if frame is not None:
                frames.append(frame)
        if frames:
            self.level.emit(max(level_dbfs(f) for f in frames))
            if self._sink is not None:
                for frame in frames:
                    self._sink.write_frame(frame)


class SpeakerTester(QObject):
    finished = Signal()
    problem = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._sink: AudioSink | None = None
        self._tone: ToneSource | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._pump)

    @property
    def running(self) -> bool:
        return self._sink is not None

    def start(self, device: str, seconds: float = 1.5) -> bool:
        self.stop()
        try:
            from app.media.audio_devices import SpeakerSink

            self._sink = SpeakerSink(device or None)
        except Exception as exc:
            log.info("speaker test failed: %s", exc)
            self.problem.emit(self.tr("The speaker could not be opened: {error}").format(error=exc))
            return False
        self._tone = ToneSource(660.0, amplitude=0.3, duration_s=seconds)
        self._timer.start()
        return True

    def stop(self) -> None:
        was = self.running
        self._timer.stop()
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.close()
        if was:
            self.finished.emit()

    def _pump(self) -> None:
        sink, tone = self._sink, self._tone
        if sink is None or tone is None:
            return
        bridge = getattr(sink, "bridge", None)
        queued = len(bridge) if bridge is not None else 0
        for _ in range(max(1, 5 - queued)):
            frame = tone.read_frame()
            if frame is None:
                if queued == 0:
                    self.stop()
                return
            sink.write_frame(frame)
