"""`WzpClient`: the one asyncio API the CLI and the GUI both use (a façade over the parts below).

It owns the shared QUIC endpoint (one UDP socket) and puts together:

* `HomeRelay` (`home_relay.py`): stay registered on our relay service, with back-off;
* `RelayPool` (`relay_pool.py`): links to relays we visit to reach someone (invites, Nearby);
* the offer/answer flow (here), whose cryptography is pure functions (`app.call.offer_answer`);
* `CallRunner` (`call_runner.py`): a call's paths (the race) and its audio, from setup to hang-up;
* `DirectRouter` (`direct_router.py`): incoming direct connections to the call they are for.

Everything that happens is an event (`app.events`) delivered to the listeners; each call's
progress is one `CallStateChanged` event per step. The user's controls for a call (mute, volume,
levels, devices) are methods here: no caller reaches into a media session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Callable, Container, Sequence
from pathlib import Path
from typing import Any

from app import events as ev
from app import memory
from app.call.call_state import CallEvent, CallState, CallStateError, CallStateMachine
from app.call.offer_answer import (
    ACCEPT_MODES,
    Parties,
    SetupRefused,
    build_answer,
    build_offer,
    check_incoming,
    rejection,
    verify_setup,
)
from app.call.race import PathRace
from app.client.call_info import CallInfo, MediaFactory, MediaSessionLike
from app.client.call_runner import CallRunner, close_call
from app.client.direct_router import DirectRouter
from app.client.errors import ClientError
from app.client.home_relay import BACKOFF, HomeRelay
from app.client.own_addresses import OwnAddresses
from app.client.relay_link import RegistrationInfo, RelayError, RelayLink, open_media_connection, reflect_once
from app.client.relay_pins import RelayPins
from app.client.relay_pool import RelayPool
from app.identity import Identity
from app.identity.alias import display_alias
from app.invite import InviteError, parse_target
from app.nat.nat_type import NatProbe, NatReport, classify_nat
from app.nat.portmap import PortMapper
from app.nat.relay_address import (
    RelayAddressError,
    media_relay_address,
    parse_relay_address,
    split_relay_address,
)
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.protocol import messages as m
from app.tasks import TaskSet

__all__ = [
    "BACKOFF",
    "RECLAIM_AFTER_S",
    "CallInfo",
    "ClientError",
    "MediaFactory",
    "MediaSessionLike",
    "WzpClient",
]

log = logging.getLogger(__name__)

#: Ended calls are forgotten at once (keys wiped); their ids are remembered this long so a late
#: hangup or message for them is recognised as "already over", not as an unknown call.
RECENTLY_ENDED = 256
#: After a call ends, its memory is collected this much later (its QUIC connections drain for
#: 3 PTO first), and only while no other call plays audio: a full collection pauses the loop.
RECLAIM_AFTER_S = 1.0
#: Levels reported for a call without audio (yet): silence.
SILENT_DB = -100.0


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
        self._registered = asyncio.Event()
        self.home: HomeRelay | None = (
            HomeRelay(
                identity,
                relays,
                self.pins,
                alias=self.alias,
                discoverable=discoverable,
                on_message=self._on_message,
                on_lost=self._on_link_lost,
                emit=self.emit,
                registered=self._registered,
            )
            if relays
            else None
        )
        #: Calls not yet ended; an ended call is removed at once and its keys wiped.
        self.calls: dict[str, CallInfo] = {}
        self._recently_ended: deque[str] = deque(maxlen=RECENTLY_ENDED)
        self._listeners: list[Callable[[ev.ClientEvent], None]] = []
        self.tasks = TaskSet("client")
        self._stopping = False
        self._media_stops: set[asyncio.Future[None]] = set()
        #: Where peers can reach us: host candidates, the router's port mapping, our NAT type.
        self.addresses = OwnAddresses(self.emit)
        self.visited: RelayPool | None = None
        self.reclaim_after = RECLAIM_AFTER_S
        self._reclaim_timer: asyncio.TimerHandle | None = None
        self._ending: set[asyncio.Task[None]] = set()  # ended calls' tasks still winding down
        #: Set each time an ended call's memory has been collected (tests and benches wait on it).
        self.reclaimed = asyncio.Event()

    # ------------------------------------------------------------ the home relay

    @property
    def relay(self) -> str:
        """The node of our relay service in use ("" without a home relay)."""
        return self.home.relay if self.home is not None else ""

    @property
    def link(self) -> RelayLink | None:
        return self.home.link if self.home is not None else None

    @property
    def registration(self) -> RegistrationInfo | None:
        return self.home.registration if self.home is not None else None

    @property
    def port_mapper(self) -> PortMapper | None:
        return self.addresses.port_mapper

    @property
    def nat_report(self) -> NatReport | None:
        return self.addresses.nat_report

    @property
    def status(self) -> str:
        """offline | connecting | connected | reconnecting | key-changed | replaced"""
        return self.home.status if self.home is not None else "offline"

    def trust_relay_key(self, fingerprint: str) -> None:
        """The user confirmed a relay's new key: pin it and reconnect."""
        if self.home is not None:
            self.home.trust_key(fingerprint)

    def reconnect_now(self) -> None:
        if self.home is not None:
            self.home.reconnect_now()

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
        self.addresses.start(self.endpoint.port, self.tasks, registered=self._registered, detect_nat=self.detect_nat)
        self.visited = RelayPool(
            self.endpoint,
            self.identity,
            self.alias,
            self.pins,
            on_message=self._on_message,
            on_lost=self._on_visited_lost,
        )
        router = DirectRouter(self.endpoint, self._race_of, self.tasks)
        self.tasks.spawn(router.run(), "accept direct connections")
        if self.home is not None:
            self.tasks.spawn(self.home.run(self.endpoint), "stay registered on the relay")
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
        if self.home is not None:
            self.home.close()
        if self.visited is not None:
            await self.visited.close()
        await self.tasks.cancel_all()
        await self.addresses.close()
        if self._reclaim_timer is not None:
            self._reclaim_timer.cancel()
            self._reclaim_timer = None
        if self.endpoint is not None:
            await self.endpoint.close()

    # ------------------------------------------------------------ signaling

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
            if self.home is None:
                raise ClientError("Not connected to the relay. Check your network; WZP keeps retrying.")
            self.home.send(msg)
            return
        link = self.visited.link(via) if self.visited is not None else None
        if link is None:
            raise ClientError(f"The connection to the relay {via} dropped.")
        try:
            link.send(msg)
        except ConnectionClosed as exc:
            raise ClientError(f"The connection to the relay {via} dropped.") from exc

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
            if self.home is not None:
                self.home.replaced()
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
                self._advance(call, CallEvent.RINGING)
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
        return self.addresses.candidates()

    async def place_call(self, target: str, relays: Sequence[str] = ()) -> str:
        """Call someone; returns the call id before any event of the call. Progress arrives as events.

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
        log.info("place_call call_id=%s target=%s route=%s", call_id, peer, [r or self.relay for r in route])
        call.task = self.tasks.spawn(self._place(call), "place a call")
        return call_id

    async def _place(self, call: CallInfo) -> None:
        """Runs after `place_call` returned the id: every event of the call comes after it."""
        self._announce(call)
        await self.addresses.settled()
        call.task = None
        if not call.machine.ended:  # not hung up while the router was asked
            self._next_hop(call)

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
        call.task = self.tasks.spawn(self._visit_and_offer(call, hop), "offer a call on a visited relay")

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
        offer = build_offer(
            self.identity.sign,
            self._parties(call),
            call.ephemeral,
            alias=self.alias,
            reflexive=reflexive,
            local_addrs=local,
        )
        try:
            self._send_call(call, offer)
        except ClientError:
            call.outcomes.append((via or self.relay, "Unreachable"))
            self._next_hop(call)
            return
        call.offered = True

    def _on_incoming(self, msg: m.CallIncoming, via: str = "") -> None:
        if msg.caller_fingerprint in self.blocked:
            log.info(
                "call from a blocked caller declined without ringing call_id=%s from=%s",
                msg.call_id,
                msg.caller_fingerprint,
            )
            with contextlib.suppress(ClientError):
                self._send_via(via, rejection(msg.call_id))
            return
        if problem := check_incoming(msg, self.identity.fingerprint):
            log.warning("incoming call refused call_id=%s from=%s: %s", msg.call_id, msg.caller_fingerprint, problem)
            with contextlib.suppress(ClientError):
                self._send_via(via, rejection(msg.call_id))
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
        self._announce(call)
        self.emit(
            ev.Incoming(call_id=msg.call_id, peer_fingerprint=msg.caller_fingerprint, peer_alias=msg.caller_alias)
        )

    async def answer(self, call_id: str, mode: str) -> None:
        """mode: "trusted" (reveal addresses, direct allowed), "generic" (relay only) or "reject"."""
        call = self._call(call_id)
        if call.state is not CallState.INCOMING:
            raise ClientError("This call is no longer ringing.")
        if mode == "reject":
            self._send_call(call, rejection(call_id))
            self._end_call(call, "Declined", by="local")
            return
        accept_mode = ACCEPT_MODES.get(mode)
        if accept_mode is None:
            raise ClientError(f"Unknown answer mode {mode!r}: use trusted, generic or reject.")
        trusted = accept_mode == "AcceptTrusted"
        if trusted:
            await self.addresses.settled()
            if call.state is not CallState.INCOMING:  # ended while the router was asked
                raise ClientError("This call is no longer ringing.")
        local = call.local_addrs = self._candidates() if trusted else []
        reflexive = self._reflexive_on(call.via) if trusted else None
        if trusted:
            self.emit(ev.Candidates(call_id=call_id, local_addrs=local, reflexive_addr=reflexive))
        answer = build_answer(
            self.identity.sign,
            self._parties(call),
            call.ephemeral,
            accept_mode=accept_mode,
            reflexive=reflexive,
            local_addrs=local,
        )
        self._advance(call, CallEvent.ACCEPT)
        call.accept_mode = accept_mode
        self._send_call(call, answer)

    async def cancel(self, call_id: str) -> None:
        call = self._call(call_id)
        if call.state not in (CallState.OFFERING, CallState.RINGING):
            raise ClientError("The call is not ringing any more; hang up instead.")
        if call.offered:
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

    def _parties(self, call: CallInfo) -> Parties:
        return Parties.of(call.call_id, self.identity.fingerprint, call.peer_fingerprint, outgoing=call.outgoing)

    def _announce(
        self, call: CallInfo, *, path: str = "", reason: str = "", duration_s: float = 0.0, by: str = ""
    ) -> None:
        """Tell the listeners the call's state (after each step, and once when it appears)."""
        self.emit(
            ev.CallStateChanged(
                call_id=call.call_id,
                state=call.state.value,
                outgoing=call.outgoing,
                peer_fingerprint=call.peer_fingerprint,
                peer_alias=call.peer_alias,
                path=path or call.path or "",
                reason=reason,
                duration_s=duration_s,
                by=by,
            )
        )

    def _advance(self, call: CallInfo, event: CallEvent) -> None:
        """One step of the call's state machine (`CallStateError` if it makes no sense now), told."""
        call.machine.handle(event)
        self._announce(call)

    def _on_setup(self, call: CallInfo, setup: m.CallSetup) -> None:
        # Everything in a CallSetup arrives through the relay: a relay that names another peer, or
        # swaps the peer's identity key or call key, would learn the media keys. End the call, say why.
        try:
            call.keys = verify_setup(setup, self._parties(call), call.ephemeral, outgoing=call.outgoing)
        except SetupRefused as exc:
            log.error("call setup refused call_id=%s: %s", call.call_id, exc)
            self.emit(
                ev.Notice(
                    level="error",
                    message=f"The call with {call.peer_fingerprint} was ended: {exc}. "
                    "The relay may be tampering with calls.",
                )
            )
            self._abort_call(call, "Error")
            return
        call.ephemeral.wipe()  # the media keys are derived: the private half has done its job
        call.peer_public_key = setup.peer_public_key
        call.peer_ephemeral = setup.peer_ephemeral_key
        call.peer_alias = setup.peer_alias or call.peer_alias
        call.accept_mode = setup.accept_mode
        call.relay_addr = media_relay_address(setup.relay_addr, call.via or self.relay)
        call.setup_at = asyncio.get_running_loop().time()
        self._advance(call, CallEvent.SETUP)
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
        assert self.endpoint is not None
        relay_addr = call.relay_addr
        runner = CallRunner(
            call,
            endpoint=self.endpoint,
            identity=self.identity,
            race_overrides=self.race_overrides,
            media_factory=self.media_factory,
            open_relay=lambda: self._open_media(call, relay_addr),
            signal=lambda msg: self._send_quiet(call, msg),
            emit=self.emit,
            advance=lambda event: self._advance(call, event),
            on_failed=lambda reason: self._abort_call(call, reason),
            on_peer_ended=lambda: self._end_call(call, "Normal", by="remote"),
            tasks=self.tasks,
        )
        call.task = self.tasks.spawn(runner.run(setup), "run a call's paths")

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

    def _race_of(self, call_id: str) -> PathRace | None:
        call = self.calls.get(call_id)
        return call.race if call is not None else None

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
        path = call.path or ""
        call.machine.handle(CallEvent.END, reason)
        duration = 0.0
        if call.connected_at:
            duration = asyncio.get_running_loop().time() - call.connected_at
        if call.task is not None and not call.task.done() and call.task is not asyncio.current_task():
            call.task.cancel()
        if call.task is not None and not call.task.done():
            self._ending.add(call.task)
        stopping = close_call(call)
        if stopping is not None:
            self._media_stops.add(stopping)
            stopping.add_done_callback(self._media_stops.discard)
        log.info("call ended call_id=%s reason=%s duration=%.1fs", call.call_id, reason, duration)
        self._forget(call)
        self._schedule_reclaim()
        duration = round(duration, 2)
        self._announce(call, path=path, reason=reason, duration_s=duration, by=by)
        self.emit(ev.Ended(call_id=call.call_id, reason=reason, duration_s=duration, by=by, relay=relay))

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

    # ------------------------------------------------------ the user's controls in a call

    def set_muted(self, call_id: str, muted: bool) -> None:
        """Mute or unmute our microphone in the call (kept for the call's audio if it starts later)."""
        call = self._call(call_id)
        call.muted = muted
        if call.media is not None:
            call.media.set_muted(muted)

    def set_volume(self, call_id: str, volume: float) -> None:
        """The other person's loudness, 0.0-2.0 (1.0 as received)."""
        call = self._call(call_id)
        call.volume = max(0.0, min(2.0, volume))
        if call.media is not None:
            call.media.set_volume(call.volume)

    def levels(self, call_id: str) -> tuple[float, float]:
        """(microphone, speaker) level in dBFS now; silence for a call without audio (yet)."""
        call = self.calls.get(call_id)
        if call is None or call.media is None:
            return SILENT_DB, SILENT_DB
        return call.media.input_level_db, call.media.output_level_db

    def has_audio(self, call_id: str) -> bool:
        call = self.calls.get(call_id)
        return call is not None and call.media is not None

    def switch_device(self, call_id: str, kind: str, device: str | None) -> bool:
        """Move the call's microphone (`kind` "input") or speaker ("output") to `device` (None: the
        system default). False when the call uses no device (silence, files); `ClientError` when the
        device cannot be opened."""
        if kind not in ("input", "output"):
            raise ClientError(f"Unknown device kind {kind!r}: use input or output.")
        call = self.calls.get(call_id)
        if call is None or call.media is None:
            return False
        target = call.media.source if kind == "input" else call.media.sink
        switch = getattr(target, "switch", None)
        if switch is None:
            return False
        try:
            switch(device)
        except Exception as exc:
            log.warning("switching the %s failed call_id=%s: %s", kind, call_id, exc)
            raise ClientError(str(exc)) from exc
        return True

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
