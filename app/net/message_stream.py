"""Signal messages over one QUIC stream: the asyncio side of `app.protocol` framing."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from app.net.connection import ConnectionClosed, QuicPeerConnection
from app.protocol import FrameDecoder, Message, decode_message, frame_message

log = logging.getLogger(__name__)

READ_CHUNK = 65536


class MessageStream:
    """Length-prefixed JSON messages on a QUIC stream.

    `recv()` raises `UnknownMessageType` / `MalformedMessage` for one bad frame
    (the stream stays usable: call `recv()` again), `FrameTooLarge` when the
    stream is unusable, and `ConnectionClosed` at the end of the stream.
    `send()` raises `ConnectionClosed`, or its subclass `SendBufferFull` (nothing
    written) when the peer is not taking data and the connection already queues
    `send_buffer_limit` bytes.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._decoder = FrameDecoder()
        self._payloads: deque[bytes] = deque()

    def send(self, msg: Message) -> None:
        if self.writer.is_closing():
            raise ConnectionClosed("stream closed")
        data = frame_message(msg)
        conn = getattr(self.writer.transport, "protocol", None)
        if isinstance(conn, QuicPeerConnection):
            conn.check_send_room(len(data))
        try:
            self.writer.write(data)
        except RuntimeError as exc:  # aioquic: the peer reset the stream (STOP_SENDING) or it is finished
            _mark_closing(self.writer)
            raise ConnectionClosed(f"stream unusable: {exc}") from exc

    async def recv(self) -> Message:
        while not self._payloads:
            data = await self.reader.read(READ_CHUNK)
            if not data:
                raise ConnectionClosed("stream ended")
            self._payloads.extend(self._decoder.feed(data))
        return decode_message(self._payloads.popleft())

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


def _mark_closing(writer: asyncio.StreamWriter) -> None:
    """A stream we can no longer write: never try again, not even the FIN that
    `StreamWriter.__del__` sends (it would raise inside the garbage collector)."""
    transport = writer.transport
    if hasattr(transport, "_closing"):
        transport._closing = True  # aioquic's QuicStreamAdapter has no public way to say so
