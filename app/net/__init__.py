"""The shared QUIC endpoint (one UDP socket, both roles) and its connections."""

from app.net.connection import ConnectionClosed, QuicPeerConnection, SendBufferFull
from app.net.endpoint import (
    ALPN,
    CLIENT_HANDSHAKE_LIMITS,
    SERVER_HANDSHAKE_LIMITS,
    EndpointStats,
    HandshakeLimits,
    IncomingPermit,
    QuicEndpoint,
)
from app.net.tls import TlsIdentity, certificate_public_key, make_certificate

__all__ = [
    "ALPN",
    "CLIENT_HANDSHAKE_LIMITS",
    "SERVER_HANDSHAKE_LIMITS",
    "ConnectionClosed",
    "EndpointStats",
    "HandshakeLimits",
    "IncomingPermit",
    "QuicEndpoint",
    "QuicPeerConnection",
    "SendBufferFull",
    "TlsIdentity",
    "certificate_public_key",
    "make_certificate",
]
