"""Hardening of signaling and calls (issue "Hardening", items 1 and 6-9): real relay, real QUIC.

Each test reproduces an attack from the outside review and asserts the attack fails:
a peer that resets its signal stream, presence at scale, call spam, the media
relay address and key.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from helpers.events import EventLog

from app.call.race import PathRace, RaceParams, RaceResult
from app.client.client import WzpClient
from app.client.relay_link import RelayLink
from app.identity import Identity
from app.media.media_keys import EphemeralKey
from app.nat.candidates import Candidate
from app.nat.relay_address import media_relay_address
from app.net import QuicEndpoint
from app.net.message_stream import MessageStream
from app.protocol import messages as m
from app.protocol.proofs import direct_peer_transcript
from app.relay.limits import RelayLimits
from app.relay.relay_core import RelayCore
from app.relay.server import RelayServer
from app.storage import BlockList, open_database

T = 10.0


async def open_link(relay_port: int, *, discoverable: bool, alias: str = "", received: list | None = None) -> RelayLink:
    endpoint = await QuicEndpoint.create("127.0.0.1", 0)
    link = RelayLink(
        endpoint,
        Identity.generate(),
        f"127.0.0.1:{relay_port}",
        alias=alias,
        discoverable=discoverable,
        pinned=None,
        on_message=(received.append if received is not None else lambda _msg: None),
    )
    await link.open()
    return link


# ------------------------------------------------------------------ 1. contained sends


async def test_a_user_who_resets_their_signal_stream_cuts_off_nobody_else(relay: RelayServer) -> None:
    """STOP_SENDING on the attacker's signal stream made the relay's next write to it raise
    RuntimeError inside *another* user's registration: every later discoverable user was
    dropped right after `Registered` (3 of 3 in the review)."""
    attacker = await open_link(relay.port, discoverable=False)
    assert attacker.conn is not None and attacker.stream is not None
    stream_id = attacker.stream.writer.get_extra_info("stream_id")
    attacker.conn._quic.stop_stream(stream_id, 0)  # "stop sending me signal messages"
    attacker.conn.transmit()
    honest: list[RelayLink] = []
    runs: list[asyncio.Task[str]] = []
    try:
        for i in range(3):
            link = await open_link(relay.port, discoverable=True, alias=f"user{i}")
            honest.append(link)
            runs.append(asyncio.ensure_future(link.run()))
        # The presence batch goes out (to the attacker too: that send fails) and everyone stays.
        for link in honest:
            assert link.info is not None
            listed = {u.fingerprint for u in await link.presence()}
            assert {h.info.fingerprint for h in honest if h.info} <= listed
        # The relay dropped the attacker (its own failed send), and only the attacker.
        await asyncio.wait_for(attacker.conn.wait_closed(), T)
        assert relay.core is not None and relay.core.users_online == 3
        assert not any(run.done() for run in runs), [run.result() for run in runs if run.done()]
    finally:
        for link in [*honest, attacker]:
            link.close()
            await link.endpoint.close(grace=0)
        await asyncio.gather(*runs, return_exceptions=True)


async def test_a_peer_that_resets_the_direct_stream_cannot_stall_the_race(relay: RelayServer) -> None:
    """A peer that proves itself and then resets the direct stream: the dialer's decision
    write fails; before the fix RuntimeError escaped `race.run()` and the call hung in RACING.
    Now that direct path is out and the relay carries the call."""
    dialer_id, acceptor_id = Identity.generate(), Identity.generate()
    caller_eph, callee_eph = EphemeralKey.generate().public_bytes, EphemeralKey.generate().public_bytes
    call_id = secrets.token_hex(16)
    acceptor = await QuicEndpoint.create("127.0.0.1", 0)
    dialer = await QuicEndpoint.create("127.0.0.1", 0)
    relay_side = await QuicEndpoint.create("127.0.0.1", 0)

    async def misbehaving_acceptor() -> None:
        conn = await acceptor.accept()
        reader, writer = await conn.accept_stream()
        stream = MessageStream(reader, writer)
        await stream.recv()  # the dialer's proof
        transcript = direct_peer_transcript(
            call_id, acceptor_id.fingerprint, caller_eph, callee_eph, acceptor.tls.public_key
        )
        signature = acceptor_id.sign(transcript)
        stream.send(m.PeerProof(call_id=call_id, fingerprint=acceptor_id.fingerprint, signature=signature))
        conn._quic.stop_stream(writer.get_extra_info("stream_id"), 0)  # ... and slam the door
        conn.transmit()
        await conn.wait_closed()

    async def open_relay() -> object:
        # Stands in for the relay media room: any live QUIC connection will do for the race.
        await asyncio.sleep(0.3)  # the relay is ready after the direct path (not a sync point)
        return await relay_side.connect(("127.0.0.1", relay.port), server_name="wzp-relay")

    params = RaceParams(
        call_id=call_id,
        role="dialer",
        own_fingerprint=dialer_id.fingerprint,
        peer_fingerprint=acceptor_id.fingerprint,
        peer_public_key=acceptor_id.public_key,
        caller_ephemeral=caller_eph,
        callee_ephemeral=callee_eph,
        candidates=(Candidate(addr=f"127.0.0.1:{acceptor.port}", kind="host"),),
        relay_addr=f"127.0.0.1:{relay.port}",
    )
    peer_task = asyncio.ensure_future(misbehaving_acceptor())
    used: list[tuple[str, str]] = []
    on_relay = asyncio.Event()

    def on_use(result: RaceResult, reason: str) -> None:
        used.append((result.path, reason))
        if result.path == "relay":
            on_relay.set()

    race = PathRace(
        dialer, dialer_id, params, open_relay=open_relay, signal=lambda _m: None, emit=lambda _e: None, on_use=on_use
    )
    running = asyncio.ensure_future(race.run())
    try:
        await asyncio.wait_for(on_relay.wait(), T)
        assert not running.done()  # nothing escaped the race: it still runs the call
        # Direct was checked and taken first; the reset stream lost it; the relay carries the call.
        assert used == [("direct", "first"), ("relay", "failover")]
    finally:
        running.cancel()
        peer_task.cancel()
        await asyncio.gather(running, peer_task, return_exceptions=True)
        for ep in (acceptor, dialer, relay_side):
            await ep.close(grace=0)


# ------------------------------------------------------------------ 6, 7. presence at scale


async def test_presence_of_many_users_with_long_names_pages_through_the_frame_cap(start_relay) -> None:
    """120 users with 64-character names (4-byte characters: the worst case) overflowed the
    64 KiB frame for everyone before paging; now the list arrives in pages."""
    relay = await start_relay()
    links = [await open_link(relay.port, discoverable=True, alias=chr(0x1F600 + i % 64) * 64) for i in range(120)]
    reader = asyncio.ensure_future(links[0].run())
    try:
        listed = await links[0].presence()
        assert len(listed) == 120
        assert {u.fingerprint for u in listed} == {link.info.fingerprint for link in links if link.info}
    finally:
        for link in links:
            link.close()
            await link.endpoint.close(grace=0)
        await asyncio.gather(reader, return_exceptions=True)


async def test_an_unanswered_presence_query_does_not_shift_later_answers() -> None:
    """After one query timed out, every later answer resolved the *previous* request."""
    link = RelayLink(
        None,  # type: ignore[arg-type]
        Identity.generate(),
        "127.0.0.1:1",
        alias="a",
        discoverable=True,
        pinned=None,
        on_message=lambda _m: None,
    )
    sent: list[m.Message] = []

    class FakeConn:
        is_closed = False

    class FakeStream:
        def send(self, msg: m.Message) -> None:
            sent.append(msg)

    link.conn, link.stream = FakeConn(), FakeStream()  # type: ignore[assignment]
    with pytest.raises(TimeoutError):
        await link.presence_page(timeout=0.01)  # the relay never answers this one
    assert link._presence == {}  # the timed-out request left nothing behind
    me = m.PresenceEntry(fingerprint=link.identity.fingerprint, alias="a")
    asked = asyncio.ensure_future(link.presence_page(timeout=T))
    await asyncio.sleep(0)
    query = sent[-1]
    assert isinstance(query, m.PresenceQuery)
    link._dispatch(m.PresenceList(request_id=query.request_id - 1, users=[]))  # a late answer to the old one
    assert not asked.done()
    link._dispatch(m.PresenceList(request_id=query.request_id, users=[me]))
    assert (await asked).users == [me]
    with pytest.raises(TimeoutError):
        await link.reflect(timeout=0.01)
    assert link._reflects == {}


def test_an_ipv6_slash_64_is_one_source() -> None:
    limits = RelayLimits(connections_per_ip=2)
    core = RelayCore(relay_fingerprint=Identity.generate().fingerprint, media_addr="", limits=limits)
    for i, host in enumerate(["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"]):
        assert not any(type(a).__name__ == "Disconnect" for a in core.connection_opened(i, f"[{host}]:1", host, 0.0))
    refused = core.connection_opened(9, "[2001:db8:1:2::abcd]:1", "2001:db8:1:2::abcd", 0.0)
    assert [type(a).__name__ for a in refused] == ["Disconnect"]
    other_net = core.connection_opened(10, "[2001:db8:1:3::1]:1", "2001:db8:1:3::1", 0.0)
    assert [type(a).__name__ for a in other_net] == ["Send"]


# ------------------------------------------------------------------ 8. call spam


async def test_ended_calls_are_forgotten_and_their_keys_wiped(relay: RelayServer, make_client) -> None:
    """2000 cancelled rings used to leave 2000 calls with live X25519 private keys."""
    (spammer, _), (victim, lv) = await make_client(relay.port, "spammer"), await make_client(relay.port, "victim")
    seen: list = []
    victim.add_listener(lambda e: seen.append(victim.calls.get(e.call_id)) if e.event == "incoming" else None)
    for _ in range(25):  # a burst of 50 messages: within the relay's rate limit
        call_id = await spammer.place_call(victim.identity.fingerprint)
        await lv.wait("incoming", call_id=call_id)
        await spammer.cancel(call_id)
        await lv.wait("ended", call_id=call_id)
    assert len(seen) == 25 and all(call is not None for call in seen)
    assert victim.calls == {} and spammer.calls == {}
    assert all(call.ephemeral.wiped and call.keys is None for call in seen)
    # A late hangup of an ended call is a no-op, not an error.
    await victim.hangup(seen[-1].call_id)


async def test_a_blocked_caller_never_rings(relay: RelayServer, make_client, tmp_path: Path) -> None:
    blocks = BlockList(open_database(tmp_path / "victim-db"))
    (spammer, ls) = await make_client(relay.port, "spammer")
    blocks.block(spammer.identity.fingerprint)
    (victim, lv) = await make_client(relay.port, "victim", blocked=blocks)
    (friend, _) = await make_client(relay.port, "friend")
    call_id = await spammer.place_call(victim.identity.fingerprint)
    ended = await ls.wait("ended", call_id=call_id)
    assert ended.reason == "Declined"
    friend_call = await friend.place_call(victim.identity.fingerprint)
    await lv.wait("incoming", call_id=friend_call)
    assert not lv.matching("incoming", peer_fingerprint=spammer.identity.fingerprint)
    blocks.unblock(spammer.identity.fingerprint)
    call_id = await spammer.place_call(victim.identity.fingerprint)
    await lv.wait("incoming", call_id=call_id)


# ------------------------------------------------------------------ 9. media relay address and key


async def test_a_wildcard_relay_never_advertises_a_loopback_media_address() -> None:
    """`--listen 0.0.0.0:P` without `--advertise` told every client to send media to 127.0.0.1:P."""
    relay = await RelayServer.start("0.0.0.0:0", identity=Identity.generate())
    try:
        assert relay.media_addr == ""  # "the address you reached me at"
    finally:
        await relay.stop()
    # A relay that does advertise a loopback address gives it only to clients on loopback.
    core = RelayCore(relay_fingerprint=Identity.generate().fingerprint, media_addr="127.0.0.1:4433")
    for conn, ip in ((1, "198.51.100.7"), (2, "127.0.0.1")):
        core.connection_opened(conn, f"{ip}:5000", ip, 0.0)
    assert core._media_addr_for(core._conns[1]) == ""
    assert core._media_addr_for(core._conns[2]) == "127.0.0.1:4433"


def test_the_client_never_sends_media_to_loopback_when_its_relay_is_elsewhere(tmp_path: Path) -> None:
    relay = WzpClient(Identity.generate(), tmp_path, "198.51.100.20:4433").relay
    assert media_relay_address("", relay) == "198.51.100.20:4433"
    assert media_relay_address("127.0.0.1:4433", relay) == "198.51.100.20:4433"
    assert media_relay_address("not an address", relay) == "198.51.100.20:4433"
    assert media_relay_address("203.0.113.5:5000", relay) == "203.0.113.5:5000"
    assert media_relay_address("127.0.0.1:4434", "127.0.0.1:4433") == "127.0.0.1:4434"
    # A relay reached by name: a loopback media address is refused the same way.
    named = WzpClient(Identity.generate(), tmp_path, "relay.example.org")
    assert named.relay == "relay.example.org:4433"
    assert media_relay_address("127.0.0.1:4433", named.relay) == "relay.example.org:4433"
    assert media_relay_address("[::1]:4433", named.relay) == "relay.example.org:4433"
    # A relay hosted at home advertises its LAN address: from outside, media goes where we reached it.
    assert media_relay_address("192.168.1.20:4433", "11.0.13.2:4433") == "11.0.13.2:4433"
    assert media_relay_address("192.168.1.20:4433", "home.example.org:4433") == "home.example.org:4433"
    assert media_relay_address("192.168.1.20:4433", "192.168.1.20:4433") == "192.168.1.20:4433"
    assert media_relay_address("[fd00::5]:4433", "10.0.0.2:4433") == "[fd00::5]:4433"  # both private: a LAN
    # A call on a visited relay takes that relay's address, not the home one.
    assert media_relay_address("", "192.168.7.2:4433") == "192.168.7.2:4433"


async def test_relay_only_call_through_a_wildcard_relay_uses_the_address_the_client_reached(make_client) -> None:
    relay = await RelayServer.start("0.0.0.0:0", identity=Identity.generate())
    try:
        (a, la), (b, lb) = await make_client(relay.port, "a"), await make_client(relay.port, "b")
        call_id = await a.place_call(b.identity.fingerprint)
        await lb.wait("incoming", call_id=call_id)
        await b.answer(call_id, "generic")
        setup = await la.wait("setup", call_id=call_id)
        assert setup.relay_addr == f"127.0.0.1:{relay.port}"
        path = await la.wait("path", call_id=call_id)
        assert path.path == "relay"
        await lb.wait("path", call_id=call_id)
        conn_a, conn_b = a.calls[call_id].result.conn, b.calls[call_id].result.conn  # type: ignore[union-attr]
        conn_a.send_datagram(b"hello")
        assert await asyncio.wait_for(conn_b.recv_datagram(), T) == b"hello"
        await a.hangup(call_id)
    finally:
        await a.stop()
        await b.stop()
        await relay.stop()


async def test_a_media_relay_with_another_key_is_refused(start_relay, tmp_path: Path) -> None:
    """A relay that advertises someone else's media address: the client refuses to send
    the call's media to a relay that does not hold the key it pinned."""
    other = await start_relay()
    relay = await RelayServer.start("127.0.0.1:0", identity=Identity.generate(), advertise=f"127.0.0.1:{other.port}")
    clients: list[WzpClient] = []
    try:
        logs = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            client = WzpClient(Identity.generate(), tmp_path / name, f"127.0.0.1:{relay.port}")
            log = EventLog(name)
            client.add_listener(log)
            await client.start()
            await client.wait_registered(T)
            clients.append(client)
            logs.append(log)
        (a, b), (la, lb) = clients, logs
        call_id = await a.place_call(b.identity.fingerprint)
        await lb.wait("incoming", call_id=call_id)
        await b.answer(call_id, "generic")
        notice = await la.wait("notice", where=lambda e: "another key" in e.message or "holds another" in e.message)
        assert other.identity.fingerprint in notice.message or "key" in notice.message
        await la.wait("ended", call_id=call_id)
        assert not la.matching("path", call_id=call_id)
        assert other.rooms == {}
    finally:
        for client in clients:
            await client.stop()
        await relay.stop()


def test_cli_block_list_round_trip(tmp_path: Path) -> None:
    import json
    import subprocess

    from helpers.procs import BIN

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BIN / "wzp-cli", "--data-dir", tmp_path, "--json", *args], capture_output=True, text=True, timeout=30
        )

    fp = Identity.generate().fingerprint
    assert json.loads(cli("block", fp.upper().replace(":", "")).stdout) == {"event": "blocked", "fingerprint": fp}
    listed = [json.loads(line) for line in cli("blocked").stdout.splitlines()]
    assert listed == [{"event": "blocked", "fingerprint": fp}]
    assert fp in BlockList(open_database(tmp_path))
    assert cli("unblock", fp).returncode == 0
    assert cli("blocked").stdout == ""
    bad = cli("block", "nonsense")
    assert bad.returncode == 2 and "not a hex digit" in bad.stderr


async def test_a_presence_resync_reaches_the_user_of_the_api(relay: RelayServer, make_client) -> None:
    """After a login flood the relay sends one resync: the client tells its user (the GUI then
    fetches the list again, page by page)."""
    (a, la) = await make_client(relay.port, "a")
    mark = la.mark()
    a._on_message(m.PresenceDelta(resync=True))  # as the relay's flush sends it after a flood
    event = await la.wait("presence", after=mark)
    assert event.resync and event.users == []
    assert {u.fingerprint for u in await a.presence()} == {a.identity.fingerprint}
