"""The libopus C API over ctypes, bound to one loaded library file.

The app gets its libopus from a pip wheel, never from the system:

1. ``wzp-opus-dnn`` (``wzp_opus_dnn``), libopus 1.6.1 built with deep PLC and OSCE by
   ``packaging/build_opus_wheel.sh``, when it is installed;
2. else, or when that one fails the start-up probe (:func:`app.media.opus_probe.app_opus`),
   ``opuslib-next-bundled`` (``opuslib_next``), the default libopus 1.6.x build it carries for
   manylinux x86_64/aarch64, win_amd64 and macOS.

``WZP_OPUS_LIB=/path/to/libopus`` overrides both (a debugging and benchmarking aid).

The binding is our own (a dozen functions) rather than opuslib's module-level one, because
one process must be able to hold several libraries at once: the benchmark compares three
libopus builds frame by frame, and the tests check the behaviour-based feature detection on
a build with and one without the neural models. Each :class:`LibOpus` uses its own function
objects (``cdll[name]``), so it never changes the argtypes opuslib_next set on the same
library.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.media.errors import CodecError

__all__ = [
    "LibOpus",
    "LibraryChoice",
    "bundled_wheel_library",
    "dnn_wheel_library",
    "library_candidates",
    "load_library",
]

log = logging.getLogger(__name__)

OPUS_OK = 0
APPLICATION_VOIP = 2048
BANDWIDTH_NARROWBAND = 1101
BANDWIDTH_MEDIUMBAND = 1102
BANDWIDTH_WIDEBAND = 1103
BANDWIDTH_SUPERWIDEBAND = 1104
BANDWIDTH_FULLBAND = 1105

# CTL requests (opus_defines.h)
SET_BITRATE = 4002
GET_BITRATE = 4003
SET_MAX_BANDWIDTH = 4004
GET_MAX_BANDWIDTH = 4005
SET_COMPLEXITY = 4010
GET_COMPLEXITY = 4011
SET_INBAND_FEC = 4012
GET_INBAND_FEC = 4013
SET_PACKET_LOSS_PERC = 4014
GET_PACKET_LOSS_PERC = 4015
SET_DTX = 4016
GET_DTX = 4017
GET_LOOKAHEAD = 4027
RESET_STATE = 4028

ENV_LIBRARY = "WZP_OPUS_LIB"

_c_int_p = ctypes.POINTER(ctypes.c_int)
_c_int16_p = ctypes.POINTER(ctypes.c_int16)


class LibOpus:
    """One loaded libopus file and the typed functions the codec uses.

    ``api`` says which libopus API the file exports, from its symbols (the version string
    of some builds is "libopus unknown"): ``"1.6"`` (``opus_decode24``), ``"1.5"``
    (``opus_packet_has_lbrr``), or ``"<1.5"``.
    """

    def __init__(self, cdll: ctypes.CDLL, path: str) -> None:
        self.path = path
        self._cdll = cdll
        try:
            self.encoder_create = self._fn(
                "opus_encoder_create", ctypes.c_void_p, ctypes.c_int32, ctypes.c_int, ctypes.c_int, _c_int_p
            )
            self.encoder_destroy = self._fn("opus_encoder_destroy", None, ctypes.c_void_p)
            self.encode = self._fn(
                "opus_encode",
                ctypes.c_int32,
                ctypes.c_void_p,
                _c_int16_p,
                ctypes.c_int,
                ctypes.c_char_p,
                ctypes.c_int32,
            )
            # The CTLs are variadic: only the fixed arguments are typed, so ctypes passes the
            # value as a variadic argument (this matters on Apple silicon).
            self.encoder_ctl = self._fn("opus_encoder_ctl", ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
            self.decoder_create = self._fn(
                "opus_decoder_create", ctypes.c_void_p, ctypes.c_int32, ctypes.c_int, _c_int_p
            )
            self.decoder_destroy = self._fn("opus_decoder_destroy", None, ctypes.c_void_p)
            self.decode = self._fn(
                "opus_decode",
                ctypes.c_int,
                ctypes.c_void_p,
                ctypes.c_char_p,
                ctypes.c_int32,
                _c_int16_p,
                ctypes.c_int,
                ctypes.c_int,
            )
            self.decoder_ctl = self._fn("opus_decoder_ctl", ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
            self.packet_get_bandwidth = self._fn("opus_packet_get_bandwidth", ctypes.c_int, ctypes.c_char_p)
            self.strerror = self._fn("opus_strerror", ctypes.c_char_p, ctypes.c_int)
            get_version = self._fn("opus_get_version_string", ctypes.c_char_p)
        except AttributeError as exc:
            raise CodecError(f"{path} is not a usable libopus: {exc}") from exc
        self.version = (get_version() or b"").decode("ascii", "replace")
        self.packet_has_lbrr = (
            self._fn("opus_packet_has_lbrr", ctypes.c_int, ctypes.c_char_p, ctypes.c_int32)
            if self.has_symbol("opus_packet_has_lbrr")
            else None
        )
        if self.has_symbol("opus_decode24"):
            self.api = "1.6"
        elif self.packet_has_lbrr is not None:
            self.api = "1.5"
        else:
            self.api = "<1.5"

    def _fn(self, name: str, restype: object, *argtypes: object) -> ctypes._CFuncPtr:  # type: ignore[name-defined]
        fn = self._cdll[name]  # a new function object: its argtypes are ours alone
        fn.restype = restype
        fn.argtypes = argtypes
        return fn

    def has_symbol(self, name: str) -> bool:
        try:
            self._cdll[name]
        except AttributeError:
            return False
        return True

    def error(self, code: int) -> str:
        text = self.strerror(code)
        return text.decode("ascii", "replace") if text else f"error {code}"

    def describe(self) -> str:
        return f"{self.version} ({self.api} API) from {self.path}"

    def __repr__(self) -> str:
        return f"LibOpus({self.describe()})"


def load_library(path: str | os.PathLike[str]) -> LibOpus:
    """Load the libopus file at ``path`` (CodecError if it cannot be loaded)."""
    text = os.fspath(path)
    try:
        cdll = ctypes.CDLL(text)
    except OSError as exc:
        raise CodecError(f"cannot load libopus from {text}: {exc}") from exc
    return LibOpus(cdll, text)


@dataclass(frozen=True)
class LibraryChoice:
    """A libopus file the app may use: ``source`` is "WZP_OPUS_LIB", "wzp-opus-dnn" or
    "opuslib-next-bundled"."""

    source: str
    path: str


def dnn_wheel_library() -> str | None:
    """The file of wzp-opus-dnn's libopus (deep PLC + OSCE), or None if it is not installed."""
    try:
        import wzp_opus_dnn  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = wzp_opus_dnn.library_path()
    return str(path) if path is not None else None


def bundled_wheel_library() -> str:
    """The file of opuslib-next-bundled's libopus (its default build), as that package loaded it."""
    try:
        import opuslib_next.api  # type: ignore[import-untyped]
    except ImportError as exc:
        raise CodecError(
            "the Opus codec library is missing: install the app's Python packages "
            "(pip install -e . installs opuslib-next-bundled)"
        ) from exc
    except Exception as exc:  # its loader raises RuntimeError subclasses when the file is missing
        raise CodecError(f"opuslib-next-bundled cannot load its libopus: {exc}") from exc
    name = getattr(opuslib_next.api.libopus, "_name", None)
    if not name:
        raise CodecError("opuslib-next-bundled loaded a libopus whose file is unknown")
    return str(name)


def library_candidates() -> Iterator[LibraryChoice]:
    """The libopus files the app may use, in order of preference (see the module docstring),
    found lazily: opuslib-next-bundled loads its library when asked, so it is asked only if
    the deep-PLC build is missing or failed.

    ``WZP_OPUS_LIB`` is the only candidate when set; CodecError if it is not a file."""
    override = os.environ.get(ENV_LIBRARY)
    if override:
        if not Path(override).is_file():
            raise CodecError(f"{ENV_LIBRARY}={override} is not a file")
        yield LibraryChoice(ENV_LIBRARY, override)
        return
    dnn = dnn_wheel_library()
    if dnn is not None:
        yield LibraryChoice("wzp-opus-dnn", dnn)
    yield LibraryChoice("opuslib-next-bundled", bundled_wheel_library())
