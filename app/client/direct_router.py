"""Incoming direct connections: read the peer's proof and hand the connection to its call's race.

The shared endpoint accepts connections only while some call's race waits for the peer's dial
(`incoming="on-demand"`). Each one must open a stream and send a `PeerProof` naming a call that
is racing now, within 2 s; anything else is closed. The race itself checks the proof's signature.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from app.call.race import PathRace
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.tasks import TaskSet

log = logging.getLogger(__name__)

#: A direct connection that shows no proof within this long is closed.
PROOF_TIMEOUT_S = 2.0


class DirectRouter:
    def __init__(self, endpoint: QuicEndpoint, race_of: Callable[[str], PathRace | None], tasks: TaskSet) -> None:
        self.endpoint = endpoint
        self.race_of = race_of  # the race of a call now racing, by call id
        self.tasks = tasks

    async def run(self) -> None:
        while True:
            try:
                conn = await self.endpoint.accept()
            except ConnectionClosed:
                return
            self.tasks.spawn(self._route(conn), "route a direct connection")
            del conn  # not held while waiting for the next one (an ended call's connection would live on)

    async def _route(self, conn: QuicPeerConnection) -> None:
        try:
            reader, writer = await asyncio.wait_for(conn.accept_stream(), PROOF_TIMEOUT_S)
            stream = MessageStream(reader, writer)
            proof = await asyncio.wait_for(stream.recv(), PROOF_TIMEOUT_S)
        except (TimeoutError, ConnectionClosed, ProtocolError):
            conn.close(reason_phrase="no proof")
            return
        if not isinstance(proof, m.PeerProof):
            conn.close(reason_phrase="expected a peer proof")
            return
        race = self.race_of(proof.call_id)
        if race is None:
            log.info("direct connection for no racing call refused remote=%s", conn.remote_addr)
            conn.close(reason_phrase="no such call")
            return
        race.offer_incoming(conn, stream, proof)
