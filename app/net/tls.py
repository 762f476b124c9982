"""TLS material for the QUIC endpoint: self-signed certificates and key pinning.

Every endpoint is a QUIC server as well as a client, so every endpoint needs a
certificate. Clients use a throw-away certificate made at start; the relay
uses one signed by its persistent Ed25519 key, so that a client can pin the
relay's key fingerprint (trust on first use) by reading the certificate.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class TlsIdentity:
    """A certificate and its private key, ready for a QuicConfiguration."""

    certificate: x509.Certificate
    private_key: ed25519.Ed25519PrivateKey

    @property
    def public_key(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def make_certificate(
    private_key: ed25519.Ed25519PrivateKey | None = None,
    common_name: str = "wzp",
    valid_days: int = 3650,
) -> TlsIdentity:
    """A self-signed certificate for `private_key` (a fresh key when None)."""
    key = private_key or ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .sign(key, None)
    )
    return TlsIdentity(certificate=cert, private_key=key)


def certificate_public_key(cert: x509.Certificate | None) -> bytes | None:
    """The raw Ed25519 public key of a peer certificate, or None if it has another kind."""
    if cert is None:
        return None
    key = cert.public_key()
    if not isinstance(key, ed25519.Ed25519PublicKey):
        return None
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def certificate_pem(identity: TlsIdentity) -> bytes:
    return identity.certificate.public_bytes(serialization.Encoding.PEM)


def load_certificate_pem(data: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data)


def der_fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, for logs."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
