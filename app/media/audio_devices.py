"""Microphone and speaker through sounddevice (PortAudio) callback streams.

The PortAudio callback runs on its own thread and must never block. Frames
cross to and from asyncio through `FrameBridge`: a bounded deque (its append
and popleft are atomic in CPython), so the callback never waits for a lock and
memory never grows: when the reader falls behind, the oldest frames go.

A device that fails or disappears mid-call is reported through `on_problem`
and the stream is re-opened in the background (the default device when the
chosen one is gone); meanwhile the source gives silence and the sink discards,
so the call goes on.

Echo cancellation, noise suppression and gain control run here, on the device path only: the
speaker stream hands each block it plays, with its DAC time, to a `RenderReference`; the
microphone stream's `CaptureProcessing` cleans each captured block in the capture callback,
with the reference lined up by the block's ADC time (`app/media/echo_reference.py`).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.media.sinks import AudioSink
from app.media.sources import AudioSource

if TYPE_CHECKING:
    from app.media.audio_processing import CaptureProcessing, ProcessingStats
    from app.media.echo_reference import RenderReference

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
FRAME_BYTES = FRAME_SAMPLES * 2
SILENCE = bytes(FRAME_BYTES)
REOPEN_INTERVAL_S = 2.0


class AudioDeviceError(RuntimeError):
    """No usable audio device; the message is a sentence for the user."""


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    inputs: int
    outputs: int
    hostapi: str
    is_default_input: bool
    is_default_output: bool


def _sd() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # PortAudio library missing
        raise AudioDeviceError(f"The audio system is not available ({exc}). Install PortAudio.") from exc
    return sounddevice


def list_devices() -> list[AudioDevice]:
    sd = _sd()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as exc:
        raise AudioDeviceError(f"Could not list audio devices: {exc}") from exc
    out = []
    for i, d in enumerate(devices):
        out.append(
            AudioDevice(
                index=i,
                name=str(d["name"]),
                inputs=int(d["max_input_channels"]),
                outputs=int(d["max_output_channels"]),
                hostapi=str(hostapis[d["hostapi"]]["name"]),
                is_default_input=i == default_in,
                is_default_output=i == default_out,
            )
        )
    return out


def resolve_device(choice: str | int | None, *, want_input: bool) -> int | None:
    """A device index from a name (case-insensitive substring) or index; None = the default device."""
    if choice is None or choice == "":
        return None
    devices = list_devices()
    usable = [d for d in devices if (d.inputs if want_input else d.outputs) > 0]
    kind = "microphone" if want_input else "speaker"
    if isinstance(choice, int) or (isinstance(choice, str) and choice.isdigit()):
        index = int(choice)
        if any(d.index == index for d in usable):
            return index
        raise AudioDeviceError(f"There is no {kind} with number {index}.")
    needle = str(choice).lower()
    for d in usable:
        if d.name.lower() == needle:
            return d.index
    for d in usable:
        if needle in d.name.lower():
            return d.index
    raise AudioDeviceError(f"No {kind} called {choice!r}; pick one from the device list.")


class FrameBridge:
    """Bounded, lock-free hand-over of 20 ms frames between a PortAudio thread and asyncio."""

    def __init__(self, max_frames: int = 10) -> None:
        self._frames: deque[bytes] = deque(maxlen=max_frames)
        self.dropped = 0  # frames pushed out because the consumer fell behind
        self.underruns = 0  # pulls that found nothing

    def push(self, frame: bytes) -> None:
        if len(self._frames) == self._frames.maxlen:
            self.dropped += 1
        self._frames.append(frame)

    def pull(self) -> bytes | None:
        try:
            return self._frames.popleft()
        except IndexError:
            self.underruns += 1
            return None

    def __len__(self) -> int:
        return len(self._frames)

    def clear(self) -> None:
        self._frames.clear()


class _DeviceStream:
    """One PortAudio stream that re-opens itself when the device fails."""

    def __init__(
        self,
        device: int | None,
        *,
        is_input: bool,
        on_problem: Callable[[str], None] | None,
        processing: CaptureProcessing | None = None,
        reference: RenderReference | None = None,
    ) -> None:
        self.device = device
        self.is_input = is_input
        self.on_problem = on_problem
        self.processing = processing  # input: cleans each captured block
        self.reference = reference  # output: keeps what was played, for the echo canceller
        self._latency = 0.0
        self.bridge = FrameBridge()
        self._stream: Any = None
        self._closed = False
        self._reopen_timer: threading.Timer | None = None
        self._lock = threading.Lock()
        # Bumped each time the app stops its own stream, so that stream's finished callback is no failure.
        self._generation = 0
        # switch() and the re-open timer each close then open: interleaved, a stream would leak (and be
        # garbage-collected while PortAudio still calls it back).
        self._reopen_lock = threading.RLock()
        self.open()

    @property
    def kind(self) -> str:
        return "microphone" if self.is_input else "speaker"

    def open(self) -> None:
        sd = _sd()
        generation = self._generation

        def finished() -> None:
            self._finished(generation)

        try:
            if self.is_input:
                stream = sd.RawInputStream(
                    samplerate=SAMPLE_RATE,
                    channels=1,
                    dtype="int16",
                    blocksize=FRAME_SAMPLES,
                    device=self.device,
                    callback=self._input_callback,
                    finished_callback=finished,
                )
            else:
                stream = sd.RawOutputStream(
                    samplerate=SAMPLE_RATE,
                    channels=1,
                    dtype="int16",
                    blocksize=FRAME_SAMPLES,
                    device=self.device,
                    callback=self._output_callback,
                    finished_callback=finished,
                )
            stream.start()
        except Exception as exc:
            raise AudioDeviceError(f"Could not open the {self.kind}: {exc}") from exc
        with self._lock:
            self._stream = stream
        try:
            self._latency = float(stream.latency)
        except (TypeError, ValueError):
            self._latency = 0.0
        log.info("audio %s opened device=%s", self.kind, self.device if self.device is not None else "default")

    def _input_callback(self, indata: Any, frames: int, time: Any, status: Any) -> None:
        data = bytes(indata)
        processing = self.processing
        if processing is not None and frames % 480 == 0:  # whole 10 ms blocks (always, with our blocksize)
            try:
                adc = time.inputBufferAdcTime or (_now(time) - self._latency - frames / SAMPLE_RATE)
                data = processing.process(data, adc, glitch=bool(getattr(status, "input_overflow", False)))
            except Exception:  # never out of a PortAudio callback: the raw capture goes on
                log.exception("audio processing failed in the capture callback")
        if len(data) == FRAME_BYTES:
            self.bridge.push(data)
        else:  # PortAudio may hand odd block sizes: split/pad to whole frames
            for i in range(0, len(data), FRAME_BYTES):
                self.bridge.push(data[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\0"))

    def _output_callback(self, outdata: Any, frames: int, time: Any, status: Any) -> None:
        need = frames * 2
        frame = self.bridge.pull()
        if frame is None:
            outdata[:] = bytes(need)
        elif len(frame) >= need:
            outdata[:] = frame[:need]
        else:
            outdata[:] = frame.ljust(need, b"\0")
        reference = self.reference
        if reference is not None:
            try:
                reference.played(
                    outdata,
                    time.outputBufferDacTime or (_now(time) + self._latency),
                    glitch=bool(getattr(status, "output_underflow", False)),
                )
            except Exception:  # never out of a PortAudio callback
                log.exception("echo reference failed in the playback callback")

    def _finished(self, generation: int | None = None) -> None:
        if self._closed or (generation is not None and generation != self._generation):
            return  # a stream the app stopped itself (switch, re-open)
        message = f"The {self.kind} stopped working (unplugged?). The call goes on; trying to re-open it."
        log.warning("audio %s stream finished unexpectedly device=%s", self.kind, self.device)
        if self.on_problem is not None:
            self.on_problem(message)
        self._schedule_reopen()

    def check(self) -> bool:
        """Called periodically: a stream that died without telling is re-opened."""
        with self._lock:
            stream = self._stream
        if self._closed or stream is None:
            return False
        if not stream.active and self._reopen_timer is None:
            self._finished()
            return False
        return True

    def _schedule_reopen(self) -> None:
        if self._closed:
            return
        timer = threading.Timer(REOPEN_INTERVAL_S, self._reopen)
        timer.daemon = True
        self._reopen_timer = timer
        timer.start()

    def _reopen(self) -> None:
        with self._reopen_lock:
            self._reopen_timer = None
            if self._closed:
                return
            self._close_stream()
            for device in (self.device, None):
                try:
                    self.device = device
                    self.open()
                    if self.on_problem is not None:
                        self.on_problem(f"The {self.kind} works again.")
                    return
                except AudioDeviceError as exc:
                    log.info("audio %s re-open failed device=%s: %s", self.kind, device, exc)
            self._schedule_reopen()

    def switch(self, device: int | None) -> None:
        """Move to another device without stopping the call."""
        with self._reopen_lock:
            if self._reopen_timer is not None:  # the device chosen now replaces a pending re-open
                self._reopen_timer.cancel()
                self._reopen_timer = None
            self._close_stream()
            self.device = device
            self.open()

    def _close_stream(self) -> None:
        with self._lock:
            stream, self._stream = self._stream, None
            self._generation += 1
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # a vanished device may refuse to close cleanly
                log.debug("audio %s close: %s", self.kind, exc)

    def close(self) -> None:
        self._closed = True
        if self._reopen_timer is not None:
            self._reopen_timer.cancel()
        self._close_stream()


def _now(time: Any) -> float:
    """The stream's clock now (PortAudio's stream time; some host APIs leave it 0)."""
    import time as _time

    return float(time.currentTime) or _time.monotonic()


class MicrophoneSource(AudioSource):
    """Capture from a device, live (frames on the device's clock; never ends). While the device is
    late or missing nothing is read: the call decides what to send meanwhile.

    With `processing`, every captured block goes through it (echo cancellation, noise
    suppression, gain control) in the capture callback."""

    live = True

    def __init__(
        self,
        device: str | int | None = None,
        on_problem: Callable[[str], None] | None = None,
        processing: CaptureProcessing | None = None,
    ) -> None:
        self.processing = processing
        self._stream = _DeviceStream(
            resolve_device(device, want_input=True), is_input=True, on_problem=on_problem, processing=processing
        )

    def processing_stats(self) -> ProcessingStats | None:
        return self.processing.stats() if self.processing is not None else None

    @property
    def bridge(self) -> FrameBridge:
        return self._stream.bridge

    def read_frame(self) -> bytes | None:
        """The oldest captured frame not read yet; None when none is waiting (the device is late, or
        missing while it is re-opened)."""
        return self._stream.bridge.pull()

    @property
    def backlog(self) -> int:
        return len(self._stream.bridge)

    def check(self) -> bool:
        return self._stream.check()

    def switch(self, device: str | int | None) -> None:
        self._stream.switch(resolve_device(device, want_input=True))

    def close(self) -> None:
        self._stream.close()


class SpeakerSink(AudioSink):
    """Play to a device; frames written while the device is missing are discarded.

    With `reference`, every block the device plays (silence included) is kept there with its
    DAC time: the echo canceller's far-end reference."""

    def __init__(
        self,
        device: str | int | None = None,
        on_problem: Callable[[str], None] | None = None,
        reference: RenderReference | None = None,
    ) -> None:
        self._stream = _DeviceStream(
            resolve_device(device, want_input=False), is_input=False, on_problem=on_problem, reference=reference
        )

    @property
    def bridge(self) -> FrameBridge:
        return self._stream.bridge

    def write_frame(self, pcm: bytes) -> None:
        self._stream.bridge.push(pcm)

    def check(self) -> bool:
        return self._stream.check()

    def switch(self, device: str | int | None) -> None:
        self._stream.switch(resolve_device(device, want_input=False))

    def close(self) -> None:
        self._stream.close()
