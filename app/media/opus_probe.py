"""What a loaded libopus really does, found by behaviour, and the app's checked libopus.

:func:`probe` encodes half a second of a synthetic voiced signal and checks that every
encoder setting the call codec relies on takes effect (read back *and* visible in the
packets), then finds the neural decoder features by comparing decoder outputs:

* **deep PLC** (libopus >= 1.5 built with ``--enable-deep-plc``, decoder complexity >= 5):
  a concealed frame differs between complexity 0 and 5;
* **OSCE** (``--enable-osce``, complexity >= 6 LACE, >= 7 NoLACE): a normally decoded
  SILK frame differs between complexity 0 and 7.

The CTL's return code proves nothing: a default 1.5/1.6 build accepts
``OPUS_SET_COMPLEXITY`` on a decoder and changes nothing; 1.3 refuses it.

:func:`app_opus` loads the app's libopus once (the first of
:func:`app.media.libopus.library_candidates` that passes the probe), logs what it found and
raises :class:`CodecError` with one clear sentence when no candidate passes.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import random
import sys
from array import array
from dataclasses import dataclass

from app.media import libopus as L
from app.media.errors import CodecError
from app.media.libopus import LibOpus, load_library

__all__ = [
    "DEEP_PLC_COMPLEXITY",
    "OSCE_COMPLEXITY",
    "AppOpus",
    "OpusCapabilities",
    "app_opus",
    "probe",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 960
DEEP_PLC_COMPLEXITY = 5
OSCE_COMPLEXITY = 7
_PROBE_FRAMES = 25
_TWO_PI = 2 * math.pi
_LOST = (16, 17)  # frames concealed in the deep-PLC comparison (after 320 ms of history)


@dataclass(frozen=True)
class OpusCapabilities:
    """What :func:`probe` found. ``decoder_complexity`` is the value the app's decoders use:
    7 with OSCE (NoLACE; deep PLC comes with it), 5 with deep PLC only, else 0 (the
    libopus default: nothing above it changes a default build's output, only its CPU)."""

    fec_lbrr: bool  # packets carry LBRR data when FEC is on (checked on 1.5+, assumed before)
    deep_plc: bool
    osce: bool

    @property
    def decoder_complexity(self) -> int:
        if self.osce:
            return OSCE_COMPLEXITY
        if self.deep_plc:
            return DEEP_PLC_COMPLEXITY
        return 0

    def describe(self) -> str:
        features = [name for name, on in (("deep PLC", self.deep_plc), ("OSCE", self.osce)) if on]
        return (", ".join(features) or "no neural features") + f", decoder complexity {self.decoder_complexity}"


def voiced_probe_signal(frames: int = _PROBE_FRAMES) -> list[bytes]:
    """A vowel-like signal (gliding pitch, six harmonics, syllable envelope) over faint white
    noise (about -50 dBFS, so that there is something above 8 kHz to code) as int16 frames.

    Plain Python: the frozen app carries no numpy (packaging/wzp.spec)."""
    rng = random.Random(1)
    gains = (1.0, 0.8, 0.6, 0.35, 0.5, 0.25)
    out: list[bytes] = []
    phase = 0.0
    for f in range(frames):
        samples = array("h", bytes(FRAME_SAMPLES * 2))
        for n in range(FRAME_SAMPLES):
            t = (f * FRAME_SAMPLES + n) / SAMPLE_RATE
            phase += _TWO_PI * (140 + 40 * math.sin(_TWO_PI * 0.7 * t) + 15 * math.sin(_TWO_PI * 3.1 * t)) / SAMPLE_RATE
            voiced = sum(g * math.sin((k + 1) * phase) for k, g in enumerate(gains))
            envelope = 0.55 + 0.45 * math.sin(_TWO_PI * 2.3 * t) ** 2
            samples[n] = int(4500 * voiced * envelope + 100 * rng.gauss(0.0, 1.0))
        if sys.byteorder != "little":
            samples.byteswap()
        out.append(samples.tobytes())
    return out


class _Encoder:
    def __init__(self, lib: LibOpus) -> None:
        self.lib = lib
        err = ctypes.c_int()
        self.state = lib.encoder_create(SAMPLE_RATE, 1, L.APPLICATION_VOIP, ctypes.byref(err))
        if err.value != L.OPUS_OK or not self.state:
            raise CodecError(f"libopus cannot create an encoder: {lib.error(err.value)}")
        self._buf = ctypes.create_string_buffer(1275)

    def set(self, request: int, value: int, name: str) -> None:
        rc = self.lib.encoder_ctl(self.state, request, ctypes.c_int(value))
        if rc != L.OPUS_OK:
            raise CodecError(f"libopus refused {name}({value}): {self.lib.error(rc)}")

    def get(self, request: int) -> int:
        value = ctypes.c_int(-1)
        rc = self.lib.encoder_ctl(self.state, request, ctypes.byref(value))
        if rc != L.OPUS_OK:
            raise CodecError(f"libopus refused the encoder CTL {request}: {self.lib.error(rc)}")
        return value.value

    def encode(self, pcm: bytes) -> bytes:
        n = self.lib.encode(
            self.state, ctypes.cast(pcm, ctypes.POINTER(ctypes.c_int16)), FRAME_SAMPLES, self._buf, len(self._buf)
        )
        if n < 0:
            raise CodecError(f"libopus encode failed: {self.lib.error(n)}")
        return self._buf.raw[:n]

    def close(self) -> None:
        self.lib.encoder_destroy(self.state)


def _decode_all(lib: LibOpus, packets: list[bytes], complexity: int, lost: tuple[int, ...]) -> list[bytes]:
    err = ctypes.c_int()
    state = lib.decoder_create(SAMPLE_RATE, 1, ctypes.byref(err))
    if err.value != L.OPUS_OK or not state:
        raise CodecError(f"libopus cannot create a decoder: {lib.error(err.value)}")
    try:
        if complexity:
            rc = lib.decoder_ctl(state, L.SET_COMPLEXITY, ctypes.c_int(complexity))
            if rc != L.OPUS_OK:
                return []  # libopus < 1.5: no decoder complexity at all
        pcm = (ctypes.c_int16 * FRAME_SAMPLES)()
        out = []
        for i, packet in enumerate(packets):
            if i in lost:
                n = lib.decode(state, None, 0, pcm, FRAME_SAMPLES, 0)
            else:
                n = lib.decode(state, packet, len(packet), pcm, FRAME_SAMPLES, 0)
            if n != FRAME_SAMPLES:
                raise CodecError(f"libopus decoded {n} samples of a 20 ms frame: {lib.error(n)}")
            out.append(bytes(pcm))
        return out
    finally:
        lib.decoder_destroy(state)


def _check_encoder(lib: LibOpus, frames: list[bytes]) -> tuple[list[bytes], bool]:
    """Every encoder setting the codec uses takes effect; returns the FEC-off packets (for
    the decoder comparisons) and whether FEC packets carry LBRR data."""
    enc = _Encoder(lib)
    try:
        settings = (
            (L.SET_BITRATE, L.GET_BITRATE, 24_000, "OPUS_SET_BITRATE"),
            (L.SET_INBAND_FEC, L.GET_INBAND_FEC, 1, "OPUS_SET_INBAND_FEC"),
            (L.SET_INBAND_FEC, L.GET_INBAND_FEC, 0, "OPUS_SET_INBAND_FEC"),
            (L.SET_DTX, L.GET_DTX, 1, "OPUS_SET_DTX"),
            (L.SET_DTX, L.GET_DTX, 0, "OPUS_SET_DTX"),
            (L.SET_PACKET_LOSS_PERC, L.GET_PACKET_LOSS_PERC, 10, "OPUS_SET_PACKET_LOSS_PERC"),
            (L.SET_PACKET_LOSS_PERC, L.GET_PACKET_LOSS_PERC, 0, "OPUS_SET_PACKET_LOSS_PERC"),
            (L.SET_MAX_BANDWIDTH, L.GET_MAX_BANDWIDTH, L.BANDWIDTH_WIDEBAND, "OPUS_SET_MAX_BANDWIDTH"),
            (L.SET_MAX_BANDWIDTH, L.GET_MAX_BANDWIDTH, L.BANDWIDTH_FULLBAND, "OPUS_SET_MAX_BANDWIDTH"),
        )
        for setter, getter, value, name in settings:
            enc.set(setter, value, name)
            if enc.get(getter) != value:
                raise CodecError(f"{name}({value}) did not take effect: libopus reads back {enc.get(getter)}")
        plain = [enc.encode(f) for f in frames]  # 24 kbit/s, FEC off, fullband allowed
        if not any(lib.packet_get_bandwidth(p) > L.BANDWIDTH_WIDEBAND for p in plain[5:]):
            raise CodecError("OPUS_SET_MAX_BANDWIDTH(fullband) did not take effect: the packets stay wideband")

        enc.set(L.SET_MAX_BANDWIDTH, L.BANDWIDTH_WIDEBAND, "OPUS_SET_MAX_BANDWIDTH")
        capped = [enc.encode(f) for f in frames]
        if any(lib.packet_get_bandwidth(p) > L.BANDWIDTH_WIDEBAND for p in capped[5:]):
            raise CodecError("OPUS_SET_MAX_BANDWIDTH(wideband) did not take effect: the packets are wider")

        # What the call does under loss: FEC on, 10 % expected loss, wideband cap.
        enc.set(L.SET_INBAND_FEC, 1, "OPUS_SET_INBAND_FEC")
        enc.set(L.SET_PACKET_LOSS_PERC, 10, "OPUS_SET_PACKET_LOSS_PERC")
        fec = [enc.encode(f) for f in frames]
        fec_lbrr = True
        if lib.packet_has_lbrr is not None:
            fec_lbrr = sum(lib.packet_has_lbrr(p, len(p)) > 0 for p in fec[5:]) >= 3  # voiced frames only
            if not fec_lbrr:
                raise CodecError("OPUS_SET_INBAND_FEC(1) did not take effect: the packets carry no FEC data")
            if any(lib.packet_has_lbrr(p, len(p)) > 0 for p in plain):
                raise CodecError("OPUS_SET_INBAND_FEC(0) did not take effect: the packets carry FEC data")

        # DTX: silence becomes 1-2 byte packets.
        enc.set(L.SET_DTX, 1, "OPUS_SET_DTX")
        sizes = [len(enc.encode(bytes(FRAME_SAMPLES * 2))) for _ in range(30)]
        if not any(size <= 2 for size in sizes[10:]):
            raise CodecError("OPUS_SET_DTX(1) did not take effect: silence is still sent in full")
        bitrate = sum(len(p) for p in plain[5:]) * 8 / ((len(plain) - 5) * 0.02)
        if not 12_000 <= bitrate <= 40_000:
            raise CodecError(f"OPUS_SET_BITRATE(24000) did not take effect: the packets make {bitrate:.0f} bit/s")
        return plain, fec_lbrr
    finally:
        enc.close()


def probe(lib: LibOpus) -> OpusCapabilities:
    """Check the encoder settings and find the neural decoder features (about 40 ms of CPU).

    CodecError with a sentence saying which setting did not take effect."""
    frames = voiced_probe_signal()
    packets, fec_lbrr = _check_encoder(lib, frames)
    base_lossy = _decode_all(lib, packets, 0, _LOST)
    deep_lossy = _decode_all(lib, packets, DEEP_PLC_COMPLEXITY, _LOST)
    deep_plc = bool(deep_lossy) and any(deep_lossy[i] != base_lossy[i] for i in _LOST)
    base = _decode_all(lib, packets, 0, ())
    enhanced = _decode_all(lib, packets, OSCE_COMPLEXITY, ())
    osce = bool(enhanced) and any(a != b for a, b in zip(base, enhanced, strict=True))
    return OpusCapabilities(fec_lbrr=fec_lbrr, deep_plc=deep_plc, osce=osce)


@dataclass(frozen=True)
class AppOpus:
    """The app's libopus: where it came from, the loaded library, what it can do."""

    source: str  # "wzp-opus-dnn", "opuslib-next-bundled" or "WZP_OPUS_LIB"
    lib: LibOpus
    capabilities: OpusCapabilities

    def describe(self) -> str:
        return f"{self.lib.describe()} [{self.source}]: {self.capabilities.describe()}"


@functools.cache
def app_opus() -> AppOpus:
    """Load, check and describe the app's libopus, once per process.

    The first candidate (:func:`app.media.libopus.library_candidates`) that loads and passes
    :func:`probe` wins; one that fails is logged and the next is tried (a broken deep-PLC
    build falls back to opuslib-next-bundled's). CodecError (one sentence, about the first
    candidate's failure) when none passes.
    """
    failures: list[CodecError] = []
    candidates = L.library_candidates()
    while True:
        try:
            choice = next(candidates)
        except StopIteration:
            break
        except CodecError as exc:  # WZP_OPUS_LIB is not a file, or opuslib-next-bundled is unusable
            failures.append(exc)
            break
        try:
            lib = load_library(choice.path)
        except CodecError as exc:
            failures.append(exc)
            log.warning("opus library %s [%s] skipped: %s", choice.path, choice.source, exc)
            continue
        try:
            capabilities = probe(lib)
        except CodecError as exc:
            failure = CodecError(f"the Opus codec library {lib.describe()} cannot be used: {exc}")
            failures.append(failure)
            log.warning("opus library skipped: %s", failure)
            continue
        found = AppOpus(choice.source, lib, capabilities)
        log.info("opus library %s", found.describe())
        return found
    raise failures[0]
