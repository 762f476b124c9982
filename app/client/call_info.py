"""`CallInfo`: what the client knows of one call, from the offer to the hang-up."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.call.call_state import CallState, CallStateMachine
from app.call.race import PathRace, RaceResult
from app.media.media_keys import EphemeralKey, MediaKeys
from app.net import QuicPeerConnection


class MediaSessionLike(Protocol):
    """What the client needs of a media session (see app.media.session)."""

    audio_origin: float | None
    on_path_silent: Callable[[str], None] | None
    muted: bool
    volume: float
    input_level_db: float
    output_level_db: float
    source: Any  # an AudioSource; a device source has switch(device)
    sink: Any  # an AudioSink; a device sink has switch(device)

    def set_transport(self, conn: QuicPeerConnection, path: str) -> None: ...
    def set_standby(self, conn: QuicPeerConnection | None) -> None: ...
    def set_muted(self, muted: bool) -> None: ...
    def set_volume(self, volume: float) -> None: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


MediaFactory = Callable[["CallInfo", MediaKeys], Awaitable[MediaSessionLike | None]]


@dataclass
class CallInfo:
    call_id: str
    outgoing: bool
    peer_fingerprint: str
    peer_alias: str = ""
    machine: CallStateMachine = field(default_factory=lambda: CallStateMachine(True))
    ephemeral: EphemeralKey = field(default_factory=EphemeralKey.generate)
    peer_public_key: bytes = b""
    peer_ephemeral: bytes = b""
    accept_mode: str = ""
    relay_addr: str = ""
    keys: MediaKeys | None = None
    race: PathRace | None = None
    result: RaceResult | None = None
    media: MediaSessionLike | None = None
    task: asyncio.Task[None] | None = None
    setup_at: float = 0.0
    connected_at: float = 0.0
    local_addrs: list[str] = field(default_factory=list)  # our address list as sent (roles read it)
    #: The relay the call is signalled on: "" for our home relay, else a visited relay's address.
    via: str = ""
    #: Relays still to try (outgoing calls across relays), and what each one tried said.
    route: list[str] = field(default_factory=list)
    outcomes: list[tuple[str, str]] = field(default_factory=list)
    offered: bool = False  # our offer went out (a cancel before it needs no word to the relay)
    #: What the user set for this call, applied to its media session whenever it runs.
    muted: bool = False
    volume: float = 1.0

    @property
    def state(self) -> CallState:
        return self.machine.state

    @property
    def path(self) -> str | None:
        return self.result.path if self.result else None
