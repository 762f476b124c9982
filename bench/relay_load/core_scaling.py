"""How the relay's per-event bookkeeping grows with the number of users (in-process, no network).

Drives the real `RelayCore` (sans-IO) and the real `QuicEndpoint._terminated` /
`MediaRoom.leave` loop of `RelayServer._connection_gone` with N users, and times
the operations the server runs on every message or every disconnect:

  next_deadline      RelayServer._apply -> _schedule_tick calls it after EVERY message
  offer              DirectCallOffer with N/2 calls active (_in_call and the per-user count scan all calls)
  register+presence  one more discoverable user: N PresenceUpdate sends (RelayCore part only)
  conn close rooms   RelayServer._connection_gone: MediaRoom.leave over every room
  endpoint cid scan  QuicEndpoint._terminated: scans the whole connection-ID table

Usage: python bench/relay_load/core_scaling.py [N ...]   (default 100 1000 10000)
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time

from app.identity import Identity
from app.net.endpoint import QuicEndpoint
from app.net.tls import make_certificate
from app.protocol import messages as m
from app.protocol.proofs import register_transcript
from app.relay.limits import RelayLimits
from app.relay.media_room import MediaRoom
from app.relay.relay_core import RelayCore, Send


class _FakeConn:
    """Stands in for a QuicPeerConnection (hashable by identity, as the real one)."""

    remote_addr = "192.0.2.1:4000"
    close_reason = ""

    def set_datagram_handler(self, handler: object) -> None:
        pass


CIDS_PER_CONNECTION = 8  # aioquic issues active_connection_id_limit (8) host CIDs per connection


def _timeit(fn, repeat: int) -> float:
    """Median microseconds per call."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return samples[len(samples) // 2]


def _register(core: RelayCore, conn: int, identity: Identity, discoverable: bool, now: float) -> list:
    ip = f"10.{conn // 60000}.{conn // 250 % 240}.{conn % 250}"
    (challenge,) = core.connection_opened(conn, f"{ip}:4000", ip, now)
    nonce = challenge.message.nonce
    msg = m.Register(
        public_key=identity.public_key,
        alias="u",
        nonce=nonce,
        signature=identity.sign(register_transcript(core.relay_fingerprint, nonce, identity.public_key)),
        discoverable=discoverable,
    )
    return core.message_received(conn, msg, now)


async def measure(n: int) -> dict[str, float]:
    limits = RelayLimits(max_users=10 * n + 10, max_calls=10 * n + 10, max_connections=20 * n + 10)
    relay = Identity.generate()
    core = RelayCore(relay_fingerprint=relay.fingerprint, media_addr="127.0.0.1:1", limits=limits)
    users = [Identity.generate() for _ in range(n)]
    for i, ident in enumerate(users):
        _register(core, i + 1, ident, discoverable=True, now=0.0)
    # n/2 active calls between pairs
    for i in range(0, n - 1, 2):
        cid = secrets.token_hex(16)
        offer = m.DirectCallOffer(
            call_id=cid,
            caller_fingerprint=users[i].fingerprint,
            target_fingerprint=users[i + 1].fingerprint,
            ephemeral_key=b"\x01" * 32,
            key_signature=b"\x02" * 64,
        )
        core.message_received(i + 1, offer, 0.0)
        core.message_received(i + 2, m.DirectCallAnswer(call_id=cid, accept_mode="AcceptGeneric"), 0.0)
    out: dict[str, float] = {}
    out["next_deadline"] = _timeit(core.next_deadline, 50)

    # an offer from a fresh pair of users while n/2 calls are active
    a, b = Identity.generate(), Identity.generate()
    _register(core, 10 * n + 1, a, discoverable=False, now=0.0)
    _register(core, 10 * n + 2, b, discoverable=False, now=0.0)

    def offer_and_cancel() -> None:
        cid = secrets.token_hex(16)
        core._on_offer(
            core._conns[10 * n + 1],
            m.DirectCallOffer(
                call_id=cid,
                caller_fingerprint=a.fingerprint,
                target_fingerprint=b.fingerprint,
                ephemeral_key=b"\x01" * 32,
                key_signature=b"\x02" * 64,
            ),
            0.0,
        )
        core._calls.pop(cid, None)

    out["offer"] = _timeit(offer_and_cancel, 50)

    # one more discoverable registration: the core's part of the presence fan-out
    extra = [Identity.generate() for _ in range(5)]
    conn_ids = iter(range(10 * n + 10, 10 * n + 20))
    samples = []
    for ident in extra:
        conn = next(conn_ids)
        t0 = time.perf_counter()
        actions = _register(core, conn, ident, discoverable=True, now=0.0)
        samples.append((time.perf_counter() - t0) * 1e6)
        assert sum(isinstance(x, Send) for x in actions) >= n
    out["register+presence"] = sorted(samples)[len(samples) // 2]
    out["presence sends"] = float(n)

    # RelayServer._connection_gone: `for room in list(self._rooms.values()): room.leave(peer.conn)`
    rooms = {f"{i:032x}": MediaRoom(f"{i:032x}", "a", "b") for i in range(n // 2)}
    gone = _FakeConn()

    def leave_all_rooms() -> None:
        for room in list(rooms.values()):
            room.leave(gone)

    out["conn close rooms"] = _timeit(leave_all_rooms, 20)

    # QuicEndpoint._terminated: `[c for c, p in self._by_cid.items() if p is conn]` over every CID
    endpoint = QuicEndpoint(make_certificate())
    conns = [_FakeConn() for _ in range(2 * n)]  # signal + media per user
    for conn in conns:
        for _ in range(CIDS_PER_CONNECTION):
            endpoint._by_cid[secrets.token_bytes(8)] = conn
    victim = _FakeConn()
    out["endpoint cid scan"] = _timeit(lambda: endpoint._terminated(victim), 20)
    return out


async def main(sizes: list[int]) -> None:
    rows = {n: await measure(n) for n in sizes}
    names = list(next(iter(rows.values())).keys())
    print("relay bookkeeping per event, median microseconds (N registered users, N/2 active calls)")
    print(f"  {'operation':<20}" + "".join(f"{'N=' + str(n):>12}" for n in sizes))
    for name in names:
        print(f"  {name:<20}" + "".join(f"{rows[n][name]:12.1f}" for n in sizes))


if __name__ == "__main__":
    asyncio.run(main([int(x) for x in sys.argv[1:]] or [100, 1000, 10000]))
