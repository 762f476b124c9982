"""The client API the CLI and GUI use: one call-state event per step, and the call's controls
(mute, volume, levels, devices) through the client, on real calls over a real relay and QUIC."""

from __future__ import annotations

import sys

import pytest
from helpers.events import EventLog

from app.client.client import ClientError, WzpClient
from app.media.session import MediaSession
from app.media.session_factory import make_media_factory
from app.media.sources import ToneSource
from app.relay.server import RelayServer

T = 10.0
CALLER_STATES = ["offering", "ringing", "setup", "racing", "in-call", "ended"]
CALLEE_STATES = ["incoming", "answered", "setup", "racing", "in-call", "ended"]


def states(log: EventLog, call_id: str) -> list[str]:
    return [e.state for e in log.matching("call_state", call_id=call_id)]


def with_tone(client: WzpClient) -> None:
    """Real media sessions; this side sends a 440 Hz tone instead of silence."""

    def tone(session: MediaSession) -> None:
        session.source.close()
        session.source = ToneSource(440.0, 0.5)

    client.media_factory = make_media_factory(no_audio=True, emit=client.emit, on_session=tone)


async def test_one_call_state_event_per_step_and_the_id_comes_first(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = [await make_client(relay.port, name) for name in ("a", "b")]
    call_id = await a.place_call(b.identity.fingerprint)
    # place_call returned before the call said anything: a caller can match every event to it.
    assert not [e for e in la.events if getattr(e, "call_id", None) == call_id]
    await lb.wait("call_state", call_id=call_id, state="incoming")
    await b.answer(call_id, "generic")
    await la.wait("call_state", call_id=call_id, state="in-call")
    await lb.wait("call_state", call_id=call_id, state="in-call")
    await a.hangup(call_id)
    ended = await lb.wait("call_state", call_id=call_id, state="ended")
    assert (ended.reason, ended.by, ended.path) == ("Normal", "remote", "relay")
    await la.wait("ended", call_id=call_id)
    assert states(la, call_id) == CALLER_STATES
    assert states(lb, call_id) == CALLEE_STATES
    first = la.matching("call_state", call_id=call_id)[0]
    assert first.outgoing and first.peer_fingerprint == b.identity.fingerprint


async def test_a_call_cancelled_at_once_never_reaches_the_callee(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = [await make_client(relay.port, name) for name in ("a", "b")]
    call_id = await a.place_call(b.identity.fingerprint)
    await a.hangup(call_id)  # before the offer went out
    ended = await la.wait("call_state", call_id=call_id, state="ended")
    assert ended.reason == "Cancelled" and states(la, call_id) == ["ended"]
    # A second call goes through: nothing of the first one is left on either side or the relay.
    second = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=second)
    assert not lb.matching("incoming", call_id=call_id)


async def test_mute_volume_and_levels_go_through_the_client(relay: RelayServer, make_client) -> None:
    (a, _), (b, lb) = [await make_client(relay.port, name) for name in ("a", "b")]
    with_tone(a)
    b.media_factory = make_media_factory(no_audio=True, emit=b.emit)
    assert a.levels("no such call") == (-100.0, -100.0)
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    a.set_muted(call_id, True)  # before there is any audio: applied when it starts
    await b.answer(call_id, "generic")
    await lb.wait("stats", call_id=call_id, where=lambda e: e.packets_received > 25)
    assert b.levels(call_id)[1] < -50  # B hears nothing: A was muted from the start
    a.set_muted(call_id, False)
    await lb.wait("stats", call_id=call_id, where=lambda e: e.output_level_db > -20)
    assert b.levels(call_id)[1] > -20 and a.levels(call_id)[0] > -20
    b.set_volume(call_id, 0.0)  # B turns A all the way down
    await lb.wait("stats", call_id=call_id, where=lambda e: e.output_level_db < -50)
    # No device in this call (silence and a tone): nothing to switch, said plainly.
    assert a.switch_device(call_id, "input", None) is False
    with pytest.raises(ClientError):
        a.switch_device(call_id, "camera", None)
    await a.hangup(call_id)
    await lb.wait("ended", call_id=call_id)
    with pytest.raises(ClientError):
        a.set_muted(call_id, True)


async def test_a_call_reads_its_socket_in_the_frame_ticks_and_gives_it_back(relay: RelayServer, make_client) -> None:
    """While media flows the loop no longer wakes per datagram: each side's media session reads the
    shared socket at its 20 ms tick (Linux). Signalling still gets through (the hang-up), and the
    reading goes back to the loop when the call ends."""
    (a, _), (b, lb) = [await make_client(relay.port, name) for name in ("a", "b")]
    with_tone(a)
    b.media_factory = make_media_factory(no_audio=True, emit=b.emit)
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "generic")
    await lb.wait("stats", call_id=call_id, where=lambda e: e.output_level_db > -20 and e.packets_concealed == 0)
    assert a.endpoint is not None and b.endpoint is not None
    held = (a.endpoint._read_holds, b.endpoint._read_holds)
    if sys.platform.startswith("linux"):
        assert held == (1, 1)
    await a.hangup(call_id)  # read by B at one of its ticks
    ended = await lb.wait("call_state", call_id=call_id, state="ended")
    assert ended.reason == "Normal"
    assert (a.endpoint._read_holds, b.endpoint._read_holds) == (0, 0)
    assert not a.endpoint._held and not b.endpoint._held


async def test_a_relayed_call_costs_the_relay_one_packet_out_per_frame(relay: RelayServer, make_client) -> None:
    """The relay's ACK of what a party sends rides with the next frame it forwards to that party:
    about one packet out per packet in, not two (an ACK of its own 1 ms after each frame)."""
    (a, la), (b, lb) = [await make_client(relay.port, name) for name in ("a", "b")]
    with_tone(a)
    with_tone(b)
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "generic")  # relay path
    first = await lb.wait("stats", call_id=call_id, where=lambda e: e.packets_received > 25)
    stats = relay.endpoints[0].stats
    before = (stats.packets_in, stats.packets_out)
    await lb.wait("stats", call_id=call_id, where=lambda e: e.packets_received > first.packets_received + 100)
    packets_in, packets_out = stats.packets_in - before[0], stats.packets_out - before[1]
    assert packets_in >= 150
    assert packets_out <= packets_in * 1.15, (packets_in, packets_out)
    await a.hangup(call_id)
    await la.wait("ended", call_id=call_id)
