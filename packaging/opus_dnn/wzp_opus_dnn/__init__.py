"""libopus 1.6.1 built with ``--enable-deep-plc --enable-osce`` (a shared library, no Python API).

:func:`library_path` is the file to ``ctypes.CDLL``; WZP Desktop's ``app.media.libopus``
loads it in preference to opuslib-next-bundled's default build.
"""

from __future__ import annotations

from pathlib import Path

LIBOPUS_VERSION = "1.6.1"
FEATURES = ("deep-plc", "osce")
_NAMES = ("libopus.so.0", "libopus.0.dylib", "opus.dll")


def library_path() -> Path | None:
    """The bundled libopus shared library, or None if this install has none."""
    here = Path(__file__).resolve().parent
    for name in _NAMES:
        path = here / name
        if path.is_file():
            return path
    return None
