"""Events the client API emits (`app.client.WzpClient`) and the race and media sessions feed it; the CLI
prints them as JSON lines; the GUI renders them. At the bottom of `app/` so every layer may import it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class ClientEvent:
    event: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        # Most events are flat (a call's stats, every second): nested ones are copied deeply.
        if any(isinstance(v, list | tuple | dict) or dataclasses.is_dataclass(v) for v in values.values()):
            values = dataclasses.asdict(self)
        return {"event": self.event, **values}


@dataclass(frozen=True)
class Connecting(ClientEvent):
    event: ClassVar[str] = "connecting"
    relay: str


@dataclass(frozen=True)
class Registered(ClientEvent):
    event: ClassVar[str] = "registered"
    fingerprint: str
    alias: str
    relay: str
    relay_fingerprint: str
    reflexive_addr: str
    key_status: str  # "new" (pinned now) or "verified"


@dataclass(frozen=True)
class Reconnecting(ClientEvent):
    event: ClassVar[str] = "reconnecting"
    relay: str
    delay: float
    attempt: int
    reason: str


@dataclass(frozen=True)
class RelayKeyChanged(ClientEvent):
    event: ClassVar[str] = "relay_key_changed"
    relay: str
    pinned: str
    presented: str


@dataclass(frozen=True)
class Presence(ClientEvent):
    event: ClassVar[str] = "presence"
    users: list[dict[str, str]] = field(default_factory=list)
    resync: bool = False  # the relay says: too much changed, fetch the whole list again


@dataclass(frozen=True)
class CallStateChanged(ClientEvent):
    """The one call-state event: every step of a call, from the offer (or the ring) to the end.

    `state` is an `app.call.call_state.CallState` value: offering, ringing, incoming, answered,
    setup, racing, in-call, ended. `path` is the path carrying the call ("" before one is up);
    `reason`, `duration_s` and `by` are set when the state is "ended" (as in `Ended`)."""

    event: ClassVar[str] = "call_state"
    call_id: str
    state: str
    outgoing: bool
    peer_fingerprint: str
    peer_alias: str = ""
    path: str = ""
    reason: str = ""
    duration_s: float = 0.0
    by: str = ""


@dataclass(frozen=True)
class Incoming(ClientEvent):
    event: ClassVar[str] = "incoming"
    call_id: str
    peer_fingerprint: str
    peer_alias: str


@dataclass(frozen=True)
class Ringing(ClientEvent):
    event: ClassVar[str] = "ringing"
    call_id: str
    peer_fingerprint: str


@dataclass(frozen=True)
class Setup(ClientEvent):
    event: ClassVar[str] = "setup"
    call_id: str
    role: str
    accept_mode: str
    peer_fingerprint: str
    peer_alias: str
    peer_direct_addr: str | None
    peer_local_addrs: list[str]
    relay_addr: str


@dataclass(frozen=True)
class Candidates(ClientEvent):
    event: ClassVar[str] = "candidates"
    call_id: str
    local_addrs: list[str]
    reflexive_addr: str | None


@dataclass(frozen=True)
class RaceStarted(ClientEvent):
    event: ClassVar[str] = "race_started"
    call_id: str
    role: str
    candidates: list[dict[str, str]]
    relay_addr: str


@dataclass(frozen=True)
class CandidateResult(ClientEvent):
    event: ClassVar[str] = "candidate"
    call_id: str
    addr: str
    kind: str
    outcome: str  # "won", "failed", "lost", "rejected"
    detail: str = ""


@dataclass(frozen=True)
class PathChosen(ClientEvent):
    event: ClassVar[str] = "path"
    call_id: str
    path: str  # "direct" | "relay"
    remote: str
    candidate: str  # "host" | "mapped" | "spray" | "reflexive" | "relay"
    setup_ms: int
    #: "first" (the race's winner) | "upgrade" (a checked direct path replaced the relay) | "failover" (the
    #: path in use went silent or closed) | "recovered" (back on direct: a probe found it working again)
    reason: str = "first"


@dataclass(frozen=True)
class FirstAudio(ClientEvent):
    """Once per call: the first decoded frame from the peer was played."""

    event: ClassVar[str] = "audio"
    call_id: str
    first_audio_ms: int  # from the accept (callee) or the answer's arrival (caller)
    path: str


@dataclass(frozen=True)
class Stats(ClientEvent):
    event: ClassVar[str] = "stats"
    call_id: str
    path: str
    rtt_ms: float | None
    loss_pct: float
    jitter_ms: float
    jitter_buffer_ms: float
    bitrate_kbps: float
    packets_sent: int
    packets_received: int
    packets_concealed: int
    input_level_db: float = -100.0
    output_level_db: float = -100.0
    # Microphone processing (device path only; None when off or not measured yet). The libraries do not
    # report their canceller's own figures: these are measured by app/media/audio_processing.py.
    echo_erle_db: float | None = None  # capture energy in / out while the far end plays, last 2 s
    echo_delay_ms: float | None = None  # reference -> its echo in the raw capture
    echo_drift_ms: float | None = None  # how far the reference has slipped to follow the two devices' clock drift


@dataclass(frozen=True)
class AudioNotice(ClientEvent):
    event: ClassVar[str] = "audio_notice"
    call_id: str
    message: str


@dataclass(frozen=True)
class Ended(ClientEvent):
    event: ClassVar[str] = "ended"
    call_id: str
    reason: str
    duration_s: float = 0.0
    by: str = "remote"  # who ended it: "local" (this side), "remote" (the peer) or "relay"
    #: The relay that gave the reason (e.g. where the person was not online), when one did.
    relay: str = ""


@dataclass(frozen=True)
class StatusChanged(ClientEvent):
    """The relay link's status: connecting, connected, reconnecting, key-changed or replaced."""

    event: ClassVar[str] = "status"
    status: str


@dataclass(frozen=True)
class Notice(ClientEvent):
    """Something the user should read (a human sentence)."""

    event: ClassVar[str] = "notice"
    level: str
    message: str


@dataclass(frozen=True)
class PortMapping(ClientEvent):
    """The port mapping of our shared socket changed (`app.nat.portmap`): state is trying,
    mapped, failed or closed; `answers` says what the router said to each method tried."""

    event: ClassVar[str] = "port_mapping"
    state: str
    method: str | None
    mapped_addr: str | None
    answers: dict[str, str]


@dataclass(frozen=True)
class Spray(ClientEvent):
    """A port spray ended (`app.nat.spray`): `side` is "sockets" (we opened side sockets) or
    "probe" (we probed); `outcome` "connected" or why it stopped."""

    event: ClassVar[str] = "spray"
    call_id: str
    side: str
    sockets: int
    probes: int
    outcome: str
    ms: int
    side_sockets_open: int = 0  # "sockets": those still open when it ended (1: the winner's)
