"""The ceiling for the relay's media rooms: a bare aioquic datagram forwarder.

One UDP socket served by aioquic's own `serve()`; each connection's first QUIC
datagram names a room ("JOIN <room>"); once two connections named the same
room, every later datagram from one is sent, unread, to the other. Nothing
else: no signaling, no registration, no limits, no logging.

Usage: python bench/relay_load/bare_forwarder.py [--listen 127.0.0.1:0]
Prints "bare-forwarder listening on HOST:PORT" and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import ssl

from aioquic.asyncio import QuicConnectionProtocol, serve
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration

from app.net import ALPN, make_certificate

JOIN = b"JOIN "
PAIRED = b"PAIRED"

_waiting: dict[bytes, ForwarderProtocol] = {}


class ForwarderProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.room: bytes | None = None
        self.peer: ForwarderProtocol | None = None

    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.DatagramFrameReceived):
            peer = self.peer
            if peer is not None:
                peer._quic.send_datagram_frame(event.data)
                peer.transmit()
            elif self.room is None and event.data.startswith(JOIN):
                self._join(event.data[len(JOIN) :])
        elif isinstance(event, events.ConnectionTerminated):
            self._leave()

    def _join(self, room: bytes) -> None:
        self.room = room
        other = _waiting.pop(room, None)
        if other is None or other is self:
            _waiting[room] = self
            return
        self.peer, other.peer = other, self
        for conn in (self, other):
            conn._quic.send_datagram_frame(PAIRED)
            conn.transmit()

    def _leave(self) -> None:
        if self.room is not None and _waiting.get(self.room) is self:
            del _waiting[self.room]
        if self.peer is not None:
            self.peer.peer = None
            self.peer = None


async def main(listen: str) -> None:
    host, _, port = listen.rpartition(":")
    tls = make_certificate()
    config = QuicConfiguration(
        is_client=False,
        alpn_protocols=[ALPN],
        connection_id_length=8,
        idle_timeout=30.0,
        max_datagram_frame_size=65536,
        verify_mode=ssl.CERT_NONE,
    )
    config.certificate = tls.certificate
    config.private_key = tls.private_key
    server = await serve(host, int(port), configuration=config, create_protocol=ForwarderProtocol)
    sock = server._transport.get_extra_info("socket")
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):  # the same buffers the relay asks for
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 * 1024 * 1024)
        except OSError:
            pass
    bound = sock.getsockname()
    print(f"bare-forwarder listening on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    asyncio.run(main(parser.parse_args().listen))
