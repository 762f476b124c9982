"""One relay service across processes: the cluster logic, sans-IO.

`ClusterCore` wraps a node's `RelayCore` and has the same interface towards
`RelayServer` (connection events and messages in, actions out), plus
`cluster_received(data, now)` for messages from the other nodes. It returns the
core's actions and `Publish(subject, envelope)` actions that `app.relay.cluster`
sends over NATS. RelayCore stays the single source of the rules:

* **A call lives on the callee's node.** An offer from a local caller to a user
  of another node is checked by this node's rate limit and sent to the callee's
  node, which opens a *remote party* connection (`ConnId` < 0) for the caller and
  runs the call in its own core exactly as for a local caller: ring timeout,
  busy, decline, cancel, hangup, answer. Whatever that core sends to the remote
  party comes back here (`deliver`) and goes to the caller's connection; the
  caller's later messages about the call (cancel, hangup, punch-ready, path
  report) are forwarded there (`msg`). The media room is the callee node's, so
  `CallSetup.relay_addr` is its media address for both parties: media never
  crosses NATS.
* **Busy** = in an active call. A caller whose call is hosted elsewhere is busy
  here through `RelayCore.busy_elsewhere`.
* **Presence**: every node broadcasts its users' joins and leaves (numbered
  deltas, hidden users included, so they can be called) and a heartbeat with
  its last number. A receiver that misses a number, meets a new node or a new
  incarnation (epoch) asks that node for a snapshot. A node not heard from for
  `expiry` seconds is gone: its users go offline, calls with it end as if its
  users' connections dropped ("Offline"). A node that stops cleanly says `bye`.
* A user registering on a node replaces their registration on any other node
  (newest wins, as on one relay).
* **An offer to a user no node knows** waits up to `unknown_callee_grace` for
  their presence (a user who registered elsewhere a moment ago is callable at
  once, as on one relay: the presence delta may still be on its way); then the
  core answers as on one relay (Offline). A lone node answers at once.

Subjects (under a service prefix, default "wzp"):
  `<prefix>.presence`          broadcast: hb, pres, bye
  `<prefix>.node.<name>`       directed: sync_req, sync, offer, msg, closed, deliver, disconnect
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

import msgspec

from app.identity import fingerprint_of
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.protocol.codec import decode_message, encode_message
from app.relay.relay_core import PEER_REPLACED_REASON, Action, ConnId, Disconnect, RelayCore, Send

log = logging.getLogger(__name__)

PROTOCOL = 1
NODE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9_-]{1,32}){0,3}$")

#: A user as nodes tell each other: [fingerprint, alias, listed (discoverable), online]
UserEntry = tuple[str, str, bool, bool]


class Envelope(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=False):
    """Every message between nodes (JSON). `node`/`epoch` name the sender's process."""

    k: str
    node: str
    epoch: str
    v: int = PROTOCOL
    to_epoch: str = ""  # directed messages: the receiver's epoch, so a restarted node ignores old ones
    ver: int = 0  # presence version (hb, pres, sync)
    users: list[UserEntry] = []
    page: int = 0
    last: bool = False
    conn: int = 0  # the origin node's connection id of a call's caller
    fingerprint: str = ""
    alias: str = ""
    public_key: bytes = b""
    observed_addr: str = ""
    reason: str = ""
    msg: msgspec.Raw = msgspec.Raw()  # an app.protocol message, as on the wire (empty: none)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode_envelope(env: Envelope) -> bytes:
    return _encoder.encode(env)


@dataclass(frozen=True)
class Publish:
    subject: str
    envelope: Envelope


@dataclass(frozen=True)
class ClusterTimings:
    heartbeat: float = 1.0  # a node's heartbeat period
    expiry: float = 4.0  # a node not heard from this long is gone
    offer_reply_timeout: float = 5.0  # a routed offer with no word from the callee's node ends as Offline
    # An offer to a user no node knows waits this long for their presence before the core answers
    # (Offline): a user who registered on another node a moment ago is callable, as on one relay.
    unknown_callee_grace: float = 0.5
    held_per_conn: int = 4  # offers one connection may have waiting; beyond, the core answers at once
    sync_retry: float = 2.0  # a snapshot request unanswered this long is asked again
    sync_page: int = 500  # users per snapshot message


@dataclass
class _Node:
    name: str
    epoch: str
    expires_at: float
    version: int = -1  # the presence version applied; -1: no snapshot yet
    syncing: bool = False
    sync_pages: list[UserEntry] = field(default_factory=list)
    sync_next_page: int = 0
    buffered: list[Envelope] = field(default_factory=list)  # deltas that came during a snapshot
    users: dict[str, tuple[str, bool]] = field(default_factory=dict)  # fingerprint -> (alias, listed)


@dataclass
class _Held:
    """A local caller's offer to a user no node knows yet, waiting for their presence."""

    conn: ConnId
    offer: m.DirectCallOffer


@dataclass
class _Proxy:
    """A call of a local caller, hosted on another node."""

    call_id: str
    node: str
    epoch: str
    conn: ConnId
    fingerprint: str
    replied: bool = False
    active: bool = False


Origin = tuple[str, str, int]  # (node, epoch, conn) of a remote caller's connection


class ClusterCore:
    def __init__(
        self,
        inner: RelayCore,
        *,
        node: str,
        prefix: str = "wzp",
        epoch: str | None = None,
        timings: ClusterTimings | None = None,
    ) -> None:
        if not NODE_NAME.match(node):
            raise ValueError(f"node name {node!r}: use 1-64 letters, digits, '-' or '_'")
        if not PREFIX.match(prefix):
            raise ValueError(f"subject prefix {prefix!r}: use letters, digits, '-', '_' and dots")
        self.inner = inner
        self.node = node
        self.prefix = prefix
        self.epoch = epoch or secrets.token_hex(8)
        self.timings = timings or ClusterTimings()
        self._nodes: dict[str, _Node] = {}
        self._route: dict[str, str] = {}  # fingerprint of a user on another node -> node name
        self._version = 0
        self._proxies: dict[str, _Proxy] = {}
        self._proxies_of_conn: dict[ConnId, set[str]] = {}
        self._vconns: dict[Origin, ConnId] = {}
        self._origin_of: dict[ConnId, Origin] = {}
        self._vconn_ids = itertools.count(-1, -1)
        self._busy: dict[str, int] = {}  # local fingerprint -> active calls hosted elsewhere
        self._held: dict[str, _Held] = {}  # call_id -> an offer waiting for its callee's presence
        self._held_for: dict[str, list[str]] = {}  # callee fingerprint -> call_ids held for them
        self._deadlines: list[tuple[float, int, str, Any]] = []
        self._seq = itertools.count()
        self._started = False
        inner.busy_elsewhere = lambda fingerprint: self._busy.get(fingerprint, 0) > 0

    # ------------------------------------------------------------------ queries

    @property
    def presence_subject(self) -> str:
        return f"{self.prefix}.presence"

    def node_subject(self, name: str) -> str:
        return f"{self.prefix}.node.{name}"

    @property
    def subjects(self) -> list[str]:
        """What this node subscribes to."""
        return [self.presence_subject, self.node_subject(self.node)]

    @property
    def nodes(self) -> dict[str, int]:
        """Live other nodes -> how many users each has."""
        return {name: len(n.users) for name, n in self._nodes.items()}

    def node_of(self, fingerprint: str) -> str | None:
        """Where a user is registered: this node's name, another's, or None."""
        if self.inner.user_info(fingerprint) is not None:
            return self.node
        return self._route.get(fingerprint)

    def __getattr__(self, name: str) -> Any:  # the rest of RelayCore's queries (media_addr, calls, ...)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def next_deadline(self) -> float | None:
        while self._deadlines and self._stale(self._deadlines[0]):
            heapq.heappop(self._deadlines)
        own = self._deadlines[0][0] if self._deadlines else None
        inner = self.inner.next_deadline()
        if own is None or (inner is not None and inner < own):
            return inner
        return own

    def _stale(self, entry: tuple[float, int, str, Any]) -> bool:
        _, _, kind, key = entry
        if kind == "hb":
            return not self._started
        if kind == "reply":
            proxy = self._proxies.get(key)
            return proxy is None or proxy.replied
        if kind == "held":
            return key not in self._held
        name, epoch = key
        node = self._nodes.get(name)
        if node is None or node.epoch != epoch:
            return True
        return kind == "sync" and not node.syncing

    def _add_deadline(self, when: float, kind: str, key: Any) -> None:
        heapq.heappush(self._deadlines, (when, next(self._seq), kind, key))

    # ------------------------------------------------------- node life (I/O side)

    def start(self, now: float) -> list[Action | Publish]:
        """The first heartbeat; then one every `timings.heartbeat`."""
        self._started = True
        self._add_deadline(now + self.timings.heartbeat, "hb", None)
        log.info("cluster node started node=%s epoch=%s prefix=%s", self.node, self.epoch, self.prefix)
        return [self._heartbeat()]

    def stop(self) -> list[Action | Publish]:
        """Say goodbye: the others drop this node's users and calls at once instead of at expiry."""
        self._started = False
        return [Publish(self.presence_subject, self._env("bye"))]

    def _env(self, kind: str, **fields: Any) -> Envelope:
        return Envelope(k=kind, node=self.node, epoch=self.epoch, **fields)

    def _heartbeat(self) -> Publish:
        return Publish(self.presence_subject, self._env("hb", ver=self._version))

    def _to(self, name: str, epoch: str, kind: str, **fields: Any) -> Publish:
        return Publish(self.node_subject(name), self._env(kind, to_epoch=epoch, **fields))

    # --------------------------------------------------- RelayServer's interface

    def connection_opened(self, conn: ConnId, observed_addr: str, ip: str, now: float) -> list[Action | Publish]:
        return self._out(self.inner.connection_opened(conn, observed_addr, ip, now), now)

    def connection_closed(self, conn: ConnId, now: float) -> list[Action | Publish]:
        for call_id in [cid for cid, held in self._held.items() if held.conn == conn]:
            self._unhold(call_id)  # the caller is gone: nobody to ring for
        fingerprint = self.inner.fingerprint_of_conn(conn)
        out = self._out(self.inner.connection_closed(conn, now), now)
        out += self._local_conn_gone(conn, "Offline")
        if fingerprint is not None and self.inner.user_info(fingerprint) is None:
            out.append(self._presence([(fingerprint, "", False, False)]))
        return out

    def bad_message(self, conn: ConnId, error: str, now: float) -> list[Action | Publish]:
        return self._out(self.inner.bad_message(conn, error, now), now)

    def message_received(self, conn: ConnId, msg: m.Message, now: float) -> list[Action | Publish]:
        info = self.inner.party_info(conn)
        if info is not None and not self.inner.is_media_connection(conn):
            routed = self._route_out(conn, info, msg, now)
            if routed is not None:
                return routed
        return self._out(self.inner.message_received(conn, msg, now), now)

    def tick(self, now: float) -> list[Action | Publish]:
        out = self._out(self.inner.tick(now), now)
        while self._deadlines and self._deadlines[0][0] <= now:
            entry = heapq.heappop(self._deadlines)
            if self._stale(entry):
                continue
            _, _, kind, key = entry
            if kind == "hb":
                out.append(self._heartbeat())
                self._add_deadline(now + self.timings.heartbeat, "hb", None)
            elif kind == "reply":
                proxy = self._proxies[key]
                log.warning("routed offer unanswered call_id=%s node=%s", proxy.call_id, proxy.node)
                self._drop_proxy(proxy)
                out.append(Send(proxy.conn, m.Hangup(call_id=proxy.call_id, reason="Offline")))
                out.append(self._forward(proxy, m.CallCancel(call_id=proxy.call_id)))
            elif kind == "held":
                out += self._release([key], now)  # still unknown: the core answers (Offline)
            elif kind == "sync":
                out.append(self._sync_request(self._nodes[key[0]], now))
            else:  # expire
                node = self._nodes[key[0]]
                if node.expires_at > now:
                    self._add_deadline(node.expires_at, "expire", key)
                else:
                    out += self._node_gone(node, now, "expired")
        return out

    # -------------------------------------------------------- local -> cluster

    def _route_out(
        self, conn: ConnId, info: tuple[str, str, bytes, str], msg: m.Message, now: float, hold: bool = True
    ) -> list[Action | Publish] | None:
        """A registered local user's message that another node must handle, or None for the core."""
        fingerprint, alias, public_key, observed = info
        if isinstance(msg, m.DirectCallOffer):
            target = msg.target_fingerprint
            name = self._route.get(target)
            if name is None and hold and self._may_hold(conn, fingerprint, msg):
                self._held[msg.call_id] = _Held(conn, msg)
                self._held_for.setdefault(target, []).append(msg.call_id)
                self._add_deadline(now + self.timings.unknown_callee_grace, "held", msg.call_id)
                log.debug("offer held for presence call_id=%s callee=%s", msg.call_id, target)
                return []
            if (
                name is None
                or self.inner.user_info(target) is not None
                or msg.caller_fingerprint != fingerprint
                or msg.call_id in self._proxies
                or target == fingerprint
            ):
                return None  # local, unknown or not right: the core answers as on one relay
            refused = self.inner.admit(conn, now)
            if refused is not None:
                return self._out(refused, now)
            node = self._nodes[name]
            proxy = _Proxy(msg.call_id, name, node.epoch, conn, fingerprint)
            self._proxies[proxy.call_id] = proxy
            self._proxies_of_conn.setdefault(conn, set()).add(proxy.call_id)
            self._add_deadline(now + self.timings.offer_reply_timeout, "reply", proxy.call_id)
            log.info("call routed call_id=%s caller=%s callee=%s node=%s", msg.call_id, fingerprint, target, name)
            return [
                self._to(
                    name,
                    node.epoch,
                    "offer",
                    conn=conn,
                    fingerprint=fingerprint,
                    alias=alias,
                    public_key=public_key,
                    observed_addr=observed,
                    msg=msgspec.Raw(encode_message(msg)),
                )
            ]
        if isinstance(msg, m.CallCancel | m.Hangup) and msg.call_id in self._held:
            if self._held[msg.call_id].conn != conn:
                return None
            # Cancelled while no node knew the callee: the offer is answered now, then the cancel, as on one relay.
            return self._release([msg.call_id], now) + self._out(self.inner.message_received(conn, msg, now), now)
        if isinstance(msg, m.CallCancel | m.Hangup | m.PunchReady | m.MediaPathReport | m.DirectCallAnswer):
            proxy = self._proxies.get(msg.call_id)
            if proxy is None or proxy.conn != conn:
                return None
            refused = self.inner.admit(conn, now)
            if refused is not None:
                return self._out(refused, now)
            if isinstance(msg, m.Hangup):
                self._drop_proxy(proxy)  # over for the caller; the callee's node tells only the callee
            return [self._forward(proxy, msg)]
        return None

    def _may_hold(self, conn: ConnId, fingerprint: str, msg: m.DirectCallOffer) -> bool:
        """Whether an offer to a user unknown here waits for their presence from another node."""
        return (
            bool(self._nodes)  # no other node: one relay's answer, at once
            and self.inner.user_info(msg.target_fingerprint) is None
            and msg.caller_fingerprint == fingerprint
            and msg.target_fingerprint != fingerprint
            and msg.call_id not in self._held
            and msg.call_id not in self._proxies
            and sum(1 for held in self._held.values() if held.conn == conn) < self.timings.held_per_conn
        )

    def _unhold(self, call_id: str) -> _Held | None:
        held = self._held.pop(call_id, None)
        if held is not None:
            ids = self._held_for.get(held.offer.target_fingerprint, [])
            if call_id in ids:
                ids.remove(call_id)
            if not ids:
                self._held_for.pop(held.offer.target_fingerprint, None)
        return held

    def _release(self, call_ids: list[str], now: float) -> list[Action | Publish]:
        """Held offers handled now: routed to the callee's node if it is known by now, else by the core."""
        out: list[Action | Publish] = []
        for call_id in call_ids:
            held = self._unhold(call_id)
            if held is None:
                continue
            info = self.inner.party_info(held.conn)
            routed = self._route_out(held.conn, info, held.offer, now, hold=False) if info is not None else None
            if routed is None:
                routed = self._out(self.inner.message_received(held.conn, held.offer, now), now)
            out += routed
        return out

    def _forward(self, proxy: _Proxy, msg: m.Message) -> Publish:
        return self._to(proxy.node, proxy.epoch, "msg", conn=proxy.conn, msg=msgspec.Raw(encode_message(msg)))

    def _drop_proxy(self, proxy: _Proxy) -> None:
        if self._proxies.pop(proxy.call_id, None) is None:
            return
        ids = self._proxies_of_conn.get(proxy.conn)
        if ids is not None:
            ids.discard(proxy.call_id)
            if not ids:
                del self._proxies_of_conn[proxy.conn]
        if proxy.active:
            self._busy[proxy.fingerprint] -= 1
            if not self._busy[proxy.fingerprint]:
                del self._busy[proxy.fingerprint]

    def _local_conn_gone(self, conn: ConnId, reason: str) -> list[Action | Publish]:
        """A local caller's connection closed or was replaced: its calls elsewhere end like a drop."""
        out: list[Action | Publish] = []
        told: set[tuple[str, str]] = set()
        for cid in list(self._proxies_of_conn.get(conn, ())):
            proxy = self._proxies[cid]
            self._drop_proxy(proxy)
            if (proxy.node, proxy.epoch) not in told:
                told.add((proxy.node, proxy.epoch))
                out.append(self._to(proxy.node, proxy.epoch, "closed", conn=conn, reason=reason))
        return out

    def _presence(self, changes: list[UserEntry]) -> Publish:
        self._version += 1
        return Publish(self.presence_subject, self._env("pres", ver=self._version, users=changes))

    def _out(self, actions: list[Action], now: float) -> list[Action | Publish]:
        """The core's actions, with those for remote parties turned into messages to their nodes."""
        out: list[Action | Publish] = []
        touched: set[ConnId] = set()
        for action in actions:
            conn = getattr(action, "conn", None)
            if isinstance(action, Send | Disconnect) and conn is not None and conn < 0:
                touched.add(conn)
                origin = self._origin_of.get(conn)
                if origin is None:
                    continue
                name, epoch, origin_conn = origin
                if isinstance(action, Send):
                    raw = msgspec.Raw(encode_message(action.message))
                    out.append(self._to(name, epoch, "deliver", conn=origin_conn, msg=raw))
                else:
                    out.append(self._to(name, epoch, "disconnect", conn=origin_conn, reason=action.reason))
                continue
            out.append(action)
            if isinstance(action, Send) and isinstance(action.message, m.Registered):
                info = self.inner.user_info(action.message.fingerprint)
                if info is not None:
                    out.append(self._presence([(action.message.fingerprint, info[0], info[1], True)]))
                out += self._release(list(self._held_for.get(action.message.fingerprint, ())), now)
            elif isinstance(action, Send) and isinstance(action.message, m.Replaced):
                out += self._local_conn_gone(action.conn, PEER_REPLACED_REASON)
        for conn in touched:  # a remote party with no call left here is forgotten
            if conn in self._origin_of and not self.inner.has_calls(conn):
                out += self._close_vconn(conn, now, "Offline")
        return out

    def _close_vconn(self, conn: ConnId, now: float, reason: str) -> list[Action | Publish]:
        origin = self._origin_of.pop(conn, None)
        if origin is not None:
            self._vconns.pop(origin, None)
        return self._out(self.inner.connection_closed(conn, now, reason), now)

    # -------------------------------------------------------- cluster -> local

    def cluster_received(self, data: bytes, now: float) -> list[Action | Publish]:
        try:
            env = _decoder.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("cluster message dropped: undecodable (%s)", exc)
            return []
        if env.v != PROTOCOL:
            log.warning("cluster message dropped: protocol %d from node=%s", env.v, env.node)
            return []
        if env.node == self.node:
            if env.epoch != self.epoch:
                log.error("another process uses this node name node=%s epoch=%s", env.node, env.epoch)
            return []
        if env.to_epoch and env.to_epoch != self.epoch:
            log.debug("cluster message for an earlier incarnation dropped kind=%s from=%s", env.k, env.node)
            return []
        if not NODE_NAME.match(env.node):
            return []
        if env.k == "bye":
            node = self._nodes.get(env.node)
            return self._node_gone(node, now, "left") if node is not None and node.epoch == env.epoch else []
        out: list[Action | Publish] = []
        node = self._nodes.get(env.node)
        if node is None or node.epoch != env.epoch:
            if node is not None:
                out += self._node_gone(node, now, "restarted")
            node = _Node(env.node, env.epoch, now + self.timings.expiry)
            self._nodes[node.name] = node
            self._add_deadline(node.expires_at, "expire", (node.name, node.epoch))
            log.info("cluster node joined node=%s epoch=%s", node.name, node.epoch)
            out.append(self._sync_request(node, now))
            if self._started:
                out.append(self._heartbeat())  # so the newcomer learns of this node at once
        node.expires_at = now + self.timings.expiry
        handler = getattr(self, f"_on_{env.k}", None)
        if handler is None:
            log.warning("cluster message dropped: unknown kind=%s from=%s", env.k, env.node)
            return out
        try:
            return out + handler(node, env, now)
        except (ProtocolError, ValueError, KeyError) as exc:
            log.warning("cluster message dropped kind=%s from=%s: %s", env.k, env.node, exc)
            return out

    def _on_hb(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        if not node.syncing and env.ver != node.version:
            log.info("presence out of date node=%s have=%d theirs=%d", node.name, node.version, env.ver)
            return [self._sync_request(node, now)]
        return []

    def _on_pres(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        if node.syncing:
            node.buffered.append(env)
            return []
        if env.ver <= node.version:
            return []
        if env.ver != node.version + 1:
            return [self._sync_request(node, now)]
        node.version = env.ver
        out: list[Action | Publish] = []
        for fingerprint, alias, listed, online in env.users:
            out += self._user_on_node(node, fingerprint, alias, listed, online, live=True, now=now)
        return out

    def _sync_request(self, node: _Node, now: float) -> Publish:
        node.syncing = True
        node.sync_pages = []
        node.sync_next_page = 0
        self._add_deadline(now + self.timings.sync_retry, "sync", (node.name, node.epoch))
        return self._to(node.name, node.epoch, "sync_req")

    def _on_sync_req(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        users = [(fp, alias, listed, True) for fp, alias, listed in self.inner.local_users()]
        size = self.timings.sync_page
        pages = [users[i : i + size] for i in range(0, len(users), size)] or [[]]
        return [
            self._to(node.name, node.epoch, "sync", ver=self._version, page=i, last=i == len(pages) - 1, users=page)
            for i, page in enumerate(pages)
        ]

    def _on_sync(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        if not node.syncing:
            return []
        if env.page != node.sync_next_page:
            return [self._sync_request(node, now)]
        node.sync_pages += env.users
        node.sync_next_page += 1
        if not env.last:
            return []
        out: list[Action | Publish] = []
        now_there = {fp: (alias, listed) for fp, alias, listed, _ in node.sync_pages}
        for fp in [fp for fp in node.users if fp not in now_there]:
            out += self._user_on_node(node, fp, "", False, False, live=False, now=now)
        for fp, (alias, listed) in now_there.items():
            if node.users.get(fp) != (alias, listed):
                out += self._user_on_node(node, fp, alias, listed, True, live=False, now=now)
        node.version, node.syncing, node.sync_pages = env.ver, False, []
        buffered, node.buffered = node.buffered, []
        log.info("presence synced node=%s users=%d version=%d", node.name, len(node.users), node.version)
        for delta in sorted(buffered, key=lambda e: e.ver):
            out += self._on_pres(node, delta, now)
        return out

    def _user_on_node(
        self, node: _Node, fingerprint: str, alias: str, listed: bool, online: bool, *, live: bool, now: float
    ) -> list[Action | Publish]:
        out: list[Action | Publish] = []
        if online:
            node.users[fingerprint] = (alias, listed)
            self._route[fingerprint] = node.name
            self.inner.remote_presence(fingerprint, alias, online=listed, now=now)
            out += self._release(list(self._held_for.get(fingerprint, ())), now)
            if live and self.inner.user_info(fingerprint) is not None:
                # A newer registration elsewhere: this node's one gives way (newest wins).
                actions = self.inner.replaced_elsewhere(fingerprint, now)
                out += self._out(actions, now)
                out.append(self._presence([(fingerprint, "", False, False)]))
        else:
            node.users.pop(fingerprint, None)
            if self._route.get(fingerprint) == node.name:
                del self._route[fingerprint]
                self.inner.remote_presence(fingerprint, alias, online=False, now=now)
        return out

    def _node_gone(self, node: _Node, now: float, why: str) -> list[Action | Publish]:
        """A node expired, left or restarted: its users are offline, calls with them end."""
        self._nodes.pop(node.name, None)
        out: list[Action | Publish] = []
        for fp in list(node.users):
            out += self._user_on_node(node, fp, "", False, False, live=False, now=now)
        ended = 0
        for proxy in [p for p in self._proxies.values() if (p.node, p.epoch) == (node.name, node.epoch)]:
            self._drop_proxy(proxy)
            out.append(Send(proxy.conn, m.Hangup(call_id=proxy.call_id, reason="Offline")))
            ended += 1
        for conn in [c for c, o in self._origin_of.items() if o[:2] == (node.name, node.epoch)]:
            ended += 1
            out += self._close_vconn(conn, now, "Offline")
        log.warning("cluster node gone node=%s why=%s users=%d calls_ended=%d", node.name, why, len(node.users), ended)
        return out

    def _on_offer(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        if not env.msg or fingerprint_of(env.public_key) != env.fingerprint:
            raise ValueError("offer without a message or with a key that is not the caller's")
        offer = decode_message(bytes(env.msg))
        if not isinstance(offer, m.DirectCallOffer):
            raise ValueError(f"offer carries {type(offer).__name__}")
        origin = (node.name, node.epoch, env.conn)
        vconn = self._vconns.get(origin)
        if vconn is None:
            vconn = next(self._vconn_ids)
            self._vconns[origin] = vconn
            self._origin_of[vconn] = origin
            self.inner.remote_party_opened(vconn, env.fingerprint, env.alias, env.public_key, env.observed_addr, now)
        elif self.inner.fingerprint_of_conn(vconn) != env.fingerprint:
            raise ValueError("a connection changed its user")
        actions = self.inner.message_received(vconn, offer, now)
        if not any(isinstance(a, Send) and a.conn == vconn for a in actions):
            actions.append(Send(vconn, m.Hangup(call_id=offer.call_id, reason="Unavailable")))  # never silent
        return self._out(actions, now)

    def _on_msg(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        vconn = self._vconns.get((node.name, node.epoch, env.conn))
        if vconn is None or not env.msg:
            return []
        out = self._out(self.inner.message_received(vconn, decode_message(bytes(env.msg)), now), now)
        if vconn in self._origin_of and not self.inner.has_calls(vconn):
            out += self._close_vconn(vconn, now, "Offline")
        return out

    def _on_closed(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        vconn = self._vconns.get((node.name, node.epoch, env.conn))
        if vconn is None:
            return []
        reason = env.reason if env.reason in m.HANGUP_REASONS else "Offline"
        return self._close_vconn(vconn, now, reason)

    def _on_deliver(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        if not env.msg:
            return []
        msg = decode_message(bytes(env.msg))
        call_id = getattr(msg, "call_id", None)
        if call_id is None:  # an Error about a routed message: only to a caller with calls there
            ids = self._proxies_of_conn.get(env.conn, ())
            return [Send(env.conn, msg)] if any(self._proxies[c].node == node.name for c in ids) else []
        proxy = self._proxies.get(call_id)
        if proxy is None or proxy.conn != env.conn or (proxy.node, proxy.epoch) != (node.name, node.epoch):
            return []
        proxy.replied = True
        if isinstance(msg, m.CallSetup) and not proxy.active:
            proxy.active = True
            self._busy[proxy.fingerprint] = self._busy.get(proxy.fingerprint, 0) + 1
        elif isinstance(msg, m.Hangup):
            self._drop_proxy(proxy)
        return [Send(proxy.conn, msg)]

    def _on_disconnect(self, node: _Node, env: Envelope, now: float) -> list[Action | Publish]:
        if not any(self._proxies[c].node == node.name for c in self._proxies_of_conn.get(env.conn, ())):
            return []
        return [Disconnect(env.conn, env.reason[:200] or "refused by the relay")]
