"""Load-generator worker for bench/bench_relay.py (one process).

Commands arrive as JSON lines on stdin; each is answered by one JSON line on
stdout (logs go to stderr). The worker speaks to the relay exactly as the
client does: `QuicEndpoint` (one UDP socket per user), `RelayLink` to
register, `open_media_connection` to join a call's media room.

  {"cmd": "register", "relay": A, "n": N, "concurrency": C, "discoverable": B, "start_at": T}
      N registrations, C at a time (one endpoint per slot); the users stay online.
  {"cmd": "release"}                      close every registered user
  {"cmd": "ringing", "relay": A, "n": N, "interval": S, "callee_relay": B}
      two users; N calls offered, each cancelled once ringing; offer-to-ringing times
      (callee_relay, optional: the callee registers on another node of a cluster)
  {"cmd": "add_calls", "mode": "relay"|"bare", "target": A, "n": N}
      N more 1:1 calls (their group is `mode`; relay target "A,B": caller on node A, callee on B);
      each party sends 50 datagrams/s of 100 bytes to the other when the group is active, else
      one small keep-alive datagram a second
  {"cmd": "activate", "group": G}         G's calls at full rate, every other group paused
  {"cmd": "measure", "start": T0, "end": T1, "drain": D}
      counts, one-way latencies and this process's CPU for datagrams sent in [T0, T1)
  {"cmd": "clear_calls", "group": G, "n": N}
      hang up and close G's calls (every call when G is null; only the last N set up when N is given)
  {"cmd": "quit"}

All times are time.monotonic() (CLOCK_MONOTONIC, the same clock in every process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import random
import secrets
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.client.relay_link import RelayError, RelayLink, open_media_connection
from app.identity import Identity
from app.media.media_keys import EphemeralKey, sign_ephemeral
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.protocol import messages as m
from relay_load.common import HEADER, MAGIC, PADDING, PERIOD, loopback_ip, percentile

log = logging.getLogger("loadgen")

SETUP_TIMEOUT = 10.0
SETUP_CONCURRENCY = 6
KEEPALIVE = b"KEEPALIVE"
KEEPALIVE_PERIOD = 1.0
JOIN = b"JOIN "
PAIRED = b"PAIRED"


def _sign(signer: Identity, call_id: str, caller: Identity, callee: Identity, role: str, eph: EphemeralKey) -> bytes:
    """The ephemeral-key signature a real client puts in its offer / answer."""
    return sign_ephemeral(signer.sign, call_id, caller.fingerprint, callee.fingerprint, role, eph.public_bytes)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _expect(queue: asyncio.Queue[m.Message], kind: type, timeout: float = SETUP_TIMEOUT) -> Any:
    """The next message of `kind` from a user's inbox (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await asyncio.wait_for(queue.get(), max(0.01, deadline - loop.time()))
        if isinstance(msg, kind):
            return msg
        if isinstance(msg, m.Error):
            raise RuntimeError(f"relay error {msg.code}: {msg.message}")


class _User:
    """One registered user: its own endpoint (socket), identity and signaling link."""

    def __init__(
        self, endpoint: QuicEndpoint, relay: str, discoverable: bool = False, identity: Identity | None = None
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity or Identity.generate()
        self.inbox: asyncio.Queue[m.Message] = asyncio.Queue()
        self.link = RelayLink(
            endpoint,
            self.identity,
            relay,
            alias="bench",
            discoverable=discoverable,
            pinned=None,
            on_message=self.inbox.put_nowait,
        )
        self.task: asyncio.Task[str] | None = None

    async def open(self) -> None:
        await self.link.open()
        self.task = asyncio.ensure_future(self.link.run())

    async def close(self) -> None:
        self.link.close()
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class _Stream:
    """One direction of one call: 50 datagrams/s from `conn` (the far side receives)."""

    __slots__ = ("active", "conn", "handle", "next_at", "seq", "sid", "win_lat", "win_received", "win_sent")

    def __init__(self, sid: int, conn: QuicPeerConnection, active: bool) -> None:
        self.sid = sid
        self.conn = conn
        self.active = active
        self.seq = 0
        self.next_at = 0.0
        self.handle: asyncio.TimerHandle | None = None
        # this stream's share of the measuring window: sent, received (by the far side), latencies
        self.win_sent = 0
        self.win_received = 0
        self.win_lat: list[float] = []


class _Call:
    def __init__(self, group: str) -> None:
        self.group = group
        self.endpoints: list[QuicEndpoint] = []
        self.users: list[_User] = []
        self.media: list[QuicPeerConnection] = []
        self.streams: list[_Stream] = []
        #: the media room's address, as CallSetup named it (caller's view, callee's view)
        self.rooms: tuple[str, str] = ("", "")


class Worker:
    def __init__(self, group: int) -> None:
        self.group = group
        self._ip_index = 0
        self.loop = asyncio.get_running_loop()
        self.reg_endpoints: list[QuicEndpoint] = []
        self.reg_users: list[_User] = []
        self.calls: list[_Call] = []
        self.active_group: str | None = None
        self._sids = 0
        self.by_sid: dict[int, _Stream] = {}
        # measurement window (send times) and what fell in it
        self.win_start = math.inf
        self.win_end = math.inf
        self.sent = 0
        self.received = 0
        self.duplicates = 0
        self.seen: set[int] = set()
        self.skipped = 0
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.junk = 0
        self.gc_worst = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self.win_start <= time.monotonic() < self.win_end:
            self.gc_worst = max(self.gc_worst, time.perf_counter() - self._gc_started)

    def next_ip(self) -> str:
        self._ip_index += 1
        return loopback_ip(self.group, self._ip_index)

    # -------------------------------------------------------------- registration

    async def register(self, relay: str, n: int, concurrency: int, discoverable: bool, start_at: float) -> dict:
        self.reg_endpoints = [await QuicEndpoint.create(self.next_ip(), 0) for _ in range(concurrency)]
        pending: deque[Identity] = deque(Identity.generate() for _ in range(n))  # made before the clock starts
        times: list[float] = []
        failures: list[str] = []
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        cpu0, t_start = _cpu(), time.monotonic()

        async def slot(endpoint: QuicEndpoint) -> None:
            while pending:
                user = _User(endpoint, relay, discoverable, pending.popleft())
                t0 = time.monotonic()
                try:
                    await user.open()
                except (RelayError, ConnectionClosed) as exc:
                    failures.append(str(exc)[:200])
                    continue
                times.append(time.monotonic() - t0)
                self.reg_users.append(user)

        await asyncio.gather(*(slot(ep) for ep in self.reg_endpoints))
        t_end = time.monotonic()
        return {
            "ok": len(times),
            "failed": len(failures),
            "failures": failures[:3],
            "times": times,
            "t_start": t_start,
            "t_end": t_end,
            "cpu_s": _cpu() - cpu0,
        }

    async def release(self) -> dict:
        await asyncio.gather(*(u.close() for u in self.reg_users))
        await asyncio.gather(*(ep.close() for ep in self.reg_endpoints))
        count = len(self.reg_users)
        self.reg_users, self.reg_endpoints = [], []
        return {"released": count}

    # -------------------------------------------------------- offer to ringing

    async def ringing(self, relay: str, n: int, interval: float, callee_relay: str | None = None) -> dict:
        ea, eb = await QuicEndpoint.create(self.next_ip(), 0), await QuicEndpoint.create(self.next_ip(), 0)
        caller, callee = _User(ea, relay), _User(eb, callee_relay or relay)
        ringing_at: dict[str, float] = {}
        waiters: dict[str, asyncio.Future[None]] = {}

        def on_caller_message(msg: m.Message) -> None:
            if isinstance(msg, m.CallRinging):
                ringing_at[msg.call_id] = time.monotonic()
                fut = waiters.get(msg.call_id)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            else:
                caller.inbox.put_nowait(msg)

        caller.link.on_message = on_caller_message
        times: list[float] = []
        errors: list[str] = []
        try:
            await asyncio.gather(caller.open(), callee.open())
            cpu0 = _cpu()
            next_at = time.monotonic()
            for _ in range(n):
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval  # the relay allows 20 messages/s per connection: offer + cancel
                call_id = secrets.token_hex(16)
                eph = EphemeralKey.generate()
                ca, cb = caller.identity, callee.identity
                offer = m.DirectCallOffer(
                    call_id=call_id,
                    caller_fingerprint=ca.fingerprint,
                    target_fingerprint=cb.fingerprint,
                    caller_alias="bench",
                    ephemeral_key=eph.public_bytes,
                    key_signature=_sign(ca, call_id, ca, cb, "caller", eph),
                )
                waiters[call_id] = self.loop.create_future()
                t0 = time.monotonic()
                caller.link.send(offer)
                try:
                    await asyncio.wait_for(waiters[call_id], 5.0)
                except TimeoutError:
                    errors.append(f"no CallRinging for {call_id}")
                    continue
                times.append(ringing_at[call_id] - t0)
                await _expect(callee.inbox, m.CallIncoming)
                caller.link.send(m.CallCancel(call_id=call_id))
                await _expect(caller.inbox, m.Hangup)
                await _expect(callee.inbox, m.Hangup)
            cpu = _cpu() - cpu0
        finally:
            await asyncio.gather(caller.close(), callee.close())
            await asyncio.gather(ea.close(), eb.close())
        return {"times": times, "errors": errors, "cpu_s": cpu}

    # ---------------------------------------------------------------- media

    def _group_calls(self, group: str | None) -> list[_Call]:
        return [c for c in self.calls if group is None or c.group == group]

    async def activate(self, group: str | None) -> dict:
        """Full media rate for the calls of `group`; the others only keep their connections alive."""
        self.active_group = group
        for call in self.calls:
            for s in call.streams:
                if s.active != (call.group == group):
                    s.active = call.group == group
                    self._schedule(s, time.monotonic())
        return {"active": group, "calls": len(self._group_calls(group))}

    async def add_calls(self, mode: str, target: str, n: int) -> dict:
        sem = asyncio.Semaphore(SETUP_CONCURRENCY)
        t0 = time.monotonic()

        async def one() -> None:
            async with sem:
                call = _Call(mode)
                self.calls.append(call)  # cleaned up by clear_calls even if the setup fails
                if mode == "relay":
                    await self._setup_relay_call(call, target)
                else:
                    await self._setup_bare_call(call, target)
                self._start_streams(call)

        results = await asyncio.gather(*(one() for _ in range(n)), return_exceptions=True)
        errors = [repr(r)[:200] for r in results if isinstance(r, BaseException)]
        # Long-lived call state out of the collector's way: full collections of the generator's
        # heap otherwise stall its loop for tens of ms and show up as relay latency.
        gc.collect()
        gc.freeze()
        calls = sum(1 for c in self._group_calls(mode) if c.streams)
        return {"calls": calls, "errors": errors, "setup_s": time.monotonic() - t0}

    async def _setup_relay_call(self, call: _Call, relay: str) -> None:
        """Real signaling: register both, offer, AcceptGeneric (relay only), MediaJoin from both.

        A failure names its stage (register, offer, answer, media-join) and what the caller heard."""
        stage = ["register"]
        try:
            await self._relay_call_stages(call, relay, stage)
        except Exception as exc:
            raise RuntimeError(f"{stage[0]}: {exc!r}"[:300]) from exc

    async def _relay_call_stages(self, call: _Call, relay: str, stage: list[str]) -> None:
        call.endpoints = [await QuicEndpoint.create(self.next_ip(), 0) for _ in range(2)]
        relay_a, _, relay_b = relay.partition(",")
        a, b = _User(call.endpoints[0], relay_a), _User(call.endpoints[1], relay_b or relay_a)
        call.users = [a, b]
        await asyncio.gather(a.open(), b.open())
        ia, ib = a.identity, b.identity
        call_id = secrets.token_hex(16)
        stage[0] = f"offer (call {call_id})"
        eph_a, eph_b = EphemeralKey.generate(), EphemeralKey.generate()
        a.link.send(
            m.DirectCallOffer(
                call_id=call_id,
                caller_fingerprint=ia.fingerprint,
                target_fingerprint=ib.fingerprint,
                caller_alias="bench-a",
                ephemeral_key=eph_a.public_bytes,
                key_signature=_sign(ia, call_id, ia, ib, "caller", eph_a),
            )
        )
        try:
            await _expect(b.inbox, m.CallIncoming)
        except TimeoutError:
            # What did the caller hear instead (e.g. Hangup "Offline")? No second reader of the caller's
            # inbox while waiting: one that misses its cancellation would eat the CallSetup.
            heard = []
            while not a.inbox.empty():
                heard.append(a.inbox.get_nowait())
            raise RuntimeError(f"the callee heard no CallIncoming; the caller heard {heard!r:.200}") from None
        stage[0] = f"answer (call {call_id})"
        b.link.send(
            m.DirectCallAnswer(
                call_id=call_id,
                accept_mode="AcceptGeneric",
                ephemeral_key=eph_b.public_bytes,
                key_signature=_sign(ib, call_id, ia, ib, "callee", eph_b),
            )
        )
        got = await asyncio.gather(_expect(a.inbox, m.CallSetup), _expect(b.inbox, m.CallSetup), return_exceptions=True)
        missing = [who for who, r in zip(("caller", "callee"), got, strict=True) if isinstance(r, BaseException)]
        if missing:
            raise RuntimeError(f"no CallSetup for the {' and the '.join(missing)}: {[repr(r) for r in got]}")
        setup_a, setup_b = got
        call.rooms = (setup_a.relay_addr, setup_b.relay_addr)
        if call.rooms[0] != call.rooms[1]:
            raise RuntimeError(f"CallSetup named two media rooms: caller {call.rooms[0]}, callee {call.rooms[1]}")
        stage[0] = f"media-join (call {call_id})"
        call.media = list(
            await asyncio.gather(
                open_media_connection(call.endpoints[0], setup_a.relay_addr, ia, call_id),
                open_media_connection(call.endpoints[1], setup_b.relay_addr, ib, call_id),
            )
        )

    async def _setup_bare_call(self, call: _Call, target: str) -> None:
        """Two QUIC connections to the bare forwarder, paired by a JOIN datagram naming a room."""
        call.endpoints = [await QuicEndpoint.create(self.next_ip(), 0) for _ in range(2)]
        call.media = list(await asyncio.gather(*(ep.connect(target, server_name="bare") for ep in call.endpoints)))
        room = secrets.token_hex(8).encode()
        paired = [False, False]
        for _ in range(20):
            for i, conn in enumerate(call.media):
                if not paired[i]:
                    conn.send_datagram(JOIN + room)
            deadline = self.loop.time() + 0.5
            for i, conn in enumerate(call.media):
                while not paired[i] and deadline > self.loop.time():
                    try:
                        data = await asyncio.wait_for(conn.recv_datagram(), deadline - self.loop.time())
                    except TimeoutError:
                        break
                    paired[i] = data == PAIRED
            if all(paired):
                return
        raise RuntimeError("bare forwarder did not pair the call")

    def _start_streams(self, call: _Call) -> None:
        a, b = call.media
        for sender, receiver in ((a, b), (b, a)):
            self._sids += 1
            stream = _Stream(self._sids, sender, call.group == self.active_group)
            call.streams.append(stream)
            self.by_sid[stream.sid] = stream
            receiver.set_datagram_handler(self._on_datagram)
            self._schedule(stream, time.monotonic())

    def _schedule(self, s: _Stream, now: float) -> None:
        """(Re)start a stream at a random phase, as calls do: no synchronised bursts."""
        if s.handle is not None:
            s.handle.cancel()
        s.next_at = now + random.uniform(0.0, PERIOD if s.active else KEEPALIVE_PERIOD)
        s.handle = self.loop.call_at(s.next_at, self._send, s)

    def _send(self, s: _Stream) -> None:
        now = time.monotonic()
        if not s.active:  # a paused call: one small datagram a second keeps its connections open
            s.conn.send_datagram(KEEPALIVE)
            s.next_at = max(s.next_at + KEEPALIVE_PERIOD, now)
            s.handle = self.loop.call_at(s.next_at, self._send, s)
            return
        if self.win_start <= now < self.win_end:
            self.sent += 1
            s.win_sent += 1
            self.lags.append(now - s.next_at)
        s.conn.send_datagram(HEADER.pack(MAGIC, s.sid, now, s.seq) + PADDING)
        s.seq += 1
        s.next_at += PERIOD
        while s.next_at <= now:  # the generator fell a whole period behind: skip, never burst
            s.next_at += PERIOD
            if self.win_start <= now < self.win_end:
                self.skipped += 1
        s.handle = self.loop.call_at(s.next_at, self._send, s)

    def _on_datagram(self, data: bytes, _at: float) -> None:
        now = time.monotonic()
        if len(data) < HEADER.size or data[:4] != MAGIC:
            self.junk += 1
            return
        _, sid, sent_at, seq = HEADER.unpack_from(data)
        if self.win_start <= sent_at < self.win_end:
            key = sid << 32 | seq  # an int: no GC-tracked tuple per packet
            if key in self.seen:
                self.duplicates += 1
                return
            self.seen.add(key)
            self.received += 1
            self.latencies.append(now - sent_at)
            stream = self.by_sid.get(sid)
            if stream is not None:
                stream.win_received += 1
                stream.win_lat.append(now - sent_at)

    async def measure(self, start: float, end: float, drain: float) -> dict:
        self.sent = self.received = self.skipped = self.duplicates = 0
        self.seen = set()
        self.latencies, self.lags = [], []
        self.gc_worst = 0.0
        for call in self.calls:
            for s in call.streams:
                s.win_sent = s.win_received = 0
                s.win_lat = []
        # A busy worker may read this command after `start`: packets it sent before then would be
        # received inside the window but never counted as sent. The window starts now at the earliest.
        start = max(start, time.monotonic() + 0.001)
        self.win_start, self.win_end = start, end
        await asyncio.sleep(max(0.0, start - time.monotonic()))
        cpu0 = _cpu()
        await asyncio.sleep(max(0.0, end - time.monotonic()))
        cpu1 = _cpu()
        await asyncio.sleep(drain)
        self.win_start = self.win_end = math.inf
        lags = sorted(self.lags)
        media = [conn for c in self._group_calls(self.active_group) for conn in c.media]
        backlog = max((len(conn._quic._datagrams_pending) for conn in media), default=0)  # aioquic's unbounded queue
        per_call = []  # [loss %, p95 one-way ms, media room] of each call (both directions together)
        for call in self._group_calls(self.active_group):
            if not call.streams:
                continue
            sent = sum(s.win_sent for s in call.streams)
            got = sum(s.win_received for s in call.streams)
            lat = sorted(x for s in call.streams for x in s.win_lat)
            loss = 100.0 * (sent - got) / sent if sent else 100.0
            per_call.append([round(loss, 3), round(percentile(lat, 95) * 1000, 3) if lat else None, call.rooms[1]])
        return {
            "per_call": per_call,
            "calls": sum(1 for c in self._group_calls(self.active_group) if c.streams),
            "window": end - start,
            "sent": self.sent,
            "received": self.received,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "latencies_us": [round(x * 1e6) for x in self.latencies],
            "lag_p99_ms": percentile(lags, 99) * 1000 if lags else 0.0,
            "cpu_s": cpu1 - cpu0,
            "gc_worst_ms": self.gc_worst * 1000,
            "gen_backlog_max": backlog,
        }

    async def clear_calls(self, group: str | None = None, n: int | None = None) -> dict:
        """Hang up G's calls: all of them, or the `n` set up last."""
        gone = self._group_calls(group)
        if n is not None:
            gone = gone[len(gone) - n :] if n > 0 else []
        self.calls = [c for c in self.calls if c not in gone]
        for call in gone:
            for s in call.streams:
                self.by_sid.pop(s.sid, None)
                if s.handle is not None:
                    s.handle.cancel()
        for call in gone:
            for conn in call.media:
                conn.set_datagram_handler(None)
                conn.close(reason_phrase="bench done")
        await asyncio.gather(*(u.close() for call in gone for u in call.users), return_exceptions=True)
        await asyncio.gather(*(ep.close() for call in gone for ep in call.endpoints), return_exceptions=True)
        return {"cleared": len(gone)}


async def serve(group: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    worker = Worker(group)
    handlers: dict[str, Callable[..., Any]] = {
        "register": worker.register,
        "release": worker.release,
        "ringing": worker.ringing,
        "add_calls": worker.add_calls,
        "measure": worker.measure,
        "clear_calls": worker.clear_calls,
        "activate": worker.activate,
    }
    print(json.dumps({"ready": os.getpid()}), flush=True)
    while True:
        line = await reader.readline()
        if not line:
            break
        req = json.loads(line)
        cmd = req.pop("cmd")
        if cmd == "quit":
            break
        try:
            reply = await handlers[cmd](**req)
        except Exception as exc:
            log.exception("command %s failed", cmd)
            reply = {"error": repr(exc)[:300]}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        await worker.clear_calls()
        await worker.release()


def main() -> None:
    parser = argparse.ArgumentParser(description="relay bench load-generator worker")
    parser.add_argument("--group", type=int, required=True, help="second octet of this worker's 127.x.y.z addresses")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="loadgen %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.group))


if __name__ == "__main__":
    main()
