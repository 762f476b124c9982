"""Atomic, private file writes shared by the identity store and the relay pins.

A write goes to a new, uniquely named temp file in the target's directory
(created 0600 with ``O_EXCL``), is fsynced, renamed over the target with
``os.replace`` and the directory is fsynced, so a reader sees the old file or
the new one, never half of one, and two writers never share a temp file.

No imports from the rest of the app: both ``app.identity`` and ``app.client``
use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "fsync_directory", "remove_quietly", "write_temp"]

FILE_MODE = 0o600


def write_temp(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to a new 0600 temp file ``.<name>.<random>.tmp`` in ``directory``, fsynced."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    temp = Path(temp_name)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, FILE_MODE)  # mkstemp already uses 0600; be explicit
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        remove_quietly(temp)
        raise
    os.close(fd)
    return temp


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX only; best effort elsewhere)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (mode 0600); the directory must exist."""
    path = Path(path)
    temp = write_temp(path.parent, path.name, data)
    try:
        os.replace(temp, path)
    except BaseException:
        remove_quietly(temp)
        raise
    fsync_directory(path.parent)
