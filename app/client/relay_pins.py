"""Trust on first use for relay keys: the first key a relay shows is pinned, later ones must match.

``relay-pins.json`` in the data directory maps a relay address to the relay key's
fingerprint::

    {"relay.example:4433": "1a2b:3c4d:5e6f:7a8b:9c0d:1e2f:3a4b:5c6d"}

The GUI and the CLI may share a data directory and run at once, so:

* writes are atomic and private (unique temp file, fsync, ``os.replace``, mode 0600;
  see :mod:`app.storage.atomic`);
* a pin is a read-modify-write under an exclusive lock on ``relay-pins.json.lock``
  and re-reads the file under that lock, so another process's pin is never lost;
* a file that cannot be read or validated is never overwritten silently: it is
  moved aside to ``relay-pins.json.bad-<timestamp>`` (valid entries in it are kept),
  and :attr:`RelayPins.load_problem` says so in words for the user (the client
  turns it into a ``Notice``). Losing pins silently would quietly turn every relay
  back into "first use".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from app.identity.fingerprint import FingerprintError, parse_fingerprint
from app.storage.atomic import atomic_write

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]

__all__ = ["LOCK_SUFFIX", "PINS_FILE", "RelayPins"]

log = logging.getLogger(__name__)

PINS_FILE = "relay-pins.json"
LOCK_SUFFIX = ".lock"
_MAX_FILE_SIZE = 1024 * 1024  # ~20 000 pins; anything larger is not ours
_MAX_RELAY_LEN = 512

_Stamp = tuple[int, int, int]  # inode, size, mtime_ns


class _BadFile(Exception):
    """The pins file exists but is unusable; ``salvaged`` holds the entries that were still valid."""

    def __init__(self, reason: str, salvaged: dict[str, str]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.salvaged = salvaged


def _parse(raw: bytes) -> dict[str, str]:
    """Validate a pins document; raise :class:`_BadFile` with whatever is still usable."""
    if len(raw) > _MAX_FILE_SIZE:
        raise _BadFile(f"it is larger than {_MAX_FILE_SIZE} bytes", {})
    if not raw.strip():
        raise _BadFile("it is empty", {})
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _BadFile("it is not UTF-8 text", {}) from None
    except json.JSONDecodeError as exc:
        raise _BadFile(f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", {}) from None
    if not isinstance(document, dict):
        raise _BadFile("it is not a JSON object", {})
    pins: dict[str, str] = {}
    bad: list[str] = []
    for relay, value in document.items():
        try:
            if not relay or len(relay) > _MAX_RELAY_LEN or not relay.isprintable():
                raise FingerprintError("bad relay address")
            if not isinstance(value, str):
                raise FingerprintError("not text")
            pins[relay] = parse_fingerprint(value)
        except FingerprintError:
            bad.append(relay)
    if bad:
        shown = ", ".join(repr(r[:80]) for r in bad[:3]) + (" …" if len(bad) > 3 else "")
        raise _BadFile(f"{len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not valid ({shown})", pins)
    return pins


def _encode(pins: dict[str, str]) -> bytes:
    return (json.dumps(pins, indent=1, sort_keys=True) + "\n").encode("utf-8")


class RelayPins:
    """The pinned relay keys in ``data_dir``; safe to use from several processes at once."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / PINS_FILE
        self.lock_path = self.path.with_name(PINS_FILE + LOCK_SUFFIX)
        #: Set when the file on disk was unusable and had to be moved aside: a sentence for the
        #: user. The client shows it once (see :meth:`take_problem`).
        self.load_problem: str | None = None
        self._pins: dict[str, str] = {}
        self._stamp: _Stamp | None = None
        self._refresh()

    # ------------------------------------------------------------------ API

    def get(self, relay: str) -> str | None:
        """The pinned fingerprint of ``relay`` (re-reading the file if another process changed it)."""
        self._refresh()
        return self._pins.get(relay)

    def pin(self, relay: str, fingerprint: str) -> None:
        """Pin ``fingerprint`` for ``relay``, keeping every other pin, including other processes'."""
        fingerprint = parse_fingerprint(fingerprint)  # FingerprintError is a ValueError
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            pins = self._read_locked()
            if pins is None:
                raise OSError(f"relay pins file {self.path} could not be read or moved aside; pin not saved")
            pins[relay] = fingerprint
            atomic_write(self.path, _encode(pins))
            self._pins, self._stamp = pins, self._stat()
        log.info("relay key pinned relay=%s fingerprint=%s", relay, fingerprint)

    def take_problem(self) -> str | None:
        """Return :attr:`load_problem` and clear it, so the user is told once."""
        problem, self.load_problem = self.load_problem, None
        return problem

    # ------------------------------------------------------------ internals

    def _stat(self) -> _Stamp | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError:
            return (-1, -1, -1)  # unreadable: never equal to a real stamp, so it is looked at
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _refresh(self) -> None:
        """Re-read the file if it changed since we last saw it."""
        stamp = self._stat()
        if stamp is not None and stamp == self._stamp:
            return
        if stamp is None:
            self._pins, self._stamp = {}, None
            return
        try:
            self._pins, self._stamp = _parse(self._read_bytes()), stamp
            return
        except (_BadFile, OSError):
            pass
        # Unusable: deal with it under the lock, so only one process moves it aside and a good
        # file written meanwhile by another process is never the one moved.
        try:
            with self._locked():
                pins = self._read_locked()
        except OSError as exc:
            log.warning("relay pins: could not lock %s: %s", self.lock_path, exc)
            pins = None
        if pins is not None:
            self._pins, self._stamp = pins, self._stat()

    def _read_bytes(self) -> bytes:
        with self.path.open("rb") as handle:
            return handle.read(_MAX_FILE_SIZE + 1)

    def _read_locked(self) -> dict[str, str] | None:
        """Read the file (lock held). A bad file is moved aside and reported; valid entries are kept
        and written back at once. Returns ``None`` only if a bad file could not be moved aside."""
        try:
            return _parse(self._read_bytes())
        except FileNotFoundError:
            return {}
        except OSError as exc:
            bad = _BadFile(f"it could not be read ({exc.strerror or exc})", {})
        except _BadFile as exc:
            bad = exc
        try:
            aside = self._move_aside()
        except OSError as exc:
            self._report(
                f"The relay key pins file {self.path} is unusable ({bad.reason}) and could not be moved "
                f"aside ({exc.strerror or exc}). New relay keys cannot be pinned until it is fixed or removed."
            )
            return None
        kept = len(bad.salvaged)
        self._report(
            f"The relay key pins file {self.path} was unusable ({bad.reason}); it was moved to {aside}. "
            + (
                f"{kept} valid pin{'' if kept == 1 else 's'} kept; the others are forgotten, so "
                if kept
                else "All pinned relay keys are forgotten, so "
            )
            + "WZP will trust the key those relays show next time, as on first use. "
            "If you did not expect this, check the relay key before calling."
        )
        if bad.salvaged:
            atomic_write(self.path, _encode(bad.salvaged))
        return dict(bad.salvaged)

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{PINS_FILE}.bad-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{PINS_FILE}.bad-{stamp}-{n}")
        os.replace(self.path, aside)  # lock held: nobody else is moving or writing it
        return aside

    def _report(self, message: str) -> None:
        log.warning("%s", message)
        self.load_problem = message

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive lock shared by every process using this data directory.

        The lock file is never deleted (deleting it would let two processes lock two different
        files). POSIX: ``flock``. Windows: ``msvcrt.locking`` on the first byte, which retries
        for about 10 s and then raises ``OSError``.
        """
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            elif msvcrt is not None:  # pragma: no cover - Windows
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                elif msvcrt is not None:  # pragma: no cover - Windows
                    os.lseek(fd, 0, os.SEEK_SET)
                    msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        finally:
            os.close(fd)
