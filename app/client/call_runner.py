"""`CallRunner`: one call from its `CallSetup` to the hang-up: its paths (`PathRace`) and its audio.

The race runs for the whole call: audio starts on the first path that is up and moves when the race
says so (upgrade, failover, recovered). The media session is made by the client's media factory
when the first path is chosen, and follows every later path. What the user sets for the call (mute,
volume, devices) goes through here, so neither the CLI nor the GUI touches a media session.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app import events as ev
from app.call.call_state import CallEvent
from app.call.race import PathRace, RaceFailed, RaceParams, RaceResult
from app.client.call_info import CallInfo, MediaFactory
from app.identity import Identity
from app.nat.candidates import dial_order, has_mapped
from app.nat.roles import decide_role
from app.nat.spray import parse_hard_hint, spray_enabled
from app.net import QuicEndpoint, QuicPeerConnection
from app.protocol import messages as m
from app.protocol.close_codes import CALL_ENDED
from app.tasks import TaskSet

log = logging.getLogger(__name__)


def race_params(call: CallInfo, setup: m.CallSetup, own_fingerprint: str, overrides: dict[str, Any]) -> RaceParams:
    """The race's inputs for `call`: who dials, which candidates, whether to spray (pure)."""
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
    return RaceParams(
        call_id=call.call_id,
        role=decide_role(
            own_fingerprint,
            call.peer_fingerprint,
            own_mapped=own_mapped,
            peer_mapped=peer_mapped,
            own_hard=own_hard,
            peer_hard=peer_hard_ip is not None,
        ),
        own_fingerprint=own_fingerprint,
        peer_fingerprint=call.peer_fingerprint,
        peer_public_key=call.peer_public_key,
        caller_ephemeral=caller_eph,
        callee_ephemeral=callee_eph,
        candidates=candidates,
        relay_addr=call.relay_addr,
        allow_direct=allow_direct,
        spray=spray,
        spray_ip=peer_hard_ip or "",
        **overrides,
    )


class CallRunner:
    def __init__(
        self,
        call: CallInfo,
        *,
        endpoint: QuicEndpoint,
        identity: Identity,
        race_overrides: dict[str, Any],
        media_factory: MediaFactory | None,
        open_relay: Callable[[], Awaitable[QuicPeerConnection]],
        signal: Callable[[m.Message], None],
        emit: Callable[[ev.ClientEvent], None],
        advance: Callable[[CallEvent], None],
        on_failed: Callable[[str], None],
        on_peer_ended: Callable[[], None],
        tasks: TaskSet,
    ) -> None:
        self.call = call
        self.endpoint = endpoint
        self.identity = identity
        self.race_overrides = race_overrides
        self.media_factory = media_factory
        self.open_relay = open_relay
        self.signal = signal
        self.emit = emit
        self.advance = advance  # a step of the call's state machine, told to the listeners
        self.on_failed = on_failed  # no path: end the call with this reason, telling the peer
        self.on_peer_ended = on_peer_ended
        self.tasks = tasks

    async def run(self, setup: m.CallSetup) -> None:
        """Run the call's paths for as long as the call lasts; audio starts on the first."""
        call = self.call
        race = PathRace(
            self.endpoint,
            self.identity,
            race_params(call, setup, self.identity.fingerprint, self.race_overrides),
            open_relay=self.open_relay,
            signal=self.signal,
            emit=self.emit,
            on_use=self._on_path,
            on_peer_ended=self.on_peer_ended,
            on_standby=lambda conn: call.media.set_standby(conn) if call.media is not None else None,
            on_settled=lambda settled: call.media.allow_held_reading(settled) if call.media is not None else None,
            started_at=call.setup_at,
        )
        call.race = race
        self.advance(CallEvent.RACE_STARTED)
        try:
            await race.run()
        except RaceFailed as exc:
            if not call.machine.ended:
                self.emit(ev.Notice(level="error", message=str(exc)))
                self.on_failed("Error")
        except asyncio.CancelledError:
            raise
        except Exception:
            # A bug or a peer's trick must not leave the call stuck: end it, say so.
            log.exception("call paths failed unexpectedly call_id=%s", call.call_id)
            if not call.machine.ended:
                self.emit(ev.Notice(level="error", message="The call could not be connected (internal error)."))
                self.on_failed("Error")
        finally:
            call.race = None

    def _on_path(self, result: RaceResult, reason: str) -> None:
        """The race put the call on a path: the first one starts the audio, later ones move it."""
        call = self.call
        if call.machine.ended:
            return
        first = call.result is None
        call.result = result
        if call.media is not None:
            call.media.set_transport(result.conn, result.path)
            call.media.set_standby(result.standby)
        if first:
            call.connected_at = asyncio.get_running_loop().time()
            self.advance(CallEvent.PATH_CHOSEN)
            if self.media_factory is not None:
                self.tasks.spawn(self._start_media(), "start the call's audio")

    async def _start_media(self) -> None:
        call = self.call
        assert self.media_factory is not None and call.keys is not None
        try:
            media = await self.media_factory(call, call.keys)
        except Exception as exc:
            log.exception("media session failed to start call_id=%s", call.call_id)
            self.emit(ev.Notice(level="error", message=f"Audio could not start: {exc}"))
            return
        if media is None:
            return
        if call.machine.ended or call.result is None:  # hung up while audio was getting ready
            await media.stop()
            return
        call.media = media
        media.audio_origin = call.setup_at
        media.on_path_silent = lambda path: call.race.on_silent(path) if call.race is not None else None
        media.set_muted(call.muted)
        media.set_volume(call.volume)
        media.allow_held_reading(call.race is not None and call.race.settled)
        media.set_transport(call.result.conn, call.result.path)
        media.set_standby(call.result.standby)
        await media.start()
        if call.machine.ended:  # hung up while audio was starting
            await media.stop()


def close_call(call: CallInfo) -> asyncio.Future[None] | None:
    """The call is over: close its connections; returns the media session's stop, if one runs."""
    if call.result is not None:
        call.result.conn.close(CALL_ENDED, "call ended")
        if call.result.standby is not None:
            call.result.standby.close(CALL_ENDED, "call ended")
    if call.media is None:
        return None
    return asyncio.ensure_future(call.media.stop())
