"""Giving an ended call's memory back: collect its garbage cycles, then hand free heap pages to the OS.

An ended call leaves cyclic garbage behind: aioquic's `QuicConnection` keeps bound methods of
itself in its frame-handler tables, so every QUIC connection of the call (relay media, direct
dials, the winner) is freed only by a full garbage collection, which CPython runs rarely once
the heap is large; with it go the crypto buffers (3 x 8 KiB per connection), the Opus states and
the jitter buffer the connections' closures still reach. `reclaim()` runs that collection
at a moment the client chooses (a few seconds after a call, when no audio runs) and then asks
glibc to return the freed pages (`malloc_trim`), so the process's RSS comes back to where it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


_malloc_trim = _load_malloc_trim()


def reclaim() -> tuple[int, float]:
    """Full garbage collection, then return free heap memory to the OS where the C library can.
    Returns (objects collected, seconds it took)."""
    started = time.perf_counter()
    collected = gc.collect()
    if _malloc_trim is not None:
        _malloc_trim(0)
    return collected, time.perf_counter() - started
