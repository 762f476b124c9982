"""The shared QUIC endpoint (one UDP socket, both roles) and its connections."""

from app.net.connection import ConnectionClosed, QuicPeerConnection
from app.net.endpoint import ALPN, EndpointStats, QuicEndpoint
from app.net.tls import TlsIdentity, certificate_public_key, make_certificate

__all__ = [
    "ALPN",
    "ConnectionClosed",
    "EndpointStats",
    "QuicEndpoint",
    "QuicPeerConnection",
    "TlsIdentity",
    "certificate_public_key",
    "make_certificate",
]
