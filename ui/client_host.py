"""Owns the current `WzpClient` (a new one when the relay or alias changes) and its media factory.

Every client event is re-emitted as the Qt signal `event`, on the UI thread
(qasync runs asyncio there), so view-models simply connect to it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app import events as ev
from app.client.client import MediaSessionLike, WzpClient
from app.identity import Identity
from app.media.audio_processing import ProcessingConfig
from app.media.session_factory import make_media_factory
from app.media.sources import AudioSource
from app.storage.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class MediaOptions:
    input_device: str = ""  # "" = the system default
    output_device: str = ""
    bitrate: int = 24_000
    no_audio: bool = False  # silence out, nothing played (tests, machines without audio)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)  # AEC, NS, AGC
    play: Path | None = None  # tests only (ui/test_hooks.py): send this WAV instead of the microphone
    record: Path | None = None  # tests only: write what is received to this WAV instead of playing it


def processing_of(settings: Settings) -> ProcessingConfig:
    """The microphone processing the user chose (Settings > Audio)."""
    return ProcessingConfig(
        echo_cancellation=settings.echo_cancellation,
        noise_suppression=settings.noise_suppression,
        gain_control=settings.gain_control,
    )


class ClientHost(QObject):
    event = Signal(object)  # app.events.ClientEvent
    client_changed = Signal()

    def __init__(
        self,
        identity: Identity,
        data_dir: Path,
        media: MediaOptions,
        *,
        audio_source_factory: Callable[[], AudioSource] | None = None,
        blocked: Container[str] | None = None,
        parent: QObject | None = None,
    ) -> None:
        """`blocked`: fingerprints whose calls every client declines without ringing (the app's BlockList,
        read live, so blocking applies to the next offer)."""
        super().__init__(parent)
        self.identity = identity
        self.blocked: Container[str] = blocked if blocked is not None else frozenset()
        self.data_dir = data_dir
        self.media = media
        self.audio_source_factory = audio_source_factory
        self.client: WzpClient | None = None

    @property
    def relay(self) -> str:
        return self.client.relay if self.client is not None else ""

    async def connect_to(self, relay: str, alias: str, *, discoverable: bool = True) -> None:
        """Stop the current client (if any) and start one for `relay` (returns at once; events follow).

        `discoverable=False` keeps us out of the relay's online list (people with our fingerprint can still call)."""
        await self.disconnect()
        client = WzpClient(
            self.identity, self.data_dir, relay, alias=alias or None, discoverable=discoverable, blocked=self.blocked
        )
        client.add_listener(self._on_event)
        self.client = client
        self.apply_media_options()
        self.client_changed.emit()
        log.info("connecting to relay %s as %r (listed=%s)", relay, client.alias, discoverable)
        await client.start()

    async def disconnect(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.stop()
            client.remove_listener(self._on_event)
            self.client_changed.emit()

    def apply_media_options(self) -> None:
        """(Re)build the media factory from `self.media`; applies to the next call."""
        client = self.client
        if client is None:
            return
        client.media_factory = make_media_factory(
            play=self.media.play,
            record=self.media.record,
            no_audio=self.media.no_audio,
            input_device=self.media.input_device or None,
            output_device=self.media.output_device or None,
            bitrate=self.media.bitrate,
            processing=self.media.processing,
            emit=client.emit,
            on_session=self._use_own_source if self.audio_source_factory is not None else None,
        )

    def _use_own_source(self, session: MediaSessionLike) -> None:
        """Tests and the audio check give the call their own microphone: swapped before the session starts."""
        assert self.audio_source_factory is not None
        old, session.source = session.source, self.audio_source_factory()
        old.close()

    def _on_event(self, event: ev.ClientEvent) -> None:
        self.event.emit(event)
