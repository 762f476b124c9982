"""The race's failure paths on loopback: a real relay, real clients, real QUIC and UDP.

* a rogue QUIC endpoint on the peer's candidate address answers the dial but cannot prove the
  peer's identity: the dialer rejects it and the call goes on the relay;
* a silent candidate (a bound UDP socket that never answers): the relay carries the call from
  the start, and the direct attempt is given up at the direct timeout;
* the acceptor's own fallback: a dialer that never decides leaves the acceptor on the relay,
  which carries the audio from the start (no waiting for the dialer's word).

The acceptor's addresses are replaced by the rogue's or the silent socket's (its host candidates
dropped, its reflexive address rewritten), so the only direct candidate is the hostile one on
every machine; timeouts are shortened with `race_overrides`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import socket
from typing import Any

import pytest
from helpers.calls import exchange_datagrams
from helpers.events import EventLog
from helpers.raw import RawConn

from app.client.client import WzpClient
from app.identity import Identity
from app.media.media_keys import EphemeralKey, sign_ephemeral
from app.nat.roles import decide_role
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.relay.server import RelayServer

T = 10.0


def ordered_identities() -> tuple[Identity, Identity]:
    """(dialer, acceptor): the race's roles come from the fingerprints."""
    a, b = Identity.generate(), Identity.generate()
    return (a, b) if decide_role(a.fingerprint, b.fingerprint) == "dialer" else (b, a)


def only_direct_candidate(client: WzpClient, addr: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`client` advertises `addr` as its only direct address (no host candidates; reflexive = addr)."""
    assert client.registration is not None
    assert client.home is not None
    monkeypatch.setattr(client.home, "registration", dataclasses.replace(client.registration, observed_addr=addr))
    monkeypatch.setattr(client, "_candidates", list)


async def trusted_call(dialer: WzpClient, ld: EventLog, acceptor: WzpClient, la: EventLog) -> tuple[str, Any, Any]:
    call_id = await dialer.place_call(acceptor.identity.fingerprint)
    await la.wait("incoming", call_id=call_id)
    await acceptor.answer(call_id, "trusted")
    pd = await ld.wait("path", call_id=call_id)
    pa = await la.wait("path", call_id=call_id)
    return call_id, pd, pa


# ----------------------------------------------------------------------------- the rogue


class Rogue:
    """A QUIC server that answers a dial with a PeerProof naming the expected peer, signed by nobody."""

    def __init__(self, endpoint: QuicEndpoint, claims: str) -> None:
        self.endpoint = endpoint
        self.claims = claims
        self.dialed: list[m.Message] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._accept = asyncio.ensure_future(self._accept_loop())

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.endpoint.port}"

    async def _accept_loop(self) -> None:
        while True:
            try:
                conn = await self.endpoint.accept()
            except ConnectionClosed:
                return
            task = asyncio.ensure_future(self._answer(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, conn: QuicPeerConnection) -> None:
        try:
            stream = MessageStream(*await asyncio.wait_for(conn.accept_stream(), T))
            proof = await asyncio.wait_for(stream.recv(), T)
            self.dialed.append(proof)
            call_id = getattr(proof, "call_id", "0" * 32)
            stream.send(m.PeerProof(call_id=call_id, fingerprint=self.claims, signature=os.urandom(64)))
            await conn.wait_closed()
        except (TimeoutError, ConnectionClosed, ProtocolError):
            pass

    async def stop(self) -> None:
        self._accept.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(self._accept, *self._tasks, return_exceptions=True)
        await self.endpoint.close(grace=0)


async def test_rogue_endpoint_on_a_candidate_is_rejected_and_the_call_goes_on_the_relay(
    relay: RelayServer, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialer_id, acceptor_id = ordered_identities()
    overrides = {"direct_timeout": 3.0}
    d, ld = await make_client(relay.port, "dialer", identity=dialer_id, race_overrides=overrides)
    a, la = await make_client(relay.port, "acceptor", identity=acceptor_id, race_overrides=overrides)
    rogue = Rogue(await QuicEndpoint.create("127.0.0.1", 0), claims=acceptor_id.fingerprint)
    try:
        only_direct_candidate(a, rogue.addr, monkeypatch)
        call_id, pd, pa = await trusted_call(d, ld, a, la)

        race = ld.matching("race_started", call_id=call_id)[0]
        assert race.role == "dialer" and race.candidates == [{"addr": rogue.addr, "kind": "reflexive"}]
        # The rogue really was dialed, for this call, and answered; the peer check threw it out.
        rejected = await ld.wait("candidate", call_id=call_id, outcome="rejected")
        assert (rejected.addr, rejected.detail) == (rogue.addr, "did not prove the peer's identity")
        assert [getattr(p, "call_id", None) for p in rogue.dialed] == [call_id]
        assert (pd.path, pd.candidate, pd.remote) == ("relay", "relay", relay.media_addr)
        assert (pa.path, pa.candidate, pa.remote) == ("relay", "relay", relay.media_addr)
        await exchange_datagrams(d, a, call_id)
        # The rogue never carried the call, on either side.
        assert [p.path for p in ld.matching("path", call_id=call_id)] == ["relay"]
        assert [p.path for p in la.matching("path", call_id=call_id)] == ["relay"]
    finally:
        await rogue.stop()


# ---------------------------------------------------------------------------- the silent


async def test_silent_candidate_relay_wins_within_the_direct_timeout(
    relay: RelayServer, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialer_id, acceptor_id = ordered_identities()
    overrides = {"direct_timeout": 1.5}
    d, ld = await make_client(relay.port, "dialer", identity=dialer_id, race_overrides=overrides)
    a, la = await make_client(relay.port, "acceptor", identity=acceptor_id, race_overrides=overrides)
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        silent.bind(("127.0.0.1", 0))
        silent.setblocking(False)
        silent_addr = f"127.0.0.1:{silent.getsockname()[1]}"
        only_direct_candidate(a, silent_addr, monkeypatch)
        call_id, pd, pa = await trusted_call(d, ld, a, la)

        assert (
            (pd.path, pd.remote, pd.reason) == (pa.path, pa.remote, pa.reason) == ("relay", relay.media_addr, "first")
        )
        # The relay carries the call from the start: nobody waits for the silent candidate.
        assert pd.setup_ms < 1500 and not ld.matching("candidate", call_id=call_id), pd
        gave_up = await ld.wait("candidate", call_id=call_id)  # at the direct timeout
        assert (gave_up.addr, gave_up.outcome) in ((silent_addr, "lost"), (silent_addr, "failed")), gave_up
        # The silent address really was dialed (QUIC Initials arrived and were never answered).
        initials = 0
        while True:
            try:
                data, _ = silent.recvfrom(2048)
            except BlockingIOError:
                break
            initials += len(data) >= 1200
        assert initials >= 1
        await exchange_datagrams(d, a, call_id)
    finally:
        silent.close()


# --------------------------------------------------------------------- acceptor fallback


async def test_acceptor_takes_the_relay_when_the_dialer_never_decides(relay: RelayServer, make_client) -> None:
    dialer_id, acceptor_id = ordered_identities()
    a, la = await make_client(relay.port, "acceptor", identity=acceptor_id, race_overrides={"acceptor_wait": 1.0})
    mute = await RawConn.open(relay.port)  # a dialer that sets the call up and then never decides
    try:
        await mute.register(dialer_id, alias="mute")
        call_id = secrets.token_hex(16)
        eph = EphemeralKey.generate().public_bytes
        mute.send(
            m.DirectCallOffer(
                call_id=call_id,
                caller_fingerprint=dialer_id.fingerprint,
                target_fingerprint=acceptor_id.fingerprint,
                ephemeral_key=eph,
                key_signature=sign_ephemeral(
                    dialer_id.sign, call_id, dialer_id.fingerprint, acceptor_id.fingerprint, "caller", eph
                ),
            )
        )
        await la.wait("incoming", call_id=call_id)
        await a.answer(call_id, "trusted")
        setup = await mute.recv_until(m.CallSetup)
        assert setup.call_id == call_id and setup.accept_mode == "AcceptTrusted"

        pa = await la.wait("path", call_id=call_id)
        race = la.matching("race_started", call_id=call_id)[0]
        assert race.role == "acceptor"
        assert (pa.path, pa.candidate, pa.remote, pa.reason) == ("relay", "relay", relay.media_addr, "first")
        assert pa.setup_ms < 1000, pa  # at once: not after its wait for the dialer (1 s here, 4 s by default)
        assert a.calls[call_id].result is not None and a.calls[call_id].result.path == "relay"
        assert not a.calls[call_id].race.done  # type: ignore[union-attr]  # still open for a direct path
        # Once its wait is over it stops waiting for direct, and the call stays on the relay.
        async with asyncio.timeout(T):
            while not a.calls[call_id].race.done:  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
        assert [p.path for p in la.matching("path", call_id=call_id)] == ["relay"]
    finally:
        await mute.close()
