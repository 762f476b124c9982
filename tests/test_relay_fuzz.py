"""The relay keeps serving everyone else while one client floods its signal stream with garbage."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass

from helpers.events import EventLog
from helpers.garbage import garbage_batch, garbage_payload
from helpers.raw import RawConn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.client.client import WzpClient
from app.identity import Identity
from app.net import ConnectionClosed, QuicEndpoint
from app.protocol import ProtocolError, decode_message
from app.protocol import messages as m
from app.protocol.codec import encode_message
from app.protocol.proofs import register_transcript
from app.relay.relay_core import Disconnect, RelayCore, Send
from app.relay.server import RelayServer

SEED = 20240611
TOTAL_FRAMES = 10_000
FLOOD_FROM = "127.0.0.2"  # its own address, so the per-address limit hits the flooder only
RATE_LIMITED = "too many messages; slow down"  # the relay's close reason for a flooding connection
STREAM_ENDED = "relay closed the connection"  # ... and for one whose signal stream it stopped reading


@dataclass
class FloodStats:
    frames: int = 0
    connections: int = 0
    refused_reasons: dict[str, int] | None = None


async def flood(port: int, stats: FloodStats, progress: dict[int, asyncio.Event], workers: int = 4) -> None:
    """Connection after connection (a few at a time), each sent a batch of garbage; the relay closes each one.

    `progress[n]` is set once at least n frames have been sent.
    """
    stats.refused_reasons = {}
    endpoint = await QuicEndpoint.create(FLOOD_FROM, 0)

    async def worker(rng: random.Random) -> None:
        while stats.frames < TOTAL_FRAMES:
            conn = await endpoint.connect(("127.0.0.1", port), server_name="wzp-relay", timeout=5)
            _, writer = await asyncio.wait_for(conn.accept_stream(), 5)
            # Mostly more frames than the burst allowance; sometimes a short batch ending in an
            # oversize header. Either way the relay must hang up on us.
            size = rng.randint(100, 400) if rng.random() < 0.75 else rng.randint(5, 40)
            data, count = garbage_batch(rng, size, oversize_tail=size < 60)
            writer.write(data)
            stats.frames += count
            stats.connections += 1
            for threshold, event in progress.items():
                if stats.frames >= threshold:
                    event.set()
            await asyncio.wait_for(conn.wait_closed(), 10)
            reason = conn.close_reason
            stats.refused_reasons[reason] = stats.refused_reasons.get(reason, 0) + 1  # type: ignore[index]

    try:
        await asyncio.gather(*(worker(random.Random(SEED + i)) for i in range(workers)))
    finally:
        await endpoint.close(grace=0.2)


async def call_once(a: WzpClient, la: EventLog, b: WzpClient, lb: EventLog) -> None:
    call_id = await a.place_call(b.identity.fingerprint)
    await lb.wait("incoming", call_id=call_id)
    await b.answer(call_id, "trusted")
    # The first path may be the relay; on loopback a trusted call settles on direct.
    await la.wait("path", call_id=call_id, path="direct")
    await lb.wait("path", call_id=call_id, path="direct")
    conn_a = a.calls[call_id].result.conn  # type: ignore[union-attr]
    conn_b = b.calls[call_id].result.conn  # type: ignore[union-attr]
    conn_a.send_datagram(b"voice")
    assert await asyncio.wait_for(conn_b.recv_datagram(), 5) == b"voice"
    await a.hangup(call_id)
    ended = await lb.wait("ended", call_id=call_id)
    assert ended.reason == "Normal", ended


async def wait_for_condition(check, timeout: float) -> None:
    """For relay-internal counters that have no event: re-check after each loop turn, bounded."""

    async def loop() -> None:
        while not check():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(loop(), timeout)


async def test_garbage_flood_does_not_disturb_other_users(relay: RelayServer, make_client) -> None:
    (a, la), (b, lb) = [await make_client(relay.port, name) for name in ("a", "b")]
    core = relay.core
    assert core is not None and core.connection_count() == 2

    stats = FloodStats()
    # A few calls at points spread over the flood (a client of its own making a call every few
    # milliseconds would rightly hit the per-connection message rate limit).
    progress = {n: asyncio.Event() for n in (1, TOTAL_FRAMES // 3, 2 * TOTAL_FRAMES // 3)}
    flooder = asyncio.ensure_future(flood(relay.port, stats, progress))
    calls_during_flood = 0
    try:
        for event in progress.values():
            await asyncio.wait_for(event.wait(), 15)
            await call_once(a, la, b, lb)
            if not flooder.done():
                calls_during_flood += 1
            assert await a.reflect() == a.registration.observed_addr  # type: ignore[union-attr]
        await asyncio.wait_for(flooder, 15)
    finally:
        if not flooder.done():
            flooder.cancel()
            await asyncio.gather(flooder, return_exceptions=True)

    assert stats.frames >= TOTAL_FRAMES and stats.connections > 1, stats
    assert calls_during_flood >= 1
    # The relay itself hung up on every flooder connection (none just idled out), most of them for
    # their rate (batches of 100-400 frames), the rest when it stopped reading (the oversize tail).
    reasons = stats.refused_reasons or {}
    assert sum(reasons.values()) == stats.connections, reasons
    assert reasons.get(RATE_LIMITED, 0) >= stats.connections // 2, reasons
    assert set(reasons) <= {RATE_LIMITED, STREAM_ENDED}, reasons
    # Both users stayed registered on their original connections throughout.
    assert not la.matching("reconnecting") and not lb.matching("reconnecting")
    assert a.status == b.status == "connected"

    # The relay still takes newcomers, and every flooder connection (and call media) is gone.
    raw = await RawConn.open(relay.port)
    try:
        await raw.register(Identity.generate())
        raw.send(m.Reflect(request_id=9))
        assert isinstance(await raw.recv_until(m.ReflectResponse), m.ReflectResponse)
    finally:
        await raw.close()
    try:
        await wait_for_condition(lambda: core.connection_count() == 2, 5)
    except TimeoutError:
        lingering = [(c.conn, c.observed_addr, c.fingerprint, c.media_call) for c in core._conns.values()]
        ports = {"a": a.endpoint.port, "b": b.endpoint.port}  # type: ignore[union-attr]
        raise AssertionError(f"connections left on the relay: {lingering}; client ports {ports}") from None
    assert core.users_online == 2 and core.calls == {}
    print(
        f"flood: {stats.frames} frames on {stats.connections} connections, {calls_during_flood} calls meanwhile;"
        f" close reasons {stats.refused_reasons}"
    )


async def test_oversize_frame_gets_an_error_before_the_close(relay: RelayServer) -> None:
    raw = await RawConn.open(relay.port)
    try:
        raw.write((70_000).to_bytes(4, "big"))
        got: list[m.Message] = []
        try:
            while True:
                got.append(await raw.recv())
        except ConnectionClosed:
            pass
        assert [x.code for x in got if isinstance(x, m.Error)] == ["FrameTooLarge"], (got, raw.conn.close_reason)
    finally:
        await raw.close()


async def test_bad_frames_are_answered_and_the_connection_survives(relay: RelayServer) -> None:
    raw = await RawConn.open(relay.port)
    try:
        for payload in (b"{", b'{"type": "Nope"}', b"[]", b""):
            raw.write(len(payload).to_bytes(4, "big") + payload)
            error = await raw.recv_until(m.Error)
            assert error.code == "bad-message", error
        await raw.register(Identity.generate())
    finally:
        await raw.close()


# ------------------------------------------------------------- sans-IO, hypothesis


def _core_with_users() -> tuple[RelayCore, Identity, list[int]]:
    relay = Identity.generate()
    core = RelayCore(relay_fingerprint=relay.fingerprint, media_addr="192.0.2.1:4433")
    conns = []
    for conn in (1, 2):
        (challenge,) = [a.message for a in core.connection_opened(conn, f"192.0.2.{conn}:9", f"192.0.2.{conn}", 0.0)]
        user = Identity.generate()
        transcript = register_transcript(relay.fingerprint, challenge.nonce, user.public_key)  # type: ignore[union-attr]
        core.message_received(
            conn,
            m.Register(public_key=user.public_key, alias="u", nonce=challenge.nonce, signature=user.sign(transcript)),  # type: ignore[union-attr]
            0.0,
        )
        conns.append(conn)
    core.connection_opened(3, "192.0.2.3:9", "192.0.2.3", 0.0)  # one that never registers
    conns.append(3)
    return core, relay, conns


payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda r: garbage_payload(random.Random(r)), st.integers(0, 2**32)),
    st.dictionaries(st.sampled_from(["type", "call_id", "nonce", "x"]), st.text(max_size=20) | st.integers()).map(
        lambda d: json.dumps(d).encode()
    ),
    st.sampled_from(sorted(m.MESSAGE_TYPES)).map(lambda t: json.dumps({"type": t}).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([1, 2, 3]), payloads, st.floats(0, 5)), max_size=80))
def test_core_answers_any_frame_sequence_without_crashing(frames) -> None:
    core, _, _ = _core_with_users()
    now = 0.0
    disconnected: set[int] = set()
    for conn, payload, dt in frames:
        now += dt
        try:
            msg = decode_message(payload)
        except ProtocolError as exc:
            actions = core.bad_message(conn, str(exc), now)
        else:
            actions = core.message_received(conn, msg, now)
        actions += core.tick(now)
        for action in actions:
            assert isinstance(action, Send | Disconnect), action
            if isinstance(action, Send):
                encode_message(action.message)  # every reply is encodable
            else:
                disconnected.add(action.conn)
    # Garbage never registers anyone or starts a call.
    assert core.users_online <= 2 and core.calls == {}
    for conn in (1, 2):
        if conn not in disconnected:
            assert core.fingerprint_of_conn(conn) is not None
