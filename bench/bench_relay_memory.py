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
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.identity import Identity  # noqa: E402
from app.net import QuicEndpoint  # noqa: E402
from app.net.connection import (  # noqa: E402
    CONNECTION_RECEIVE_WINDOW,
    DATAGRAM_SEND_QUEUE_LIMIT,
    SEND_BUFFER_LIMIT,
    STREAM_RECEIVE_WINDOW,
)
from app.net.endpoint import SERVER_HANDSHAKE_LIMITS  # noqa: E402
from app.protocol import MAX_FRAME_SIZE  # noqa: E402
from tests.tools import abuse  # noqa: E402
from tests.tools.abuse import KiB, MiB, Signal  # noqa: E402

#: The attacks come from tests/tools/abuse.py (also run all at once by tests/test_relay_abuse.py);
#: here each runs once, alone, from 127.0.0.1.
HOST = "127.0.0.1"


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


async def half_open_flood(relay: Relay, *, follow_retry: bool, per_source: int, sources: int) -> tuple[int, int, int]:
    """All Initials at once; returns (attempts, half-open the relay answered with state, Retries seen)."""
    return await abuse.half_open_round(relay.port, follow_retry=follow_retry, per_source=per_source, sources=sources)


# ------------------------------------------------------------------ 3. one abusive connection


def never() -> asyncio.Event:
    """A stop event nobody sets: each attack runs its one round to the end."""
    return asyncio.Event()


async def stream_flood(relay: Relay) -> str:
    (r,) = await abuse.stream_flood(relay.port, never(), rounds=1, mib=16, wait=15, host=HOST)
    if r["closed"]:
        return f"closed by the relay after {r['seconds']:.2f} s ({r['reason']})"
    return "NOT closed within 15 s"


async def datagram_flood(relay: Relay) -> str:
    (r,) = await abuse.datagram_flood(relay.port, never(), rounds=1, count=5000, per_ms=20, host=HOST)
    return f"{r['sent']} datagrams of {r['size']} B pushed at a receiver that never acknowledges"


async def no_credit_reader(relay: Relay) -> str:
    (r,) = await abuse.no_credit_reader(relay.port, never(), rounds=1, limit=90, every=0.4, host=HOST)
    if r["closed"]:
        return f"closed by the relay after {r['seconds']:.1f} s, {r['queries']} queries"
    return f"NOT closed after 90 s, {r['queries']} queries"


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
