"""A raw signaling connection to a relay: real QUIC + MessageStream, no WzpClient logic."""

from __future__ import annotations

import asyncio

from app.identity import Identity
from app.net import ConnectionClosed, QuicEndpoint, QuicPeerConnection
from app.net.message_stream import MessageStream
from app.protocol import ProtocolError
from app.protocol import messages as m
from app.protocol.proofs import media_join_transcript, register_transcript

TIMEOUT = 5.0


class RawConn:
    def __init__(self, endpoint: QuicEndpoint, conn: QuicPeerConnection, stream: MessageStream) -> None:
        self.endpoint = endpoint
        self.conn = conn
        self.stream = stream
        self.challenge: m.RegisterChallenge | None = None

    @classmethod
    async def open(cls, relay_port: int, host: str = "127.0.0.1") -> RawConn:
        endpoint = await QuicEndpoint.create(host, 0)
        try:
            conn = await endpoint.connect((host, relay_port), server_name="wzp-relay", timeout=TIMEOUT)
            reader, writer = await asyncio.wait_for(conn.accept_stream(), TIMEOUT)
        except BaseException:
            await endpoint.close(grace=0)
            raise
        raw = cls(endpoint, conn, MessageStream(reader, writer))
        challenge = await raw.recv()
        assert isinstance(challenge, m.RegisterChallenge), challenge
        raw.challenge = challenge
        return raw

    def send(self, msg: m.Message) -> None:
        self.stream.send(msg)

    def write(self, data: bytes) -> None:
        """Raw bytes on the signal stream (framing is the caller's business)."""
        self.stream.writer.write(data)

    async def recv(self, timeout: float = TIMEOUT) -> m.Message:
        return await asyncio.wait_for(self.stream.recv(), timeout)

    async def recv_until(self, kind: type, timeout: float = TIMEOUT) -> m.Message:
        """Next message of type `kind`, skipping others (e.g. presence updates)."""

        async def loop() -> m.Message:
            while True:
                try:
                    msg = await self.stream.recv()
                except ProtocolError:
                    continue
                if isinstance(msg, kind):
                    return msg

        return await asyncio.wait_for(loop(), timeout)

    def register_message(self, identity: Identity, *, signer: Identity | None = None, alias: str = "raw") -> m.Register:
        assert self.challenge is not None
        signer = signer or identity
        transcript = register_transcript(self.challenge.relay_fingerprint, self.challenge.nonce, identity.public_key)
        return m.Register(
            public_key=identity.public_key, alias=alias, nonce=self.challenge.nonce, signature=signer.sign(transcript)
        )

    def media_join_message(self, call_id: str, fingerprint: str, signer: Identity) -> m.MediaJoin:
        assert self.challenge is not None
        transcript = media_join_transcript(self.challenge.relay_fingerprint, self.challenge.nonce, call_id, fingerprint)
        return m.MediaJoin(call_id=call_id, fingerprint=fingerprint, signature=signer.sign(transcript))

    async def register(self, identity: Identity, alias: str = "raw") -> m.Registered:
        self.send(self.register_message(identity, alias=alias))
        msg = await self.recv_until(m.Registered | m.Error)
        assert isinstance(msg, m.Registered), msg
        return msg

    async def wait_closed(self, timeout: float = TIMEOUT) -> str:
        await asyncio.wait_for(self.conn.wait_closed(), timeout)
        return self.conn.close_reason

    async def close(self) -> None:
        if not self.conn.is_closed:
            self.conn.close(reason_phrase="test done")
        await self.endpoint.close(grace=0.1)


async def drain_until_closed(raw: RawConn, timeout: float = TIMEOUT) -> list[m.Message]:
    """Every message the relay sends until it closes the connection."""
    got: list[m.Message] = []

    async def loop() -> None:
        while True:
            try:
                got.append(await raw.stream.recv())
            except ProtocolError:
                continue
            except ConnectionClosed:
                return

    await asyncio.wait_for(loop(), timeout)
    return got
