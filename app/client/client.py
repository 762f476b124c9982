"""`WzpClient`: the one asyncio API the CLI and the GUI both use.

It owns the shared QUIC endpoint (one UDP socket), keeps a registered
signaling link to the relay (re-registering after a drop with back-off
1, 2, 4, 8, 15, 30 s), and runs each call: offer/answer, the dual-path race,
and the media session on the path that won. Everything that happens is an
event (`app.events`) delivered to the listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Container, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app import events as ev
from app import memory
from app.call.call_state import CallEvent, CallState, CallStateError, CallStateMachine
from app.call.race import PathRace, RaceFailed, RaceParams, RaceResult
from app.client.relay_link import (
    RegistrationInfo,
    RelayError,
    RelayKeyMismatch,
    RelayLink,
    open_media_connection,
    reflect_once,
)
from app.client.relay_pins import RelayPins
from app.client.relay_pool import RelayPool
from app.identity import Identity, fingerprint_of
from app.identity.alias import display_alias
from app.invite import InviteError, parse_target
from app.media.errors import MediaKeyError
from app.media.media_keys import EphemeralKey, MediaKeys, derive_media_keys, sign_ephemeral, verify_ephemeral
from app.nat.addresses import parse_ip
from app.nat.candidates import dial_order, has_mapped, local_host_candidates
from app.nat.nat_type import NatProbe, NatReport, classify_nat
from app.nat.portmap import MappingStatus, PortMapper
from app.nat.relay_address import RelayAddressError, parse_relay_address, split_relay_address
from app.nat.roles import decide_role
from app.nat.spray import hard_hint, parse_hard_hint, spray_enabled
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.protocol.close_codes import CALL_ENDED

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
#: Ended calls are forgotten at once (keys wiped); their ids are remembered this long so a late
#: hangup or message for them is recognised as "already over", not as an unknown call.
RECENTLY_ENDED = 256
#: An offer or answer waits at most this long for a port mapping still being asked for.
MAPPING_WAIT_S = 0.5
ACCEPT_MODES = {"trusted": "AcceptTrusted", "generic": "AcceptGeneric"}
#: After a call ends, its memory is collected this much later (its QUIC connections drain for
#: 3 PTO first), and only while no other call plays audio: a full collection pauses the loop.
RECLAIM_AFTER_S = 1.0


class MediaSessionLike(Protocol):
    """What the client needs of a media session (see app.media.session)."""

    audio_origin: float | None
    on_path_silent: Callable[[str], None] | None

    def set_transport(self, conn: QuicPeerConnection, path: str) -> None: ...
    def set_standby(self, conn: QuicPeerConnection | None) -> None: ...
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

    @property
    def state(self) -> CallState:
        return self.machine.state

    @property
    def path(self) -> str | None:
        return self.result.path if self.result else None


class ClientError(Exception):
    """A request the client cannot carry out; the message is a sentence for the user."""


class WzpClient:
    def __init__(
        self,
        identity: Identity,
        data_dir: Path,
        relay: str | Sequence[str] | None,
        *,
        alias: str | None = None,
        discoverable: bool = True,
        port: int = 0,
        media_factory: MediaFactory | None = None,
        race_overrides: dict[str, Any] | None = None,
        blocked: Container[str] | None = None,
    ) -> None:
        # The home relay service: "host[:port]" or several nodes of it ("a,b:2" or a list), tried in
        # turn; host names or IP literals (app.nat.relay_address). None or empty: no home relay (this
        # client can only call people whose relay it is told, e.g. by an invite or the LAN).
        texts = relay.split(",") if isinstance(relay, str) else (relay or [])
        relays = [parse_relay_address(r) for r in texts if r.strip()]
        self.identity = identity
        self.data_dir = data_dir
        self.relays: list[str] = relays
        self.relay = relays[0] if relays else ""  # the node in use (the next one is tried when it fails)
        # Our own name goes out as others will show it (printable, one line, at most 64 characters).
        self.alias = display_alias(alias or identity.alias) or identity.alias
        self.discoverable = discoverable
        self.port = port
        self.media_factory = media_factory
        self.race_overrides = race_overrides or {}
        #: Fingerprints whose calls are declined without ringing (e.g. app.storage.BlockList).
        self.blocked: Container[str] = blocked if blocked is not None else set()
        self.pins = RelayPins(data_dir)
        self.endpoint: QuicEndpoint | None = None
        self.link: RelayLink | None = None
        self.registration: RegistrationInfo | None = None
        #: Calls not yet ended; an ended call is removed at once and its keys wiped.
        self.calls: dict[str, CallInfo] = {}
        self._recently_ended: deque[str] = deque(maxlen=RECENTLY_ENDED)
        self.status = "offline"  # offline | connecting | connected | reconnecting | key-changed | replaced
        self._listeners: list[Callable[[ev.ClientEvent], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._registered = asyncio.Event()
        self._stopping = False
        self._accept_task: asyncio.Task[None] | None = None
        self._link_task: asyncio.Task[None] | None = None
        self._wake_reconnect = asyncio.Event()
        self._media_stops: set[asyncio.Future[None]] = set()
        #: The router's port mapping for our shared socket (`app.nat.portmap`; `status` for the GUI).
        self.port_mapper: PortMapper | None = None
        #: Our NAT, classified once after the first registration when spraying is on (`app.nat.spray`).
        self.nat_report: NatReport | None = None
        self._nat_known = asyncio.Event()
        self.visited: RelayPool | None = None
        self.reclaim_after = RECLAIM_AFTER_S
        self._reclaim_timer: asyncio.TimerHandle | None = None
        self._ending: set[asyncio.Task[None]] = set()  # ended calls' tasks still winding down
        #: Set each time an ended call's memory has been collected (tests and benches wait on it).
        self.reclaimed = asyncio.Event()

    # ------------------------------------------------------------ lifecycle

    def add_listener(self, listener: Callable[[ev.ClientEvent], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[ev.ClientEvent], None]) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def emit(self, event: ev.ClientEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed for %s", event.event)

    async def start(self) -> None:
        """Bind the shared socket and start connecting to the relay (returns at once)."""
        # Incoming connections only while a call's race waits for the peer's direct dial (with a cap):
        # a stranger's handshake costs us nothing the rest of the time.
        self.endpoint = await QuicEndpoint.create("::", self.port, incoming="on-demand")
        self.port_mapper = PortMapper(self.endpoint.port, on_change=self._on_port_mapping)
        self.port_mapper.start()
        if spray_enabled():
            self._spawn(self._classify_nat())
        else:
            self._nat_known.set()
        self.visited = RelayPool(
            self.endpoint,
            self.identity,
            self.alias,
            self.pins,
            on_message=self._on_message,
            on_lost=self._on_visited_lost,
        )
        self._accept_task = self._spawn(self._accept_direct())
        if self.relays:
            self._link_task = self._spawn(self._keep_registered())
        else:
            log.info("no home relay: calls go to the relays they are placed on")

    async def wait_registered(self, timeout: float | None = None) -> RegistrationInfo:
        await asyncio.wait_for(self._registered.wait(), timeout)
        assert self.registration is not None
        return self.registration

    async def stop(self) -> None:
        self._stopping = True
        for call in list(self.calls.values()):
            if not call.machine.ended:
                with contextlib.suppress(ClientError, ConnectionClosed):
                    await self.hangup(call.call_id)
        if self._media_stops:  # let audio files and devices close properly
            await asyncio.gather(*self._media_stops, return_exceptions=True)
        if self.link is not None:
            self.link.close()
        if self.visited is not None:
            await self.visited.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.port_mapper is not None:
            await self.port_mapper.close()  # the router forwards nothing to us any more
        if self._reclaim_timer is not None:
            self._reclaim_timer.cancel()
            self._reclaim_timer = None
        if self.endpoint is not None:
            await self.endpoint.close()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("client task failed", exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def _set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.emit(ev.StatusChanged(status=status))

    def trust_relay_key(self, fingerprint: str) -> None:
        """The user confirmed a relay's new key: pin it and reconnect."""
        self._pin(fingerprint)
        self._wake_reconnect.set()

    def _pin(self, fingerprint: str) -> None:
        try:
            self.pins.pin(self.relay, fingerprint)
        except OSError as exc:
            log.error("relay key not saved relay=%s: %s", self.relay, exc)
            self.emit(
                ev.Notice(
                    level="warning",
                    message=f"The relay's key could not be saved ({exc}); you will be asked again next time.",
                )
            )

    def reconnect_now(self) -> None:
        self._wake_reconnect.set()

    # ------------------------------------------------------------ signaling

    async def _keep_registered(self) -> None:
        attempt = 0
        while not self._stopping:
            assert self.endpoint is not None
            # Cleared here, so a reconnect_now() that comes while this attempt runs is not lost.
            self._wake_reconnect.clear()
            self._set_status("connecting" if attempt == 0 else "reconnecting")
            self.emit(ev.Connecting(relay=self.relay))
            link = RelayLink(
                self.endpoint,
                self.identity,
                self.relay,
                alias=self.alias,
                discoverable=self.discoverable,
                pinned=self._service_pin(),
                on_message=self._on_message,
            )
            if (problem := self.pins.take_problem()) is not None:
                self.emit(ev.Notice(level="warning", message=problem))
            reason = ""
            try:
                info = await link.open()
            except RelayKeyMismatch as exc:
                self._set_status("key-changed")
                self.emit(ev.RelayKeyChanged(relay=self.relay, pinned=exc.pinned, presented=exc.presented))
                self.emit(ev.Notice(level="error", message=str(exc)))
                reason = "relay key changed"
            except RelayError as exc:
                reason = str(exc)
            else:
                if info.key_status == "new":
                    self._pin(info.relay_fingerprint)
                self.link, self.registration = link, info
                self._set_status("connected")
                attempt = 0
                self._registered.set()
                self.emit(
                    ev.Registered(
                        fingerprint=info.fingerprint,
                        alias=self.alias,
                        relay=self.relay,
                        relay_fingerprint=info.relay_fingerprint,
                        reflexive_addr=info.observed_addr,
                        key_status=info.key_status,
                    )
                )
                reason = await link.run()
                self._registered.clear()
                self.link = None
                self._on_link_lost(reason)
            if self._stopping:
                return
            if self.status in ("key-changed", "replaced"):
                # Retrying cannot help: wait until the user trusts the new key or asks to reconnect.
                log.info("relay link down relay=%s reason=%s; waiting for the user", self.relay, reason)
                await self._wake_reconnect.wait()
                attempt = 0
                continue
            delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
            attempt += 1
            self._set_status("reconnecting")
            log.info("relay link down relay=%s reason=%s retry_in=%.0fs", self.relay, reason, delay)
            self.emit(ev.Reconnecting(relay=self.relay, delay=delay, attempt=attempt, reason=reason))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_reconnect.wait(), delay)
            if len(self.relays) > 1:  # then the next node of the service
                self.relay = self.relays[(self.relays.index(self.relay) + 1) % len(self.relays)]

    def _service_pin(self) -> str | None:
        """The pinned key of this node, else of any node in the list: all nodes of a service share one key."""
        for addr in [self.relay, *self.relays]:
            if (pinned := self.pins.get(addr)) is not None:
                return pinned
        return None

    def _on_link_lost(self, reason: str, via: str = "") -> None:
        """A relay link dropped: its calls still ringing end (the relay ended them too)."""
        for call in list(self.calls.values()):
            if call.via != via:
                continue
            if call.state in (CallState.OFFERING, CallState.RINGING, CallState.INCOMING, CallState.ANSWERED):
                self._end_call(call, "Error", by="relay")

    def _on_visited_lost(self, relay: str, reason: str) -> None:
        self._on_link_lost(reason, via=relay)

    def _send_call(self, call: CallInfo, msg: m.Message) -> None:
        """Send a message about `call` on the relay link the call is signalled on."""
        self._send_via(call.via, msg)

    def _send_via(self, via: str, msg: m.Message) -> None:
        """Send on the home link (`via` "") or on the link to the visited relay `via`."""
        if not via:
            self._send(msg)
            return
        link = self.visited.link(via) if self.visited is not None else None
        if link is None:
            raise ClientError(f"The connection to the relay {via} dropped.")
        try:
            link.send(msg)
        except ConnectionClosed as exc:
            raise ClientError(f"The connection to the relay {via} dropped.") from exc

    def _send(self, msg: m.Message) -> None:
        if self.link is None:
            raise ClientError("Not connected to the relay. Check your network; WZP keeps retrying.")
        try:
            self.link.send(msg)
        except ConnectionClosed as exc:
            raise ClientError("The connection to the relay dropped. WZP is reconnecting.") from exc

    def _on_message(self, msg: m.Message, via: str = "") -> None:
        """A message from the home relay (`via` "") or from a visited relay (its address)."""
        if via and not isinstance(
            msg, m.CallIncoming | m.CallRinging | m.CallSetup | m.Hangup | m.PunchReady | m.MediaPathReport | m.Error
        ):
            log.debug("message from visited relay ignored relay=%s type=%s", via, type(msg).__name__)
            return
        if isinstance(msg, m.PresenceDelta):
            if msg.resync:
                self.emit(ev.Presence(users=[], resync=True))
                return
            users = [
                {"fingerprint": c.fingerprint, "alias": c.alias, "online": "yes" if c.online else "no"}
                for c in msg.changes
                if c.fingerprint != self.identity.fingerprint
            ]
            if users:
                self.emit(ev.Presence(users=users))
            return
        if isinstance(msg, m.Replaced):
            self._set_status("replaced")
            self.emit(
                ev.Notice(
                    level="warning",
                    message="This identity signed in again from another place, so the relay closed this "
                    "connection. Reconnect here to take the calls back.",
                )
            )
            return
        if isinstance(msg, m.Error):
            log.warning("relay error code=%s message=%s ref=%s", msg.code, msg.message, msg.ref_type)
            return
        call_id = getattr(msg, "call_id", None)
        if isinstance(msg, m.CallIncoming):
            self._on_incoming(msg, via)
            return
        call = self.calls.get(call_id) if call_id else None
        if call is None:
            log.debug("message for unknown call ignored type=%s call_id=%s", type(msg).__name__, call_id)
            return
        if call.via != via:  # a relay speaks only for the calls placed on it
            log.warning(
                "message about a call on another relay ignored call_id=%s from=%s type=%s",
                call_id,
                via or self.relay,
                type(msg).__name__,
            )
            return
        try:
            if isinstance(msg, m.CallRinging):
                call.machine.handle(CallEvent.RINGING)
                self.emit(ev.Ringing(call_id=call.call_id, peer_fingerprint=call.peer_fingerprint))
            elif isinstance(msg, m.CallSetup):
                self._on_setup(call, msg)
            elif isinstance(msg, m.Hangup):
                if (
                    call.outgoing
                    and call.route
                    and call.state in (CallState.OFFERING, CallState.RINGING)
                    and msg.reason in ("Offline", "Unavailable")
                ):
                    call.outcomes.append((call.via or self.relay, msg.reason))
                    self._next_hop(call)
                    return
                self._end_call(call, msg.reason, by="remote", relay=call.via or self.relay)
            elif isinstance(msg, m.PunchReady):
                if call.race is not None:
                    call.race.on_peer_punched()
            elif isinstance(msg, m.MediaPathReport):
                self._on_peer_path_report(call, msg)
        except CallStateError as exc:
            log.warning("call protocol error call_id=%s: %s", call.call_id, exc)

    # ---------------------------------------------------------------- calls

    def _reflexive_on(self, via: str) -> str | None:
        """Our address as the relay a call is signalled on sees it (a server-reflexive candidate)."""
        if not via:
            return self.registration.observed_addr if self.registration else None
        link = self.visited.link(via) if self.visited is not None else None
        return link.info.observed_addr if link is not None and link.info is not None else None

    def _candidates(self) -> list[str]:
        """Our address list for an offer/answer: LAN host candidates, and the public address our
        router mapped for us (a public entry in this list is read as a `mapped` candidate)."""
        assert self.endpoint is not None
        local = local_host_candidates(self.endpoint.port)
        mapping = self.port_mapper.mapping if self.port_mapper is not None else None
        if mapping is not None and mapping.external not in local:
            local.append(mapping.external)
        elif self.nat_report is not None and self.nat_report.nat_type == "symmetric" and self.nat_report.public_ip:
            local.append(hard_hint(self.nat_report.public_ip))  # "spray me" (app.nat.spray)
        return local

    async def _classify_nat(self) -> None:
        """Once registered: does our NAT map per destination? Then calls may spray."""
        try:
            await self._registered.wait()
            self.nat_report = await self.detect_nat()
            log.info("nat classified type=%s public_ip=%s", self.nat_report.nat_type, self.nat_report.public_ip)
        finally:
            self._nat_known.set()

    async def _before_offer(self) -> None:
        """An offer or answer waits briefly for what may still be arriving: the router's port
        mapping and our NAT type."""
        waits = [asyncio.wait_for(self._nat_known.wait(), MAPPING_WAIT_S)]
        if self.port_mapper is not None:
            waits.append(self.port_mapper.wait_settled(MAPPING_WAIT_S))
        await asyncio.gather(*waits, return_exceptions=True)

    def _on_port_mapping(self, status: MappingStatus) -> None:
        mapping = status.mapping
        self.emit(
            ev.PortMapping(
                state=status.state,
                method=mapping.method if mapping else None,
                mapped_addr=mapping.external if mapping else None,
                answers=dict(status.answers),
            )
        )

    async def place_call(self, target: str, relays: Sequence[str] = ()) -> str:
        """Call someone; returns the call id. Progress arrives as events.

        `target` is a fingerprint or an invite link (`wzp:`), whose relays are tried first, then
        `relays`, then (when none is given) the home relay. A relay of our home service is used
        through the home link; any other relay is visited (`RelayPool`). When a relay says the
        person is offline or cannot be reached, the next relay is tried with the same call.
        """
        try:
            invite = parse_target(target)
            extra = [parse_relay_address(r) for r in relays]
        except (InviteError, RelayAddressError) as exc:
            raise ClientError(str(exc)) from exc
        peer = invite.fingerprint
        if peer == self.identity.fingerprint:
            raise ClientError("That is your own fingerprint; call someone else.")
        route: list[str] = []
        for relay in [*invite.relays, *extra]:
            hop = "" if relay in self.relays else relay
            if hop not in route:
                route.append(hop)
        if not route:
            if not self.relays:
                raise ClientError("No relay to find this person on: paste their invite link, or pick them from Nearby.")
            route = [""]
        if "" in route:  # our own relay first: no extra connection, and it may know them already
            route.remove("")
            route.insert(0, "")
        if route[0] == "" and (self.link is None or self.registration is None):
            if len(route) == 1:
                raise ClientError(
                    "Not connected to the relay yet. Wait for the connection, or check the relay address."
                )
            route.pop(0)  # the home relay is down: go straight to theirs
        call_id = secrets.token_hex(16)
        call = CallInfo(
            call_id=call_id,
            outgoing=True,
            peer_fingerprint=peer,
            peer_alias=invite.name,
            machine=CallStateMachine(True),
            route=route,
        )
        self.calls[call_id] = call
        await self._before_offer()
        log.info("place_call call_id=%s target=%s route=%s", call_id, peer, [r or self.relay for r in route])
        if route[0] == "":
            call.route.pop(0)
            self._offer_on(call, "", self.registration.observed_addr if self.registration else None)
        else:
            self._next_hop(call)
        return call_id

    def _next_hop(self, call: CallInfo) -> None:
        """Try the call on the next relay of its route (or end it, saying what the relays said)."""
        if self.visited is not None and call.via:
            self.visited.release(call.via, call.call_id)
        if not call.route:
            unreachable = all(outcome == "Unreachable" for _, outcome in call.outcomes)
            reason = "Unreachable" if unreachable else next(o for _, o in reversed(call.outcomes) if o != "Unreachable")
            relay = call.outcomes[-1][0] if call.outcomes else ""
            self._end_call(call, reason, by="relay", relay=relay)
            return
        hop = call.route.pop(0)
        if hop == "":
            if self.link is None or self.registration is None:
                call.outcomes.append((self.relay, "Unreachable"))
                self._next_hop(call)
                return
            self._offer_on(call, "", self.registration.observed_addr)
            return
        call.task = self._spawn(self._visit_and_offer(call, hop))

    async def _visit_and_offer(self, call: CallInfo, relay: str) -> None:
        assert self.visited is not None
        try:
            link = await self.visited.acquire(relay, call.call_id)
        except RelayError as exc:
            log.info("visited relay unreachable call_id=%s relay=%s: %s", call.call_id, relay, exc)
            if call.machine.ended:
                return
            call.outcomes.append((relay, "Unreachable"))
            if not call.route:
                self.emit(ev.Notice(level="warning", message=str(exc)))
            call.task = None
            self._next_hop(call)
            return
        call.task = None
        if call.machine.ended:
            self.visited.release(relay, call.call_id)
            return
        self._offer_on(call, relay, link.info.observed_addr if link.info else None)

    def _offer_on(self, call: CallInfo, via: str, reflexive: str | None) -> None:
        """Send the call's offer on the home link (`via` "") or a visited relay's link."""
        call.via = via
        local = call.local_addrs = self._candidates()
        self.emit(ev.Candidates(call_id=call.call_id, local_addrs=local, reflexive_addr=reflexive))
        log.info(
            "offer call_id=%s target=%s relay=%s host_candidates=%s reflexive=%s",
            call.call_id,
            call.peer_fingerprint,
            via or self.relay,
            local,
            reflexive,
        )
        signature = sign_ephemeral(
            self.identity.sign,
            call.call_id,
            self.identity.fingerprint,
            call.peer_fingerprint,
            "caller",
            call.ephemeral.public_bytes,
        )
        offer = m.DirectCallOffer(
            call_id=call.call_id,
            caller_fingerprint=self.identity.fingerprint,
            target_fingerprint=call.peer_fingerprint,
            caller_alias=self.alias,
            caller_reflexive_addr=reflexive,
            caller_local_addrs=local,
            ephemeral_key=call.ephemeral.public_bytes,
            key_signature=signature,
        )
        try:
            self._send_call(call, offer)
        except ClientError:
            call.outcomes.append((via or self.relay, "Unreachable"))
            if not via and not call.route:
                self._forget(call)
                raise
            self._next_hop(call)

    def _on_incoming(self, msg: m.CallIncoming, via: str = "") -> None:
        if msg.caller_fingerprint in self.blocked:
            log.info(
                "call from a blocked caller declined without ringing call_id=%s from=%s",
                msg.call_id,
                msg.caller_fingerprint,
            )
            with contextlib.suppress(ClientError):
                self._send_via(via, m.DirectCallAnswer(call_id=msg.call_id, accept_mode="Reject"))
            return
        # The relay carries the caller's identity key and signed call key: a relay that swaps
        # either must not get a call whose media keys it knows. Refuse, and tell the user why.
        if fingerprint_of(msg.caller_public_key) != msg.caller_fingerprint:
            problem = "the identity key it carries does not match the caller's fingerprint"
        elif not verify_ephemeral(
            msg.caller_public_key,
            msg.key_signature,
            msg.call_id,
            msg.caller_fingerprint,
            self.identity.fingerprint,
            "caller",
            msg.ephemeral_key,
        ):
            problem = "its call key is not signed by the caller"
        else:
            problem = ""
        if problem:
            log.warning("incoming call refused call_id=%s from=%s: %s", msg.call_id, msg.caller_fingerprint, problem)
            with contextlib.suppress(ClientError):
                self._send_via(via, m.DirectCallAnswer(call_id=msg.call_id, accept_mode="Reject"))
            self.emit(
                ev.Notice(
                    level="error",
                    message=f"A call from {msg.caller_fingerprint} was refused: {problem}. "
                    "The relay may be tampering with calls.",
                )
            )
            return
        call = CallInfo(
            call_id=msg.call_id,
            outgoing=False,
            peer_fingerprint=msg.caller_fingerprint,
            peer_alias=msg.caller_alias,
            machine=CallStateMachine(False),
            peer_public_key=msg.caller_public_key,
            peer_ephemeral=msg.ephemeral_key,
            via=via,
        )
        self.calls[msg.call_id] = call
        if via and self.visited is not None:
            with contextlib.suppress(RelayError):
                self.visited.hold(via, call.call_id)
        log.info("incoming call call_id=%s from=%s alias=%r", msg.call_id, msg.caller_fingerprint, msg.caller_alias)
        self.emit(
            ev.Incoming(call_id=msg.call_id, peer_fingerprint=msg.caller_fingerprint, peer_alias=msg.caller_alias)
        )

    async def answer(self, call_id: str, mode: str) -> None:
        """mode: "trusted" (reveal addresses, direct allowed), "generic" (relay only) or "reject"."""
        call = self._call(call_id)
        if call.state is not CallState.INCOMING:
            raise ClientError("This call is no longer ringing.")
        if mode == "reject":
            self._send_call(call, m.DirectCallAnswer(call_id=call_id, accept_mode="Reject"))
            self._end_call(call, "Declined", by="local")
            return
        accept_mode = ACCEPT_MODES.get(mode)
        if accept_mode is None:
            raise ClientError(f"Unknown answer mode {mode!r}: use trusted, generic or reject.")
        trusted = accept_mode == "AcceptTrusted"
        if trusted:
            await self._before_offer()
            if call.state is not CallState.INCOMING:  # ended while the router was asked
                raise ClientError("This call is no longer ringing.")
        local = call.local_addrs = self._candidates() if trusted else []
        reflexive = self._reflexive_on(call.via) if trusted else None
        if trusted:
            self.emit(ev.Candidates(call_id=call_id, local_addrs=local, reflexive_addr=reflexive))
        signature = sign_ephemeral(
            self.identity.sign,
            call_id,
            call.peer_fingerprint,
            self.identity.fingerprint,
            "callee",
            call.ephemeral.public_bytes,
        )
        call.machine.handle(CallEvent.ACCEPT)
        call.accept_mode = accept_mode
        self._send_call(
            call,
            m.DirectCallAnswer(
                call_id=call_id,
                accept_mode=accept_mode,
                callee_reflexive_addr=reflexive,
                callee_local_addrs=local,
                ephemeral_key=call.ephemeral.public_bytes,
                key_signature=signature,
            ),
        )

    async def cancel(self, call_id: str) -> None:
        call = self._call(call_id)
        if call.state not in (CallState.OFFERING, CallState.RINGING):
            raise ClientError("The call is not ringing any more; hang up instead.")
        self._send_call(call, m.CallCancel(call_id=call_id))
        self._end_call(call, "Cancelled", by="local")

    async def hangup(self, call_id: str, reason: str = "Normal") -> None:
        if call_id in self._recently_ended:
            return  # already over (both sides may hang up at once)
        call = self._call(call_id)
        if call.machine.ended:
            return
        if call.state in (CallState.OFFERING, CallState.RINGING):
            await self.cancel(call_id)
            return
        if call.state is CallState.INCOMING:
            await self.answer(call_id, "reject")
            return
        with contextlib.suppress(ClientError):
            self._send_call(call, m.Hangup(call_id=call_id, reason=reason))
        self._end_call(call, reason, by="local")

    def _call(self, call_id: str) -> CallInfo:
        call = self.calls.get(call_id)
        if call is None:
            raise ClientError("No such call.")
        return call

    def _on_setup(self, call: CallInfo, setup: m.CallSetup) -> None:
        # Everything below arrives through the relay: a relay that names another peer, or swaps
        # the peer's identity key or call key, would learn the media keys. End the call, and say why.
        def refuse(problem: str) -> None:
            log.error("call setup refused call_id=%s: %s", call.call_id, problem)
            self.emit(
                ev.Notice(
                    level="error",
                    message=f"The call with {call.peer_fingerprint} was ended: {problem}. "
                    "The relay may be tampering with calls.",
                )
            )
            self._abort_call(call, "Error")

        if setup.peer_fingerprint != call.peer_fingerprint:
            refuse("the relay connected it to someone else")
            return
        if fingerprint_of(setup.peer_public_key) != setup.peer_fingerprint:
            refuse("the relay sent an identity key that does not match the other side's fingerprint")
            return
        caller_fp, callee_fp = (
            (self.identity.fingerprint, call.peer_fingerprint)
            if call.outgoing
            else (call.peer_fingerprint, self.identity.fingerprint)
        )
        peer_role = "callee" if call.outgoing else "caller"
        if not verify_ephemeral(
            setup.peer_public_key,
            setup.peer_key_signature,
            call.call_id,
            caller_fp,
            callee_fp,
            peer_role,
            setup.peer_ephemeral_key,
        ):
            refuse("the other side's call key is not signed by them")
            return
        try:
            call.keys = derive_media_keys(
                call.ephemeral, setup.peer_ephemeral_key, call.call_id, caller_fp, callee_fp, call.outgoing
            )
        except MediaKeyError as exc:
            log.error("call key agreement failed call_id=%s: %s", call.call_id, exc)
            refuse("the call keys could not be agreed")
            return
        call.ephemeral.wipe()  # the media keys are derived: the private half has done its job
        call.machine.handle(CallEvent.SETUP)
        call.peer_public_key = setup.peer_public_key
        call.peer_ephemeral = setup.peer_ephemeral_key
        call.peer_alias = setup.peer_alias or call.peer_alias
        call.accept_mode = setup.accept_mode
        call.relay_addr = self._media_relay_addr(setup.relay_addr, call.via or self.relay)
        call.setup_at = asyncio.get_running_loop().time()
        self.emit(
            ev.Setup(
                call_id=call.call_id,
                role=setup.role,
                accept_mode=setup.accept_mode,
                peer_fingerprint=setup.peer_fingerprint,
                peer_alias=call.peer_alias,
                peer_direct_addr=setup.peer_direct_addr,
                peer_local_addrs=list(setup.peer_local_addrs),
                relay_addr=call.relay_addr,
            )
        )
        call.task = self._spawn(self._connect_call(call, setup))

    def _media_relay_addr(self, advertised: str, signal_relay: str) -> str:
        """Where to send relayed media: the relay's advertised media address, unless it is empty
        (the relay listens on a wildcard), or loopback / private while the relay we signal on is not:
        then the address we reached that relay at."""
        if not advertised:
            return signal_relay
        try:
            host, _ = split_relay_address(advertised)
            relay_host, _ = split_relay_address(signal_relay)
            if _is_loopback(host) and not _is_loopback(relay_host):
                log.warning("relay advertised a loopback media address %s; using %s", advertised, signal_relay)
                return signal_relay
            if _is_private(host) and not (_is_private(relay_host) or _is_loopback(relay_host)):
                # A relay hosted at home tells everyone its LAN address; from outside, that address is
                # someone else's network. Media goes where we reached the relay (its mapped/public address).
                log.info("relay advertised a private media address %s; reached it at %s", advertised, signal_relay)
                return signal_relay
            return parse_relay_address(advertised)
        except ValueError:
            log.warning("relay advertised an unusable media address %r; using %s", advertised, signal_relay)
            return signal_relay

    async def _open_media(self, call: CallInfo, relay_addr: str) -> QuicPeerConnection:
        """The media connection to the relay's room, which must hold the (pinned) key of the relay
        the call is signalled on."""
        assert self.endpoint is not None
        if call.via:
            link = self.visited.link(call.via) if self.visited is not None else None
            expected = link.info.relay_fingerprint if link is not None and link.info is not None else None
            if expected is None:
                raise RelayError(f"The connection to the relay {call.via} dropped.")
        else:
            expected = self.registration.relay_fingerprint if self.registration is not None else None
        return await open_media_connection(
            self.endpoint, relay_addr, self.identity, call.call_id, expected_relay=expected
        )

    def _abort_call(self, call: CallInfo, reason: str) -> None:
        with contextlib.suppress(ClientError):
            self._send_call(call, m.Hangup(call_id=call.call_id, reason=reason))
        self._end_call(call, reason, by="local")

    async def _connect_call(self, call: CallInfo, setup: m.CallSetup) -> None:
        """Run the call's paths (`PathRace`) for as long as the call lasts; audio starts on the first."""
        assert self.endpoint is not None
        allow_direct = setup.accept_mode == "AcceptTrusted"
        candidates = tuple(dial_order(setup.peer_local_addrs, setup.peer_direct_addr)) if allow_direct else ()
        own_mapped = allow_direct and has_mapped(call.local_addrs)
        peer_mapped = allow_direct and has_mapped(setup.peer_local_addrs)
        own_hard = allow_direct and parse_hard_hint(call.local_addrs) is not None
        peer_hard_ip = parse_hard_hint(list(setup.peer_local_addrs)) if allow_direct else None
        spray = ""
        if spray_enabled() and not (own_mapped or peer_mapped) and own_hard != (peer_hard_ip is not None):
            spray = "sockets" if own_hard else "probe"
        own_eph = call.ephemeral.public_bytes
        caller_eph, callee_eph = (own_eph, call.peer_ephemeral) if call.outgoing else (call.peer_ephemeral, own_eph)
        params = RaceParams(
            call_id=call.call_id,
            role=decide_role(
                self.identity.fingerprint,
                call.peer_fingerprint,
                own_mapped=own_mapped,
                peer_mapped=peer_mapped,
                own_hard=own_hard,
                peer_hard=peer_hard_ip is not None,
            ),
            own_fingerprint=self.identity.fingerprint,
            peer_fingerprint=call.peer_fingerprint,
            peer_public_key=call.peer_public_key,
            caller_ephemeral=caller_eph,
            callee_ephemeral=callee_eph,
            candidates=candidates,
            relay_addr=call.relay_addr,
            allow_direct=allow_direct,
            spray=spray,
            spray_ip=peer_hard_ip or "",
            **self.race_overrides,
        )
        relay_addr = call.relay_addr
        race = PathRace(
            self.endpoint,
            self.identity,
            params,
            open_relay=lambda: self._open_media(call, relay_addr),
            signal=lambda msg: self._send_quiet(call, msg),
            emit=self.emit,
            on_use=lambda result, reason: self._on_path(call, result, reason),
            on_peer_ended=lambda: self._end_call(call, "Normal", by="remote"),
            on_standby=lambda conn: call.media.set_standby(conn) if call.media is not None else None,
            started_at=call.setup_at,
        )
        call.race = race
        call.machine.handle(CallEvent.RACE_STARTED)
        try:
            await race.run()
        except RaceFailed as exc:
            if not call.machine.ended:
                self.emit(ev.Notice(level="error", message=str(exc)))
                self._abort_call(call, "Error")
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or a peer's trick must not leave the call stuck: end it, say so.
            log.exception("call paths failed unexpectedly call_id=%s", call.call_id)
            if not call.machine.ended:
                self.emit(ev.Notice(level="error", message="The call could not be connected (internal error)."))
                self._abort_call(call, "Error")
        finally:
            call.race = None

    def _on_path(self, call: CallInfo, result: RaceResult, reason: str) -> None:
        """The race put the call on a path: the first one starts the audio, later ones move it."""
        if call.machine.ended:
            return
        first = call.result is None
        call.result = result
        if call.media is not None:
            call.media.set_transport(result.conn, result.path)
            call.media.set_standby(result.standby)
        if first:
            call.machine.handle(CallEvent.PATH_CHOSEN)
            call.connected_at = asyncio.get_running_loop().time()
            if self.media_factory is not None:
                self._spawn(self._start_media(call))

    async def _start_media(self, call: CallInfo) -> None:
        assert self.media_factory is not None and call.keys is not None
        try:
            media = await self.media_factory(call, call.keys)
        except Exception as exc:
            log.exception("media session failed to start call_id=%s", call.call_id)
            self.emit(ev.Notice(level="error", message=f"Audio could not start: {exc}"))
            return
        if call.machine.ended or call.result is None:  # hung up while audio was getting ready
            await media.stop()
            return
        call.media = media
        media.audio_origin = call.setup_at
        media.on_path_silent = lambda path: call.race.on_silent(path) if call.race is not None else None
        media.set_transport(call.result.conn, call.result.path)
        media.set_standby(call.result.standby)
        await media.start()
        if call.machine.ended:  # hung up while audio was starting
            await media.stop()

    def _on_peer_path_report(self, call: CallInfo, report: m.MediaPathReport) -> None:
        if call.race is not None:
            call.race.on_peer_report(report)

    def _send_quiet(self, call: CallInfo, msg: m.Message) -> None:
        try:
            self._send_call(call, msg)
        except ClientError as exc:
            log.info("could not send %s: %s", type(msg).__name__, exc)

    def _end_call(self, call: CallInfo, reason: str, *, by: str, relay: str = "") -> None:
        if call.machine.ended:
            return
        if call.via and self.visited is not None:
            self.visited.release(call.via, call.call_id)
        call.machine.handle(CallEvent.END, reason)
        duration = 0.0
        if call.connected_at:
            duration = asyncio.get_running_loop().time() - call.connected_at
        if call.task is not None and not call.task.done() and call.task is not asyncio.current_task():
            call.task.cancel()
        if call.task is not None and not call.task.done():
            self._ending.add(call.task)
        if call.media is not None:
            stopping = asyncio.ensure_future(call.media.stop())
            self._media_stops.add(stopping)
            stopping.add_done_callback(self._media_stops.discard)
        if call.result is not None:
            call.result.conn.close(CALL_ENDED, "call ended")
            if call.result.standby is not None:
                call.result.standby.close(CALL_ENDED, "call ended")
        log.info("call ended call_id=%s reason=%s duration=%.1fs", call.call_id, reason, duration)
        self._forget(call)
        self._schedule_reclaim()
        self.emit(ev.Ended(call_id=call.call_id, reason=reason, duration_s=round(duration, 2), by=by, relay=relay))

    def _forget(self, call: CallInfo) -> None:
        """An ended call keeps nothing: no entry, no call key (forward secrecy), no media state."""
        if self.calls.get(call.call_id) is call:
            del self.calls[call.call_id]
        self._recently_ended.append(call.call_id)
        call.ephemeral.wipe()
        call.keys = None
        call.media = None  # its stop() is under way (tracked in _media_stops)

    def _schedule_reclaim(self) -> None:
        if self._stopping:
            return
        if self._reclaim_timer is not None:
            self._reclaim_timer.cancel()
        self._reclaim_timer = asyncio.get_running_loop().call_later(self.reclaim_after, self._reclaim)

    def _reclaim(self) -> None:
        """Give the ended calls' memory back (see app/memory.py); later if a call plays audio now."""
        self._reclaim_timer = None
        closing = self.endpoint is not None and any(c.is_closed for c in self.endpoint.connections)
        self._ending = {t for t in self._ending if not t.done()}
        if closing or self._ending or self._media_stops or any(c.media is not None for c in self.calls.values()):
            self._schedule_reclaim()  # connections still draining, or a call plays audio
            return
        collected, took = memory.reclaim()
        log.info("memory reclaimed after a call objects=%d took_ms=%.1f", collected, took * 1000)
        self.reclaimed.set()

    # -------------------------------------------------------- direct accept

    async def _accept_direct(self) -> None:
        """Incoming direct connections: read the peer's proof and hand it to that call's race."""
        assert self.endpoint is not None
        while True:
            try:
                conn = await self.endpoint.accept()
            except ConnectionClosed:
                return
            self._spawn(self._route_incoming(conn))
            del conn  # not held while waiting for the next one (an ended call's connection would live on)

    async def _route_incoming(self, conn: QuicPeerConnection) -> None:
        try:
            reader, writer = await asyncio.wait_for(conn.accept_stream(), 2.0)
            stream = MessageStream(reader, writer)
            proof = await asyncio.wait_for(stream.recv(), 2.0)
        except (TimeoutError, ConnectionClosed, ProtocolError):
            conn.close(reason_phrase="no proof")
            return
        if not isinstance(proof, m.PeerProof):
            conn.close(reason_phrase="expected a peer proof")
            return
        call = self.calls.get(proof.call_id)
        if call is None or call.race is None:
            log.info("direct connection for no racing call refused remote=%s", conn.remote_addr)
            conn.close(reason_phrase="no such call")
            return
        call.race.offer_incoming(conn, stream, proof)

    # -------------------------------------------------------------- queries

    async def presence(self) -> list[m.PresenceEntry]:
        if self.link is None:
            raise ClientError("Not connected to the relay.")
        return await self.link.presence()

    async def reflect(self) -> str:
        if self.link is None:
            raise ClientError("Not connected to the relay.")
        return await self.link.reflect()

    async def detect_nat(self, probes: list[str] | None = None) -> NatReport:
        """Reflect from the shared socket against the relay and its probe address(es), then classify."""
        assert self.endpoint is not None
        if probes is None:
            if not self.relay:
                raise ClientError("NAT detection needs a relay to reflect against (--relay).")
            host, port = split_relay_address(self.relay)
            probes = [self.relay, f"[{host}]:{port + 1}" if ":" in host else f"{host}:{port + 1}"]
        results: list[NatProbe] = []
        for server in probes:
            try:
                observed = await reflect_once(self.endpoint, server)
                results.append(NatProbe(server=server, observed=observed, error=None))
            except RelayError as exc:
                results.append(NatProbe(server=server, observed=None, error=str(exc)))
        return classify_nat(results)


def _is_private(host: str) -> bool:
    """An IP literal of a private network (RFC 1918, ULA, link-local): meaningful only on its own LAN."""
    try:
        ip = parse_ip(host)
    except ValueError:
        return False
    return ip.is_private and not ip.is_loopback


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return parse_ip(host).is_loopback
    except ValueError:
        return False
