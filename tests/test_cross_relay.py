"""Calls across relays, and relays named by host name: real relays, real clients, real QUIC on loopback.

Each person stays registered on their own (home) relay; an invite link tells the caller where the
callee is, and the caller visits that relay to place the call (`app.client.relay_pool`).
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from helpers.calls import exchange_datagrams

from app.client.client import ClientError, WzpClient
from app.identity import Identity
from app.invite import Invite, format_invite
from app.protocol import messages as m

T = 10.0


def invite_for(client: WzpClient, *relays: str) -> str:
    return format_invite(Invite(client.identity.fingerprint, tuple(relays), client.alias))


def free_udp_port() -> int:
    """A loopback UDP port nothing listens on (bound, read, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def eventually(check, timeout: float = T) -> None:
    """For state with no event to wait on (a link closing when idle): check every 20 ms."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(("mode", "path"), [("generic", "relay"), ("trusted", "direct")])
async def test_an_invite_link_reaches_someone_on_another_relay(start_relay, make_client, mode, path) -> None:
    home_a, home_b = await start_relay(), await start_relay()
    a, la = await make_client(home_a.port, "a")
    b, lb = await make_client(home_b.port, "b")
    link = invite_for(b, f"127.0.0.1:{home_b.port}")
    call_id = await a.place_call(link)
    await la.wait("ringing", call_id=call_id)
    await lb.wait("incoming", call_id=call_id, peer_fingerprint=a.identity.fingerprint)
    await b.answer(call_id, mode)
    await la.wait("path", call_id=call_id, path=path)
    await lb.wait("path", call_id=call_id, path=path)
    await exchange_datagrams(a, b, call_id)
    assert a.calls[call_id].via == f"127.0.0.1:{home_b.port}"
    # The visitor is hidden on the relay it visits: b's relay lists only b.
    assert {u.fingerprint for u in await b.presence()} == {b.identity.fingerprint}
    # ... and pinned by name, like a home relay.
    assert a.pins.get(f"127.0.0.1:{home_b.port}") == home_b.fingerprint
    assert a.visited is not None
    a.visited.idle_close = 0.0  # the link to b's relay closes once no call uses it
    await a.hangup(call_id)
    ended = await lb.wait("ended", call_id=call_id)
    assert ended.reason == "Normal"
    await eventually(lambda: a.visited.relays == [])


async def test_offline_is_said_by_the_callees_relay_and_names_it(start_relay, make_client) -> None:
    home_a, other = await start_relay(), await start_relay()
    a, la = await make_client(home_a.port, "a")
    nobody = Identity.generate()
    relay = f"127.0.0.1:{other.port}"
    call_id = await a.place_call(format_invite(Invite(nobody.fingerprint, (relay,))))
    ended = await la.wait("ended", call_id=call_id, timeout=T)
    assert (ended.reason, ended.relay) == ("Offline", relay)


async def test_an_unreachable_relay_is_not_called_offline(start_relay, make_client) -> None:
    home_a = await start_relay()
    a, la = await make_client(home_a.port, "a")
    dead = f"127.0.0.1:{free_udp_port()}"
    call_id = await a.place_call(format_invite(Invite(Identity.generate().fingerprint, (dead,))))
    ended = await la.wait("ended", call_id=call_id, timeout=T)
    assert (ended.reason, ended.relay) == ("Unreachable", dead)
    notice = await la.wait("notice")
    assert dead in notice.message


async def test_the_next_relay_of_an_invite_is_tried_when_one_says_offline(start_relay, make_client) -> None:
    home_a, empty, home_b = await start_relay(), await start_relay(), await start_relay()
    a, la = await make_client(home_a.port, "a")
    b, lb = await make_client(home_b.port, "b")
    dead = f"127.0.0.1:{free_udp_port()}"
    link = invite_for(b, dead, f"127.0.0.1:{empty.port}", f"127.0.0.1:{home_b.port}")
    call_id = await a.place_call(link)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "generic")
    await la.wait("path", call_id=call_id, path="relay")
    await exchange_datagrams(a, b, call_id)


async def test_a_client_without_a_home_relay_calls_by_invite(start_relay, make_client, tmp_path) -> None:
    home_b = await start_relay()
    b, lb = await make_client(home_b.port, "b")
    a = WzpClient(Identity.generate(), tmp_path / "a", None)
    (tmp_path / "a").mkdir()
    from helpers.events import EventLog

    la = EventLog("a")
    a.add_listener(la)
    await a.start()
    try:
        assert a.status == "offline" and a.relays == []
        with pytest.raises(ClientError, match="invite link"):
            await a.place_call(b.identity.fingerprint)
        call_id = await a.place_call(invite_for(b, f"127.0.0.1:{home_b.port}"))
        await lb.wait("incoming", call_id=call_id)
        await b.answer(call_id, "generic")
        await la.wait("path", call_id=call_id, path="relay")
        await exchange_datagrams(a, b, call_id)
    finally:
        await a.stop()


async def test_a_visited_relay_cannot_end_a_call_placed_elsewhere(start_relay, make_client) -> None:
    home = await start_relay()
    a, la = await make_client(home.port, "a")
    b, lb = await make_client(home.port, "b")
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "generic")
    await la.wait("path", call_id=call_id, path="relay")
    # A message about this call that arrives from some other relay's link is ignored.
    a._on_message(m.Hangup(call_id=call_id, reason="Normal"), "127.0.0.1:9")
    await exchange_datagrams(a, b, call_id)
    assert call_id in a.calls


async def test_a_relay_named_by_host_name_is_found_and_pinned_by_that_name(start_relay, make_client, tmp_path) -> None:
    relay = await start_relay()  # listens on 127.0.0.1 only: a ::1 record for localhost does not answer
    client = WzpClient(Identity.generate(), tmp_path, f"localhost:{relay.port}")
    await client.start()
    try:
        info = await client.wait_registered(T)
        assert info.relay_fingerprint == relay.fingerprint
        assert client.relay == f"localhost:{relay.port}"
        assert client.pins.get(f"localhost:{relay.port}") == relay.fingerprint
    finally:
        await client.stop()
