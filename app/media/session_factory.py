"""Builds each call's media session from the user's audio choice (files, devices, or none).

Devices are the default. No microphone: the call still connects with silence
going out, and the user is told. No speaker: audio is discarded, and the user
is told. `--play`/`--record` use WAV files instead (the CLI and tests).

On the device path the microphone goes through echo cancellation, noise suppression and gain
control (`processing`, all on by default), with what the speaker plays as the echo reference.
WAV files and silence are never processed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app import events as ev
from app.media.audio_processing import (
    AudioProcessingUnavailable,
    CaptureProcessing,
    ProcessingConfig,
    make_processor,
)
from app.media.echo_reference import RenderReference
from app.media.media_keys import MediaKeys
from app.media.opus_probe import app_opus
from app.media.session import MediaSession
from app.media.sinks import AudioSink, NullSink, WavFileSink
from app.media.sources import AudioSource, SilenceSource, WavFileSource

log = logging.getLogger(__name__)


def make_media_factory(
    *,
    play: Path | None = None,
    record: Path | None = None,
    bitrate: int = 24_000,
    no_audio: bool = False,
    input_device: str | int | None = None,
    output_device: str | int | None = None,
    dtx: bool = False,
    processing: ProcessingConfig | None = None,
    emit: Callable[[ev.ClientEvent], None],
    on_session: Callable[[MediaSession], None] | None = None,
) -> Callable[[Any, MediaKeys], Awaitable[MediaSession]]:
    """CodecError (one sentence) at once if the app's libopus is missing or does not take a setting
    the codec relies on: the check runs here, when the client starts, not at the first call."""
    app_opus()

    async def factory(call: Any, keys: MediaKeys) -> MediaSession:
        call_id = call.call_id

        def notice(message: str) -> None:
            emit(ev.AudioNotice(call_id=call_id, message=message))

        capture, reference = (
            make_device_processing(processing or ProcessingConfig(), to_speaker=record is None, notice=notice)
            if play is None and not no_audio
            else (None, None)
        )
        source = _make_source(play, no_audio, input_device, notice, capture)
        try:
            sink = _make_sink(record, no_audio, output_device, notice, reference)
        except Exception:
            source.close()
            raise
        session = MediaSession(call_id, keys, source, sink, bitrate=bitrate, dtx=dtx, emit=emit)
        if on_session is not None:
            on_session(session)
        return session

    return factory


def make_device_processing(
    config: ProcessingConfig, *, to_speaker: bool, notice: Callable[[str], None]
) -> tuple[CaptureProcessing | None, RenderReference | None]:
    """The microphone's processing and, when the speaker is a device too, its echo reference.
    (None, None) when everything is off or the library is missing (the user is told)."""
    if not config.any:
        return None, None
    try:
        processor = make_processor(config)
    except AudioProcessingUnavailable as exc:
        log.warning("audio processing unavailable: %s", exc)
        notice(f"Echo cancellation and noise suppression are not available ({exc}). The call goes on without.")
        return None, None
    if processor is None:
        return None, None
    reference = RenderReference() if to_speaker and config.echo_cancellation else None
    bypass = None
    if reference is not None:
        # the same NS/AGC without the canceller: for when there is no echo path (a headset), and until
        # the echo path is known
        bypass = make_processor(ProcessingConfig(False, config.noise_suppression, config.gain_control))
        bypass = bypass or _Passthrough(config)
    return CaptureProcessing(processor, reference, bypass), reference


class _Passthrough:
    """What the microphone gives without processing (the bypass when only the canceller is on)."""

    name = "none"

    def __init__(self, config: ProcessingConfig) -> None:
        self.config = config

    def process(self, near: bytes, far: bytes | None) -> bytes:
        return near


def _make_source(
    play: Path | None,
    no_audio: bool,
    device: str | int | None,
    notice: Callable[[str], None],
    processing: CaptureProcessing | None = None,
) -> AudioSource:
    if play is not None:
        return WavFileSource(play)  # AudioFileError is a clear message for the user
    if no_audio:
        return SilenceSource()
    from app.media.audio_devices import AudioDeviceError, MicrophoneSource

    try:
        return MicrophoneSource(device, on_problem=notice, processing=processing)
    except AudioDeviceError as exc:
        log.warning("no microphone: %s", exc)
        notice(
            f"No microphone could be opened ({exc}). The call goes on: you hear the other side, "
            "but they cannot hear you."
        )
        return SilenceSource()


def _make_sink(
    record: Path | None,
    no_audio: bool,
    device: str | int | None,
    notice: Callable[[str], None],
    reference: RenderReference | None = None,
) -> AudioSink:
    if record is not None:
        return WavFileSink(record)
    if no_audio:
        return NullSink()
    from app.media.audio_devices import AudioDeviceError, SpeakerSink

    try:
        return SpeakerSink(device, on_problem=notice, reference=reference)
    except AudioDeviceError as exc:
        log.warning("no speaker: %s", exc)
        notice(f"No speaker could be opened ({exc}). The call goes on, but you will not hear the other side.")
        return NullSink()
