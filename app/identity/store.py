"""Persisting the identity seed as ``identity.json`` in the user's data directory.

File format (UTF-8 JSON)::

    {"version": 1, "seed": "<64 hex>", "check": "<first 8 hex of sha256(seed)>"}

Rules this module keeps:

* writes are atomic (temp file in the same directory, fsync, ``os.replace``) and the
  file is created with mode 0600 (data directory 0700 when we create it);
* an existing file that cannot be read or validated is NEVER replaced: it raises
  :class:`IdentityFileError` and the bytes on disk stay exactly as they were,
  because losing an identity silently is much worse than refusing to start;
* only a missing file leads to a new identity.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import stat
from pathlib import Path

from platformdirs import user_data_dir

from app.identity.keys import SEED_LEN, Identity
from app.storage.atomic import atomic_write, fsync_directory, remove_quietly, write_temp

__all__ = [
    "FILE_VERSION",
    "IDENTITY_FILENAME",
    "IdentityFileError",
    "default_data_dir",
    "load_identity",
    "load_or_create_identity",
    "save_identity",
]

log = logging.getLogger(__name__)

IDENTITY_FILENAME = "identity.json"
FILE_VERSION = 1
_CHECK_LEN = 8
_MAX_FILE_SIZE = 64 * 1024  # a valid file is ~100 bytes; refuse to slurp anything huge
_SEED_HEX = re.compile(r"[0-9a-fA-F]{64}")  # SEED_LEN bytes
_CHECK_HEX = re.compile(r"[0-9a-fA-F]{8}")  # _CHECK_LEN hex digits
_ADVICE = "restore it from a backup or move it away to create a new identity"


class IdentityFileError(Exception):
    """An identity file exists but cannot be used. It has been left untouched."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"identity file {path} {problem}; it was left untouched — {_ADVICE}")


def default_data_dir() -> Path:
    """The per-user data directory WZP keeps its identity in."""
    return Path(user_data_dir("wzp", appauthor=False))


def _checksum(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()[:_CHECK_LEN]


def _encode(identity: Identity) -> bytes:
    document = {
        "version": FILE_VERSION,
        "seed": identity.seed.hex(),
        "check": _checksum(identity.seed),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _decode(path: Path, raw: bytes) -> Identity:
    def corrupt(reason: str) -> IdentityFileError:
        return IdentityFileError(path, f"is corrupt ({reason})")

    if not raw.strip():
        raise corrupt("it is empty")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise corrupt("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise corrupt(f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(document, dict):
        raise corrupt("not a JSON object")

    version = document.get("version")
    if type(version) is not int:  # bool is an int subclass; True must not pass as 1
        raise corrupt("missing or non-integer 'version'")
    if version != FILE_VERSION:
        raise IdentityFileError(
            path,
            f"has version {version}, but this WZP only understands version {FILE_VERSION} "
            "(was it written by a newer WZP?)",
        )

    seed_hex = document.get("seed")
    if not isinstance(seed_hex, str) or not _SEED_HEX.fullmatch(seed_hex):
        raise corrupt(f"'seed' is not {SEED_LEN * 2} hex digits")
    check = document.get("check")
    if not isinstance(check, str) or not _CHECK_HEX.fullmatch(check):
        raise corrupt(f"'check' is not {_CHECK_LEN} hex digits")
    seed = bytes.fromhex(seed_hex)
    if not hmac.compare_digest(_checksum(seed), check.lower()):
        raise corrupt("checksum mismatch: the seed does not match its 'check' value")
    return Identity.from_seed(seed)


def load_identity(path: Path) -> Identity:
    """Load the identity stored at ``path``.

    Raises :class:`FileNotFoundError` if there is no file, and
    :class:`IdentityFileError` if there is one that cannot be read or validated.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE_SIZE + 1)
            mode = os.fstat(handle.fileno()).st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise IdentityFileError(path, f"could not be read ({exc.strerror or exc})") from exc
    if len(raw) > _MAX_FILE_SIZE:
        raise IdentityFileError(path, f"is corrupt (larger than {_MAX_FILE_SIZE} bytes)")
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        log.warning(
            "identity file %s is readable by other users (mode %o); run: chmod 600 %s",
            path,
            stat.S_IMODE(mode),
            path,
        )
    identity = _decode(path, raw)
    log.debug("loaded identity %s from %s", identity.fingerprint, path)
    return identity


def save_identity(path: Path, identity: Identity) -> None:
    """Atomically write ``identity`` to ``path`` (mode 0600), replacing any old file."""
    atomic_write(Path(path), _encode(identity))


def _create_exclusively(path: Path, identity: Identity) -> bool:
    """Atomically create ``path`` unless it already exists; return False if it did.

    Uses a hard link so that two processes starting at once can never overwrite
    each other's fresh identity. Falls back to :func:`os.replace` on file systems
    without hard links.
    """
    temp = write_temp(path.parent, IDENTITY_FILENAME, _encode(identity))
    try:
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        except OSError:
            if path.exists():
                return False
            os.replace(temp, path)
    finally:
        remove_quietly(temp)
    fsync_directory(path.parent)
    return True


def load_or_create_identity(data_dir: Path) -> Identity:
    """Load ``identity.json`` from ``data_dir``, creating a new identity only if it is missing.

    The directory is created with mode 0700 if needed. An unusable existing file
    raises :class:`IdentityFileError` and is never replaced.
    """
    data_dir = Path(data_dir)
    path = data_dir / IDENTITY_FILENAME
    try:
        return load_identity(path)
    except FileNotFoundError:
        pass

    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    identity = Identity.generate()
    if not _create_exclusively(path, identity):
        log.info("identity file %s appeared while creating one; using it", path)
        return load_identity(path)
    log.info("created new identity %s (%s) in %s", identity.fingerprint, identity.alias, path)
    return identity
