"""The dual-path race: direct peer-to-peer QUIC against the relay's media room.

Roles come from the fingerprints (`app.nat.roles.decide_role`): they never tie
and need no reflect answer.

Dialer: dials every peer candidate in parallel from the shared socket (LAN
host candidates at once; reflexive ones only after the NAT dance below) and
opens the relay media connection at the same moment. A direct connection
counts only after the peer check: both sides sign a transcript bound to the
call id, both ephemeral keys and the acceptor's TLS key, so a rogue host (or a
man in the middle) fails it. The dialer decides: the first checked direct
connection wins at once; the relay wins when it is ready and either every
direct attempt failed or `relay_grace` has passed; direct attempts stop at
`direct_timeout`. The decision travels to the acceptor in-band on the direct
stream (direct) or through the relay as a `MediaPathReport` (relay).

Acceptor: accepts direct connections on the shared socket (the client hands
them over after reading their `PeerProof`), punches every peer candidate,
opens the relay media connection, and follows the dialer's decision; with no
word from the dialer by `acceptor_wait`, it takes the relay and says so.
Either side may demote a call to the relay; only the dialer promotes to direct.

NAT dance for reflexive candidates (Linux NATs create a conntrack entry for
any packet that reaches them first, which then breaks the hole): each side
sends small punch packets with a low TTL that leave its own NAT but die
before the peer's, tells the peer through the relay (`PunchReady`), and the
dialer sends its first full-TTL packet only once the peer has said the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client import events as ev
from app.identity import Identity, verify_signature
from app.nat.addresses import parse_addr, parse_ip
from app.nat.candidates import Candidate
from app.nat.ranges import host_candidate_skip_reason
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import messages as m
from app.protocol.proofs import direct_peer_transcript

log = logging.getLogger(__name__)

PUNCH_PAYLOAD = b"WZP-PUNCH"


@dataclass(frozen=True)
class RaceParams:
    call_id: str
    role: str  # "dialer" | "acceptor"
    own_fingerprint: str
    peer_fingerprint: str
    peer_public_key: bytes
    caller_ephemeral: bytes
    callee_ephemeral: bytes
    candidates: tuple[Candidate, ...]
    relay_addr: str
    allow_direct: bool = True
    direct_timeout: float = 2.0
    relay_grace: float = 1.0
    acceptor_wait: float = 4.0
    relay_timeout: float = 6.0
    punch_ttl: int = 2
    punch_count: int = 3


@dataclass
class RaceResult:
    path: str  # "direct" | "relay"
    conn: QuicPeerConnection
    remote: str
    candidate: str  # "host" | "reflexive" | "relay"
    setup_ms: int
    #: When direct won: the relay media connection if it was up, kept open for a fast failover.
    standby: QuicPeerConnection | None = None


class RaceFailed(Exception):
    """Neither path could be set up; the message is for the user."""


OpenRelay = Callable[[], Any]  # async () -> QuicPeerConnection


class PathRace:
    def __init__(
        self,
        endpoint: QuicEndpoint,
        identity: Identity,
        params: RaceParams,
        *,
        open_relay: OpenRelay,
        signal: Callable[[m.Message], None],
        emit: Callable[[ev.ClientEvent], None],
        started_at: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity
        self.p = params
        self._open_relay = open_relay
        self._signal = signal
        self._emit = emit
        self._loop = asyncio.get_running_loop()
        self._start = started_at if started_at is not None else self._loop.time()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._direct_tasks: set[asyncio.Task[Any]] = set()  # dials and incoming checks
        self._conns: set[QuicPeerConnection] = set()
        self._peer_punched = asyncio.Event()
        self._relay: QuicPeerConnection | None = None
        self.result: RaceResult | None = None
        self.done = False

    # ------------------------------------------------------------- inputs

    def on_peer_punched(self) -> None:
        self._peer_punched.set()

    def on_peer_report(self, report: m.MediaPathReport) -> None:
        self._queue.put_nowait(("peer_report", report))

    def offer_incoming(self, conn: QuicPeerConnection, stream: MessageStream, proof: m.PeerProof) -> None:
        """An incoming direct connection claiming to be our peer (acceptor side)."""
        if self.done or self.p.role != "acceptor" or not self.p.allow_direct:
            conn.close(reason_phrase="not accepting direct connections for this call")
            return
        self._track(conn)
        self._spawn(self._check_incoming(conn, stream, proof), direct=True)

    # ------------------------------------------------------------- the race

    async def run(self) -> RaceResult:
        p = self.p
        self._emit(
            ev.RaceStarted(
                call_id=p.call_id,
                role=p.role,
                candidates=[{"addr": c.addr, "kind": c.kind} for c in p.candidates],
                relay_addr=p.relay_addr,
            )
        )
        log.info(
            "race started call_id=%s role=%s candidates=%s relay=%s direct=%s",
            p.call_id,
            p.role,
            [f"{c.kind}:{c.addr}" for c in p.candidates],
            p.relay_addr,
            p.allow_direct,
        )
        self._spawn(self._relay_attempt())
        try:
            if p.role == "dialer":
                result = await self._run_dialer()
            else:
                result = await self._run_acceptor()
        finally:
            self.done = True
            await self._cleanup()
        self.result = result
        self._emit(
            ev.PathChosen(
                call_id=p.call_id,
                path=result.path,
                remote=result.remote,
                candidate=result.candidate,
                setup_ms=result.setup_ms,
            )
        )
        log.info(
            "race won call_id=%s path=%s remote=%s candidate=%s ms=%d",
            p.call_id,
            result.path,
            result.remote,
            result.candidate,
            result.setup_ms,
        )
        return result

    async def _run_dialer(self) -> RaceResult:
        p = self.p
        pending = 0
        if p.allow_direct:
            reflexive = [c for c in p.candidates if c.kind == "reflexive"]
            if reflexive:
                self._spawn(self._punch(reflexive, tell_peer=True))
            for cand in p.candidates:
                self._spawn(self._dial(cand), direct=True)
                pending += 1
        relay: QuicPeerConnection | None = None
        relay_error = ""
        direct_deadline = self._start + p.direct_timeout
        while True:
            now = self._loop.time()
            if relay is not None and (pending == 0 or now >= self._start + p.relay_grace or now >= direct_deadline):
                return self._choose_relay(relay, tell_peer=True)
            if pending == 0 and relay_error:
                raise RaceFailed(
                    f"No path to the other side: the relay failed ({relay_error}) and no direct path worked."
                )
            if pending > 0:
                wake = min(direct_deadline, self._start + p.relay_grace) if relay is not None else direct_deadline
            else:
                wake = self._start + p.relay_timeout
            kind, value = await self._next(wake)
            if kind == "timeout":
                if self._loop.time() >= direct_deadline and pending > 0:
                    log.info("direct attempts gave up call_id=%s after %.1f s", p.call_id, p.direct_timeout)
                    self._cancel_direct()
                    pending = 0
                if pending == 0 and relay is None and self._loop.time() >= self._start + p.relay_timeout:
                    raise RaceFailed("No path to the other side: the relay media room did not answer in time.")
            elif kind == "direct_ready":
                conn, stream, cand = value
                try:
                    stream.send(
                        m.MediaPathReport(
                            call_id=p.call_id,
                            direct_ok=True,
                            race_winner="direct",
                            remote=conn.remote_addr,
                            candidate=cand.kind,
                        )
                    )
                except Exception as exc:  # the peer reset the stream (or worse): this path is out
                    log.warning("direct path lost call_id=%s addr=%s: %s", p.call_id, cand.addr, exc)
                    conn.close(reason_phrase="direct stream failed")
                    pending -= 1
                    continue
                return self._choose_direct(conn, cand)
            elif kind == "direct_failed":
                pending -= 1
            elif kind == "relay_ready":
                relay = value
            elif kind == "relay_failed":
                relay_error = value
            elif kind == "peer_report" and value.race_winner == "relay":
                # The acceptor gave up on direct: follow it to the relay.
                self._cancel_direct()
                pending = 0

    async def _run_acceptor(self) -> RaceResult:
        p = self.p
        if p.allow_direct and p.candidates:
            self._spawn(self._punch(list(p.candidates), tell_peer=True))
        relay: QuicPeerConnection | None = None
        relay_error = ""
        dialer_said_relay = not p.allow_direct
        deadline = self._start + p.acceptor_wait
        while True:
            now = self._loop.time()
            if relay is not None and (dialer_said_relay or now >= deadline):
                return self._choose_relay(relay, tell_peer=not dialer_said_relay)
            if relay_error and (dialer_said_relay or now >= deadline):
                raise RaceFailed(f"No path to the other side: the relay failed ({relay_error}).")
            wake = deadline if now < deadline else self._start + p.relay_timeout
            kind, value = await self._next(wake)
            if kind == "timeout" and self._loop.time() >= self._start + p.relay_timeout and relay is None:
                raise RaceFailed("No path to the other side: the relay media room did not answer in time.")
            if kind == "direct_confirmed":
                conn, cand = value
                return self._choose_direct(conn, cand)
            if kind == "relay_ready":
                relay = value
            elif kind == "relay_failed":
                relay_error = value
            elif kind == "peer_report" and value.race_winner == "relay":
                dialer_said_relay = True

    async def _next(self, wake_at: float) -> tuple[str, Any]:
        timeout = max(0.0, wake_at - self._loop.time())
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return "timeout", None

    def _elapsed_ms(self) -> int:
        return int((self._loop.time() - self._start) * 1000)

    def _choose_direct(self, conn: QuicPeerConnection, cand: Candidate) -> RaceResult:
        self._conns.discard(conn)
        standby = self._relay if self._relay is not None and not self._relay.is_closed else None
        if standby is not None:
            self._conns.discard(standby)  # not a loser: the relay stays ready for a failover
        self._emit(ev.CandidateResult(call_id=self.p.call_id, addr=cand.addr, kind=cand.kind, outcome="won"))
        return RaceResult("direct", conn, conn.remote_addr, cand.kind, self._elapsed_ms(), standby=standby)

    def _choose_relay(self, relay: QuicPeerConnection, *, tell_peer: bool) -> RaceResult:
        self._conns.discard(relay)
        if tell_peer:
            with contextlib.suppress(ConnectionClosed):
                self._signal(
                    m.MediaPathReport(
                        call_id=self.p.call_id,
                        direct_ok=False,
                        race_winner="relay",
                        remote=relay.remote_addr,
                        candidate="relay",
                    )
                )
        return RaceResult("relay", relay, relay.remote_addr, "relay", self._elapsed_ms())

    # ----------------------------------------------------------- attempts

    async def _relay_attempt(self) -> None:
        try:
            conn = await self._open_relay()
        except Exception as exc:  # any failure of the relay path is an outcome, not a crash
            log.info("relay media path failed call_id=%s: %s", self.p.call_id, exc)
            self._queue.put_nowait(("relay_failed", str(exc) or type(exc).__name__))
            return
        self._track(conn)
        if not self.done:
            self._relay = conn
        self._queue.put_nowait(("relay_ready", conn))

    async def _punch(self, candidates: list[Candidate], *, tell_peer: bool) -> None:
        p = self.p
        for _ in range(p.punch_count):
            for cand in candidates:
                self.endpoint.send_raw(PUNCH_PAYLOAD, cand.addr, ttl=p.punch_ttl)
            await asyncio.sleep(0.02)  # spread the punches a little: one lost packet is not fatal
        log.info("punched call_id=%s ttl=%d targets=%s", p.call_id, p.punch_ttl, [c.addr for c in candidates])
        if tell_peer:
            with contextlib.suppress(ConnectionClosed):
                self._signal(m.PunchReady(call_id=p.call_id))

    async def _dial(self, cand: Candidate) -> None:
        p = self.p
        deadline = self._start + p.direct_timeout
        outcome, detail = "failed", ""
        try:
            if cand.kind == "reflexive":
                # Never let a full-TTL packet reach the peer's NAT before it has punched.
                await asyncio.wait_for(self._peer_punched.wait(), max(0.0, deadline - self._loop.time()))
            conn = self.endpoint.start_connect(cand.addr, server_name="wzp-peer")
            self._track(conn)
            remaining = max(0.05, deadline - self._loop.time())
            await asyncio.wait_for(conn.wait_connected(), remaining)
            stream = MessageStream(*await conn.open_stream())
            acceptor_key = conn.peer_public_key or b""
            stream.send(self._proof(acceptor_key))
            reply = await asyncio.wait_for(stream.recv(), max(0.05, deadline - self._loop.time()))
            if not isinstance(reply, m.PeerProof) or not self._verify(reply, acceptor_key):
                outcome, detail = "rejected", "did not prove the peer's identity"
                log.warning("direct candidate rejected call_id=%s addr=%s: peer check failed", p.call_id, cand.addr)
                conn.close(reason_phrase="peer check failed")
                return
            outcome = "ok"
            self._queue.put_nowait(("direct_ready", (conn, stream, cand)))
        except TimeoutError:
            detail = "timeout"
        except asyncio.CancelledError:
            outcome, detail = "lost", "another path won"
            raise
        except Exception as exc:  # whatever the candidate did, it is this attempt's outcome only
            detail = str(exc) or type(exc).__name__
        finally:
            if outcome != "ok":
                log.info(
                    "direct candidate %s call_id=%s addr=%s kind=%s %s",
                    outcome,
                    p.call_id,
                    cand.addr,
                    cand.kind,
                    detail,
                )
                self._emit(
                    ev.CandidateResult(
                        call_id=p.call_id, addr=cand.addr, kind=cand.kind, outcome=outcome, detail=detail
                    )
                )
                if outcome != "lost":
                    self._queue.put_nowait(("direct_failed", cand))

    async def _check_incoming(self, conn: QuicPeerConnection, stream: MessageStream, proof: m.PeerProof) -> None:
        p = self.p
        own_key = self.endpoint.tls.public_key
        cand = Candidate(addr=conn.remote_addr, kind=self._kind_of(conn.remote_addr))
        if proof.fingerprint != p.peer_fingerprint or not self._verify(proof, own_key):
            log.warning("incoming direct connection rejected call_id=%s remote=%s", p.call_id, conn.remote_addr)
            self._emit(
                ev.CandidateResult(
                    call_id=p.call_id,
                    addr=conn.remote_addr,
                    kind=cand.kind,
                    outcome="rejected",
                    detail="did not prove the peer's identity",
                )
            )
            conn.close(reason_phrase="peer check failed")
            return
        try:
            stream.send(self._proof(own_key))
            while True:
                msg = await stream.recv()
                if isinstance(msg, m.MediaPathReport) and msg.race_winner == "direct":
                    self._queue.put_nowait(("direct_confirmed", (conn, cand)))
                    return
        except Exception as exc:  # closed, malformed or reset by the peer: this connection is out
            log.info("incoming direct check ended call_id=%s remote=%s: %s", p.call_id, conn.remote_addr, exc)
            conn.close(reason_phrase="direct check ended")

    def _kind_of(self, addr: str) -> str:
        for cand in self.p.candidates:
            if cand.addr == addr:
                return cand.kind
        return "reflexive" if not _is_lan(addr) else "host"

    def _proof(self, acceptor_key: bytes) -> m.PeerProof:
        p = self.p
        transcript = direct_peer_transcript(
            p.call_id, p.own_fingerprint, p.caller_ephemeral, p.callee_ephemeral, acceptor_key
        )
        return m.PeerProof(call_id=p.call_id, fingerprint=p.own_fingerprint, signature=self.identity.sign(transcript))

    def _verify(self, proof: m.PeerProof, acceptor_key: bytes) -> bool:
        p = self.p
        if proof.call_id != p.call_id or proof.fingerprint != p.peer_fingerprint or not acceptor_key:
            return False
        transcript = direct_peer_transcript(
            p.call_id, p.peer_fingerprint, p.caller_ephemeral, p.callee_ephemeral, acceptor_key
        )
        return verify_signature(p.peer_public_key, proof.signature, transcript)

    # ----------------------------------------------------------- bookkeeping

    def _spawn(self, coro: Any, *, direct: bool = False) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if direct:
            self._direct_tasks.add(task)
            task.add_done_callback(self._direct_tasks.discard)

    def _track(self, conn: QuicPeerConnection) -> None:
        if self.done:
            conn.close(reason_phrase="race over")
        else:
            self._conns.add(conn)

    def _cancel_direct(self) -> None:
        for task in list(self._direct_tasks):
            task.cancel()

    async def _cleanup(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._conns):
            conn.close(reason_phrase="lost the race")
        self._conns.clear()


def _is_lan(addr: str) -> bool:
    try:
        host, _ = parse_addr(addr)
        return host_candidate_skip_reason(parse_ip(host)) is None
    except ValueError:
        return False
