"""RelayCore, sans-IO: a fake clock, real Ed25519 identities signing real challenges."""

from __future__ import annotations

import secrets

import msgspec
import pytest

from app.identity import Identity
from app.protocol import messages as m
from app.protocol.codec import encode_message
from app.protocol.proofs import media_join_transcript, register_transcript
from app.relay.limits import RelayLimits
from app.relay.relay_core import (
    PRESENCE_RESYNC_ABOVE,
    Action,
    CallState,
    Disconnect,
    JoinRoom,
    RelayCore,
    RoomClosed,
    RoomOpened,
    Send,
)

MEDIA_ADDR = "203.0.113.7:4433"


def sends(actions: list[Action], conn: int | None = None) -> list[m.Message]:
    return [a.message for a in actions if isinstance(a, Send) and (conn is None or a.conn == conn)]


def sends_of(actions: list[Action], kind: type, conn: int | None = None) -> list:
    return [msg for msg in sends(actions, conn) if isinstance(msg, kind)]


def disconnects(actions: list[Action]) -> set[int]:
    return {a.conn for a in actions if isinstance(a, Disconnect)}


def only_error(actions: list[Action], conn: int, code: str, *, disconnect: bool) -> m.Error:
    """The actions are exactly one Error to `conn` (and a Disconnect of it when `disconnect`)."""
    errors = sends_of(actions, m.Error, conn)
    assert len(errors) == 1 and errors[0].code == code, actions
    assert disconnects(actions) == ({conn} if disconnect else set()), actions
    assert len(actions) == (2 if disconnect else 1), actions
    return errors[0]


class Harness:
    """One RelayCore, a fake clock, and helpers that play clients with real keys."""

    def __init__(self, limits: RelayLimits | None = None) -> None:
        self.relay = Identity.generate()
        self.core = RelayCore(
            relay_fingerprint=self.relay.fingerprint,
            media_addr=MEDIA_ADDR,
            relay_alias="test relay",
            limits=limits or RelayLimits(),
        )
        self.now = 1000.0
        self.nonces: dict[int, bytes] = {}
        self.ids: dict[int, Identity] = {}
        self._next = 1

    def addr(self, conn: int) -> str:
        return f"198.51.100.{conn}:{40000 + conn}"

    def open(self, conn: int | None = None, ip: str | None = None) -> int:
        if conn is None:
            conn, self._next = self._next, self._next + 1
        actions = self.core.connection_opened(conn, self.addr(conn), ip or f"198.51.100.{conn}", self.now)
        (challenge,) = sends_of(actions, m.RegisterChallenge, conn)
        assert challenge.relay_fingerprint == self.relay.fingerprint
        assert len(challenge.nonce) == 32
        self.nonces[conn] = challenge.nonce
        return conn

    def recv(self, conn: int, msg: m.Message) -> list[Action]:
        return self.core.message_received(conn, msg, self.now)

    def settle(self) -> list[Action]:
        """Let the presence batch go out (the only deadline within the batching interval)."""
        return self.core.tick(self.now + self.core.limits.presence_batch_interval)

    def register_msg(
        self, conn: int, identity: Identity, *, signer: Identity | None = None, nonce: bytes | None = None, **kw
    ) -> m.Register:
        nonce = self.nonces[conn] if nonce is None else nonce
        transcript = register_transcript(self.relay.fingerprint, nonce, identity.public_key)
        return m.Register(
            public_key=identity.public_key,
            alias=kw.pop("alias", f"user{conn}"),
            nonce=nonce,
            signature=(signer or identity).sign(transcript),
            **kw,
        )

    def user(self, identity: Identity | None = None, *, discoverable: bool = True, ip: str | None = None) -> int:
        """Open a connection and register it; returns the connection id."""
        conn = self.open(ip=ip)
        identity = identity or Identity.generate()
        actions = self.recv(conn, self.register_msg(conn, identity, discoverable=discoverable))
        (registered,) = sends_of(actions, m.Registered, conn)
        assert registered.fingerprint == identity.fingerprint
        self.ids[conn] = identity
        self.settle()
        return conn

    def fp(self, conn: int) -> str:
        return self.ids[conn].fingerprint

    def offer(self, caller: int, callee_fp: str, *, call_id: str | None = None, **kw) -> tuple[str, list[Action]]:
        call_id = call_id or secrets.token_hex(16)
        msg = m.DirectCallOffer(
            call_id=call_id,
            caller_fingerprint=self.fp(caller),
            target_fingerprint=callee_fp,
            caller_alias=f"user{caller}",
            caller_reflexive_addr=kw.pop("reflexive", "192.0.2.10:5000"),
            caller_local_addrs=kw.pop("local", ["10.1.1.1:5000", "[fd00::1]:5000"]),
            ephemeral_key=kw.pop("ephemeral", b"E" * 32),
            key_signature=b"S" * 64,
        )
        return call_id, self.recv(caller, msg)

    def answer(self, conn: int, call_id: str, mode: str = "AcceptTrusted", **kw) -> list[Action]:
        return self.recv(
            conn,
            m.DirectCallAnswer(
                call_id=call_id,
                accept_mode=mode,  # type: ignore[arg-type]
                callee_reflexive_addr=kw.pop("reflexive", "192.0.2.20:6000"),
                callee_local_addrs=kw.pop("local", ["10.2.2.2:6000"]),
                ephemeral_key=kw.pop("ephemeral", b"F" * 32),
                key_signature=b"T" * 64,
            ),
        )

    def active_call(self, caller: int, callee: int, mode: str = "AcceptTrusted") -> str:
        call_id, _ = self.offer(caller, self.fp(callee))
        actions = self.answer(callee, call_id, mode)
        assert any(isinstance(a, RoomOpened) for a in actions), actions
        return call_id

    def media_join(self, conn: int, call_id: str, claimed: Identity, *, signer: Identity | None = None, nonce=None):
        nonce = self.nonces[conn] if nonce is None else nonce
        transcript = media_join_transcript(self.relay.fingerprint, nonce, call_id, claimed.fingerprint)
        return self.recv(
            conn,
            m.MediaJoin(
                call_id=call_id, fingerprint=claimed.fingerprint, signature=(signer or claimed).sign(transcript)
            ),
        )


@pytest.fixture
def h() -> Harness:
    return Harness()


# ------------------------------------------------------------------ registration


def test_registration_success(h: Harness) -> None:
    conn = h.open()
    me = Identity.generate()
    actions = h.recv(conn, h.register_msg(conn, me))
    assert actions == [Send(conn, m.Registered(fingerprint=me.fingerprint, observed_addr=h.addr(conn)))]
    assert h.core.users_online == 1
    assert h.core.fingerprint_of_conn(conn) == me.fingerprint
    h.settle()
    assert h.core.next_deadline() is None  # a registered connection has no registration deadline


def test_wrong_signature_is_refused(h: Harness) -> None:
    conn = h.open()
    claimed, other = Identity.generate(), Identity.generate()
    actions = h.recv(conn, h.register_msg(conn, claimed, signer=other))
    only_error(actions, conn, "bad-signature", disconnect=True)
    assert h.core.users_online == 0 and h.core.fingerprint_of_conn(conn) is None


def test_signature_for_another_relay_is_refused(h: Harness) -> None:
    conn = h.open()
    me = Identity.generate()
    transcript = register_transcript(Identity.generate().fingerprint, h.nonces[conn], me.public_key)
    msg = m.Register(public_key=me.public_key, alias="x", nonce=h.nonces[conn], signature=me.sign(transcript))
    only_error(h.recv(conn, msg), conn, "bad-signature", disconnect=True)
    assert h.core.users_online == 0


def test_nonce_of_another_connection_is_refused(h: Harness) -> None:
    a, b = h.open(), h.open()
    me = Identity.generate()
    # A perfectly signed registration, but for connection a's challenge, replayed on b.
    only_error(h.recv(b, h.register_msg(a, me)), b, "bad-challenge", disconnect=True)
    assert h.core.users_online == 0
    # b is being disconnected: a correct registration arriving afterwards is ignored, not honoured.
    assert h.recv(b, h.register_msg(b, me)) == []
    assert h.core.users_online == 0
    # a itself is unaffected.
    assert sends_of(h.recv(a, h.register_msg(a, me)), m.Registered, a)


def test_second_register_after_a_failed_one_is_refused(h: Harness) -> None:
    conn = h.open()
    me = Identity.generate()
    only_error(
        h.recv(conn, h.register_msg(conn, me, signer=Identity.generate())), conn, "bad-signature", disconnect=True
    )
    # The relay asked to disconnect; frames already in flight are ignored (no answer, no registration).
    assert h.recv(conn, h.register_msg(conn, me)) == []
    assert h.core.users_online == 0


def test_second_register_on_a_registered_connection_is_refused_and_changes_nothing(h: Harness) -> None:
    conn = h.open()
    me, other = Identity.generate(), Identity.generate()
    h.recv(conn, h.register_msg(conn, me))
    for identity in (me, other):  # replaying the same challenge, also to switch identity
        actions = h.recv(conn, h.register_msg(conn, identity))
        assert [e.code for e in sends_of(actions, m.Error, conn)] == ["already-registered"], actions
        assert not sends_of(actions, m.Registered)
    assert h.core.fingerprint_of_conn(conn) == me.fingerprint
    assert h.core.users_online == 1


def test_no_registration_within_10_s_is_refused(h: Harness) -> None:
    start = h.now
    pending = h.open()
    registered = h.user()
    assert h.core.next_deadline() == pytest.approx(start + 10.0)
    assert h.core.tick(start + 9.99) == []
    actions = h.core.tick(start + 10.0)
    only_error(actions, pending, "registration-timeout", disconnect=True)
    assert h.core.fingerprint_of_conn(registered) is not None


def test_registration_timeout_fires_once(h: Harness) -> None:
    """After refusing a silent connection, the core must not refuse it again on every tick.

    The server schedules the next tick at `next_deadline()`: a deadline that stays in the
    past makes the relay spin, re-sending Error + Disconnect until the QUIC close completes.
    """
    start = h.now
    pending = h.open()
    only_error(h.core.tick(start + 10.0), pending, "registration-timeout", disconnect=True)
    assert h.core.tick(start + 10.5) == []
    deadline = h.core.next_deadline()
    assert deadline is None or deadline > start + 10.5


def test_registration_replaces_older_connection(h: Harness) -> None:
    me = Identity.generate()
    watcher = h.user()
    old = h.user(me)
    new = h.open()
    actions = h.recv(new, h.register_msg(new, me, alias=f"user{old}"))  # same name: no news
    assert sends_of(actions, m.Replaced, old)
    assert disconnects(actions) == {old}
    assert sends_of(actions, m.Registered, new)
    assert not sends_of(h.settle(), m.PresenceDelta, watcher)  # the user never went offline
    assert h.core.fingerprint_of_conn(old) is None
    assert h.core.fingerprint_of_conn(new) == me.fingerprint

    # The older connection finally closes: that must not take the newer one offline.
    closed = h.core.connection_closed(old, h.now)
    assert not sends_of(closed + h.settle(), m.PresenceDelta), closed
    assert h.core.users_online == 2
    h.ids[new] = me
    _, offer = h.offer(watcher, me.fingerprint)
    assert sends_of(offer, m.CallIncoming, new), offer


def test_replaced_connection_ends_its_calls_as_if_it_went_offline(h: Harness) -> None:
    """The other party's old session is gone, exactly as if its connection dropped; "Replaced" would
    tell the peer that *its own* identity signed in elsewhere."""
    me = Identity.generate()
    old, peer = h.user(me), h.user()
    call_id = h.active_call(peer, old)
    new = h.open()
    actions = h.recv(new, h.register_msg(new, me))
    assert sends_of(actions, m.Hangup, peer) == [m.Hangup(call_id=call_id, reason="Offline")]
    assert RoomClosed(call_id) in actions
    assert h.core.calls == {}


def test_replaced_old_connection_is_not_refused_again_by_tick(h: Harness) -> None:
    """A replaced connection loses its fingerprint; once older than the registration timeout,
    the tick must not treat it as a silent unregistered connection (Error + Disconnect on
    every tick, with `next_deadline()` stuck in the past)."""
    me = Identity.generate()
    old = h.user(me)
    h.now += 60.0
    new = h.open()
    h.recv(new, h.register_msg(new, me, alias=f"user{old}"))
    assert h.settle() == []
    deadline = h.core.next_deadline()
    assert deadline is None or deadline > h.now


# ------------------------------------------------------------- presence, reflect


def test_presence_list_and_batched_deltas(h: Harness) -> None:
    a = h.user()
    b_id = Identity.generate()
    b_conn = h.open()
    actions = h.recv(b_conn, h.register_msg(b_conn, b_id, alias="Bee"))
    h.ids[b_conn] = b_id
    assert not sends_of(actions, m.PresenceDelta)  # batched: nothing goes out per login
    hidden_id = Identity.generate()
    hidden = h.open()
    h.recv(hidden, h.register_msg(hidden, hidden_id, discoverable=False))
    h.ids[hidden] = hidden_id
    assert h.core.next_deadline() == pytest.approx(h.now + h.core.limits.presence_batch_interval)
    batch = h.settle()
    came = m.PresenceDelta(changes=[m.PresenceChange(fingerprint=b_id.fingerprint, alias="Bee", online=True)])
    # One delta per registered user (hidden users hear about others too); hidden users are not in it.
    assert {a.conn: a.message for a in batch if isinstance(a, Send)} == {a: came, b_conn: came, hidden: came}

    (listing,) = sends_of(h.recv(a, m.PresenceQuery(request_id=9)), m.PresenceList, a)
    assert listing.request_id == 9 and not listing.more
    assert {u.fingerprint for u in listing.users} == {h.fp(a), b_id.fingerprint}
    assert m.PresenceEntry(fingerprint=b_id.fingerprint, alias="Bee") in listing.users

    closed = h.core.connection_closed(b_conn, h.now)
    assert not sends_of(closed, m.PresenceDelta)
    gone = m.PresenceDelta(changes=[m.PresenceChange(fingerprint=b_id.fingerprint, alias="Bee", online=False)])
    assert sends_of(h.settle(), m.PresenceDelta, hidden) == [gone]
    # A hidden user's going offline is nobody's news.
    h.core.connection_closed(hidden, h.now)
    assert h.settle() == []
    (listing,) = sends_of(h.recv(a, m.PresenceQuery()), m.PresenceList, a)
    assert [u.fingerprint for u in listing.users] == [h.fp(a)]


def test_presence_batch_coalesces_many_logins_into_one_message_per_user(h: Harness) -> None:
    watcher = h.user()
    joined = [h.open() for _ in range(250)]
    for conn in joined:
        assert not sends_of(h.recv(conn, h.register_msg(conn, Identity.generate())), m.PresenceDelta)
    batch = h.settle()
    to_watcher = sends_of(batch, m.PresenceDelta, watcher)
    # 250 logins reach the watcher as 3 messages (pages of 100), not 250.
    assert [len(d.changes) for d in to_watcher] == [100, 100, 50]
    assert len(sends_of(batch, m.PresenceDelta)) == 3 * 251
    # Every page fits a frame with room to spare, even with the longest aliases allowed.
    worst = m.PresenceDelta(
        changes=[m.PresenceChange(fingerprint=h.fp(watcher), alias="\U0001f600" * m.MAX_ALIAS_LEN, online=True)]
        * m.MAX_PRESENCE_PAGE
    )
    assert len(encode_message(worst)) < 48 * 1024


def test_a_flood_of_logins_becomes_one_resync_per_user(h: Harness) -> None:
    """A relay restart: thousands log in within one batch. Pages of deltas to everyone would fill
    every slow reader's send buffer (512 KiB); one small resync each, and clients fetch pages."""
    watcher = h.user()
    joined = [h.open() for _ in range(PRESENCE_RESYNC_ABOVE + 1)]
    for conn in joined:
        h.recv(conn, h.register_msg(conn, Identity.generate()))
    batch = h.settle()
    assert sends_of(batch, m.PresenceDelta, watcher) == [m.PresenceDelta(resync=True)]
    assert len(batch) == len(joined) + 1  # one message per registered user, nothing else
    (page,) = sends_of(h.recv(watcher, m.PresenceQuery()), m.PresenceList)
    assert len(page.users) == m.MAX_PRESENCE_PAGE and page.more


def test_presence_pages_in_fingerprint_order(h: Harness) -> None:
    users = [h.user() for _ in range(230)]
    fps = sorted(h.fp(u) for u in users)
    pages: list[m.PresenceList] = []
    after = None
    while True:
        h.now += 1.0  # within the rate budget
        (page,) = sends_of(h.recv(users[0], m.PresenceQuery(after=after)), m.PresenceList)
        pages.append(page)
        if not page.more:
            break
        after = page.users[-1].fingerprint
    assert [len(p.users) for p in pages] == [100, 100, 30]
    assert [u.fingerprint for p in pages for u in p.users] == fps


def test_presence_queries_are_charged_by_page_size(h: Harness) -> None:
    user = h.user()
    for _ in range(50):
        h.user()
    # Small pages are cheap: a burst of 30 one-entry queries passes.
    for _ in range(30):
        assert sends_of(h.recv(user, m.PresenceQuery(limit=1)), m.PresenceList)
    h.now += 10.0  # bucket full again (60 tokens)
    # Full pages cost 1 + 100/20 = 6 tokens: the 11th in a burst is over budget.
    for _ in range(10):
        assert sends_of(h.recv(user, m.PresenceQuery()), m.PresenceList)
    only_error(h.recv(user, m.PresenceQuery()), user, "rate-limited", disconnect=True)


def test_presence_needs_registration(h: Harness) -> None:
    conn = h.open()
    only_error(h.recv(conn, m.PresenceQuery()), conn, "not-registered", disconnect=False)


def test_reflect_answers_the_observed_address_even_before_registration(h: Harness) -> None:
    conn = h.open()
    assert h.recv(conn, m.Reflect(request_id=77)) == [
        Send(conn, m.ReflectResponse(request_id=77, observed_addr=h.addr(conn)))
    ]
    user = h.user()
    assert sends_of(h.recv(user, m.Reflect(request_id=1)), m.ReflectResponse, user) == [
        m.ReflectResponse(request_id=1, observed_addr=h.addr(user))
    ]
    assert h.recv(user, m.Ping(nonce=5)) == [Send(user, m.Pong(nonce=5))]


# ------------------------------------------------------------------------ calls


def test_offer_rings_caller_and_callee_without_addresses(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id, actions = h.offer(a, h.fp(b), reflexive="192.0.2.99:5999", local=["10.9.9.9:5999"])
    assert sends(actions, a) == [m.CallRinging(call_id=call_id)]
    (incoming,) = sends(actions, b)
    assert isinstance(incoming, m.CallIncoming)
    assert incoming.caller_fingerprint == h.fp(a)
    assert incoming.caller_public_key == h.ids[a].public_key
    assert incoming.ephemeral_key == b"E" * 32 and incoming.key_signature == b"S" * 64
    wire = encode_message(incoming).decode()
    assert "192.0.2.99" not in wire and "10.9.9.9" not in wire
    assert not [f.name for f in msgspec.structs.fields(m.CallIncoming) if "addr" in f.name]
    assert h.core.calls == {call_id: CallState.RINGING}
    assert h.core.next_deadline() == pytest.approx(h.now + 45.0)


def test_offer_must_name_the_caller_itself(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    msg = m.DirectCallOffer(
        call_id=secrets.token_hex(16),
        caller_fingerprint=h.fp(c),
        target_fingerprint=h.fp(b),
        ephemeral_key=b"E" * 32,
        key_signature=b"S" * 64,
    )
    only_error(h.recv(a, msg), a, "bad-offer", disconnect=False)
    assert h.core.calls == {}


def test_answer_only_from_the_callee(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b))
    for intruder in (c, a):
        only_error(h.answer(intruder, call_id), intruder, "not-your-call", disconnect=False)
        assert h.core.calls == {call_id: CallState.RINGING}
    only_error(h.answer(c, call_id, "Reject"), c, "not-your-call", disconnect=False)
    actions = h.answer(b, call_id)
    assert len(sends_of(actions, m.CallSetup)) == 2
    assert h.core.calls == {call_id: CallState.ACTIVE}
    only_error(h.answer(b, call_id), b, "wrong-state", disconnect=False)


def test_reject_declines_to_the_caller(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b))
    actions = h.answer(b, call_id, "Reject")
    assert actions == [Send(a, m.Hangup(call_id=call_id, reason="Declined"))]
    assert h.core.calls == {}


def test_cancel_only_from_the_caller(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b))
    for intruder in (b, c):
        only_error(h.recv(intruder, m.CallCancel(call_id=call_id)), intruder, "not-your-call", disconnect=False)
    assert h.core.calls == {call_id: CallState.RINGING}
    actions = h.recv(a, m.CallCancel(call_id=call_id))
    hangup = m.Hangup(call_id=call_id, reason="Cancelled")
    assert sends(actions, b) == [hangup] and sends(actions, a) == [hangup]
    assert h.core.calls == {}


def test_cancel_of_an_active_call_is_refused(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id = h.active_call(a, b)
    only_error(h.recv(a, m.CallCancel(call_id=call_id)), a, "wrong-state", disconnect=False)
    assert h.core.calls == {call_id: CallState.ACTIVE}


def test_ring_timeout(h: Harness) -> None:
    a, b = h.user(), h.user()
    start = h.now
    call_id, _ = h.offer(a, h.fp(b))
    assert h.core.tick(start + 44.9) == []
    actions = h.core.tick(start + 45.0)
    timeout = m.Hangup(call_id=call_id, reason="Timeout")
    assert sends(actions, a) == [timeout] and sends(actions, b) == [timeout]
    assert h.core.calls == {} and h.core.next_deadline() is None


def test_busy_means_in_an_active_call(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    h.active_call(a, b)
    for target in (b, a):
        call_id, actions = h.offer(c, h.fp(target))
        assert actions == [Send(c, m.Hangup(call_id=call_id, reason="Busy"))]
    assert len(h.core.calls) == 1


def test_a_ringing_call_does_not_make_the_callee_busy_for_others(h: Harness) -> None:
    """A caller who re-offers after every decline must not keep the victim unreachable."""
    spammer, victim, friend = h.user(), h.user(), h.user()
    for _ in range(3):
        spam, _ = h.offer(spammer, h.fp(victim))
        call_id, actions = h.offer(friend, h.fp(victim))  # rings too: the victim can choose
        assert sends_of(actions, m.CallIncoming, victim) and not sends_of(actions, m.Hangup), actions
        h.answer(victim, spam, "Reject")
        h.recv(friend, m.CallCancel(call_id=call_id))
    # Accepting one call ends the others still ringing for the same user, with Busy.
    spam, _ = h.offer(spammer, h.fp(victim))
    call_id, _ = h.offer(friend, h.fp(victim))
    actions = h.answer(victim, call_id)
    assert sends_of(actions, m.Hangup, spammer) == [m.Hangup(call_id=spam, reason="Busy")]
    assert sends_of(actions, m.Hangup, victim) == [m.Hangup(call_id=spam, reason="Busy")]
    assert h.core.calls == {call_id: CallState.ACTIVE}


def test_offline_target_is_told_at_once(h: Harness) -> None:
    a = h.user()
    call_id, actions = h.offer(a, Identity.generate().fingerprint)
    assert actions == [Send(a, m.Hangup(call_id=call_id, reason="Offline"))]
    assert h.core.calls == {}


def test_calling_yourself_is_unavailable(h: Harness) -> None:
    a = h.user()
    call_id, actions = h.offer(a, h.fp(a))
    assert actions == [Send(a, m.Hangup(call_id=call_id, reason="Unavailable"))]


def test_hangup_ends_only_that_call(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    ab = h.active_call(a, b)
    ac = h.active_call(a, c)
    actions = h.recv(a, m.Hangup(call_id=ab, reason="Normal"))
    assert sends(actions, b) == [m.Hangup(call_id=ab, reason="Normal")]
    assert not sends(actions, a) and not sends(actions, c)
    assert RoomClosed(ab) in actions and RoomClosed(ac) not in actions
    assert h.core.calls == {ac: CallState.ACTIVE}
    # The callee may hang up too; a stranger may not.
    only_error(h.recv(b, m.Hangup(call_id=ac)), b, "not-your-call", disconnect=False)
    assert sends(h.recv(c, m.Hangup(call_id=ac)), a) == [m.Hangup(call_id=ac, reason="Normal")]
    assert h.core.calls == {}


def test_callee_hangup_while_ringing_is_declined(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b))
    assert h.recv(b, m.Hangup(call_id=call_id)) == [Send(a, m.Hangup(call_id=call_id, reason="Declined"))]


def test_connection_drop_ends_its_calls_and_tells_the_peers(h: Harness) -> None:
    a, b, c, d = h.user(), h.user(), h.user(), h.user()
    active = h.active_call(a, b)
    ringing, _ = h.offer(a, h.fp(c))  # a second call of a, still ringing at c
    other = h.active_call(d, h.user())
    actions = h.core.connection_closed(a, h.now)
    assert sends_of(actions, m.Hangup, b) == [m.Hangup(call_id=active, reason="Offline")]
    assert sends_of(actions, m.Hangup, c) == [m.Hangup(call_id=ringing, reason="Offline")]
    assert RoomClosed(active) in actions
    assert h.core.calls == {other: CallState.ACTIVE}
    assert sends_of(h.settle(), m.PresenceDelta, d) == [
        m.PresenceDelta(changes=[m.PresenceChange(fingerprint=h.fp(a), alias=f"user{a}", online=False)])
    ]
    assert h.core.connection_closed(a, h.now) == []  # closing twice is harmless


def test_accept_trusted_cross_wires_addresses_and_keys(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b), reflexive="192.0.2.10:5000", local=["10.1.1.1:5000"], ephemeral=b"A" * 32)
    actions = h.answer(b, call_id, reflexive="192.0.2.20:6000", local=["10.2.2.2:6000"], ephemeral=b"B" * 32)
    (to_a,) = sends_of(actions, m.CallSetup, a)
    (to_b,) = sends_of(actions, m.CallSetup, b)
    assert (to_a.role, to_b.role) == ("caller", "callee")
    assert to_a.peer_fingerprint == h.fp(b) and to_b.peer_fingerprint == h.fp(a)
    assert to_a.peer_public_key == h.ids[b].public_key and to_b.peer_public_key == h.ids[a].public_key
    assert (to_a.peer_direct_addr, to_a.peer_local_addrs) == ("192.0.2.20:6000", ["10.2.2.2:6000"])
    assert (to_b.peer_direct_addr, to_b.peer_local_addrs) == ("192.0.2.10:5000", ["10.1.1.1:5000"])
    assert to_a.peer_ephemeral_key == b"B" * 32 and to_b.peer_ephemeral_key == b"A" * 32
    assert to_a.peer_key_signature == b"T" * 64 and to_b.peer_key_signature == b"S" * 64
    assert to_a.relay_addr == to_b.relay_addr == MEDIA_ADDR
    assert to_a.accept_mode == to_b.accept_mode == "AcceptTrusted"
    assert RoomOpened(call_id, h.fp(a), h.fp(b)) in actions


def test_accept_trusted_without_reflexive_uses_the_observed_addresses(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b), reflexive=None)
    actions = h.answer(b, call_id, reflexive=None)
    assert sends_of(actions, m.CallSetup, a)[0].peer_direct_addr == h.addr(b)
    assert sends_of(actions, m.CallSetup, b)[0].peer_direct_addr == h.addr(a)


def test_accept_generic_reveals_no_addresses(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id, _ = h.offer(a, h.fp(b), reflexive="192.0.2.10:5000", local=["10.1.1.1:5000"])
    actions = h.answer(b, call_id, "AcceptGeneric", reflexive="192.0.2.20:6000", local=["10.2.2.2:6000"])
    setups = sends_of(actions, m.CallSetup)
    assert len(setups) == 2
    for setup in setups:
        assert setup.accept_mode == "AcceptGeneric"
        assert setup.peer_direct_addr is None and setup.peer_local_addrs == []
        assert setup.relay_addr == MEDIA_ADDR
        wire = encode_message(setup).decode()
        assert "192.0.2." not in wire and "10.1.1.1" not in wire and "10.2.2.2" not in wire


def test_punch_ready_and_path_reports_go_to_the_peer_of_an_active_call_only(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    ringing, _ = h.offer(a, h.fp(b))
    only_error(h.recv(a, m.PunchReady(call_id=ringing)), a, "not-your-call", disconnect=False)
    h.answer(b, ringing)
    assert h.recv(a, m.PunchReady(call_id=ringing)) == [Send(b, m.PunchReady(call_id=ringing))]
    report = m.MediaPathReport(call_id=ringing, direct_ok=False, race_winner="relay")
    assert h.recv(b, report) == [Send(a, report)]
    only_error(h.recv(c, report), c, "not-your-call", disconnect=False)


# ------------------------------------------------------------------ media join


def test_media_join_by_a_party_of_an_active_call(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id = h.active_call(a, b)
    for party in (a, b):
        media = h.open()
        actions = h.media_join(media, call_id, h.ids[party])
        assert actions == [
            Send(media, m.MediaJoined(call_id=call_id)),
            JoinRoom(media, call_id, h.fp(party)),
        ]
        # A media connection carries only datagrams from now on, and never times out.
        only_error(h.recv(media, m.PresenceQuery()), media, "media-connection", disconnect=False)
        assert h.core.tick(h.now + 3600) == []


def test_media_join_with_a_bad_signature_is_refused(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id = h.active_call(a, b)
    media = h.open()
    only_error(
        h.media_join(media, call_id, h.ids[a], signer=Identity.generate()), media, "bad-signature", disconnect=True
    )


def test_media_join_with_another_connections_nonce_is_refused(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id = h.active_call(a, b)
    m1, m2 = h.open(), h.open()
    only_error(h.media_join(m2, call_id, h.ids[a], nonce=h.nonces[m1]), m2, "bad-signature", disconnect=True)


def test_media_join_by_a_stranger_is_refused(h: Harness) -> None:
    a, b, c = h.user(), h.user(), h.user()
    call_id = h.active_call(a, b)
    media = h.open()
    only_error(h.media_join(media, call_id, h.ids[c]), media, "not-your-call", disconnect=True)


def test_media_join_only_for_active_calls(h: Harness) -> None:
    a, b = h.user(), h.user()
    ringing, _ = h.offer(a, h.fp(b))
    media = h.open()
    only_error(h.media_join(media, ringing, h.ids[a]), media, "no-call", disconnect=True)
    media = h.open()
    only_error(h.media_join(media, secrets.token_hex(16), h.ids[a]), media, "no-call", disconnect=True)
    h.recv(a, m.CallCancel(call_id=ringing))
    # A call that has ended is no longer joinable.
    call_id = h.active_call(a, b)
    h.recv(a, m.Hangup(call_id=call_id))
    media = h.open()
    only_error(h.media_join(media, call_id, h.ids[a]), media, "no-call", disconnect=True)


def test_media_join_on_the_signal_connection_is_refused(h: Harness) -> None:
    a, b = h.user(), h.user()
    call_id = h.active_call(a, b)
    only_error(h.media_join(a, call_id, h.ids[a]), a, "wrong-connection", disconnect=False)
    assert h.core.calls == {call_id: CallState.ACTIVE}


def test_unregistered_connection_cannot_call(h: Harness) -> None:
    conn = h.open()
    b = h.user()
    msg = m.DirectCallOffer(
        call_id=secrets.token_hex(16),
        caller_fingerprint=h.fp(b),
        target_fingerprint=h.fp(b),
        ephemeral_key=b"E" * 32,
        key_signature=b"S" * 64,
    )
    only_error(h.recv(conn, msg), conn, "not-registered", disconnect=False)
    assert h.core.calls == {}


# ----------------------------------------------------------------------- limits


def test_rate_limit_disconnects_only_the_flooder() -> None:
    h = Harness(RelayLimits(messages_per_second=2.0, message_burst=5))
    flooder, calm = h.user(), h.user()  # registering took one token of each
    for i in range(4):
        assert h.recv(flooder, m.Ping(nonce=i)) == [Send(flooder, m.Pong(nonce=i))]
    only_error(h.recv(flooder, m.Ping(nonce=99)), flooder, "rate-limited", disconnect=True)
    assert h.recv(calm, m.Ping(nonce=1)) == [Send(calm, m.Pong(nonce=1))]
    # Undecodable frames count too.
    for _ in range(3):
        assert sends_of(h.core.bad_message(calm, "garbage", h.now), m.Error, calm)[0].code == "bad-message"
    only_error(h.core.bad_message(calm, "garbage", h.now), calm, "rate-limited", disconnect=True)


def test_rate_limit_refills_over_time() -> None:
    h = Harness(RelayLimits(messages_per_second=2.0, message_burst=3))
    conn = h.user()
    h.recv(conn, m.Ping(nonce=1))
    h.recv(conn, m.Ping(nonce=2))
    h.now += 1.0  # two tokens back
    assert h.recv(conn, m.Ping(nonce=3)) == [Send(conn, m.Pong(nonce=3))]
    assert h.recv(conn, m.Ping(nonce=4)) == [Send(conn, m.Pong(nonce=4))]
    only_error(h.recv(conn, m.Ping(nonce=5)), conn, "rate-limited", disconnect=True)


def test_connections_per_ip() -> None:
    h = Harness(RelayLimits(connections_per_ip=2))
    first = h.open(ip="192.0.2.1")
    h.open(ip="192.0.2.1")
    refused = h.core.connection_opened(50, "192.0.2.1:9", "192.0.2.1", h.now)
    assert disconnects(refused) == {50} and not sends(refused)
    assert h.core.connection_count() == 2
    h.open(ip="192.0.2.2")  # another address is fine
    assert h.core.connection_closed(50, h.now) == []  # the refused one was never counted
    h.core.connection_closed(first, h.now)
    h.open(ip="192.0.2.1")  # a slot freed up
    assert h.core.connection_count() == 3


def test_calls_per_user() -> None:
    h = Harness(RelayLimits(calls_per_user=2))
    a = h.user()
    callees = [h.user() for _ in range(3)]
    h.offer(a, h.fp(callees[0]))
    h.active_call(a, callees[1])
    call_id, actions = h.offer(a, h.fp(callees[2]))
    assert actions == [Send(a, m.Hangup(call_id=call_id, reason="LimitExceeded"))]
    assert len(h.core.calls) == 2


def test_max_users_and_connections() -> None:
    h = Harness(RelayLimits(max_users=1, max_connections=3))
    h.user()
    conn = h.open()
    only_error(h.recv(conn, h.register_msg(conn, Identity.generate())), conn, "relay-full", disconnect=True)
    h.open()
    full = h.core.connection_opened(99, "192.0.2.9:9", "192.0.2.9", h.now)
    assert disconnects(full) == {99}
