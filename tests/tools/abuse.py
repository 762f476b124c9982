"""The relay attacks of issue 10 ("Hardening"), items 1-5, against a real relay on 127.0.0.1.

Each attack is a coroutine `attack(port, stop, *, rounds=None, ...)` that repeats one round
until `stop` is set (or `rounds` rounds are done) and returns one dict per round saying what
it saw (above all: whether the relay closed it, and how):

1. `stop_sending`: a registered client sends STOP_SENDING on its signal stream, then asks for
   presence: the relay's reply cannot be written, and it must drop that client (and only it).
2. `stream_flood`: a connection opens its own stream (the relay allows none) and pushes MiBs.
3. `datagram_flood`: a call of two raw identities whose callee vanished without a close (so
   nothing the relay sends it is acknowledged); the caller floods the media room with
   datagrams of the largest forwardable size, some bigger than the relay can forward, and
   at the end one over the relay's datagram frame limit (the relay closes it).
4. `no_credit_reader`: a registered client that grants no flow-control credit and sends
   PresenceQuery at the allowed rate; `fillers` discoverable users with long (multi-byte)
   aliases are registered first so that every page is big.
5. `half_open_flood`: valid Initials that never complete, from 10 source addresses
   (127.0.0.2-11); alternately bare (a spoofer: never sees the Retry) and answering the Retry.

`python -m tests.tools.abuse --relay 127.0.0.1:PORT --seconds S` runs all five at once for S
seconds (or until SIGINT/SIGTERM) and prints JSON lines: {"event": "attacking"} once the fillers are
registered and the attacks start, {"event": "round", "attack": ..., ...} after each round of each
attack, and at the end {"event": "summary", ...}: per attack, the rounds' totals.

Registered abusers connect from `--source` (127.0.0.66 by default), not from the honest
clients' 127.0.0.1: per-address limits are the relay's business, not what is tested here.
Traffic goes only to the relay's address.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from app.identity import Identity
from app.media.media_keys import EphemeralKey, sign_ephemeral
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.protocol.proofs import media_join_transcript, register_transcript

MiB = 1 << 20
KiB = 1 << 10
T = 10.0
RELAY_HOST = "127.0.0.1"
#: Where registered abusers connect from (the honest clients use 127.0.0.1).
ABUSER_HOST = "127.0.0.66"
#: 64 characters of 4 bytes each: the longest alias the relay takes, in bytes.
LONG_ALIAS = "\U0001f600" * m.MAX_ALIAS_LEN
#: QUIC error code PROTOCOL_VIOLATION (a datagram frame over the advertised limit).
PROTOCOL_VIOLATION = 0xA

Round = dict[str, Any]


# ------------------------------------------------------------------ clients


class Signal:
    """One signaling connection to the relay from its own endpoint (its own port)."""

    def __init__(self, endpoint: QuicEndpoint, conn: QuicPeerConnection, stream: MessageStream, ch: m.Message) -> None:
        self.endpoint, self.conn, self.stream = endpoint, conn, stream
        assert isinstance(ch, m.RegisterChallenge)
        self.challenge = ch

    @classmethod
    async def open(cls, port: int, endpoint: QuicEndpoint | None = None, host: str = RELAY_HOST) -> Signal:
        own = endpoint is None
        endpoint = endpoint or await QuicEndpoint.create(host, 0)
        try:
            conn = await endpoint.connect((RELAY_HOST, port), server_name="wzp-relay", timeout=T)
            stream = MessageStream(*await asyncio.wait_for(conn.accept_stream(), T))
            return cls(endpoint, conn, stream, await asyncio.wait_for(stream.recv(), T))
        except BaseException:
            if own:
                await endpoint.close(grace=0)
            raise

    async def recv_until(self, kind: type) -> m.Message:
        async def loop() -> m.Message:
            while True:
                try:
                    msg = await self.stream.recv()
                except ProtocolError:
                    continue
                if isinstance(msg, kind):
                    return msg

        return await asyncio.wait_for(loop(), T)

    async def register(self, identity: Identity, alias: str, *, discoverable: bool = True) -> None:
        transcript = register_transcript(self.challenge.relay_fingerprint, self.challenge.nonce, identity.public_key)
        self.stream.send(
            m.Register(
                public_key=identity.public_key,
                alias=alias,
                nonce=self.challenge.nonce,
                signature=identity.sign(transcript),
                discoverable=discoverable,
            )
        )
        msg = await self.recv_until(m.Registered | m.Error)
        assert isinstance(msg, m.Registered), msg

    async def media_join(self, call_id: str, identity: Identity) -> None:
        transcript = media_join_transcript(
            self.challenge.relay_fingerprint, self.challenge.nonce, call_id, identity.fingerprint
        )
        self.stream.send(
            m.MediaJoin(call_id=call_id, fingerprint=identity.fingerprint, signature=identity.sign(transcript))
        )
        await self.recv_until(m.MediaJoined)

    async def drain(self) -> None:
        """Read (and ignore) everything: an honest, idle client."""
        with contextlib.suppress(ConnectionClosed, ProtocolError, asyncio.CancelledError):
            while True:
                try:
                    await self.stream.recv()
                except ProtocolError:
                    continue


async def _closed_within(conn: QuicPeerConnection, stop: asyncio.Event, timeout: float) -> bool:
    """Wait for the relay to close `conn`; False if `stop` is set or `timeout` passes first."""
    closed = asyncio.ensure_future(conn.wait_closed())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({closed, stopped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (closed, stopped):
            task.cancel()
        await asyncio.gather(closed, stopped, return_exceptions=True)
    return conn.is_closed


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Pace an attack (or stop at once when told)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


#: Told (attack name, round result) after every round; `main` prints them as JSON lines.
Reporter = Callable[[str, Round], None]


async def _repeat(
    name: str, stop: asyncio.Event, rounds: int | None, one: Callable[[], Awaitable[Round]], report: Reporter | None
) -> list[Round]:
    """Run `one` round after round until `stop` (or `rounds` done). A round that fails is recorded."""
    results: list[Round] = []
    while not stop.is_set() and (rounds is None or len(results) < rounds):
        try:
            results.append(await one())
        except Exception as exc:  # recorded: the summary says which attack could not even run
            if rounds is not None:
                raise
            results.append({"error": f"{type(exc).__name__}: {exc}"[:200]})
            await _pause(stop, 0.2)
        if report is not None:
            report(name, results[-1])
    return results


# ------------------------------------------------------------------ 1. STOP_SENDING on the signal stream


async def stop_sending(
    port: int,
    stop: asyncio.Event,
    *,
    rounds: int | None = None,
    report: Reporter | None = None,
    host: str = ABUSER_HOST,
) -> list[Round]:
    async def one() -> Round:
        sig = await Signal.open(port, host=host)
        try:
            await sig.register(Identity.generate(), "stop", discoverable=False)
            stream_id = sig.stream.writer.get_extra_info("stream_id")
            sig.conn._quic.stop_stream(stream_id, 0)  # "stop sending me signal messages"
            sig.conn.transmit()
            # Anything the relay writes to this stream now fails: ask it for something.
            sig.stream.send(m.PresenceQuery(request_id=1, limit=1))
            started = time.monotonic()
            closed = await _closed_within(sig.conn, stop, T)
            return {"closed": closed, "seconds": round(time.monotonic() - started, 3), "reason": sig.conn.close_reason}
        finally:
            await sig.endpoint.close(grace=0)

    return await _repeat("stop_sending", stop, rounds, one, report)


# ------------------------------------------------------------------ 2. the client's own stream


async def stream_flood(
    port: int,
    stop: asyncio.Event,
    *,
    rounds: int | None = None,
    report: Reporter | None = None,
    mib: int = 16,
    wait: float = 15.0,
    host: str = ABUSER_HOST,
) -> list[Round]:
    async def one() -> Round:
        sig = await Signal.open(port, host=host)
        try:
            quic = sig.conn._quic
            quic._remote_max_streams_bidi = max(quic._remote_max_streams_bidi, 16)  # open one whatever it allows
            _, writer = await sig.conn.open_stream()
            chunk = bytes(64 * KiB)
            for _ in range(mib * MiB // len(chunk)):
                writer.write(chunk)
            started = time.monotonic()
            closed = await _closed_within(sig.conn, stop, wait)
            return {"closed": closed, "seconds": round(time.monotonic() - started, 3), "reason": sig.conn.close_reason}
        finally:
            await sig.endpoint.close(grace=0)

    return await _repeat("stream_flood", stop, rounds, one, report)


# ------------------------------------------------------------------ 3. media-room datagrams at a party that never ACKs


async def datagram_flood(
    port: int,
    stop: asyncio.Event,
    *,
    rounds: int | None = None,
    report: Reporter | None = None,
    count: int = 5000,
    per_ms: int = 20,
    unforwardable_every: int = 0,
    over_limit: bool = False,
    host: str = ABUSER_HOST,
) -> list[Round]:
    """`count` datagrams of the largest forwardable size, `per_ms` of them per millisecond pause;
    every `unforwardable_every`-th one (0: none) is 1190 bytes (a frame the relay takes but cannot
    fit in its 1200-byte packets); with `over_limit`, a last one over the relay's frame limit."""

    async def one() -> Round:
        a, b = Identity.generate(), Identity.generate()
        opened: list[Signal] = []
        try:
            sig_a = await Signal.open(port, host=host)
            opened.append(sig_a)
            sig_b = await Signal.open(port, host=host)
            opened.append(sig_b)
            await sig_a.register(a, "a", discoverable=False)
            await sig_b.register(b, "b", discoverable=False)
            call_id = secrets.token_hex(16)
            ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
            sig_a.stream.send(
                m.DirectCallOffer(
                    call_id=call_id,
                    caller_fingerprint=a.fingerprint,
                    target_fingerprint=b.fingerprint,
                    ephemeral_key=ea.public_bytes,
                    key_signature=sign_ephemeral(
                        a.sign, call_id, a.fingerprint, b.fingerprint, "caller", ea.public_bytes
                    ),
                )
            )
            await sig_b.recv_until(m.CallIncoming)
            sig_b.stream.send(
                m.DirectCallAnswer(
                    call_id=call_id,
                    accept_mode="AcceptGeneric",
                    ephemeral_key=eb.public_bytes,
                    key_signature=sign_ephemeral(
                        b.sign, call_id, a.fingerprint, b.fingerprint, "callee", eb.public_bytes
                    ),
                )
            )
            await sig_a.recv_until(m.CallSetup)
            media_a = await Signal.open(port, host=host)
            opened.append(media_a)
            media_b = await Signal.open(port, host=host)
            opened.append(media_b)
            await media_a.media_join(call_id, a)
            await media_b.media_join(call_id, b)
            media_b.conn.abort()  # gone without a close: nothing the relay sends it is ever acknowledged
            conn = media_a.conn
            size = conn.max_datagram_payload
            sent = unforwardable = 0
            if unforwardable_every:
                conn._quic._max_datagram_size = 1300  # the attacker's stack sends bigger packets
            for i in range(count):
                if stop.is_set() or conn.is_closed:
                    break
                if unforwardable_every and i % unforwardable_every == unforwardable_every - 1:
                    conn._quic.send_datagram_frame(b"\x02" * 1190)
                    conn.transmit()
                    unforwardable += 1
                elif conn.send_datagram(bytes(size)):
                    sent += 1
                if i % per_ms == 0:
                    await asyncio.sleep(0.001)
            result: Round = {"sent": sent, "size": size, "unforwardable": unforwardable}
            if over_limit and not conn.is_closed:
                conn._quic._max_datagram_size = 1452
                conn._quic.send_datagram_frame(b"\x03" * 1300)
                conn.transmit()
                closed = await _closed_within(conn, stop, T)
                result["over_limit_closed"] = closed and conn.close_code == PROTOCOL_VIOLATION
                result["over_limit_reason"] = conn.close_reason
            return result
        finally:
            for sig in opened:
                await sig.endpoint.close(grace=0)

    return await _repeat("datagram_flood", stop, rounds, one, report)


# ------------------------------------------------------------------ 4. no flow-control credit + PresenceQuery


async def register_fillers(
    port: int, n: int, *, host: str = ABUSER_HOST
) -> tuple[list[Signal], list[asyncio.Task[None]]]:
    """`n` discoverable users with the longest aliases in bytes, all on one endpoint, reading
    everything: they make each presence page as big as it gets."""
    endpoint = await QuicEndpoint.create(host, 0)
    users: list[Signal] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for _ in range(n):
            sig = await Signal.open(port, endpoint)
            await sig.register(Identity.generate(), LONG_ALIAS)
            users.append(sig)
            readers.append(asyncio.ensure_future(sig.drain()))
    except BaseException:
        await close_fillers(users, readers)
        if not users:
            await endpoint.close(grace=0)
        raise
    return users, readers


async def close_fillers(users: list[Signal], readers: list[asyncio.Task[None]]) -> None:
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    if users:
        await users[0].endpoint.close(grace=0)


async def no_credit_reader(
    port: int,
    stop: asyncio.Event,
    *,
    rounds: int | None = None,
    report: Reporter | None = None,
    limit: float = 90.0,
    every: float = 0.4,
    burst: int = 0,
    host: str = ABUSER_HOST,
) -> list[Round]:
    """Queries every `every` s, inside the relay's message and presence budget (a 100-entry page
    costs 6 tokens of 20/s); `burst` queries at once first (the budget's burst is 60 tokens)."""

    async def one() -> Round:
        sig = await Signal.open(port, host=host)
        try:
            await sig.register(Identity.generate(), "stingy", discoverable=False)
            quic = sig.conn._quic
            quic._write_stream_limits = lambda **kw: None  # type: ignore[method-assign]
            quic._write_connection_limits = lambda **kw: None  # type: ignore[method-assign]
            started = time.monotonic()
            queries = 0
            while not sig.conn.is_closed and not stop.is_set() and time.monotonic() - started < limit:
                with contextlib.suppress(ConnectionClosed):
                    sig.stream.send(m.PresenceQuery(request_id=queries + 1, limit=m.MAX_PRESENCE_PAGE))
                queries += 1
                if queries > burst:
                    await _pause(stop, every)
            return {
                "closed": sig.conn.is_closed,
                "seconds": round(time.monotonic() - started, 3),
                "queries": queries,
                "reason": sig.conn.close_reason,
            }
        finally:
            await sig.endpoint.close(grace=0)

    return await _repeat("no_credit_reader", stop, rounds, one, report)


# ------------------------------------------------------------------ 5. half-open handshakes


def _client(port: int) -> QuicConnection:
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=["wzp"]))
    quic.connect((RELAY_HOST, port), now=time.time())
    return quic


async def _replies(socks: list[socket.socket], window: float = 1.0) -> dict[bytes, list[bytes]]:
    """Every long-header packet the relay sends to these sockets within `window`, by destination CID."""
    got: dict[bytes, list[bytes]] = {}
    loop = asyncio.get_running_loop()

    async def read(sock: socket.socket) -> None:
        while True:
            packet = await loop.sock_recv(sock, 65536)
            if len(packet) > 6 and packet[0] & 0x80:
                got.setdefault(packet[6 : 6 + packet[5]], []).append(packet)

    tasks = [asyncio.ensure_future(read(sock)) for sock in socks]
    await asyncio.sleep(window)  # collecting whatever arrives in the window is the point here
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return got


def _is_retry(packet: bytes) -> bool:
    return packet[0] & 0xF0 == 0xF0  # long header, QUIC v1 packet type 3


async def half_open_round(
    port: int, *, follow_retry: bool, per_source: int, sources: int, window: float = 1.0
) -> tuple[int, int, int]:
    """All Initials at once; returns (attempts, half-open the relay answered with state, Retries seen)."""
    socks = []
    try:
        for i in range(sources):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(sock)
            sock.bind((f"127.0.0.{2 + i}", 0))
            sock.setblocking(False)
        clients: list[tuple[socket.socket, QuicConnection]] = []
        for sock in socks:
            for _ in range(per_source):
                quic = _client(port)
                for data, _ in quic.datagrams_to_send(now=time.time()):
                    sock.sendto(data, (RELAY_HOST, port))
                clients.append((sock, quic))
        got = await _replies(socks, window)
        stateful = retries = 0
        followed: list[QuicConnection] = []
        for sock, quic in clients:
            packets = got.get(quic.host_cid, [])
            if any(_is_retry(p) for p in packets):
                retries += 1
                if follow_retry:  # a real address: answer the Retry with its token, then go silent
                    retry = next(p for p in packets if _is_retry(p))
                    quic.receive_datagram(retry, (RELAY_HOST, port), now=time.time())
                    for data, _ in quic.datagrams_to_send(now=time.time()):
                        sock.sendto(data, (RELAY_HOST, port))
                    followed.append(quic)
            elif packets:
                stateful += 1  # the relay answered with its handshake flight: it holds state
        if followed:
            got = await _replies(socks, window)
            stateful += sum(1 for q in followed if any(not _is_retry(p) for p in got.get(q.host_cid, [])))
        return len(clients), stateful, retries
    finally:
        for sock in socks:
            sock.close()


async def half_open_flood(
    port: int,
    stop: asyncio.Event,
    *,
    rounds: int | None = None,
    report: Reporter | None = None,
    follow_retry: bool | None = None,
    per_source: int = 20,
    sources: int = 10,
    window: float = 1.0,
) -> list[Round]:
    """Rounds of `sources` x `per_source` Initials; `follow_retry` None alternates bare / answering."""

    done = 0

    async def one() -> Round:
        nonlocal done
        follow = bool(done % 2) if follow_retry is None else follow_retry
        done += 1
        attempts, stateful, retries = await half_open_round(
            port, follow_retry=follow, per_source=per_source, sources=sources, window=window
        )
        dropped = attempts - stateful - retries if not follow else None
        result = {"follow_retry": follow, "initials": attempts, "stateful": stateful, "retries": retries}
        if dropped is not None:
            result["unanswered"] = dropped
        return result

    return await _repeat("half_open_flood", stop, rounds, one, report)


# ------------------------------------------------------------------ all at once


def summarize(rounds: list[Round]) -> dict[str, Any]:
    """Totals over the rounds of one attack: flags counted, numbers summed (`seconds`: the longest),
    the distinct close reasons, and the first few errors."""
    out: dict[str, Any] = {"rounds": len(rounds)}
    errors = [r["error"] for r in rounds if "error" in r]
    for r in rounds:
        for key, value in r.items():
            if isinstance(value, bool):
                out[key] = out.get(key, 0) + int(value)
            elif key == "seconds":
                out["max_seconds"] = max(out.get("max_seconds", 0.0), value)
            elif key == "size":
                out["size"] = value
            elif isinstance(value, int | float):
                out[key] = round(out.get(key, 0) + value, 3)
            elif key.endswith("reason") and value:
                seen = out.setdefault(key + "s", [])
                if value not in seen:
                    seen.append(value)
    if errors:
        out["errors"] = len(errors)
        out["first_errors"] = errors[:3]
    return out


async def run_all(
    port: int, stop: asyncio.Event, *, fillers: int = 100, host: str = ABUSER_HOST, report: Reporter | None = None
) -> dict[str, Any]:
    """Items 1-5 at once until `stop`; the summary of what each attack saw."""
    started = time.monotonic()
    users, readers = await register_fillers(port, fillers, host=host)
    try:
        print(json.dumps({"event": "attacking", "fillers": len(users)}), flush=True)
        attacks = {
            "stop_sending": stop_sending(port, stop, report=report, host=host),
            "stream_flood": stream_flood(port, stop, report=report, mib=16, wait=T, host=host),
            "datagram_flood": datagram_flood(
                port, stop, report=report, count=1000, per_ms=5, unforwardable_every=10, over_limit=True, host=host
            ),
            "no_credit_reader": no_credit_reader(port, stop, report=report, limit=30.0, burst=8, host=host),
            "half_open_flood": half_open_flood(port, stop, report=report, per_source=20, sources=10, window=0.5),
        }
        results = await asyncio.gather(*attacks.values())
        summary = {name: summarize(r) for name, r in zip(attacks, results, strict=True)}
        fillers_left = sum(1 for u in users if not u.conn.is_closed)
    finally:
        await close_fillers(users, readers)
    return {
        "event": "summary",
        "seconds": round(time.monotonic() - started, 2),
        "fillers": len(users),
        "fillers_still_connected": fillers_left,
        **summary,
    }


def print_round(name: str, result: Round) -> None:
    print(json.dumps({"event": "round", "attack": name, **result}), flush=True)


async def _main(args: argparse.Namespace) -> None:
    host, _, port = args.relay.rpartition(":")
    if host != RELAY_HOST:
        sys.exit(f"the relay must be on {RELAY_HOST} (traffic stays on loopback)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    timer = loop.call_later(args.seconds, stop.set)
    try:
        summary = await run_all(int(port), stop, fillers=args.fillers, host=args.source, report=print_round)
    finally:
        timer.cancel()
    print(json.dumps(summary), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description="Issue 10 items 1-5 at once against a relay on 127.0.0.1.")
    p.add_argument("--relay", required=True, help="127.0.0.1:PORT")
    p.add_argument("--seconds", type=float, default=20.0, help="attack this long (SIGINT/SIGTERM stops earlier)")
    p.add_argument("--fillers", type=int, default=100, help="discoverable users with long aliases (item 4)")
    p.add_argument("--source", default=ABUSER_HOST, help="address the registered abusers connect from")
    asyncio.run(_main(p.parse_args()))


if __name__ == "__main__":
    main()
