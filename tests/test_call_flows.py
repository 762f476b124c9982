"""Call flows end to end, in one event loop: a real RelayServer and real WzpClients on loopback QUIC."""

from __future__ import annotations

import asyncio

import pytest
from helpers.calls import exchange_datagrams
from helpers.events import EventLog
from helpers.raw import RawConn

import app.client.client as client_module
from app.client.client import WzpClient
from app.client.relay_link import open_relay_connection
from app.identity import Identity
from app.nat.addresses import parse_addr
from app.net import QuicEndpoint
from app.protocol import messages as m
from app.protocol.codec import encode_message
from app.relay.limits import RelayLimits
from app.relay.server import RelayServer

T = 10.0  # failure bound for every wait


async def pair(relay: RelayServer, make_client, *names: str) -> list[tuple[WzpClient, EventLog]]:
    return [await make_client(relay.port, name) for name in names]


async def ring(a: WzpClient, la: EventLog, b: WzpClient, lb: EventLog) -> str:
    call_id = await a.place_call(b.identity.fingerprint)
    await la.wait("ringing", call_id=call_id)
    await lb.wait("incoming", call_id=call_id, peer_fingerprint=a.identity.fingerprint)
    return call_id


async def connected_call(a, la, b, lb, mode: str = "trusted") -> tuple[str, object, object]:
    """Ring, answer, and wait until both sides carry the call on the path it settles on: on
    loopback a trusted call always ends up direct (the relay may carry the first packets)."""
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, mode)
    settled = "direct" if mode == "trusted" else "relay"
    pa = await la.wait("path", call_id=call_id, path=settled)
    pb = await lb.wait("path", call_id=call_id, path=settled)
    return call_id, pa, pb


async def assert_ended(log: EventLog, call_id: str, reason: str, timeout: float = T) -> None:
    """Waits for the call's end (whatever the reason, so a wrong one fails at once) and checks the reason."""
    event = await log.wait("ended", call_id=call_id, timeout=timeout)
    assert event.reason == reason, f"{log.name}: {event}"


def port_of(addr: str) -> int:
    return parse_addr(addr)[1]


# -------------------------------------------------------------------- answers


async def test_accept_trusted(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, "trusted")
    sa = await la.wait("setup", call_id=call_id)
    sb = await lb.wait("setup", call_id=call_id)
    assert (sa.role, sb.role) == ("caller", "callee")
    assert sa.accept_mode == sb.accept_mode == "AcceptTrusted"
    # Each side learns the OTHER side's addresses.
    assert sa.peer_direct_addr == b.registration.observed_addr  # type: ignore[union-attr]
    assert sb.peer_direct_addr == a.registration.observed_addr  # type: ignore[union-attr]
    assert all(port_of(x) == b.endpoint.port for x in sa.peer_local_addrs)  # type: ignore[union-attr]
    assert all(port_of(x) == a.endpoint.port for x in sb.peer_local_addrs)  # type: ignore[union-attr]
    assert sa.relay_addr == sb.relay_addr == relay.media_addr

    first_a = await la.wait("path", call_id=call_id)
    first_b = await lb.wait("path", call_id=call_id)
    assert first_a.reason == first_b.reason == "first"  # audio starts on whichever path is up first
    # On loopback the peer is always reachable (at least at its reflexive 127.0.0.1 address): the
    # call goes direct, at once or as an upgrade from the relay.
    pa = await la.wait("path", call_id=call_id, path="direct")
    pb = await lb.wait("path", call_id=call_id, path="direct")
    assert la.events.index(sa) < la.events.index(pa) and lb.events.index(sb) < lb.events.index(pb)
    for first, settled in ((first_a, pa), (first_b, pb)):
        assert settled.reason == ("first" if first.path == "direct" else "upgrade"), (first, settled)
    assert port_of(pa.remote) == b.endpoint.port and port_of(pb.remote) == a.endpoint.port  # type: ignore[union-attr]
    assert pa.candidate in ("host", "reflexive") and pb.candidate in ("host", "reflexive")
    assert relay.media_addr not in (pa.remote, pb.remote)
    assert a.calls[call_id].result.conn.remote_addr == pa.remote  # type: ignore[union-attr]
    assert pa.setup_ms >= 0 and pb.setup_ms >= 0
    await exchange_datagrams(a, b, call_id)

    await a.hangup(call_id)
    await assert_ended(lb, call_id, "Normal")
    await assert_ended(la, call_id, "Normal")


async def test_accept_generic_goes_through_the_relay_and_reveals_no_addresses(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id, pa, pb = await connected_call(a, la, b, lb, "generic")
    sa = la.matching("setup", call_id=call_id)[0]
    sb = lb.matching("setup", call_id=call_id)[0]
    assert sa.accept_mode == sb.accept_mode == "AcceptGeneric"
    assert (sa.peer_direct_addr, sa.peer_local_addrs) == (None, [])  # the caller never sees the callee's addresses
    assert (sb.peer_direct_addr, sb.peer_local_addrs) == (None, [])
    assert not lb.matching("candidates", call_id=call_id)  # the callee did not even gather them
    assert (pa.path, pa.candidate) == (pb.path, pb.candidate) == ("relay", "relay")
    assert pa.remote == pb.remote == relay.media_addr
    assert not la.matching("candidate") and not lb.matching("candidate")  # no direct dial was attempted

    room = relay.rooms[call_id]
    assert set(room.members) == {a.identity.fingerprint, b.identity.fingerprint}
    before = room.forwarded
    await exchange_datagrams(a, b, call_id)
    assert room.forwarded == before + 2

    await b.hangup(call_id)
    await assert_ended(la, call_id, "Normal")
    assert call_id not in relay.rooms


async def test_reject(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id = await ring(a, la, b, lb)
    await b.answer(call_id, "reject")
    await assert_ended(la, call_id, "Declined")
    await assert_ended(lb, call_id, "Declined")
    assert not la.matching("setup") and relay.core.calls == {}  # type: ignore[union-attr]


async def test_cancel_while_ringing(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id = await ring(a, la, b, lb)
    await a.cancel(call_id)
    await assert_ended(lb, call_id, "Cancelled")
    await assert_ended(la, call_id, "Cancelled")


async def test_ring_timeout(start_relay, make_client) -> None:
    relay = await start_relay(limits=RelayLimits(ring_timeout=1.0))
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id = await ring(a, la, b, lb)
    await assert_ended(la, call_id, "Timeout", 5)
    await assert_ended(lb, call_id, "Timeout", 5)


async def test_busy(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb), (c, lc) = await pair(relay, make_client, "a", "b", "c")
    await connected_call(a, la, b, lb)
    for target in (b, a):
        call_id = await c.place_call(target.identity.fingerprint)
        await assert_ended(lc, call_id, "Busy")
    assert not lb.matching("incoming", peer_fingerprint=c.identity.fingerprint)


async def test_offline_target(relay: RelayServer, make_client) -> None:
    ((a, la),) = await pair(relay, make_client, "a")
    call_id = await a.place_call(Identity.generate().fingerprint)
    await assert_ended(la, call_id, "Offline")
    assert not la.matching("ringing")


# ---------------------------------------------------------------- ending calls


@pytest.mark.parametrize("who", ["caller", "callee"])
async def test_hangup_from_either_side(relay: RelayServer, make_client, who: str) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id, _, _ = await connected_call(a, la, b, lb)
    (me, other_log) = (a, lb) if who == "caller" else (b, la)
    await me.hangup(call_id)
    await assert_ended(other_log, call_id, "Normal")
    assert relay.core.calls == {}  # type: ignore[union-attr]


@pytest.mark.parametrize("who", ["caller", "callee"])
async def test_signal_connection_drop_ends_the_call_on_the_other_side(
    relay: RelayServer, make_client, who: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "BACKOFF", (0.05, 0.1, 0.2, 0.2, 0.2, 0.2))
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id, _, _ = await connected_call(a, la, b, lb)
    dropper, dropper_log, other, other_log = (a, la, b, lb) if who == "caller" else (b, lb, a, la)
    assert dropper.link is not None and dropper.link.conn is not None
    mark = dropper_log.mark()
    dropper.link.conn.close(reason_phrase="network gone")
    await assert_ended(other_log, call_id, "Offline")
    await dropper_log.wait("ended", call_id=call_id)  # its side of the call ends too
    assert relay.core.calls == {}  # type: ignore[union-attr]
    # The dropped side comes back by itself, and can be called again.
    await dropper_log.wait("reconnecting", after=mark)
    await dropper_log.wait("registered", after=mark)
    await connected_call(other, other_log, dropper, dropper_log)


@pytest.mark.parametrize("who", ["caller", "callee"])
async def test_client_stop_ends_the_call_on_the_other_side(relay: RelayServer, make_client, who: str) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    call_id, _, _ = await connected_call(a, la, b, lb)
    (stopper, other_log) = (a, lb) if who == "caller" else (b, la)
    await stopper.stop()
    await assert_ended(other_log, call_id, "Normal")


async def test_hanging_up_one_call_keeps_the_other(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb), (c, lc) = await pair(relay, make_client, "a", "b", "c")
    ab, _, _ = await connected_call(a, la, b, lb)
    ac, _, _ = await connected_call(a, la, c, lc)
    await b.hangup(ab)
    await assert_ended(la, ab, "Normal")
    await exchange_datagrams(a, c, ac)  # the other call still carries media
    assert not lc.matching("ended") and list(relay.core.calls) == [ac]  # type: ignore[union-attr]


# ------------------------------------------------------------ relay lifecycle


async def test_relay_restart_on_the_same_port_reregisters(
    start_relay, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "BACKOFF", (0.05, 0.1, 0.2, 0.2, 0.2, 0.2))
    relay = await start_relay()
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    mark_a, mark_b = la.mark(), lb.mark()
    port, identity = relay.port, relay.identity
    await relay.stop()
    await la.wait("reconnecting", after=mark_a)
    await lb.wait("reconnecting", after=mark_b)
    again = await start_relay(port=port, identity=identity)
    reg_a = await la.wait("registered", after=mark_a)
    reg_b = await lb.wait("registered", after=mark_b)
    assert reg_a.key_status == reg_b.key_status == "verified"
    assert reg_a.relay_fingerprint == identity.fingerprint
    assert a.status == b.status == "connected"
    assert again.core.users_online == 2  # type: ignore[union-attr]
    await connected_call(a, la, b, lb)  # and calls work through the new relay


async def test_relay_key_change_is_refused(start_relay, make_client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "BACKOFF", (0.05, 0.1, 0.2, 0.2, 0.2, 0.2))
    relay = await start_relay()
    ((a, la),) = await pair(relay, make_client, "a")
    old_fp, port = relay.fingerprint, relay.port
    mark = la.mark()
    await relay.stop()
    await la.wait("reconnecting", after=mark)
    impostor = await start_relay(port=port, identity=Identity.generate())
    changed = await la.wait("relay_key_changed", after=mark)
    assert (changed.pinned, changed.presented) == (old_fp, impostor.fingerprint)
    assert a.status == "key-changed"
    # It waits for the user instead of retrying; asked to reconnect, it refuses the key again.
    second = la.mark()
    a.reconnect_now()
    await la.wait("relay_key_changed", after=second)
    assert not la.matching("registered", relay_fingerprint=impostor.fingerprint)
    assert impostor.core.users_online == 0  # type: ignore[union-attr]
    assert a.pins.get(a.relay) == old_fp

    # Once the user confirms the new key, the client registers.
    trusted = la.mark()
    a.trust_relay_key(impostor.fingerprint)
    reg = await la.wait("registered", after=trusted)
    assert reg.relay_fingerprint == impostor.fingerprint


async def test_replaced_client_does_not_steal_the_registration_back(
    relay: RelayServer, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same identity registering from a second device replaces the first (newest wins).
    The replaced client must not reconnect on its own and replace the newer one in turn:
    that makes two devices take the registration from each other forever (each time ending
    the other's calls)."""
    monkeypatch.setattr(client_module, "BACKOFF", (0.05, 0.1, 0.2, 0.2, 0.2, 0.2))
    me = Identity.generate()
    _, lold = await make_client(relay.port, "old", identity=me)
    mark = lold.mark()
    new, lnew = await make_client(relay.port, "new", identity=me)
    await lold.wait("notice", after=mark)  # told it was replaced
    assert relay.core.users_online == 1  # type: ignore[union-attr]
    # Given 20 back-off periods, the old client must not have registered again.
    try:
        again = await lold.wait("registered", after=mark, timeout=1.0)
    except AssertionError:
        pass  # expected: no new registration
    else:
        pytest.fail(
            f"the replaced client registered again, replacing the newer one: {again}; {lnew.matching('notice')}"
        )
    assert not lnew.matching("notice"), lnew.matching("notice")
    assert new.status == "connected"


# ------------------------------------------------------------- misbehaviour


async def test_forged_registration_is_refused(relay: RelayServer, make_client) -> None:
    ((victim, lv),) = await pair(relay, make_client, "victim")
    raw = await RawConn.open(relay.port)
    try:
        raw.send(raw.register_message(victim.identity, signer=Identity.generate()))
        error = await raw.recv_until(m.Error)
        assert error.code == "bad-signature"
        await raw.wait_closed()
    finally:
        await raw.close()
    assert relay.core.users_online == 1  # type: ignore[union-attr]
    assert victim.status == "connected" and not lv.matching("notice")  # the victim was not replaced
    assert [u.fingerprint for u in await victim.presence()] == [victim.identity.fingerprint]


async def test_third_party_cannot_answer_cancel_or_hang_up(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = await pair(relay, make_client, "a", "b")
    raw = await RawConn.open(relay.port)
    try:
        await raw.register(Identity.generate())
        call_id = await ring(a, la, b, lb)
        for msg in (
            m.DirectCallAnswer(call_id=call_id, accept_mode="AcceptTrusted", ephemeral_key=b"x" * 32),
            m.DirectCallAnswer(call_id=call_id, accept_mode="Reject"),
            m.CallCancel(call_id=call_id),
            m.Hangup(call_id=call_id),
        ):
            raw.send(msg)
            error = await raw.recv_until(m.Error)
            assert error.code == "not-your-call" and error.ref_type == type(msg).__name__
        assert not la.matching("ended") and not lb.matching("ended") and not la.matching("setup")
        # The real callee still can.
        await b.answer(call_id, "generic")
        await la.wait("path", call_id=call_id)
        await lb.wait("path", call_id=call_id)
        assert not raw.conn.is_closed
    finally:
        await raw.close()

    # Nor can a stranger enter the call's media room: not as itself, nor in a party's name.
    stranger = Identity.generate()
    for claimed, code in ((stranger.fingerprint, "not-your-call"), (a.identity.fingerprint, "bad-signature")):
        media = await RawConn.open(relay.port)
        try:
            media.send(media.media_join_message(call_id, claimed, stranger))
            error = await media.recv_until(m.Error)
            assert error.code == code, error
            await media.wait_closed()
        finally:
            await media.close()
    assert set(relay.rooms[call_id].members) == {a.identity.fingerprint, b.identity.fingerprint}
    await exchange_datagrams(a, b, call_id)


async def test_incoming_call_carries_no_addresses_on_the_wire(relay: RelayServer, make_client) -> None:
    ((a, la),) = await pair(relay, make_client, "a")
    raw = await RawConn.open(relay.port)
    try:
        callee = Identity.generate()
        await raw.register(callee)
        call_id = await a.place_call(callee.fingerprint)
        incoming = await raw.recv_until(m.CallIncoming)
        assert incoming.call_id == call_id and incoming.caller_fingerprint == a.identity.fingerprint
        wire = encode_message(incoming).decode()
        candidates = la.matching("candidates", call_id=call_id)[0]
        for addr in [candidates.reflexive_addr, *candidates.local_addrs]:
            assert addr not in wire
        assert "addr" not in wire
    finally:
        await raw.close()


async def test_presence_and_reflect(relay: RelayServer, make_client) -> None:
    (a, la), (b, _) = await pair(relay, make_client, "a", "b")
    hidden, _ = await make_client(relay.port, "hidden", discoverable=False)
    listed = {u.fingerprint for u in await a.presence()}
    assert listed == {a.identity.fingerprint, b.identity.fingerprint}
    assert await a.reflect() == a.registration.observed_addr  # type: ignore[union-attr]
    await la.wait("presence", where=lambda e: e.users[0]["fingerprint"] == b.identity.fingerprint)
    mark = la.mark()
    await b.stop()
    gone = await la.wait("presence", after=mark)
    assert gone.users == [{"fingerprint": b.identity.fingerprint, "alias": b.alias, "online": "no"}]
    assert hidden.status == "connected"


async def test_cancelled_relay_connection_attempt_is_closed() -> None:
    """The path race cancels its relay attempt when the direct path wins first. A connection
    that attempt already opened must be closed, not left open on the shared socket (and on the
    relay, as an unregistered connection until its registration timeout)."""
    server = await QuicEndpoint.create("127.0.0.1", 0)  # a relay that is slow to send its challenge
    client = await QuicEndpoint.create("127.0.0.1", 0)
    try:
        attempt = asyncio.ensure_future(open_relay_connection(client, f"127.0.0.1:{server.port}"))
        accepted = await asyncio.wait_for(server.accept(), T)
        attempt.cancel()
        await asyncio.gather(attempt, return_exceptions=True)
        assert attempt.cancelled()
        try:
            await asyncio.wait_for(accepted.wait_closed(), 2)
        except TimeoutError:
            raise AssertionError(
                f"the cancelled attempt left its connection open: {sorted(map(repr, client.connections))}"
            ) from None
    finally:
        await client.close(grace=0)
        await server.close(grace=0)
