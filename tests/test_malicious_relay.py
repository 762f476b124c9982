"""A malicious relay: the relay is the attacker, so here it is faked on purpose.

`MaliciousRelay` is a real QUIC server built from the app's own parts (QuicEndpoint with a TLS
certificate signed by its key, MessageStream, the protocol messages). It runs the registration
handshake for real (challenge, signature check, `Registered`) and then delivers call messages
whose key fields it rewrote: a swapped ephemeral key, a bad key signature, an identity key that
does not match the fingerprint, a setup naming another peer. The client must refuse each call
with a `Notice` the user sees and never start media (no race, no path, no media factory call).
An honest control case for each message shows the fake relay itself is good enough to ring and
set up a call, so a refusal comes from the client's check, not from a broken harness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from helpers.events import EventLog

from app.client.client import CallInfo, WzpClient
from app.identity import Identity, fingerprint_of, verify_signature
from app.media.media_keys import EphemeralKey, MediaKeys, sign_ephemeral
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection, make_certificate
from app.net.message_stream import MessageStream
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.protocol.proofs import register_transcript

T = 10.0


@dataclass
class Registration:
    conn: QuicPeerConnection
    stream: MessageStream
    inbox: asyncio.Queue[m.Message] = field(default_factory=asyncio.Queue)

    async def recv(self, kind: type, timeout: float = T) -> Any:
        """The next message of type `kind` the client sent (others are skipped)."""

        async def loop() -> Any:
            while True:
                msg = await self.inbox.get()
                if isinstance(msg, kind):
                    return msg

        return await asyncio.wait_for(loop(), timeout)


class MaliciousRelay:
    """Registers clients exactly like a relay; what it forwards afterwards is up to the test."""

    def __init__(self, identity: Identity, endpoint: QuicEndpoint) -> None:
        self.identity = identity
        self.endpoint = endpoint
        self.users: dict[str, Registration] = {}
        self._registered = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._accept = asyncio.ensure_future(self._accept_loop())

    @classmethod
    async def start(cls) -> MaliciousRelay:
        identity = Identity.generate()
        tls = make_certificate(identity.signing_key, common_name=identity.fingerprint)
        return cls(identity, await QuicEndpoint.create("127.0.0.1", 0, tls=tls))

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.endpoint.port}"

    async def user(self, fingerprint: str) -> Registration:
        async def wait() -> Registration:
            while fingerprint not in self.users:
                self._registered.clear()
                await self._registered.wait()
            return self.users[fingerprint]

        return await asyncio.wait_for(wait(), T)

    async def _accept_loop(self) -> None:
        while True:
            try:
                conn = await self.endpoint.accept()
            except ConnectionClosed:
                return
            task = asyncio.ensure_future(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: QuicPeerConnection) -> None:
        with contextlib.suppress(ConnectionClosed, ProtocolError, TimeoutError):
            stream = MessageStream(*await conn.open_stream())
            nonce = secrets.token_bytes(32)
            stream.send(m.RegisterChallenge(nonce=nonce, relay_fingerprint=self.identity.fingerprint))
            first = await asyncio.wait_for(stream.recv(), T)
            if not isinstance(first, m.Register):  # e.g. a media join: no rooms here
                stream.send(m.Error(code="no_room", message="no media rooms on this relay"))
                await conn.wait_closed()
                return
            transcript = register_transcript(self.identity.fingerprint, nonce, first.public_key)
            assert verify_signature(first.public_key, first.signature, transcript), "client signed wrongly"
            fingerprint = fingerprint_of(first.public_key)
            reg = Registration(conn, stream)
            self.users[fingerprint] = reg
            self._registered.set()
            stream.send(m.Registered(fingerprint=fingerprint, observed_addr=conn.remote_addr))
            while True:
                msg = await stream.recv()
                if isinstance(msg, m.Ping):
                    stream.send(m.Pong(nonce=msg.nonce))
                else:
                    reg.inbox.put_nowait(msg)

    async def stop(self) -> None:
        self._accept.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(self._accept, *self._tasks, return_exceptions=True)
        await self.endpoint.close(grace=0.1)


@dataclass
class Victim:
    client: WzpClient
    log: EventLog
    reg: Registration
    media_calls: list[str]

    @property
    def fingerprint(self) -> str:
        return self.client.identity.fingerprint


@pytest.fixture
async def evil() -> AsyncIterator[MaliciousRelay]:
    relay = await MaliciousRelay.start()
    try:
        yield relay
    finally:
        await relay.stop()


@pytest.fixture
async def victim(evil: MaliciousRelay, tmp_path: Path) -> AsyncIterator[Victim]:
    """A real WzpClient registered with the malicious relay; records every media factory call."""
    media_calls: list[str] = []

    async def media_factory(call: CallInfo, keys: MediaKeys) -> None:
        media_calls.append(call.call_id)
        return None

    identity = Identity.generate()
    client = WzpClient(identity, tmp_path / "victim", evil.addr, media_factory=media_factory)
    log = EventLog("victim")
    client.add_listener(log)
    await client.start()
    try:
        await client.wait_registered(T)
        yield Victim(client, log, await evil.user(identity.fingerprint), media_calls)
    finally:
        await client.stop()


@dataclass
class GenuineCaller:
    """The real caller's offer, as the relay received it (the relay cannot sign for them)."""

    identity: Identity
    callee_fp: str
    call_id: str
    ephemeral: bytes
    signature: bytes


def genuine_offer(callee_fp: str) -> GenuineCaller:
    alice = Identity.generate()
    call_id = secrets.token_hex(16)
    eph = EphemeralKey.generate().public_bytes
    sig = sign_ephemeral(alice.sign, call_id, alice.fingerprint, callee_fp, "caller", eph)
    return GenuineCaller(alice, callee_fp, call_id, eph, sig)


def no_media(v: Victim, call_id: str) -> None:
    names = v.log.names()
    assert not v.log.matching("path"), names
    assert not v.log.matching("race_started"), names
    assert not v.log.matching("setup", call_id=call_id), names
    assert v.media_calls == []
    call = v.client.calls.get(call_id)
    assert call is None or (call.keys is None and call.result is None and call.media is None)


# ------------------------------------------------------------------------------ CallIncoming


def incoming(offer: GenuineCaller, attack: str) -> m.CallIncoming:
    """The CallIncoming the relay should send, rewritten by `attack`."""
    public_key, eph, sig = offer.identity.public_key, offer.ephemeral, offer.signature
    if attack == "swapped ephemeral key":  # the relay's own X25519 key, the caller's signature
        eph = EphemeralKey.generate().public_bytes
    elif attack == "bad key signature":
        sig = os.urandom(64)
    elif attack == "public key not matching the fingerprint":
        # The relay's own identity key, with a signature that verifies for that key: only the
        # fingerprint binds the key to the caller the user sees.
        mallory = Identity.generate()
        public_key = mallory.public_key
        eph = EphemeralKey.generate().public_bytes
        sig = sign_ephemeral(mallory.sign, offer.call_id, offer.identity.fingerprint, offer.callee_fp, "caller", eph)
    else:
        assert attack == "honest", attack
    return m.CallIncoming(
        call_id=offer.call_id,
        caller_fingerprint=offer.identity.fingerprint,
        caller_alias="alice",
        caller_public_key=public_key,
        ephemeral_key=eph,
        key_signature=sig,
    )


INCOMING_ATTACKS = {
    "swapped ephemeral key": "its call key is not signed by the caller",
    "bad key signature": "its call key is not signed by the caller",
    "public key not matching the fingerprint": "does not match the caller's fingerprint",
}


async def test_honest_call_incoming_rings(victim: Victim) -> None:
    offer = genuine_offer(victim.fingerprint)
    victim.reg.stream.send(incoming(offer, "honest"))
    event = await victim.log.wait("incoming", call_id=offer.call_id)
    assert event.peer_fingerprint == offer.identity.fingerprint
    assert not victim.log.matching("notice")


@pytest.mark.parametrize("attack", sorted(INCOMING_ATTACKS))
async def test_tampered_call_incoming_is_refused(victim: Victim, attack: str) -> None:
    offer = genuine_offer(victim.fingerprint)
    victim.reg.stream.send(incoming(offer, attack))

    notice = await victim.log.wait("notice")
    assert notice.level == "error"
    assert offer.identity.fingerprint in notice.message and "refused" in notice.message, notice
    assert INCOMING_ATTACKS[attack] in notice.message, notice
    answer = await victim.reg.recv(m.DirectCallAnswer)  # the caller is not left ringing
    assert (answer.call_id, answer.accept_mode) == (offer.call_id, "Reject")
    assert not victim.log.matching("incoming"), victim.log.names()  # it never rang
    assert offer.call_id not in victim.client.calls
    no_media(victim, offer.call_id)


# --------------------------------------------------------------------------------- CallSetup


def setup_for(
    victim: Victim, relay: MaliciousRelay, call_id: str, peer: Identity, peer_eph: bytes, attack: str, *, outgoing: bool
) -> Any:
    """The CallSetup the relay should send the victim, rewritten by `attack`."""
    me = victim.fingerprint
    caller_fp, callee_fp = (me, peer.fingerprint) if outgoing else (peer.fingerprint, me)
    peer_role = "callee" if outgoing else "caller"
    public_key, fingerprint, eph = peer.public_key, peer.fingerprint, peer_eph
    sig = sign_ephemeral(peer.sign, call_id, caller_fp, callee_fp, peer_role, eph)
    mallory = Identity.generate()
    if attack == "swapped ephemeral key":
        eph = EphemeralKey.generate().public_bytes
    elif attack == "bad key signature":
        sig = os.urandom(64)
    elif attack == "public key not matching the fingerprint":
        public_key = mallory.public_key
        eph = EphemeralKey.generate().public_bytes
        sig = sign_ephemeral(mallory.sign, call_id, caller_fp, callee_fp, peer_role, eph)
    elif attack == "another peer":  # a consistent, validly signed setup, for someone else
        fingerprint, public_key = mallory.fingerprint, mallory.public_key
        c, e = (victim.fingerprint, mallory.fingerprint) if outgoing else (mallory.fingerprint, victim.fingerprint)
        eph = EphemeralKey.generate().public_bytes
        sig = sign_ephemeral(mallory.sign, call_id, c, e, peer_role, eph)
    else:
        assert attack == "honest", attack
    return m.CallSetup(
        call_id=call_id,
        room=call_id,
        relay_addr=relay.addr,  # its media join is refused: no call here gets media from it
        role="caller" if outgoing else "callee",
        accept_mode="AcceptGeneric",
        peer_fingerprint=fingerprint,
        peer_alias="peer",
        peer_public_key=public_key,
        peer_ephemeral_key=eph,
        peer_key_signature=sig,
    )


SETUP_ATTACKS = {
    "swapped ephemeral key": "call key is not signed by them",
    "bad key signature": "call key is not signed by them",
    "public key not matching the fingerprint": "does not match the other side's fingerprint",
    "another peer": "connected it to someone else",
}


async def ring_victim(victim: Victim, evil: MaliciousRelay, outgoing: bool) -> tuple[str, Identity, bytes]:
    """A call in the state where CallSetup comes next: the victim called, or answered a call."""
    if outgoing:
        peer = Identity.generate()
        call_id = await victim.client.place_call(peer.fingerprint)
        offer = await victim.reg.recv(m.DirectCallOffer)
        assert offer.call_id == call_id
        victim.reg.stream.send(m.CallRinging(call_id=call_id))
        await victim.log.wait("ringing", call_id=call_id)
        return call_id, peer, EphemeralKey.generate().public_bytes
    genuine = genuine_offer(victim.fingerprint)
    victim.reg.stream.send(incoming(genuine, "honest"))
    await victim.log.wait("incoming", call_id=genuine.call_id)
    await victim.client.answer(genuine.call_id, "generic")
    answer = await victim.reg.recv(m.DirectCallAnswer)
    assert answer.accept_mode == "AcceptGeneric"
    return genuine.call_id, genuine.identity, genuine.ephemeral


@pytest.mark.parametrize("outgoing", [True, False], ids=["caller", "callee"])
async def test_honest_call_setup_starts_the_race(victim: Victim, evil: MaliciousRelay, outgoing: bool) -> None:
    call_id, peer, peer_eph = await ring_victim(victim, evil, outgoing)
    victim.reg.stream.send(setup_for(victim, evil, call_id, peer, peer_eph, "honest", outgoing=outgoing))
    await victim.log.wait("setup", call_id=call_id)
    await victim.log.wait("race_started", call_id=call_id)
    assert victim.client.calls[call_id].keys is not None
    assert not victim.log.matching("notice")
    await victim.client.hangup(call_id)


@pytest.mark.parametrize("outgoing", [True, False], ids=["caller", "callee"])
@pytest.mark.parametrize("attack", sorted(SETUP_ATTACKS))
async def test_tampered_call_setup_ends_the_call(
    victim: Victim, evil: MaliciousRelay, attack: str, outgoing: bool
) -> None:
    call_id, peer, peer_eph = await ring_victim(victim, evil, outgoing)
    mark = victim.log.mark()
    victim.reg.stream.send(setup_for(victim, evil, call_id, peer, peer_eph, attack, outgoing=outgoing))

    ended = await victim.log.wait("ended", call_id=call_id, after=mark)
    assert (ended.reason, ended.by) == ("Error", "local")
    notices = victim.log.matching("notice")
    assert len(notices) == 1, victim.log.names()
    assert notices[0].level == "error" and peer.fingerprint in notices[0].message, notices
    assert SETUP_ATTACKS[attack] in notices[0].message, notices
    hangup = await victim.reg.recv(m.Hangup)  # the relay (and so the peer) hears the call is over
    assert hangup.call_id == call_id
    no_media(victim, call_id)
