"""Long-term identity: Ed25519 keys from a seed, fingerprints, aliases, identicons, storage.

Nothing in this package imports Qt.
"""

from app.identity.alias import alias_from_seed
from app.identity.fingerprint import (
    FingerprintError,
    fingerprint_of,
    is_fingerprint,
    parse_fingerprint,
)
from app.identity.identicon import Identicon, identicon
from app.identity.keys import Identity, verify_signature
from app.identity.store import (
    IdentityFileError,
    default_data_dir,
    load_identity,
    load_or_create_identity,
    save_identity,
)

__all__ = [
    "FingerprintError",
    "Identicon",
    "Identity",
    "IdentityFileError",
    "alias_from_seed",
    "default_data_dir",
    "fingerprint_of",
    "identicon",
    "is_fingerprint",
    "load_identity",
    "load_or_create_identity",
    "parse_fingerprint",
    "save_identity",
    "verify_signature",
]
