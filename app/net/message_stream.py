"""Signal messages over one QUIC stream: the asyncio side of `app.protocol` framing."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from app.net.connection import ConnectionClosed
from app.protocol import FrameDecoder, Message, decode_message, frame_message

log = logging.getLogger(__name__)

READ_CHUNK = 65536


class MessageStream:
    """Length-prefixed JSON messages on a QUIC stream.

    `recv()` raises `UnknownMessageType` / `MalformedMessage` for one bad frame
    (the stream stays usable: call `recv()` again), `FrameTooLarge` when the
    stream is unusable, and `ConnectionClosed` at the end of the stream.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._decoder = FrameDecoder()
        self._payloads: deque[bytes] = deque()

    def send(self, msg: Message) -> None:
        if self.writer.is_closing():
            raise ConnectionClosed("stream closed")
        self.writer.write(frame_message(msg))

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
