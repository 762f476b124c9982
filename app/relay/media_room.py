"""A call's media room on the relay: forwards QUIC datagrams between the two parties, unread.

Media is sealed end to end (ChaCha20-Poly1305 under keys only the two parties
hold), so the room forwards opaque bytes; it never parses them. A datagram the
other party's connection cannot carry in one packet is dropped (queued, it
would block every later one), and each connection's send queue is bounded
(`DATAGRAM_SEND_QUEUE_LIMIT`, oldest dropped), so a receiver that never
acknowledges cannot grow the relay's memory.
"""

from __future__ import annotations

import logging

from app.net import QuicPeerConnection
from app.protocol.close_codes import CALL_ENDED

log = logging.getLogger(__name__)

#: How long a member's ACK waits for a datagram forwarded to it (the other party sends every
#: 20 ms); within the max_ack_delay every endpoint advertises.
RELAY_ACK_DELAY_S = 0.025


class MediaRoom:
    def __init__(self, call_id: str, caller: str, callee: str) -> None:
        self.call_id = call_id
        self.parties = (caller, callee)
        self._conns: dict[str, QuicPeerConnection] = {}
        self.forwarded = 0
        self.dropped = 0
        #: Of `dropped`: bigger than the target connection can send in one packet.
        self.dropped_too_big = 0

    @property
    def members(self) -> dict[str, QuicPeerConnection]:
        return dict(self._conns)

    def join(self, fingerprint: str, conn: QuicPeerConnection) -> None:
        if fingerprint not in self.parties:
            raise ValueError("not a party of this call")
        old = self._conns.get(fingerprint)
        if old is not None and old is not conn:
            old.set_datagram_handler(None)
            old.close(reason_phrase="media rejoined from another connection")
        self._conns[fingerprint] = conn
        other = self.parties[1] if fingerprint == self.parties[0] else self.parties[0]
        conn.set_datagram_handler(lambda data, _at, to=other: self._forward(to, data))
        # The ACK of what this member sends rides with the next datagram forwarded to it (the other
        # party sends every 20 ms) instead of a packet of its own 1 ms later: half the packets out.
        conn.set_ack_delay(RELAY_ACK_DELAY_S)
        log.info("media room join call_id=%s party=%s remote=%s", self.call_id, fingerprint, conn.remote_addr)

    def _forward(self, to: str, data: bytes) -> None:
        target = self._conns.get(to)
        if target is None:
            self.dropped += 1  # the other party has not joined (yet): nothing to forward to
            return
        if len(data) > target.max_datagram_payload:
            self.dropped += 1
            self.dropped_too_big += 1
            if self.dropped_too_big & (self.dropped_too_big - 1) == 0:  # 1, 2, 4, ...: no log flood
                log.info(
                    "media datagram too big to forward call_id=%s size=%d max=%d count=%d",
                    self.call_id,
                    len(data),
                    target.max_datagram_payload,
                    self.dropped_too_big,
                )
            return
        if target.send_datagram(data):
            self.forwarded += 1
        else:
            self.dropped += 1  # the target connection is closing

    def leave(self, conn: QuicPeerConnection) -> None:
        for fingerprint, member in list(self._conns.items()):
            if member is conn:
                del self._conns[fingerprint]
                conn.set_datagram_handler(None)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.set_datagram_handler(None)
            conn.close(CALL_ENDED, "call ended")
        self._conns.clear()
