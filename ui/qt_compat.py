"""Guard against a reference-count bug in PySide6 6.12 on CPython 3.11.

That build returns None (from every void method: `setText`, `update`, ...)
and True/False (from signal `emit`) without taking a reference. On Python
3.12+ these objects are immortal so nothing happens; on 3.11 each call takes
one reference away, and after a few thousand calls the interpreter aborts
with "Fatal Python error: none_dealloc". PySide6 6.11 does not have the bug.

`protect_singletons()` measures whether the running build loses references
and, only then, gives None/True/False a huge reference count (what 3.12's
immortal objects do), so the app cannot crash this way.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_BOOST = 1 << 40
_protected = False


def _loses_none_references() -> bool:
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(20):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - 10


def protect_singletons() -> bool:
    """Returns True if the guard was needed (and applied)."""
    global _protected
    if _protected:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    if not _loses_none_references():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _protected = True
    log.warning(
        "This PySide6 build loses references to None/True/False on Python %d.%d; protected them. "
        "Install PySide6-Essentials < 6.12 or use Python 3.12+ to avoid relying on this guard.",
        *sys.version_info[:2],
    )
    return True
