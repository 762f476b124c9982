"""The I/O side of a call's two media paths: dials, punches, the relay room, direct checks.

The rules live in `app.call.path_policy.PathPolicy` (sans-IO); `PathRace` runs
the attempts, feeds what happens into the policy and carries out its decisions,
for the whole call: the first path that works carries the audio at once, a checked
direct path that comes later takes over (the dialer decides and tells the acceptor
in-band), and the path in use going silent or closing moves the call to the other.

Roles come from the candidates and the fingerprints (`app.nat.roles.decide_role`):
a side that holds a port mapping (`mapped` candidate) while the other does not
accepts, so the other dials through the mapping; otherwise the smaller
fingerprint dials. They never tie and need no reflect answer.

Dialer: dials every peer candidate in parallel from the shared socket (LAN
host and mapped candidates at once; reflexive ones only after the NAT dance below) and
opens the relay media connection at the same moment. A direct connection
counts only after the peer check: both sides sign a transcript bound to the
call id, both ephemeral keys and the acceptor's TLS key, so a rogue host (or a
man in the middle) fails it.

Acceptor: accepts direct connections on the shared socket (the client hands
them over after reading their `PeerProof`), punches every peer candidate,
opens the relay media connection, and switches to direct when the dialer says so.

NAT dance for reflexive candidates (Linux NATs create a conntrack entry for
any packet that reaches them first, which then breaks the hole): each side
sends small punch packets with a low TTL that leave its own NAT but die
before the peer's, tells the peer through the relay (`PunchReady`), and the
dialer sends its first full-TTL packet only once the peer has said the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app import events as ev
from app.call.path_policy import (
    DIRECT,
    RELAY,
    Decision,
    Fail,
    OpenRelay,
    PathPolicy,
    PathState,
    Probe,
    StopDirect,
    Tell,
    Use,
)
from app.identity import Identity, verify_signature
from app.nat import spray
from app.nat.addresses import parse_addr, parse_ip
from app.nat.candidates import Candidate
from app.nat.ranges import host_candidate_skip_reason
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.endpoint import IncomingPermit, SideSocket
from app.net.message_stream import MessageStream
from app.protocol import messages as m
from app.protocol.close_codes import CALL_ENDED
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
    acceptor_wait: float = 4.0
    relay_timeout: float = 6.0
    punch_ttl: int = 2
    punch_count: int = 3
    #: Port spraying (`app.nat.spray`): "sockets" (we are the hard side: side sockets, we dial),
    #: "probe" (we probe random ports of the hard peer's public IP, `spray_ip`), or "" (none).
    spray: str = ""
    spray_ip: str = ""


@dataclass
class RaceResult:
    path: str  # "direct" | "relay"
    conn: QuicPeerConnection
    remote: str
    candidate: str  # "host" | "mapped" | "reflexive" | "relay"
    setup_ms: int
    #: When direct won: the relay media connection if it was up, kept open for a fast failover.
    standby: QuicPeerConnection | None = None


class RaceFailed(Exception):
    """No path is left for the call; the message is for the user."""


RelayOpener = Callable[[], Any]  # async () -> QuicPeerConnection


class PathRace:
    """One call's paths, for the whole call. `run()` returns when the call is over (cancelled)
    and raises `RaceFailed` when no path is left."""

    def __init__(
        self,
        endpoint: QuicEndpoint,
        identity: Identity,
        params: RaceParams,
        *,
        open_relay: RelayOpener,
        signal: Callable[[m.Message], None],
        emit: Callable[[ev.ClientEvent], None],
        on_use: Callable[[RaceResult, str], None] = lambda _result, _reason: None,
        on_peer_ended: Callable[[], None] = lambda: None,
        on_standby: Callable[[QuicPeerConnection | None], None] = lambda _conn: None,
        on_settled: Callable[[bool], None] = lambda _settled: None,
        started_at: float | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity
        self.p = params
        self._open_relay = open_relay
        self._signal = signal
        self._emit = emit
        self._on_use = on_use
        self._on_peer_ended = on_peer_ended
        self._on_standby = on_standby
        #: Told when the race settles (nothing more to decide until a path breaks) and when it no
        #: longer is (a path broke, a probe for direct started): the call's audio may then read
        #: the socket in its own ticks, which would slow a handshake by up to a frame per flight.
        self._on_settled = on_settled
        self.settled = False
        self._loop = asyncio.get_running_loop()
        self._start = started_at if started_at is not None else self._loop.time()
        if params.spray:  # a spray takes longer than a dial: give the direct attempts its window
            params = self.p = dataclasses.replace(
                params,
                direct_timeout=max(params.direct_timeout, spray.SPRAY_WINDOW_S),
                acceptor_wait=max(params.acceptor_wait, spray.SPRAY_WINDOW_S),
            )
        self.policy = PathPolicy(
            role=params.role,
            allow_direct=params.allow_direct,
            started_at=self._start,
            direct_timeout=params.direct_timeout,
            acceptor_wait=params.acceptor_wait,
            relay_timeout=params.relay_timeout,
        )
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._direct_tasks: set[asyncio.Task[Any]] = set()  # dials and incoming checks
        self._conns: set[QuicPeerConnection] = set()  # every connection this race opened or took
        self._peer_punched = asyncio.Event()
        self._pending_dials = 0
        #: The connection of each path once it is up (relay joined / direct checked).
        self.paths: dict[str, QuicPeerConnection] = {}
        self._direct_stream: MessageStream | None = None
        self._direct_cand: Candidate | None = None
        self.result: RaceResult | None = None  # the path in use
        self.done = False  # no more direct attempts (the race part is over)
        self._over = False  # the call is over: every connection closes
        self._permit: IncomingPermit | None = None
        #: Acceptor: incoming direct connections that proved to be the peer, waiting for its word.
        self._proven: set[QuicPeerConnection] = set()  # acceptor: incoming direct dials welcome meanwhile
        self._sides: set[SideSocket] = set()  # spray side sockets still open

    # ------------------------------------------------------------- inputs

    def on_peer_punched(self) -> None:
        log.info("peer punched call_id=%s since_setup_ms=%d", self.p.call_id, self._elapsed_ms())
        self._peer_punched.set()
        self._queue.put_nowait(("peer_punched", None))  # the acceptor: the dialer may be probing

    def on_peer_report(self, report: m.MediaPathReport) -> None:
        self._queue.put_nowait(("peer_report", report))

    def on_silent(self, path: str) -> None:
        """The media session's liveness watchdog: nothing authenticated on `path` for a while."""
        self._queue.put_nowait(("silent", path))

    def offer_incoming(self, conn: QuicPeerConnection, stream: MessageStream, proof: m.PeerProof) -> None:
        """An incoming direct connection claiming to be our peer (acceptor side)."""
        if self.done or self.p.role != "acceptor" or not self.p.allow_direct:
            conn.close(reason_phrase="not accepting direct connections for this call")
            return
        if self._track(conn):
            self._spawn(self._check_incoming(conn, stream, proof), direct=True)

    # ------------------------------------------------------------- the loop

    async def run(self) -> None:
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
            "race started call_id=%s role=%s candidates=%s relay=%s direct=%s since_setup_ms=%d",
            p.call_id,
            p.role,
            [f"{c.kind}:{c.addr}" for c in p.candidates],
            p.relay_addr,
            p.allow_direct,
            self._elapsed_ms(),
        )
        # Punches (and the PunchReady the peer's dial waits for) go out before the relay attempt
        # starts its QUIC handshake, which holds the event loop for several milliseconds.
        if not p.allow_direct:
            self._spawn(self._relay_attempt())
        else:
            if p.role == "dialer":
                reflexive = [c for c in p.candidates if c.kind == "reflexive"]
                spraying = p.spray == "sockets" and bool(reflexive)
                if reflexive:  # when spraying, the spray says PunchReady once its sockets punched
                    self._spawn(self._punch(reflexive, tell_peer=not spraying))
                self._spawn(self._relay_attempt())
                if spraying:
                    self._spawn(self._spray_sockets(reflexive[0]), direct=True)
                    self._pending_dials += 1
                for cand in p.candidates:
                    self._spawn(self._dial(cand), direct=True)
                    self._pending_dials += 1
                if not p.candidates:
                    self._apply(self.policy.direct_failed(self._loop.time()))
            else:
                self._permit = self.endpoint.allow_incoming()
                if p.candidates:
                    self._spawn(self._punch(list(p.candidates), tell_peer=True))
                self._spawn(self._relay_attempt())
                if p.spray == "probe" and p.spray_ip:
                    self._spawn(self._spray_probes(p.spray_ip), direct=True)
        try:
            while True:
                kind, value = await self._next(self.policy.next_wake())
                self._apply(self._feed(kind, value, self._loop.time()))
                if self.policy.settled != self.settled:
                    self.settled = self.policy.settled
                    self._on_settled(self.settled)
        finally:
            self.done = True
            await self._cleanup()

    def _feed(self, kind: str, value: Any, now: float) -> list[Decision]:
        policy = self.policy
        if kind == "timeout":
            relay, direct = self.paths.get(RELAY), self.paths.get(DIRECT)
            policy.rtt(relay.min_rtt if relay else None, direct.min_rtt if direct else None)
            return policy.tick(now)
        if kind == "relay_ready":
            conn = value
            if RELAY in self.paths and not self.paths[RELAY].is_closed:
                conn.close(CALL_ENDED, "relay path not needed")
                return []
            self.paths[RELAY] = conn
            self._spawn(self._watch(RELAY, conn))
            decisions = policy.relay_ready(now, conn.min_rtt)
            if self.result is not None and self.result.path == DIRECT and not decisions:
                self._set_standby(conn)  # direct carries the call: the relay waits as its standby
            return decisions
        if kind == "relay_failed":
            return policy.relay_failed(now, value)
        if kind == "peer_punched":
            return policy.peer_probing(now)
        if kind == "direct_ready":  # dialer: a dial passed the peer check
            conn, stream, cand = value
            if DIRECT in self.paths or policy.direct not in (PathState.PENDING, PathState.PROBING):
                conn.close(CALL_ENDED, "another direct path won")
                return []
            self.paths[DIRECT], self._direct_stream, self._direct_cand = conn, stream, cand
            self._spawn(self._watch(DIRECT, conn))
            decisions = policy.direct_checked(now, conn.min_rtt)
            if self.result is not None and not any(isinstance(d, Use) for d in decisions):
                self._set_standby(conn)  # slower than the relay for now: compared again soon
            return decisions
        if kind == "direct_failed":
            self._pending_dials -= 1
            if self._pending_dials == 0 and DIRECT not in self.paths:
                return policy.direct_failed(now)
            return []
        if kind == "direct_confirmed":  # acceptor: the dialer chose this direct connection
            conn, cand = value
            if DIRECT in self.paths:
                conn.close(CALL_ENDED, "another direct path won")
                return []
            self.paths[DIRECT], self._direct_cand = conn, cand
            self._spawn(self._watch(DIRECT, conn))
            return policy.direct_checked(now, conn.min_rtt)
        if kind == "closed":
            path, conn = value
            if self.paths.get(path) is not conn:
                return []
            if conn.close_code == CALL_ENDED and self.result is not None and self.result.conn is conn:
                self._on_peer_ended()  # the peer (or the relay's room) ended the call on purpose
                return []
            if self.result is not None and self.result.conn is not conn:
                del self.paths[path]  # the standby went (e.g. the relay restarted)
                if self.result.standby is conn:
                    self._set_standby(None)
            return policy.relay_lost(now) if path == RELAY else policy.direct_lost(now)
        if kind == "silent":
            return policy.silent(value, now)
        if kind == "peer_report":
            return policy.peer_chose(value.race_winner, now)
        return []

    def _apply(self, decisions: list[Decision]) -> None:
        for d in decisions:
            if isinstance(d, Use):
                self._use(d.path, d.reason)
            elif isinstance(d, Tell):
                self._tell(d.path)
            elif isinstance(d, StopDirect):
                self._stop_direct(d.reason)
            elif isinstance(d, Probe):
                self._probe(d.window)
            elif isinstance(d, OpenRelay):
                self.paths.pop(RELAY, None)
                self._spawn(self._relay_attempt())
            elif isinstance(d, Fail):
                log.warning("call has no path call_id=%s: %s", self.p.call_id, d.message)
                raise RaceFailed(d.message)

    def _use(self, path: str, reason: str) -> None:
        conn = self.paths[path]
        old = self.result
        if path == DIRECT:
            cand = self._direct_cand or Candidate(addr=conn.remote_addr, kind="host")
            kind = cand.kind
            self._emit(ev.CandidateResult(call_id=self.p.call_id, addr=cand.addr, kind=cand.kind, outcome="won"))
        else:
            kind = "relay"
        other = self.paths.get(RELAY if path == DIRECT else DIRECT)
        if other is not None and old is not None and other is old.conn and reason == "failover":
            other = None  # the path that failed is no standby
        if other is None and path == RELAY:
            other = next((c for c in self._proven if not c.is_closed), None)  # acceptor: listen there too
        standby = other if other is not None and not other.is_closed else None
        self.result = RaceResult(path, conn, conn.remote_addr, kind, self._elapsed_ms(), standby=standby)
        log.info(
            "path in use call_id=%s path=%s reason=%s remote=%s candidate=%s ms=%d",
            self.p.call_id,
            path,
            reason,
            conn.remote_addr,
            kind,
            self.result.setup_ms,
        )
        self._emit(
            ev.PathChosen(
                call_id=self.p.call_id,
                path=path,
                remote=conn.remote_addr,
                candidate=kind,
                setup_ms=self.result.setup_ms,
                reason=reason,
            )
        )
        self._on_use(self.result, reason)
        if old is not None and old.conn is not conn and reason == "failover":
            old.conn.close(reason_phrase="path failed")
            self.paths = {k: c for k, c in self.paths.items() if c is not old.conn}

    def _set_standby(self, conn: QuicPeerConnection | None) -> None:
        if self.result is not None:
            self.result.standby = conn
        log.info("standby path call_id=%s remote=%s", self.p.call_id, conn.remote_addr if conn else None)
        self._on_standby(conn)

    def _tell(self, path: str) -> None:
        report = m.MediaPathReport(
            call_id=self.p.call_id,
            direct_ok=path == DIRECT,
            race_winner=path,  # type: ignore[arg-type]
            remote=self.result.remote if self.result else None,
            candidate=self.result.candidate if self.result else None,
        )
        if path == RELAY:
            with contextlib.suppress(ConnectionClosed):
                self._signal(report)
            return
        stream = self._direct_stream
        try:
            if stream is None:
                raise ConnectionClosed("no direct stream")
            stream.send(report)
        except Exception as exc:  # the peer reset the stream (or worse): this direct path is out
            log.warning("direct decision not delivered call_id=%s: %s", self.p.call_id, exc)
            self._queue.put_nowait(("closed", (DIRECT, self.paths.get(DIRECT))))

    def _probe(self, window: float) -> None:
        """A probe round while the relay carries the call; the relay path is not touched."""
        p = self.p
        self.done = False
        log.info("probing direct again call_id=%s role=%s window=%.1f s", p.call_id, p.role, window)
        if p.role == "acceptor":
            if self._permit is None:
                self._permit = self.endpoint.allow_incoming()
            self._spawn(self._punch(list(p.candidates), tell_peer=True), direct=True)
            return
        if not p.candidates:
            self._pending_dials = 1
            self._queue.put_nowait(("direct_failed", None))
            return
        deadline = self._loop.time() + window
        self._peer_punched.clear()  # only the peer's answer to this round lets the dials go
        self._pending_dials = len(p.candidates)
        for cand in p.candidates:
            self._spawn(self._dial(cand, deadline=deadline, wait_peer=True, probe=True), direct=True)
        reflexive = [c for c in p.candidates if c.kind == "reflexive"]
        self._spawn(self._punch(reflexive, tell_peer=True), direct=True)

    def _stop_direct(self, reason: str) -> None:
        if not self.done:
            log.info("direct attempts over call_id=%s: %s", self.p.call_id, reason)
        self.done = True
        self._release_permit()
        for task in list(self._direct_tasks):
            task.cancel()
        keep = set(self.paths.values()) | self._proven
        for conn in list(self._conns):
            if conn not in keep:
                conn.close(reason_phrase="lost the race")
                self._conns.discard(conn)
        self._close_sides()

    async def _next(self, wake_at: float | None) -> tuple[str, Any]:
        if wake_at is None:
            return await self._queue.get()
        timeout = max(0.0, wake_at - self._loop.time())
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return "timeout", None

    def _elapsed_ms(self) -> int:
        return int((self._loop.time() - self._start) * 1000)

    async def _watch(self, path: str, conn: QuicPeerConnection) -> None:
        await conn.wait_closed()
        self._queue.put_nowait(("closed", (path, conn)))

    # ----------------------------------------------------------- attempts

    async def _relay_attempt(self) -> None:
        try:
            conn = await self._open_relay()
        except Exception as exc:  # any failure of the relay path is an outcome, not a crash
            log.info("relay media path failed call_id=%s: %s", self.p.call_id, exc)
            self._queue.put_nowait(("relay_failed", str(exc) or type(exc).__name__))
            return
        if self._track(conn):
            self._queue.put_nowait(("relay_ready", conn))

    async def _punch(self, candidates: list[Candidate], *, tell_peer: bool) -> None:
        """Low-TTL punches to every candidate: two at once, then the word to the peer (it goes
        through the relay, so it arrives long after the punches left our NAT and the peer's first
        packet finds the hole open), then `punch_count - 1` more, 20 ms apart, in case the first
        two were lost on our LAN. (The word used to wait for all the punches: 60 ms of every
        direct call through NATs.)"""
        p = self.p
        for cand in candidates:
            self.endpoint.send_raw(PUNCH_PAYLOAD, cand.addr, ttl=p.punch_ttl)
            self.endpoint.send_raw(PUNCH_PAYLOAD, cand.addr, ttl=p.punch_ttl)
        log.info(
            "punched call_id=%s ttl=%d targets=%s since_setup_ms=%d",
            p.call_id,
            p.punch_ttl,
            [c.addr for c in candidates],
            self._elapsed_ms(),
        )
        if tell_peer:
            with contextlib.suppress(ConnectionClosed):
                self._signal(m.PunchReady(call_id=p.call_id))
        for _ in range(p.punch_count - 1):
            await asyncio.sleep(0.02)
            for cand in candidates:
                self.endpoint.send_raw(PUNCH_PAYLOAD, cand.addr, ttl=p.punch_ttl)

    async def _dial(
        self,
        cand: Candidate,
        *,
        via: SideSocket | None = None,
        deadline: float | None = None,
        wait_peer: bool = False,
        probe: bool = False,
    ) -> None:
        """Dial `cand` and prove who we are. A probe round's dials (`probe`) wait for the peer's
        PunchReady (`wait_peer`: it accepts again from then on) and report failures in the log only."""
        p = self.p
        deadline = deadline if deadline is not None else self._start + p.direct_timeout
        outcome, detail = "failed", ""
        t0 = self._loop.time()
        try:
            if cand.kind == "reflexive" or wait_peer:
                # Never let a full-TTL packet reach the peer's NAT before it has punched.
                await asyncio.wait_for(self._peer_punched.wait(), max(0.0, deadline - self._loop.time()))
            t_dial = self._loop.time()
            conn = self.endpoint.start_connect(cand.addr, server_name="wzp-peer", via=via)
            if via is not None:  # the side socket lives as long as the connection it carries
                self._spawn(self._close_side_after(conn, via))
            if not self._track(conn):
                return
            remaining = max(0.05, deadline - self._loop.time())
            await asyncio.wait_for(conn.wait_connected(), remaining)
            t_quic = self._loop.time()
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
            log.info(
                "direct candidate checked call_id=%s addr=%s kind=%s probe=%s since_setup_ms=%d"
                " waited_for_peer_ms=%d quic_handshake_ms=%d proof_ms=%d",
                p.call_id,
                cand.addr,
                cand.kind,
                probe,
                self._elapsed_ms(),
                int((t_dial - t0) * 1000),
                int((t_quic - t_dial) * 1000),
                self._ms(t_quic),
            )
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
                    "direct candidate %s call_id=%s addr=%s kind=%s probe=%s %s",
                    outcome,
                    p.call_id,
                    cand.addr,
                    cand.kind,
                    probe,
                    detail,
                )
            if outcome != "ok" and (not probe or outcome == "rejected"):
                self._emit(
                    ev.CandidateResult(
                        call_id=p.call_id, addr=cand.addr, kind=cand.kind, outcome=outcome, detail=detail
                    )
                )
            if outcome not in ("ok", "lost"):
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
            # The peer is proven: this connection outlives the direct deadline, since the dialer
            # may upgrade to it later (it keeps a slower direct path as a standby).
            self._proven.add(conn)
            task = asyncio.current_task()
            if task is not None:
                self._direct_tasks.discard(task)
            if self.result is not None and (self.result.standby is None or self.result.standby.is_closed):
                # The dialer may already send media here (it decides, then tells us): play what
                # arrives at once, instead of letting it queue until its word reaches us.
                self._set_standby(conn)
            while True:
                msg = await stream.recv()
                if isinstance(msg, m.MediaPathReport) and msg.race_winner == "direct":
                    log.info(
                        "dialer chose direct call_id=%s remote=%s since_setup_ms=%d",
                        p.call_id,
                        conn.remote_addr,
                        self._elapsed_ms(),
                    )
                    if msg.candidate in ("mapped", "spray"):  # our port mapping, or a sprayed port
                        cand = Candidate(addr=cand.addr, kind=msg.candidate)
                    self._queue.put_nowait(("direct_confirmed", (conn, cand)))
                    return
        except Exception as exc:  # closed, malformed or reset by the peer: this connection is out
            log.info("incoming direct check ended call_id=%s remote=%s: %s", p.call_id, conn.remote_addr, exc)
            self._proven.discard(conn)
            conn.close(reason_phrase="direct check ended")

    # ----------------------------------------------------------- port spraying

    async def _spray_sockets(self, target: Candidate) -> None:
        """Hard side: open side sockets, punch the peer's reflexive address from each (low TTL),
        say PunchReady, and dial from the first socket one of the peer's probes reaches."""
        p = self.p
        host, port = parse_addr(target.addr)
        found: asyncio.Future[SideSocket] = self._loop.create_future()
        sockets: list[SideSocket] = []
        t0 = self._loop.time()
        outcome = "failed"

        def on_raw(side: SideSocket, data: bytes, addr: tuple[str, int]) -> None:
            if not found.done() and addr == (host, port) and spray.is_probe(data, p.call_id):
                found.set_result(side)

        try:
            for _ in range(spray.SPRAY_SOCKETS):
                try:
                    side = await self.endpoint.open_side_socket()
                except OSError as exc:  # out of file descriptors (macOS GUI apps get 256): spray with fewer
                    log.warning("spray: only %d side sockets call_id=%s: %s", len(sockets), p.call_id, exc)
                    break
                side.on_raw = lambda data, addr, side=side: on_raw(side, data, addr)
                sockets.append(side)
                self._sides.add(side)
            for _ in range(2):
                for side in sockets:
                    side.send_raw(PUNCH_PAYLOAD, (host, port), ttl=p.punch_ttl)
                await asyncio.sleep(0.01)
            with contextlib.suppress(ConnectionClosed):
                self._signal(m.PunchReady(call_id=p.call_id))
            log.info("spray sockets open call_id=%s sockets=%d target=%s", p.call_id, len(sockets), target.addr)
            deadline = self._start + p.direct_timeout
            try:
                winner = await asyncio.wait_for(found, max(0.0, deadline - self._loop.time()))
            except TimeoutError:
                outcome = "no probe arrived"
                self._queue.put_nowait(("direct_failed", target))
                self._emit(
                    ev.CandidateResult(
                        call_id=p.call_id, addr=target.addr, kind="spray", outcome="failed", detail=outcome
                    )
                )
                return
            for side in sockets:
                if side is not winner:
                    side.close()
                    self._sides.discard(side)
            outcome = "connected"
            log.info("spray probe arrived call_id=%s side_port=%d after %d ms", p.call_id, winner.port, self._ms(t0))
            await self._dial(Candidate(target.addr, "spray"), via=winner)
        finally:
            self._emit(
                ev.Spray(
                    call_id=p.call_id,
                    side="sockets",
                    sockets=len(sockets),
                    probes=0,
                    outcome=outcome,
                    ms=self._ms(t0),
                    side_sockets_open=sum(not side.closed for side in sockets),
                )
            )

    async def _spray_probes(self, ip: str) -> None:
        """Easy side: probe random ports of the hard peer's public IP from the shared socket
        (rate-limited), until a direct connection is proven, the probes run out, or the relay
        has carried the call for `STOP_AFTER_RELAY_S`."""
        p = self.p
        t0 = self._loop.time()
        payload = spray.probe_payload(p.call_id)
        plan: spray.ProbePlan | None = None
        outcome = "cancelled"
        try:
            deadline = self._start + p.acceptor_wait
            await asyncio.wait_for(self._peer_punched.wait(), max(0.0, deadline - self._loop.time()))
            plan = spray.ProbePlan(started_at=self._loop.time())
            relay_since: float | None = None
            while True:
                now = self._loop.time()
                if self._proven or self.done:
                    outcome = "connected" if self._proven else "direct attempts over"
                    break
                if self.result is not None and self.result.path == RELAY:
                    relay_since = relay_since if relay_since is not None else now
                    if now - relay_since >= spray.STOP_AFTER_RELAY_S:
                        outcome = "relay in use"
                        break
                if plan.exhausted:
                    outcome = "probes exhausted"
                    break
                for port in plan.due(now):
                    self.endpoint.send_raw(payload, (ip, port))
                await asyncio.sleep(max(0.0, plan.next_at() - self._loop.time()))
        except TimeoutError:
            outcome = "the peer never punched"
        finally:
            sent = plan.sent if plan is not None else 0
            log.info("spray probes call_id=%s target=%s sent=%d outcome=%s", p.call_id, ip, sent, outcome)
            self._emit(
                ev.Spray(call_id=p.call_id, side="probe", sockets=0, probes=sent, outcome=outcome, ms=self._ms(t0))
            )

    async def _close_side_after(self, conn: QuicPeerConnection, side: SideSocket) -> None:
        try:
            await conn.wait_closed()
        finally:
            side.close()
            self._sides.discard(side)

    def _close_sides(self) -> None:
        """Close every side socket that carries no connection we keep."""
        carrying = {c._transport for c in (*self.paths.values(), *self._proven)}
        for side in list(self._sides):
            if side not in carrying:
                side.close()
                self._sides.discard(side)

    def _ms(self, since: float) -> int:
        return int((self._loop.time() - since) * 1000)

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

    def _track(self, conn: QuicPeerConnection) -> bool:
        """Own `conn` until the call is over; False (and closed) if it already is."""
        if self._over:
            conn.close(CALL_ENDED, "call over")
            return False
        self._conns.add(conn)
        return True

    def _release_permit(self) -> None:
        if self._permit is not None:
            self._permit.release()
            self._permit = None

    async def _cleanup(self) -> None:
        self._over = True
        self.policy.end(self._loop.time())  # hung up (or failed): no more probes
        self._release_permit()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in list(self._conns):
            conn.close(CALL_ENDED, "call over")
        self._conns.clear()
        self.paths.clear()
        for side in list(self._sides):  # the connections above closed: their sockets go too
            side.close()
        self._sides.clear()


def _is_lan(addr: str) -> bool:
    try:
        host, _ = parse_addr(addr)
        return host_candidate_skip_reason(parse_ip(host)) is None
    except ValueError:
        return False
