"""The relay's signaling logic, sans-IO.

`RelayCore` takes connection events and decoded messages, each with an
explicit `now`, and returns actions (`Send`, `Disconnect`, `RoomOpened`,
`RoomClosed`). It never touches a socket or a clock, so every call flow is
unit-tested with a fake clock; `app.relay.server` does the I/O.

Registration is proof of key: the relay sends a random challenge, the client
signs it (bound to the relay's fingerprint) and the relay derives the
fingerprint from the verified key. A user's newest connection always wins, and
closing an older one never removes the newer (the reference's defect 10).

Direct calls are a small table of states:

    ringing --answer(Accept*)--> active --hangup / drop--> ended
    ringing --answer(Reject) / cancel / ring timeout / drop--> ended

A user is busy only while in an *active* call: a call that merely rings does not
make the callee busy for everyone else (else one caller re-offering after every
decline could keep a user unreachable). Accepting one call ends the others that
ring for the same user with Busy.

Presence changes are batched: logins and logouts within `presence_batch_interval`
go out as one `PresenceDelta` per registered user, and `PresenceQuery` pages
through a fingerprint-sorted directory, costed by the page size it asks for.

In a cluster (`app.relay.cluster_core`) the core also lists users of other nodes
(`remote_presence`), hosts calls whose caller is on another node as a *remote
party* connection (`remote_party_opened`: registered on its own node, already
proven there) and counts a user busy while in an active call hosted elsewhere
(`busy_elsewhere`). None of it is used by a single relay.
"""

from __future__ import annotations

import bisect
import enum
import heapq
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.identity import fingerprint_of, verify_signature
from app.nat.addresses import AddressError, parse_addr, parse_ip, source_key
from app.protocol import messages as m
from app.protocol.proofs import media_join_transcript, register_transcript
from app.relay.limits import RelayLimits, TokenBucket

log = logging.getLogger(__name__)

ConnId = int
#: More changes than this in one presence batch go out as a single "resync" instead (5 pages).
PRESENCE_RESYNC_ABOVE = 5 * m.MAX_PRESENCE_PAGE
# When a user registers again (a new network, a restart), the calls of the older session end; the
# other party is told what happened from its side: the person's connection went away.
PEER_REPLACED_REASON = "Offline"


# ----------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class Send:
    conn: ConnId
    message: m.Message


@dataclass(frozen=True)
class Disconnect:
    conn: ConnId
    reason: str


@dataclass(frozen=True)
class JoinRoom:
    """A media connection proved it is `fingerprint`, a party of active call `call_id`."""

    conn: ConnId
    call_id: str
    fingerprint: str


@dataclass(frozen=True)
class RoomOpened:
    call_id: str
    caller: str
    callee: str


@dataclass(frozen=True)
class RoomClosed:
    call_id: str


Action = Send | Disconnect | JoinRoom | RoomOpened | RoomClosed


# ------------------------------------------------------------------------------- state


class CallState(enum.Enum):
    RINGING = "ringing"
    ACTIVE = "active"


@dataclass
class _Conn:
    conn: ConnId
    ip: str
    observed_addr: str
    opened_at: float
    bucket: TokenBucket
    nonce: bytes | None
    fingerprint: str | None = None
    alias: str = ""
    public_key: bytes = b""
    discoverable: bool = True
    media_call: str | None = None
    closing: bool = False  # refused or replaced: ignored until its connection is gone
    remote: bool = False  # a caller registered on another node of the cluster (no socket here)


@dataclass
class _Call:
    call_id: str
    caller: str
    callee: str
    caller_conn: ConnId
    callee_conn: ConnId
    offer: m.DirectCallOffer
    caller_public_key: bytes
    callee_public_key: bytes
    ring_deadline: float
    state: CallState = CallState.RINGING

    def party_conn(self, fingerprint: str) -> ConnId:
        return self.caller_conn if fingerprint == self.caller else self.callee_conn

    def other(self, fingerprint: str) -> tuple[str, ConnId]:
        if fingerprint == self.caller:
            return self.callee, self.callee_conn
        return self.caller, self.caller_conn


@dataclass
class RelayCore:
    """Registration, presence, reflect and the direct-call registry of one relay."""

    relay_fingerprint: str
    #: Where clients send media: an address every client can reach, or "" for "the relay
    #: address you are connected to" (a wildcard listen address is never advertised).
    media_addr: str
    relay_alias: str = ""
    limits: RelayLimits = field(default_factory=RelayLimits)
    random_bytes: Callable[[int], bytes] = secrets.token_bytes
    #: Cluster: is this user in an active call hosted on another node? (busy; see cluster_core)
    busy_elsewhere: Callable[[str], bool] = field(default=lambda fingerprint: False)

    def __post_init__(self) -> None:
        self._conns: dict[ConnId, _Conn] = {}
        self._users: dict[str, ConnId] = {}
        self._calls: dict[str, _Call] = {}
        self._calls_of_user: dict[str, set[str]] = {}
        self._calls_of_conn: dict[ConnId, set[str]] = {}
        self._per_ip: dict[str, int] = {}  # by source_key(): an IPv4 address or an IPv6 /64
        self._directory: list[str] = []  # discoverable registered fingerprints, sorted (presence pages)
        self._presence_pending: dict[str, m.PresenceChange] = {}
        self._remote_listed: dict[str, str] = {}  # cluster: discoverable users of other nodes -> alias
        self._media_is_loopback = _is_loopback_addr(self.media_addr)
        # (when, seq, kind, key): registration deadlines of new connections and ring deadlines of calls.
        # Entries go stale when the connection registers or the call is answered; skipped lazily.
        self._deadlines: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()

    # ------------------------------------------------------------------ queries

    @property
    def users_online(self) -> int:
        return len(self._users)

    @property
    def calls(self) -> dict[str, CallState]:
        return {cid: c.state for cid, c in self._calls.items()}

    def connection_count(self) -> int:
        return len(self._conns)

    def is_media_connection(self, conn: ConnId) -> bool:
        c = self._conns.get(conn)
        return c is not None and c.media_call is not None

    def fingerprint_of_conn(self, conn: ConnId) -> str | None:
        c = self._conns.get(conn)
        return c.fingerprint if c else None

    def user_info(self, fingerprint: str) -> tuple[str, bool] | None:
        """(alias, discoverable) of a user registered here, else None."""
        conn = self._users.get(fingerprint)
        if conn is None:
            return None
        c = self._conns[conn]
        return c.alias, c.discoverable

    def party_info(self, conn: ConnId) -> tuple[str, str, bytes, str] | None:
        """(fingerprint, alias, public key, observed address) of a registered connection, else None."""
        c = self._conns.get(conn)
        if c is None or c.fingerprint is None or c.closing:
            return None
        return c.fingerprint, c.alias, c.public_key, c.observed_addr

    def local_users(self) -> list[tuple[str, str, bool]]:
        """(fingerprint, alias, discoverable) of every user registered here."""
        return [(fp, self._conns[conn].alias, self._conns[conn].discoverable) for fp, conn in self._users.items()]

    def has_calls(self, conn: ConnId) -> bool:
        return bool(self._calls_of_conn.get(conn))

    def next_deadline(self) -> float | None:
        while self._deadlines and self._stale(self._deadlines[0]):
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def _stale(self, entry: tuple[float, int, str, Any]) -> bool:
        _, _, kind, key = entry
        if kind == "presence":
            return not self._presence_pending
        if kind == "register":
            c = self._conns.get(key)
            return c is None or not self._unbound(c)
        call = self._calls.get(key)
        return call is None or call.state is not CallState.RINGING

    def _add_deadline(self, when: float, kind: str, key: Any) -> None:
        heapq.heappush(self._deadlines, (when, next(self._seq), kind, key))

    # ------------------------------------------------------------ connection life

    def connection_opened(self, conn: ConnId, observed_addr: str, ip: str, now: float) -> list[Action]:
        if len(self._conns) >= self.limits.max_connections:
            return [Disconnect(conn, "the relay is full, try again later")]
        source = source_key(ip)
        if self._per_ip.get(source, 0) >= self.limits.connections_per_ip:
            log.warning("connection refused: too many from source=%s", source)
            return [Disconnect(conn, "too many connections from your address")]
        nonce = self.random_bytes(32)
        self._conns[conn] = _Conn(
            conn=conn,
            ip=source,
            observed_addr=observed_addr,
            opened_at=now,
            bucket=TokenBucket(self.limits.messages_per_second, self.limits.message_burst, now),
            nonce=nonce,
        )
        self._per_ip[source] = self._per_ip.get(source, 0) + 1
        self._add_deadline(now + self.limits.register_timeout, "register", conn)
        return [
            Send(
                conn,
                m.RegisterChallenge(
                    nonce=nonce, relay_fingerprint=self.relay_fingerprint, relay_alias=self.relay_alias
                ),
            )
        ]

    def remote_party_opened(
        self, conn: ConnId, fingerprint: str, alias: str, public_key: bytes, observed_addr: str, now: float
    ) -> None:
        """Cluster: a user registered (and proven) on another node, as the caller of calls hosted here.
        It is no registered user of this node: never listed, never replaced, never sent presence."""
        self._conns[conn] = _Conn(
            conn=conn,
            ip="",
            observed_addr=observed_addr,
            opened_at=now,
            bucket=TokenBucket(self.limits.messages_per_second, self.limits.message_burst, now),
            nonce=None,
            fingerprint=fingerprint,
            alias=alias,
            public_key=public_key,
            remote=True,
        )

    def connection_closed(self, conn: ConnId, now: float, reason: str = "Offline") -> list[Action]:
        c = self._conns.pop(conn, None)
        if c is None:
            return []
        if not c.remote:
            self._per_ip[c.ip] -= 1
            if not self._per_ip[c.ip]:
                del self._per_ip[c.ip]
        actions: list[Action] = []
        if c.fingerprint and self._users.get(c.fingerprint) == conn:
            del self._users[c.fingerprint]
            log.info("user offline fingerprint=%s", c.fingerprint)
            actions += self._end_calls_of_conn(conn, reason)
            if c.discoverable and c.fingerprint not in self._remote_listed:
                self._directory_remove(c.fingerprint)
                self._presence_changed(c.fingerprint, c.alias, online=False, now=now)
        else:
            actions += self._end_calls_of_conn(conn, reason)
        return actions

    def replaced_elsewhere(self, fingerprint: str, now: float) -> list[Action]:
        """Cluster: the user registered again on another node; that newer registration wins."""
        conn = self._users.pop(fingerprint, None)
        if conn is None:
            return []
        c = self._conns[conn]
        log.info("registration replaced on another node fingerprint=%s conn=%d", fingerprint, conn)
        actions: list[Action] = [Send(conn, m.Replaced(reason="you registered again from another connection"))]
        actions += self._end_calls_of_conn(conn, PEER_REPLACED_REASON)
        c.fingerprint = None
        c.closing = True
        if c.discoverable and fingerprint not in self._remote_listed:
            self._directory_remove(fingerprint)
            self._presence_changed(fingerprint, c.alias, online=False, now=now)
        actions.append(Disconnect(conn, "replaced by a newer registration"))
        return actions

    def remote_presence(self, fingerprint: str, alias: str, *, online: bool, now: float) -> None:
        """Cluster: a discoverable user of another node came online (or changed alias) or left."""
        local = self.user_info(fingerprint)
        listed_here = local is not None and local[1]
        if online:
            if self._remote_listed.get(fingerprint) == alias:
                return
            self._remote_listed[fingerprint] = alias
            self._directory_add(fingerprint)
            if not listed_here:
                self._presence_changed(fingerprint, alias, online=True, now=now)
        elif (last_alias := self._remote_listed.pop(fingerprint, None)) is not None and not listed_here:
            self._directory_remove(fingerprint)
            self._presence_changed(fingerprint, last_alias, online=False, now=now)

    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            entry = heapq.heappop(self._deadlines)
            if self._stale(entry):
                continue
            _, _, kind, key = entry
            if kind == "presence":
                actions += self._flush_presence()
            elif kind == "register":
                actions += self._refuse(
                    key, "registration-timeout", f"no registration within {self.limits.register_timeout:g} s"
                )
            else:
                call = self._calls[key]
                log.info("call ring timeout call_id=%s", call.call_id)
                actions += self._end_call(call, "Timeout", notify_caller=True, notify_callee=True)
        return actions

    # ------------------------------------------------------------------ messages

    def admit(self, conn: ConnId, now: float) -> list[Action] | None:
        """Charge one message to the connection: None if it may go on, else what to do instead."""
        c = self._conns.get(conn)
        if c is None or c.closing:
            return []
        if not c.bucket.take(now):
            log.warning("rate limit exceeded conn=%d fingerprint=%s", conn, c.fingerprint)
            return self._refuse(conn, "rate-limited", "too many messages; slow down")
        return None

    def message_received(self, conn: ConnId, msg: m.Message, now: float) -> list[Action]:
        refused = self.admit(conn, now)
        if refused is not None:
            return refused
        c = self._conns[conn]
        if isinstance(msg, m.Ping):
            return [Send(conn, m.Pong(nonce=msg.nonce))]
        if isinstance(msg, m.Reflect):  # allowed before registration: NAT probes use it alone
            return [Send(conn, m.ReflectResponse(request_id=msg.request_id, observed_addr=c.observed_addr))]
        if c.media_call is not None:
            return [Send(conn, m.Error(code="media-connection", message="a media connection carries only datagrams"))]
        if isinstance(msg, m.Register):
            return self._on_register(c, msg, now)
        if isinstance(msg, m.MediaJoin):
            return self._on_media_join(c, msg)
        if c.fingerprint is None:
            return [Send(conn, m.Error(code="not-registered", message="register first", ref_type=type(msg).__name__))]
        if isinstance(msg, m.PresenceQuery):
            return self._on_presence_query(c, msg, now)
        if isinstance(msg, m.DirectCallOffer):
            return self._on_offer(c, msg, now)
        if isinstance(msg, m.DirectCallAnswer):
            return self._on_answer(c, msg)
        if isinstance(msg, m.CallCancel):
            return self._on_cancel(c, msg)
        if isinstance(msg, m.Hangup):
            return self._on_hangup(c, msg)
        if isinstance(msg, m.PunchReady | m.MediaPathReport):
            return self._forward_to_peer(c, msg)
        return [
            Send(
                conn,
                m.Error(
                    code="unexpected",
                    message=f"{type(msg).__name__} is not a client request",
                    ref_type=type(msg).__name__,
                ),
            )
        ]

    def bad_message(self, conn: ConnId, error: str, now: float) -> list[Action]:
        """A frame that did not decode: answered with an error, and charged to the rate limit."""
        c = self._conns.get(conn)
        if c is None or c.closing:
            return []
        if not c.bucket.take(now):
            return self._refuse(conn, "rate-limited", "too many messages; slow down")
        return [Send(conn, m.Error(code="bad-message", message=error[:200]))]

    @staticmethod
    def _unbound(c: _Conn) -> bool:
        return c.fingerprint is None and c.media_call is None and not c.closing

    def _on_media_join(self, c: _Conn, join: m.MediaJoin) -> list[Action]:
        """A media connection proves it is a party of an active call, then carries only datagrams."""
        if c.fingerprint is not None:
            return [Send(c.conn, m.Error(code="wrong-connection", message="join media on its own connection"))]
        nonce, c.nonce = c.nonce, None
        call = self._calls.get(join.call_id)
        if nonce is None:
            return self._refuse(c.conn, "bad-challenge", "this connection's challenge was already used")
        if call is None or call.state is not CallState.ACTIVE:
            return self._refuse(c.conn, "no-call", "no such active call")
        if join.fingerprint == call.caller:
            key = call.caller_public_key
        elif join.fingerprint == call.callee:
            key = call.callee_public_key
        else:
            return self._refuse(c.conn, "not-your-call", "not a party of this call")
        transcript = media_join_transcript(self.relay_fingerprint, nonce, join.call_id, join.fingerprint)
        if not verify_signature(key, join.signature, transcript):
            return self._refuse(c.conn, "bad-signature", "media join signature does not verify")
        c.media_call = join.call_id
        log.info("media joined call_id=%s fingerprint=%s", join.call_id, join.fingerprint)
        return [Send(c.conn, m.MediaJoined(call_id=join.call_id)), JoinRoom(c.conn, join.call_id, join.fingerprint)]

    # ------------------------------------------------------------- registration

    def _on_register(self, c: _Conn, msg: m.Register, now: float) -> list[Action]:
        if c.fingerprint is not None:
            return [Send(c.conn, m.Error(code="already-registered", message="this connection is already registered"))]
        nonce, c.nonce = c.nonce, None  # one attempt per challenge: never reusable
        if nonce is None or not secrets.compare_digest(nonce, msg.nonce):
            return self._refuse(c.conn, "bad-challenge", "registration does not answer this connection's challenge")
        transcript = register_transcript(self.relay_fingerprint, nonce, msg.public_key)
        if len(msg.public_key) != 32 or not verify_signature(msg.public_key, msg.signature, transcript):
            return self._refuse(c.conn, "bad-signature", "registration signature does not verify")
        fingerprint = fingerprint_of(msg.public_key)
        actions: list[Action] = []
        old = self._users.get(fingerprint)
        previous = self._conns.get(old) if old is not None and old != c.conn else None
        if old is None and len(self._users) >= self.limits.max_users:
            return self._refuse(c.conn, "relay-full", "the relay has too many users, try another relay")
        if old is not None and old != c.conn:
            log.info("registration replaces older connection fingerprint=%s old=%d new=%d", fingerprint, old, c.conn)
            actions.append(Send(old, m.Replaced(reason="you registered again from another connection")))
            actions += self._end_calls_of_conn(old, PEER_REPLACED_REASON)
            if previous is not None:
                previous.fingerprint = None  # it no longer speaks for the user
                previous.closing = True
                if previous.discoverable and fingerprint not in self._remote_listed:
                    self._directory_remove(fingerprint)
            actions.append(Disconnect(old, "replaced by a newer registration"))
        c.fingerprint = fingerprint
        c.alias = msg.alias
        c.public_key = msg.public_key
        c.discoverable = msg.discoverable
        self._users[fingerprint] = c.conn
        log.info("user registered fingerprint=%s alias=%r addr=%s", fingerprint, msg.alias, c.observed_addr)
        actions.append(Send(c.conn, m.Registered(fingerprint=fingerprint, observed_addr=c.observed_addr)))
        if c.discoverable:
            self._directory_add(fingerprint)
        # A re-registration (newer connection of the same user) is news only if what others see changed.
        was_listed = previous is not None and previous.discoverable
        if c.discoverable and (not was_listed or (previous is not None and previous.alias != c.alias)):
            self._presence_changed(fingerprint, c.alias, online=True, now=now)
        elif was_listed and not c.discoverable:
            self._presence_changed(fingerprint, c.alias, online=False, now=now)
        return actions

    # ----------------------------------------------------------------- presence

    def _directory_add(self, fingerprint: str) -> None:
        i = bisect.bisect_left(self._directory, fingerprint)
        if i == len(self._directory) or self._directory[i] != fingerprint:
            self._directory.insert(i, fingerprint)

    def _directory_remove(self, fingerprint: str) -> None:
        i = bisect.bisect_left(self._directory, fingerprint)
        if i < len(self._directory) and self._directory[i] == fingerprint:
            del self._directory[i]

    def _on_presence_query(self, c: _Conn, query: m.PresenceQuery, now: float) -> list[Action]:
        # The message itself cost one token; the page costs by its size (the relay's work is O(page)).
        if not c.bucket.take(now, query.limit / self.limits.presence_entries_per_token):
            log.warning("presence queries over budget conn=%d fingerprint=%s", c.conn, c.fingerprint)
            return self._refuse(c.conn, "rate-limited", "too many presence queries; slow down")
        start = 0 if query.after is None else bisect.bisect_right(self._directory, query.after)
        page = self._directory[start : start + query.limit]
        users = [m.PresenceEntry(fingerprint=fp, alias=self._alias_of(fp)) for fp in page]
        more = start + len(page) < len(self._directory)
        return [Send(c.conn, m.PresenceList(request_id=query.request_id, users=users, more=more))]

    def _alias_of(self, fingerprint: str) -> str:
        conn = self._users.get(fingerprint)
        return self._conns[conn].alias if conn is not None else self._remote_listed.get(fingerprint, "")

    def _presence_changed(self, fingerprint: str, alias: str, *, online: bool, now: float) -> None:
        """Queue one change for the next batch (the latest state of a user wins)."""
        if not self._presence_pending:
            self._add_deadline(now + self.limits.presence_batch_interval, "presence", None)
        self._presence_pending.pop(fingerprint, None)  # re-insert: batches keep the order of last change
        self._presence_pending[fingerprint] = m.PresenceChange(fingerprint=fingerprint, alias=alias, online=online)

    def _flush_presence(self) -> list[Action]:
        changes = list(self._presence_pending.values())
        self._presence_pending.clear()
        if len(changes) > PRESENCE_RESYNC_ABOVE:
            # A flood of logins (a relay restart): one small "fetch the list again" per user, not
            # pages of deltas that would fill every slow reader's send buffer.
            resync = m.PresenceDelta(resync=True)
            return [Send(conn, resync) for conn in self._users.values()]
        page = m.MAX_PRESENCE_PAGE
        deltas = [m.PresenceDelta(changes=changes[i : i + page]) for i in range(0, len(changes), page)]
        return [Send(conn, delta) for delta in deltas for conn in self._users.values()]

    # --------------------------------------------------------------------- calls

    def _on_offer(self, c: _Conn, offer: m.DirectCallOffer, now: float) -> list[Action]:
        assert c.fingerprint is not None
        cid = offer.call_id
        if offer.caller_fingerprint != c.fingerprint:
            return [
                Send(
                    c.conn,
                    m.Error(code="bad-offer", message="caller fingerprint is not yours", ref_type="DirectCallOffer"),
                )
            ]
        if cid in self._calls:
            return [
                Send(c.conn, m.Error(code="bad-offer", message="call id already in use", ref_type="DirectCallOffer"))
            ]
        if offer.target_fingerprint == c.fingerprint:
            return [Send(c.conn, m.Hangup(call_id=cid, reason="Unavailable"))]
        mine = sum(1 for cid in self._calls_of_user.get(c.fingerprint, ()) if self._calls[cid].caller == c.fingerprint)
        if mine >= self.limits.calls_per_user:
            return [Send(c.conn, m.Hangup(call_id=cid, reason="LimitExceeded"))]
        if len(self._calls) >= self.limits.max_calls:
            return [Send(c.conn, m.Hangup(call_id=cid, reason="Unavailable"))]
        callee_conn = self._users.get(offer.target_fingerprint)
        if callee_conn is None:
            log.info("call to offline user call_id=%s target=%s", cid, offer.target_fingerprint)
            return [Send(c.conn, m.Hangup(call_id=cid, reason="Offline"))]
        if self._in_call(offer.target_fingerprint):
            log.info("call to busy user call_id=%s target=%s", cid, offer.target_fingerprint)
            return [Send(c.conn, m.Hangup(call_id=cid, reason="Busy"))]
        callee = self._conns[callee_conn]
        call = _Call(
            call_id=cid,
            caller=c.fingerprint,
            callee=offer.target_fingerprint,
            caller_conn=c.conn,
            callee_conn=callee_conn,
            offer=offer,
            caller_public_key=c.public_key,
            callee_public_key=callee.public_key,
            ring_deadline=now + self.limits.ring_timeout,
        )
        self._calls[cid] = call
        for key, index in ((call.caller, self._calls_of_user), (call.callee, self._calls_of_user)):
            index.setdefault(key, set()).add(cid)
        for conn_key in (call.caller_conn, call.callee_conn):
            self._calls_of_conn.setdefault(conn_key, set()).add(cid)
        self._add_deadline(call.ring_deadline, "ring", cid)
        log.info("call offered call_id=%s caller=%s callee=%s", cid, call.caller, call.callee)
        incoming = m.CallIncoming(
            call_id=cid,
            caller_fingerprint=c.fingerprint,
            caller_alias=c.alias,
            caller_public_key=c.public_key,
            ephemeral_key=offer.ephemeral_key,
            key_signature=offer.key_signature,
        )
        return [Send(c.conn, m.CallRinging(call_id=cid)), Send(callee_conn, incoming)]

    def _in_call(self, fingerprint: str) -> bool:
        """Busy = in an active call. Ringing is not busy: see the module docstring."""
        return self.busy_elsewhere(fingerprint) or any(
            self._calls[cid].state is CallState.ACTIVE for cid in self._calls_of_user.get(fingerprint, ())
        )

    def _on_answer(self, c: _Conn, answer: m.DirectCallAnswer) -> list[Action]:
        call = self._calls.get(answer.call_id)
        if call is None or call.callee != c.fingerprint or call.callee_conn != c.conn:
            return [
                Send(
                    c.conn,
                    m.Error(
                        code="not-your-call",
                        message="only the callee can answer this call",
                        ref_type="DirectCallAnswer",
                    ),
                )
            ]
        if call.state is not CallState.RINGING:
            return [
                Send(
                    c.conn, m.Error(code="wrong-state", message="the call is not ringing", ref_type="DirectCallAnswer")
                )
            ]
        if answer.accept_mode == "Reject":
            log.info("call declined call_id=%s", call.call_id)
            return self._end_call(call, "Declined", notify_caller=True, notify_callee=False)
        call.state = CallState.ACTIVE
        trusted = answer.accept_mode == "AcceptTrusted"
        offer = call.offer
        caller = self._conns[call.caller_conn]
        callee_reflexive = (answer.callee_reflexive_addr or c.observed_addr) if trusted else None
        caller_reflexive = (offer.caller_reflexive_addr or caller.observed_addr) if trusted else None
        to_caller = m.CallSetup(
            call_id=call.call_id,
            room=call.call_id,
            relay_addr=self._media_addr_for(caller),
            role="caller",
            accept_mode=answer.accept_mode,
            peer_fingerprint=call.callee,
            peer_alias=c.alias,
            peer_public_key=call.callee_public_key,
            peer_ephemeral_key=answer.ephemeral_key,
            peer_key_signature=answer.key_signature,
            peer_direct_addr=callee_reflexive,
            peer_local_addrs=list(answer.callee_local_addrs) if trusted else [],
        )
        to_callee = m.CallSetup(
            call_id=call.call_id,
            room=call.call_id,
            relay_addr=self._media_addr_for(c),
            role="callee",
            accept_mode=answer.accept_mode,
            peer_fingerprint=call.caller,
            peer_alias=caller.alias,
            peer_public_key=call.caller_public_key,
            peer_ephemeral_key=offer.ephemeral_key,
            peer_key_signature=offer.key_signature,
            peer_direct_addr=caller_reflexive,
            peer_local_addrs=list(offer.caller_local_addrs) if trusted else [],
        )
        log.info("call accepted call_id=%s mode=%s", call.call_id, answer.accept_mode)
        actions: list[Action] = [
            Send(call.caller_conn, to_caller),
            Send(call.callee_conn, to_callee),
            RoomOpened(call.call_id, call.caller, call.callee),
        ]
        # The callee is busy now: every other call still ringing for them ends with Busy.
        for other_id in list(self._calls_of_user.get(call.callee, ())):
            other = self._calls[other_id]
            if other is not call and other.state is CallState.RINGING and other.callee == call.callee:
                actions += self._end_call(other, "Busy", notify_caller=True, notify_callee=True)
        return actions

    def _media_addr_for(self, c: _Conn) -> str:
        """The media address to give this client: never a loopback one to a client from elsewhere."""
        if self._media_is_loopback and not _is_loopback_addr(c.observed_addr):
            return ""
        return self.media_addr

    def _on_cancel(self, c: _Conn, cancel: m.CallCancel) -> list[Action]:
        call = self._calls.get(cancel.call_id)
        if call is None or call.caller != c.fingerprint or call.caller_conn != c.conn:
            return [
                Send(
                    c.conn,
                    m.Error(
                        code="not-your-call", message="only the caller can cancel this call", ref_type="CallCancel"
                    ),
                )
            ]
        if call.state is not CallState.RINGING:
            return [
                Send(
                    c.conn,
                    m.Error(
                        code="wrong-state",
                        message="the call is no longer ringing; hang up instead",
                        ref_type="CallCancel",
                    ),
                )
            ]
        log.info("call cancelled call_id=%s", call.call_id)
        return self._end_call(call, "Cancelled", notify_caller=True, notify_callee=True)

    def _on_hangup(self, c: _Conn, hangup: m.Hangup) -> list[Action]:
        call = self._calls.get(hangup.call_id)
        if call is None or c.fingerprint not in (call.caller, call.callee) or call.party_conn(c.fingerprint) != c.conn:
            return [Send(c.conn, m.Error(code="not-your-call", message="no such call of yours", ref_type="Hangup"))]
        if call.state is CallState.RINGING and c.fingerprint == call.callee:
            reason = "Declined"
        else:
            reason = hangup.reason if hangup.reason in m.HANGUP_REASONS else "Normal"
        log.info("call hung up call_id=%s by=%s reason=%s", call.call_id, c.fingerprint, reason)
        by_caller = c.fingerprint == call.caller
        return self._end_call(call, reason, notify_caller=not by_caller, notify_callee=by_caller)

    def _forward_to_peer(self, c: _Conn, msg: m.PunchReady | m.MediaPathReport) -> list[Action]:
        call = self._calls.get(msg.call_id)
        if call is None or call.state is not CallState.ACTIVE or c.fingerprint not in (call.caller, call.callee):
            return [
                Send(
                    c.conn,
                    m.Error(code="not-your-call", message="no such active call of yours", ref_type=type(msg).__name__),
                )
            ]
        assert c.fingerprint is not None
        _, peer_conn = call.other(c.fingerprint)
        return [Send(peer_conn, msg)]

    def _end_call(self, call: _Call, reason: str, *, notify_caller: bool, notify_callee: bool) -> list[Action]:
        self._calls.pop(call.call_id, None)
        for index, keys in (
            (self._calls_of_user, (call.caller, call.callee)),
            (self._calls_of_conn, (call.caller_conn, call.callee_conn)),
        ):
            for key in keys:
                ids = index.get(key)
                if ids is not None:
                    ids.discard(call.call_id)
                    if not ids:
                        del index[key]
        actions: list[Action] = []
        if notify_caller and call.caller_conn in self._conns:
            actions.append(Send(call.caller_conn, m.Hangup(call_id=call.call_id, reason=reason)))
        if notify_callee and call.callee_conn in self._conns:
            actions.append(Send(call.callee_conn, m.Hangup(call_id=call.call_id, reason=reason)))
        if call.state is CallState.ACTIVE:
            actions.append(RoomClosed(call.call_id))
        return actions

    def _end_calls_of_conn(self, conn: ConnId, reason: str) -> list[Action]:
        actions: list[Action] = []
        for call in [self._calls[cid] for cid in list(self._calls_of_conn.get(conn, ()))]:
            if call.caller_conn == conn:
                actions += self._end_call(call, reason, notify_caller=False, notify_callee=True)
            elif call.callee_conn == conn:
                actions += self._end_call(call, reason, notify_caller=True, notify_callee=False)
        return actions

    def _refuse(self, conn: ConnId, code: str, message: str) -> list[Action]:
        c = self._conns.get(conn)
        if c is not None:
            c.nonce = None
            c.closing = True
        return [Send(conn, m.Error(code=code, message=message)), Disconnect(conn, message)]


def _is_loopback_addr(addr: str) -> bool:
    if not addr:
        return False
    try:
        host, _ = parse_addr(addr)
        return parse_ip(host).is_loopback
    except AddressError:
        return False
