"""Relay memory bench: RSS per idle user, per half-open handshake, and what one abuser can make it hold.

The relay under test is the real `wzp-relay` (`python -m app.relay.main`) in its own
process on 127.0.0.1; this process is the load, with the project's own QUIC code
(and plain aioquic where it plays an attacker). RSS is VmRSS from /proc/PID/status.

1. idle users: N users register (discoverable, 64-character aliases) and stay online;
   RSS delta / N.
2. half-open: valid Initials that never complete, from 10 source addresses
   (127.0.0.2-11). Phase a: bare Initials (a spoofer: it never sees the Retry), so at
   most `retry_above` half-open exist; phase b: a client that answers the Retry with
   the token (a real address) but never finishes, so up to the global cap.
   RSS delta / half-open connections the relay answered with state.
3. one abusive connection, each attack separately: (a) opens its own stream and
   pushes 16 MiB; (b) a call whose other party vanished without a close, 5000
   datagrams of the largest forwardable size pushed at it; (c) a registered client
   that grants no flow-control credit and sends PresenceQuery at the allowed rate.
   For each: RSS delta, what the relay did (closed it or not), the time it took.

Usage: python bench/bench_relay_memory.py [--users 200]
Traffic goes only to 127.0.0.1 (and from 127.0.0.x source addresses).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.connection import QuicConnection  # noqa: E402

from app.identity import Identity  # noqa: E402
from app.media.media_keys import EphemeralKey, sign_ephemeral  # noqa: E402
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection  # noqa: E402
from app.net.connection import (  # noqa: E402
    CONNECTION_RECEIVE_WINDOW,
    DATAGRAM_SEND_QUEUE_LIMIT,
    SEND_BUFFER_LIMIT,
    STREAM_RECEIVE_WINDOW,
)
from app.net.endpoint import SERVER_HANDSHAKE_LIMITS  # noqa: E402
from app.net.message_stream import MessageStream  # noqa: E402
from app.protocol import MAX_FRAME_SIZE, ProtocolError  # noqa: E402
from app.protocol import messages as m  # noqa: E402
from app.protocol.proofs import media_join_transcript, register_transcript  # noqa: E402

MiB = 1 << 20
KiB = 1 << 10
T = 10.0


# ------------------------------------------------------------------ the relay process


class Relay:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc = proc
        self.port = port

    @classmethod
    def start(cls, data_dir: Path) -> Relay:
        cmd = [sys.executable, "-m", "app.relay.main", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"listening on \S+?:(\d+)", line)
        if not found:
            proc.kill()
            raise RuntimeError(f"relay did not start: {line!r}")
        return cls(proc, int(found.group(1)))

    def rss(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def settled_rss(relay: Relay, wait: float = 1.0) -> int:
    await asyncio.sleep(wait)  # let the relay's event loop finish what the last packets started
    return relay.rss()


# ------------------------------------------------------------------ clients


class Signal:
    """One signaling connection to the relay from its own endpoint (its own port)."""

    def __init__(self, endpoint: QuicEndpoint, conn: QuicPeerConnection, stream: MessageStream, ch: m.Message) -> None:
        self.endpoint, self.conn, self.stream = endpoint, conn, stream
        assert isinstance(ch, m.RegisterChallenge)
        self.challenge = ch

    @classmethod
    async def open(cls, port: int, endpoint: QuicEndpoint | None = None) -> Signal:
        endpoint = endpoint or await QuicEndpoint.create("127.0.0.1", 0)
        conn = await endpoint.connect(("127.0.0.1", port), server_name="wzp-relay", timeout=T)
        stream = MessageStream(*await asyncio.wait_for(conn.accept_stream(), T))
        return cls(endpoint, conn, stream, await asyncio.wait_for(stream.recv(), T))

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

    async def register(self, identity: Identity, alias: str) -> None:
        transcript = register_transcript(self.challenge.relay_fingerprint, self.challenge.nonce, identity.public_key)
        self.stream.send(
            m.Register(
                public_key=identity.public_key,
                alias=alias,
                nonce=self.challenge.nonce,
                signature=identity.sign(transcript),
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


# ------------------------------------------------------------------ 1. idle users


async def idle_users(relay: Relay, n: int) -> tuple[list[Signal], list[asyncio.Task[None]], float]:
    before = await settled_rss(relay)
    endpoint = await QuicEndpoint.create("127.0.0.1", 0)  # one socket, n connections (a NAT of n users)
    users: list[Signal] = []
    readers: list[asyncio.Task[None]] = []
    for i in range(n):
        sig = await Signal.open(relay.port, endpoint)
        await sig.register(Identity.generate(), alias=f"user {i:04d} " + "x" * 54)
        users.append(sig)
        readers.append(asyncio.ensure_future(sig.drain()))
    after = await settled_rss(relay, 2.0)
    return users, readers, (after - before) / n


# ------------------------------------------------------------------ 2. half-open handshakes


def _client(port: int) -> QuicConnection:
    quic = QuicConnection(configuration=QuicConfiguration(is_client=True, alpn_protocols=["wzp"]))
    quic.connect(("127.0.0.1", port), now=time.time())
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


async def half_open_flood(relay: Relay, *, follow_retry: bool, per_source: int, sources: int) -> tuple[int, int, int]:
    """All Initials at once; returns (attempts, half-open the relay answered with state, Retries seen)."""
    socks = []
    for i in range(sources):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((f"127.0.0.{2 + i}", 0))
        sock.setblocking(False)
        socks.append(sock)
    try:
        clients: list[tuple[socket.socket, QuicConnection]] = []
        for sock in socks:
            for _ in range(per_source):
                quic = _client(relay.port)
                for data, _ in quic.datagrams_to_send(now=time.time()):
                    sock.sendto(data, ("127.0.0.1", relay.port))
                clients.append((sock, quic))
        got = await _replies(socks)
        stateful = retries = 0
        followed: list[QuicConnection] = []
        for sock, quic in clients:
            packets = got.get(quic.host_cid, [])
            if any(_is_retry(p) for p in packets):
                retries += 1
                if follow_retry:  # a real address: answer the Retry with its token, then go silent
                    retry = next(p for p in packets if _is_retry(p))
                    quic.receive_datagram(retry, ("127.0.0.1", relay.port), now=time.time())
                    for data, _ in quic.datagrams_to_send(now=time.time()):
                        sock.sendto(data, ("127.0.0.1", relay.port))
                    followed.append(quic)
            elif packets:
                stateful += 1  # the relay answered with its handshake flight: it holds state
        if followed:
            got = await _replies(socks)
            stateful += sum(1 for q in followed if any(not _is_retry(p) for p in got.get(q.host_cid, [])))
        return len(clients), stateful, retries
    finally:
        for sock in socks:
            sock.close()


# ------------------------------------------------------------------ 3. one abusive connection


async def stream_flood(relay: Relay) -> str:
    sig = await Signal.open(relay.port)
    try:
        quic = sig.conn._quic
        quic._remote_max_streams_bidi = max(quic._remote_max_streams_bidi, 16)  # open one whatever it allows
        _, writer = await sig.conn.open_stream()
        chunk = bytes(64 * KiB)
        for _ in range(16 * MiB // len(chunk)):
            writer.write(chunk)
        started = time.monotonic()
        try:
            await asyncio.wait_for(sig.conn.wait_closed(), 15)
            return f"closed by the relay after {time.monotonic() - started:.2f} s ({sig.conn.close_reason})"
        except TimeoutError:
            return "NOT closed within 15 s"
    finally:
        await sig.endpoint.close(grace=0)


async def datagram_flood(relay: Relay) -> str:
    a, b = Identity.generate(), Identity.generate()
    sig_a, sig_b = await Signal.open(relay.port), await Signal.open(relay.port)
    await sig_a.register(a, "a")
    await sig_b.register(b, "b")
    call_id = secrets.token_hex(16)
    ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
    sig_a.stream.send(
        m.DirectCallOffer(
            call_id=call_id,
            caller_fingerprint=a.fingerprint,
            target_fingerprint=b.fingerprint,
            ephemeral_key=ea.public_bytes,
            key_signature=sign_ephemeral(a.sign, call_id, a.fingerprint, b.fingerprint, "caller", ea.public_bytes),
        )
    )
    await sig_b.recv_until(m.CallIncoming)
    sig_b.stream.send(
        m.DirectCallAnswer(
            call_id=call_id,
            accept_mode="AcceptGeneric",
            ephemeral_key=eb.public_bytes,
            key_signature=sign_ephemeral(b.sign, call_id, a.fingerprint, b.fingerprint, "callee", eb.public_bytes),
        )
    )
    await sig_a.recv_until(m.CallSetup)
    media_a, media_b = await Signal.open(relay.port), await Signal.open(relay.port)
    await media_a.media_join(call_id, a)
    await media_b.media_join(call_id, b)
    media_b.conn.abort()  # gone without a close: nothing the relay sends it is ever acknowledged
    size = media_a.conn.max_datagram_payload
    sent = 0
    for i in range(5000):
        if media_a.conn.send_datagram(bytes(size)):
            sent += 1
        if i % 20 == 0:
            await asyncio.sleep(0.001)
    for s in (sig_a, sig_b, media_a, media_b):
        await s.endpoint.close(grace=0)
    return f"{sent} datagrams of {size} B pushed at a receiver that never acknowledges"


async def no_credit_reader(relay: Relay) -> str:
    sig = await Signal.open(relay.port)
    try:
        await sig.register(Identity.generate(), "stingy")
        quic = sig.conn._quic
        quic._write_stream_limits = lambda **kw: None  # type: ignore[method-assign]
        quic._write_connection_limits = lambda **kw: None  # type: ignore[method-assign]
        started = time.monotonic()
        queries = 0
        while not sig.conn.is_closed and time.monotonic() - started < 90:
            with contextlib.suppress(ConnectionClosed):
                sig.stream.send(m.PresenceQuery(request_id=queries + 1, limit=m.MAX_PRESENCE_PAGE))
            queries += 1
            await asyncio.sleep(0.4)  # inside the relay's message and presence budget (6 tokens of 20/s)
        if sig.conn.is_closed:
            return f"closed by the relay after {time.monotonic() - started:.1f} s, {queries} queries"
        return f"NOT closed after 90 s, {queries} queries"
    finally:
        await sig.endpoint.close(grace=0)


# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        relay = Relay.start(Path(tmp))
        try:
            await _run(relay, args)
        finally:
            relay.stop()


async def _run(relay: Relay, args: argparse.Namespace) -> None:
    hs = SERVER_HANDSHAKE_LIMITS
    print(f"wzp-relay pid {relay.proc.pid} on 127.0.0.1:{relay.port}; baseline RSS {relay.rss() / MiB:.1f} MiB")
    print(
        f"caps: half-open {hs.half_open} global / {hs.half_open_per_source} per source, Retry above "
        f"{hs.retry_above}, handshake timeout {hs.timeout:g} s; receive windows {STREAM_RECEIVE_WINDOW // KiB} KiB"
        f"/stream {CONNECTION_RECEIVE_WINDOW // KiB} KiB/connection; send buffer {SEND_BUFFER_LIMIT // KiB} KiB;"
        f" datagram send queue {DATAGRAM_SEND_QUEUE_LIMIT}; peer streams on the relay: none"
    )

    users, readers, per_user = await idle_users(relay, args.users)
    print(f"\n1. idle registered users: {args.users}: {per_user / KiB:.1f} KiB RSS per user")

    print("\n2. half-open handshakes (10 source addresses x 20 Initials each)")
    for follow in (False, True):
        before = await settled_rss(relay)
        attempts, stateful, retries = await half_open_flood(relay, follow_retry=follow, per_source=20, sources=10)
        after = relay.rss()
        label = "answering Retry (real addresses)" if follow else "bare Initials (spoofer)"
        per = (after - before) / stateful if stateful else 0
        print(
            f"   {label}: {attempts} Initials -> {stateful} half-open with state, {retries} Retry answers; "
            f"RSS +{(after - before) / MiB:.1f} MiB = {per / KiB:.0f} KiB per half-open"
        )
        expire = await settled_rss(relay, hs.timeout + 1.5)
        print(f"   after the {hs.timeout:g} s handshake timeout: RSS {expire / MiB:.1f} MiB")

    print("\n3. one abusive connection")
    for name, attack in (
        ("a) own stream, 16 MiB pushed", stream_flood),
        ("b) datagram flood, receiver never acks", datagram_flood),
        ("c) no flow-control credit + PresenceQuery", no_credit_reader),
    ):
        before = await settled_rss(relay)
        outcome = await attack(relay)
        peak = relay.rss()
        after = await settled_rss(relay)
        print(
            f"   {name}: {outcome}; RSS +{(peak - before) / KiB:.0f} KiB during, "
            f"+{(after - before) / KiB:.0f} KiB after"
        )
    bound = (
        CONNECTION_RECEIVE_WINDOW
        + MAX_FRAME_SIZE  # a partial frame in the decoder
        + SEND_BUFFER_LIMIT
        + MAX_FRAME_SIZE  # the frame that found the buffer full is never written
        + DATAGRAM_SEND_QUEUE_LIMIT * 1170
    )
    print(
        f"   bound on bytes one connection makes the relay hold (receive window + partial frame + send "
        f"buffer + datagram queue): {bound / KiB:.0f} KiB (plus the congestion window of packets in flight)"
    )
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await users[0].endpoint.close(grace=0)
    print(f"\nrelay alive at the end: {relay.alive()}; final RSS {relay.rss() / MiB:.1f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=200)
    args = p.parse_args()
    if os.name != "posix" or not Path("/proc/self/status").exists():
        sys.exit("needs Linux /proc")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
