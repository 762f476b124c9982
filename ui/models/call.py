"""The one call the window shows: placing, ringing, answering, in call (timer, path, levels, stats), ending.

The client's call-state event (`CallStateChanged`) drives `state`; path, stats and audio notices
fill in the rest. Widgets read the properties and call the actions, which go to the client API
(mute, volume, levels and devices too: nothing here touches a media session). When the call ends
it is written to the history and `ended` carries the sentence the user reads.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from app import events as ev
from app.client.client import ClientError, WzpClient
from app.identity.alias import display_alias
from app.identity.safety_code import safety_code
from ui.client_host import ClientHost
from ui.models.blocks import BlocksModel
from ui.models.contacts import ContactsModel
from ui.models.history import HistoryModel
from ui.sentences import blocked_sentence, format_duration, incoming_end_sentence, outgoing_end_sentence, path_badge
from ui.tasks import TaskRunner

log = logging.getLogger(__name__)

IDLE, CALLING, RINGING, INCOMING = "idle", "calling", "ringing", "incoming"
CONNECTING, IN_CALL = "connecting", "in_call"
#: What the window shows for each state of the client's call state machine (app.call.call_state).
SHOWN_STATE = {
    "offering": CALLING,
    "ringing": RINGING,
    "incoming": INCOMING,
    "answered": CONNECTING,
    "setup": CONNECTING,
    "racing": CONNECTING,
    "in-call": IN_CALL,
}
LEVEL_POLL_MS = 100  # meters move at a human rate (10/s), never per 20 ms frame


class CallModel(QObject):
    changed = Signal()  # state, peer, path or mute changed
    tick = Signal()  # once a second in a call (the timer)
    incoming = Signal()  # a call rings here: show the incoming dialog
    levels = Signal(float, float)  # input dBFS, output dBFS, every 100 ms in a call
    stats_changed = Signal()
    ended = Signal(str)  # the sentence saying how the call ended
    finished = Signal(str, bool, bool, bool)  # reason, outgoing, connected, declined here (for the end cue)
    message = Signal(str)  # something to show in the status line
    notify = Signal(str, str)  # title, text for a system notification
    device_switched = Signal(str, str)  # "input" | "output", device name ("" = default)

    def __init__(
        self,
        host: ClientHost,
        contacts: ContactsModel,
        history: HistoryModel,
        tasks: TaskRunner,
        *,
        privacy_default: Callable[[], str],
        blocks: BlocksModel | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.host = host
        self.contacts = contacts
        self.history = history
        self.blocks = blocks
        self.tasks = tasks
        self.privacy_default = privacy_default
        #: Incoming calls that rang while another was ringing: each rings when the one before ends.
        self._waiting: deque[ev.CallStateChanged] = deque()
        self._reset()
        self.muted = False
        self.volume_percent = 100
        self._safety_code: tuple[tuple[str, str], str] = (("", ""), "")
        host.event.connect(self._on_event)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(1000)
        self._tick_timer.timeout.connect(self.tick.emit)
        self._level_timer = QTimer(self)
        self._level_timer.setInterval(LEVEL_POLL_MS)
        self._level_timer.timeout.connect(self._poll_levels)
        #: Whether anyone can see the level meters now (set by the call page); None: always.
        self.levels_visible: Callable[[], bool] | None = None

    def _reset(self) -> None:
        self.state = IDLE
        self.call_id: str | None = None
        self.outgoing = False
        self.peer_fingerprint = ""
        self.peer_alias = ""
        self.started_at = 0.0  # wall clock, for the history
        self.connected_at = 0.0  # monotonic, for the timer
        self.path = ""
        self.badge = ""
        self.declined = False
        self.blocked = False  # declined with "Block": the caller is on the block list now
        self.stats: ev.Stats | None = None
        self.input_level_db = -100.0
        self.output_level_db = -100.0

    # ------------------------------------------------------------ what is shown

    @property
    def active(self) -> bool:
        return self.state != IDLE

    @property
    def peer_name(self) -> str:
        return self.contacts.display_name(self.peer_fingerprint, self.peer_alias) if self.peer_fingerprint else ""

    @property
    def status_text(self) -> str:
        return {
            CALLING: self.tr("Calling…"),
            RINGING: self.tr("Ringing…"),
            INCOMING: self.tr("Incoming call…"),
            CONNECTING: self.tr("Connecting…"),
            IN_CALL: self.tr("In call"),
        }.get(self.state, "")

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.connected_at if self.state == IN_CALL and self.connected_at else 0.0

    @property
    def elapsed_text(self) -> str:
        return format_duration(self.elapsed_s) if self.state == IN_CALL else ""

    @property
    def peer_trusted(self) -> bool:
        return self.contacts.is_trusted(self.peer_fingerprint)

    @property
    def peer_verified(self) -> bool:
        return self.contacts.is_verified(self.peer_fingerprint)

    @property
    def safety_code(self) -> str:
        """The code both people compare to verify each other ("" without a peer)."""
        if not self.peer_fingerprint:
            return ""
        key = (self.host.identity.fingerprint, self.peer_fingerprint)
        if self._safety_code[0] != key:
            try:
                code = safety_code(*key)
            except ValueError:  # FingerprintError is one; our own fingerprint: nothing to compare
                code = ""
            self._safety_code = (key, code)
        return self._safety_code[1]

    def mark_verified(self) -> None:
        """The user compared the safety code with the peer and says it matched (a deliberate act)."""
        if not self.peer_fingerprint or not self.safety_code:
            return
        self.contacts.set_verified(self.peer_fingerprint, True, display_alias(self.peer_alias))
        self.changed.emit()

    @property
    def accept_mode(self) -> str:
        """What the Accept button does: "trusted" (direct allowed) or "generic" (via the relay, addresses hidden)."""
        if self.peer_trusted or self.privacy_default() != "private":
            return "trusted"
        return "generic"

    # ------------------------------------------------------------------ actions

    #: Where else to look for someone (the relays a contact was reached on, Nearby); set by the app.
    route_for: Callable[[str], list[str]] = staticmethod(lambda fingerprint: [])  # type: ignore[assignment]

    def place_call(self, fingerprint: str, alias: str = "", relays: Sequence[str] = ()) -> None:
        if self.active:
            self.message.emit(self.tr("You are already in a call. Hang up first."))
            return
        client = self.host.client
        if client is None:
            self.message.emit(self.tr("No relay is set up. Open Settings to choose or host one."))
            return
        self._reset()
        self.state, self.outgoing = CALLING, True
        self.peer_fingerprint, self.peer_alias = fingerprint, alias
        self.started_at = time.time()
        self.changed.emit()

        async def place() -> None:
            try:
                route = list(dict.fromkeys([*relays, *self.route_for(fingerprint)]))
                call_id = await client.place_call(fingerprint, route)
            except Exception:
                self._reset()
                self.changed.emit()
                raise
            if self.state == CALLING and self.call_id is None:
                self.call_id = call_id
            log.info("calling %s call_id=%s", fingerprint, call_id)

        self.tasks.run(place(), what="place the call")

    def cancel(self) -> None:
        self.hang_up()

    def hang_up(self) -> None:
        client, call_id = self.host.client, self.call_id
        if client is None or call_id is None:
            return
        if self.state == INCOMING:
            self.decline()
            return
        self.tasks.run(client.hangup(call_id), what="hang up")

    def accept(self) -> None:
        self._answer(self.accept_mode)

    def accept_privately(self) -> None:
        self._answer("generic")

    def decline(self) -> None:
        self.declined = True
        self._answer("reject")

    def block_caller(self, fingerprint: str) -> None:
        """Block `fingerprint` and, if it is the caller ringing now, decline this call."""
        if self.blocks is None:
            return
        ringing = self.state == INCOMING and fingerprint == self.peer_fingerprint
        if not self.blocks.block(fingerprint, self.peer_alias if fingerprint == self.peer_fingerprint else ""):
            return
        if ringing:
            self.blocked = True
            self.decline()

    def _answer(self, mode: str) -> None:
        client, call_id = self.host.client, self.call_id
        if client is None or call_id is None or self.state != INCOMING:
            return
        log.info("answering call_id=%s mode=%s", call_id, mode)
        if mode != "reject":
            self.state = CONNECTING
            self.changed.emit()
        self.tasks.run(client.answer(call_id, mode), what="answer the call")

    def _in_client(self, control: Callable[[WzpClient, str], object]) -> None:
        """Apply a control to this call in the client (a call that just ended takes none)."""
        client, call_id = self.host.client, self.call_id
        if client is None or call_id is None:
            return
        try:
            control(client, call_id)
        except ClientError as exc:
            log.info("call control not applied call_id=%s: %s", call_id, exc)

    def set_muted(self, muted: bool) -> None:
        self.muted = muted
        self._in_client(lambda client, call_id: client.set_muted(call_id, muted))
        self.changed.emit()

    def toggle_mute(self) -> None:
        self.set_muted(not self.muted)

    def set_volume_percent(self, percent: int) -> None:
        self.volume_percent = max(0, min(200, percent))
        volume = self.volume_percent / 100
        self._in_client(lambda client, call_id: client.set_volume(call_id, volume))

    def switch_device(self, kind: str, device: str) -> None:
        """Move the running call to another microphone/speaker; later calls use it too."""
        if kind == "input":
            self.host.media.input_device = device
        else:
            self.host.media.output_device = device
        self.host.apply_media_options()
        self.device_switched.emit(kind, device)
        client, call_id = self.host.client, self.call_id
        if client is None or call_id is None:
            return
        try:
            if not client.switch_device(call_id, kind, device or None):
                return  # no device in use (silence, files): nothing to switch now
        except ClientError as exc:
            log.warning("switching the %s failed: %s", kind, exc)
            text = self.tr("Could not switch the microphone: {error}") if kind == "input" else self.tr(
                "Could not switch the speaker: {error}"
            )
            self.message.emit(text.format(error=exc))
        else:
            text = self.tr("Now using {device}.") if device else self.tr("Now using the default device.")
            self.message.emit(text.format(device=device))

    # ------------------------------------------------------------------ events

    def _on_event(self, event: ev.ClientEvent) -> None:
        if isinstance(event, ev.CallStateChanged):
            self._on_call_state(event)
            return
        if getattr(event, "call_id", None) != self.call_id or self.call_id is None:
            return
        if isinstance(event, ev.PathChosen):
            self.path = event.path
            self.badge = path_badge(event.path, event.remote, event.candidate)
            self.changed.emit()
        elif isinstance(event, ev.Stats):
            self.stats = event
            client = self.host.client
            if client is None or not client.has_audio(event.call_id):
                self._set_levels(event.input_level_db, event.output_level_db)
            self.stats_changed.emit()
        elif isinstance(event, ev.AudioNotice):
            self.message.emit(event.message)

    def _on_call_state(self, event: ev.CallStateChanged) -> None:
        if event.state == "incoming":
            self._on_incoming(event)
            return
        if event.state == "ended" and any(w.call_id == event.call_id for w in self._waiting):
            self._waiting_ended(event)
            return
        if event.call_id != self.call_id:
            return
        if event.state == "ended":
            self._on_ended(event)
            return
        self.peer_alias = event.peer_alias or self.peer_alias
        shown = SHOWN_STATE.get(event.state, self.state)
        if shown == IN_CALL and self.state != IN_CALL:
            self.connected_at = time.monotonic()
            self._tick_timer.start()
            self._level_timer.start()
        self.state = shown
        self.changed.emit()

    def _on_incoming(self, event: ev.CallStateChanged) -> None:
        if self.state == INCOMING:
            # Another call already rings: this one waits its turn (a caller who re-offers after
            # every decline must not make everyone else's call fail). Accepting one makes the relay
            # end the others with Busy.
            log.info("incoming call waits while another rings call_id=%s", event.call_id)
            self._waiting.append(event)
            name = self.contacts.display_name(event.peer_fingerprint, event.peer_alias)
            self.notify.emit(self.tr("Incoming call"), self.tr("{name} is also calling you.").format(name=name))
            return
        if self.active:
            log.info("incoming call while busy refused call_id=%s", event.call_id)
            client = self.host.client
            if client is not None:
                self.tasks.run(client.answer(event.call_id, "reject"), what="refuse a second call")
            self.history.record(
                call_id=event.call_id, direction="missed", peer_fingerprint=event.peer_fingerprint,
                peer_alias=event.peer_alias, started_at=time.time(), duration_s=0, reason="Busy", path="",
            )
            return
        self._reset()
        self.state, self.outgoing = INCOMING, False
        self.call_id = event.call_id
        self.peer_fingerprint, self.peer_alias = event.peer_fingerprint, event.peer_alias
        self.started_at = time.time()
        self.changed.emit()
        self.incoming.emit()  # the app rings, shows the dialog and an actionable notification

    def _on_ended(self, event: ev.CallStateChanged) -> None:
        connected = self.state == IN_CALL or bool(self.path)
        name = self.peer_name
        if self.outgoing:
            direction = "outgoing"
            sentence = outgoing_end_sentence(event.reason, name, connected=connected, duration_s=event.duration_s)
        else:
            direction = "incoming" if connected else ("declined" if self.declined else "missed")
            sentence = incoming_end_sentence(
                event.reason, name, connected=connected, declined=self.declined, duration_s=event.duration_s
            )
            if self.blocked and not connected:
                sentence = blocked_sentence(name)
        assert self.call_id is not None
        self.history.record(
            call_id=self.call_id,
            direction=direction,
            peer_fingerprint=self.peer_fingerprint,
            peer_alias=self.peer_alias,
            started_at=self.started_at,
            duration_s=event.duration_s if connected else 0.0,
            reason=event.reason,
            path=self.path,
        )
        log.info("call over: %s", sentence)
        outgoing, declined_here = self.outgoing, self.declined
        self._tick_timer.stop()
        self._level_timer.stop()
        self._reset()
        self.muted = False
        self.changed.emit()
        self.levels.emit(-100.0, -100.0)
        self.ended.emit(sentence)
        self.finished.emit(event.reason, outgoing, connected, declined_here)
        if direction == "missed":
            self.notify.emit(self.tr("Missed call"), sentence)
        if self._waiting:  # the next call that waited rings now
            self._on_incoming(self._waiting.popleft())

    def _waiting_ended(self, event: ev.CallStateChanged) -> None:
        """A call that waited behind another ended before its turn (its caller gave up, or the
        relay said Busy because the user accepted the other one): a missed call."""
        waited = next(w for w in self._waiting if w.call_id == event.call_id)
        self._waiting.remove(waited)
        self.history.record(
            call_id=waited.call_id, direction="missed", peer_fingerprint=waited.peer_fingerprint,
            peer_alias=waited.peer_alias, started_at=time.time(), duration_s=0, reason=event.reason, path="",
        )

    def _poll_levels(self) -> None:
        client, call_id = self.host.client, self.call_id
        if client is None or call_id is None or not client.has_audio(call_id):
            return
        visible = self.levels_visible
        if visible is None or visible():  # nobody sees the meters (window hidden, minimized): no work
            self._set_levels(*client.levels(call_id))

    def _set_levels(self, input_db: float, output_db: float) -> None:
        self.input_level_db, self.output_level_db = input_db, output_db
        self.levels.emit(input_db, output_db)
