"""Opus encoder/decoder wrappers for the call audio format.

Format: 48 kHz, mono, 20 ms frames (960 samples), signed 16-bit little-endian PCM
bytes (1920 bytes per frame).

The library is the app's checked libopus (:func:`app.media.opus_probe.app_opus`: the
pip-bundled libopus 1.6, or the deep-PLC build when ``wzp-opus-dnn`` is installed); an
encoder or decoder can be given another :class:`~app.media.libopus.LibOpus` (the benchmark
compares builds). Decoders run at the decoder complexity the probe chose: 7 where the
build has OSCE (and deep PLC), 5 with deep PLC only, else 0.

Two libopus details this module works around on purpose:

* In-band FEC is switched with ``OPUS_SET_INBAND_FEC`` and read back with
  ``OPUS_GET_INBAND_FEC``; a value that did not take raises :class:`CodecError`
  (opuslib 3.0.1's setter silently did nothing; the start-up probe also checks that the
  packets really carry LBRR data).
* libopus 1.3.1 at 24 kbit/s stays in fullband hybrid mode and emits *no* LBRR (FEC)
  data at all for an expected loss of 5 % or less. :meth:`OpusEncoder.set_expected_loss`
  therefore caps the bandwidth to wideband whenever the expected loss is non-zero,
  and lifts the cap again at 0 %. Measured with libopus 1.3.1 (20 ms frames, speech):
  with the cap, FEC data is present at 24 kbit/s and above for 1, 5, 10 and 20 %
  expected loss; at 18-23 kbit/s reliably only from 10 % on; at 16 kbit/s only from about
  25 % on (libopus finds the rate too low for LBRR). Below 24 kbit/s rely on RED.
  libopus 1.6 emits LBRR at 24 kbit/s with or without the cap; the cap stays, so that a
  peer whose libopus is older still gets FEC from us.
"""

from __future__ import annotations

import ctypes
import logging

from app.media import libopus as L
from app.media.errors import CodecError
from app.media.libopus import LibOpus
from app.media.opus_probe import app_opus

__all__ = [
    "CHANNELS",
    "DEFAULT_BITRATE",
    "FRAME_BYTES",
    "FRAME_MS",
    "FRAME_SAMPLES",
    "MAX_BITRATE",
    "MAX_PACKET_BYTES",
    "MIN_BITRATE",
    "SAMPLE_RATE",
    "OpusDecoder",
    "OpusEncoder",
    "is_dtx_payload",
]

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
CHANNELS = 1
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 960
FRAME_BYTES = FRAME_SAMPLES * 2 * CHANNELS  # 1920
MIN_BITRATE = 16_000
MAX_BITRATE = 64_000
DEFAULT_BITRATE = 24_000
MAX_PACKET_BYTES = 1275  # largest single Opus frame (RFC 6716, 3.2.1)
_DTX_MAX_BYTES = 2  # opus_encode returns <= 2 bytes for frames DTX says not to send


def is_dtx_payload(payload: bytes) -> bool:
    """True for the 1-2 byte packets libopus emits for silence when DTX is on."""
    return len(payload) <= _DTX_MAX_BYTES


def _check_pcm(pcm: bytes) -> bytes:
    if not isinstance(pcm, (bytes, bytearray, memoryview)):
        raise TypeError(f"pcm must be bytes, not {type(pcm).__name__}")
    data = bytes(pcm)
    if len(data) != FRAME_BYTES:
        raise ValueError(f"a frame is {FRAME_BYTES} bytes of int16 PCM, got {len(data)}")
    return data


class OpusEncoder:
    """A 48 kHz mono VoIP Opus encoder producing one packet per 20 ms frame."""

    def __init__(
        self, bitrate: int = DEFAULT_BITRATE, fec: bool = True, dtx: bool = False, lib: LibOpus | None = None
    ) -> None:
        self._lib = lib if lib is not None else app_opus().lib
        err = ctypes.c_int()
        self._state: int | None = self._lib.encoder_create(SAMPLE_RATE, CHANNELS, L.APPLICATION_VOIP, ctypes.byref(err))
        if err.value != L.OPUS_OK or not self._state:
            self._state = None
            raise CodecError(f"cannot create the Opus encoder: {self._lib.error(err.value)}")
        self._buffer = ctypes.create_string_buffer(MAX_PACKET_BYTES)
        self._fec = False
        self._expected_loss = 0
        self.set_bitrate(bitrate)
        self._set_fec(fec)
        self._set(L.SET_DTX, 1 if dtx else 0)
        self._dtx = dtx
        self._set(L.SET_PACKET_LOSS_PERC, 0)
        self._set(L.SET_MAX_BANDWIDTH, L.BANDWIDTH_FULLBAND)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.encoder_destroy(state)
            self._state = None

    def _set(self, request: int, value: int) -> None:
        rc = self._lib.encoder_ctl(self._state, request, ctypes.c_int(value))
        if rc != L.OPUS_OK:
            raise CodecError(f"Opus encoder CTL {request}({value}) failed: {self._lib.error(rc)}")

    def _get(self, request: int) -> int:
        value = ctypes.c_int()
        rc = self._lib.encoder_ctl(self._state, request, ctypes.byref(value))
        if rc != L.OPUS_OK:
            raise CodecError(f"Opus encoder CTL {request} failed: {self._lib.error(rc)}")
        return value.value

    @property
    def library(self) -> LibOpus:
        return self._lib

    # -- configuration ---------------------------------------------------------------

    @property
    def bitrate(self) -> int:
        """The target bitrate in bit/s, as libopus reports it."""
        return self._get(L.GET_BITRATE)

    def set_bitrate(self, bitrate: int) -> None:
        """Change the target bitrate; ValueError outside 16000..64000 bit/s."""
        if isinstance(bitrate, bool) or not isinstance(bitrate, int):
            raise TypeError("bitrate must be an int")
        if not MIN_BITRATE <= bitrate <= MAX_BITRATE:
            raise ValueError(f"bitrate must be {MIN_BITRATE}..{MAX_BITRATE} bit/s, got {bitrate}")
        self._set(L.SET_BITRATE, bitrate)

    def _set_fec(self, enabled: bool) -> None:
        self._set(L.SET_INBAND_FEC, 1 if enabled else 0)
        actual = bool(self._get(L.GET_INBAND_FEC))
        if actual != bool(enabled):
            raise CodecError(f"OPUS_SET_INBAND_FEC({int(enabled)}) did not take effect")
        self._fec = actual

    def set_fec(self, enabled: bool) -> None:
        """Switch in-band FEC on or off (CodecError if libopus does not take it)."""
        self._set_fec(bool(enabled))

    @property
    def fec(self) -> bool:
        """Whether in-band FEC is on (read back from libopus)."""
        return bool(self._get(L.GET_INBAND_FEC))

    @property
    def dtx(self) -> bool:
        return self._dtx

    @property
    def expected_loss(self) -> int:
        """The expected packet loss in percent, as libopus reports it."""
        return self._get(L.GET_PACKET_LOSS_PERC)

    @property
    def max_bandwidth(self) -> int:
        """The libopus max bandwidth constant (``BANDWIDTH_*`` in :mod:`app.media.libopus`)."""
        return self._get(L.GET_MAX_BANDWIDTH)

    def set_expected_loss(self, percent: int) -> None:
        """Tell the encoder how much loss to expect (0..100 %).

        With a non-zero value the bandwidth is capped to wideband so that libopus
        actually emits FEC data (see the module docstring); at 0 the cap is lifted.
        """
        if isinstance(percent, bool) or not isinstance(percent, int):
            raise TypeError("percent must be an int")
        if not 0 <= percent <= 100:
            raise ValueError(f"expected loss must be 0..100 %, got {percent}")
        self._set(L.SET_PACKET_LOSS_PERC, percent)
        cap = L.BANDWIDTH_WIDEBAND if percent > 0 else L.BANDWIDTH_FULLBAND
        self._set(L.SET_MAX_BANDWIDTH, cap)
        if percent != self._expected_loss:
            log.debug("opus expected loss %d%% (max bandwidth %d)", percent, cap)
        self._expected_loss = percent

    @property
    def lookahead(self) -> int:
        """The encoder's algorithmic delay in samples (312 at 48 kHz for VoIP)."""
        return self._get(L.GET_LOOKAHEAD)

    # -- coding ----------------------------------------------------------------------

    def encode(self, pcm: bytes) -> bytes:
        """Encode one 20 ms frame (1920 bytes of int16 LE PCM) into an Opus packet."""
        data = _check_pcm(pcm)
        n = self._lib.encode(
            self._state,
            ctypes.cast(data, ctypes.POINTER(ctypes.c_int16)),
            FRAME_SAMPLES,
            self._buffer,
            MAX_PACKET_BYTES,
        )
        if n < 0:
            raise CodecError(f"Opus encode failed: {self._lib.error(n)}")
        return self._buffer.raw[:n]


class OpusDecoder:
    """A 48 kHz mono Opus decoder with FEC recovery and packet-loss concealment.

    Every method returns exactly one 20 ms frame (1920 bytes of int16 LE PCM).
    Call the methods in playout order: for a lost frame ``n`` call
    :meth:`decode_fec` with packet ``n+1`` (or :meth:`conceal` if it is missing too),
    then :meth:`decode` with packet ``n+1`` as usual.

    ``complexity`` is the decoder complexity (0..10): by default the one the start-up probe
    chose for the app's library (deep PLC >= 5, OSCE >= 7), 0 for another ``lib``.
    """

    def __init__(self, lib: LibOpus | None = None, complexity: int | None = None) -> None:
        if lib is None:
            app = app_opus()
            lib = app.lib
            if complexity is None:
                complexity = app.capabilities.decoder_complexity
        self._lib = lib
        if complexity is None:
            complexity = 0
        if isinstance(complexity, bool) or not isinstance(complexity, int) or not 0 <= complexity <= 10:
            raise ValueError(f"decoder complexity must be 0..10, got {complexity!r}")
        err = ctypes.c_int()
        self._state: int | None = lib.decoder_create(SAMPLE_RATE, CHANNELS, ctypes.byref(err))
        if err.value != L.OPUS_OK or not self._state:
            self._state = None
            raise CodecError(f"cannot create the Opus decoder: {lib.error(err.value)}")
        self._pcm = (ctypes.c_int16 * FRAME_SAMPLES)()
        self._complexity = 0
        if complexity:
            self._set_complexity(complexity)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state:
            self._lib.decoder_destroy(state)
            self._state = None

    def _set_complexity(self, complexity: int) -> None:
        rc = self._lib.decoder_ctl(self._state, L.SET_COMPLEXITY, ctypes.c_int(complexity))
        value = ctypes.c_int(-1)
        if rc == L.OPUS_OK:
            rc = self._lib.decoder_ctl(self._state, L.GET_COMPLEXITY, ctypes.byref(value))
        if rc != L.OPUS_OK or value.value != complexity:
            raise CodecError(f"this libopus ({self._lib.describe()}) cannot set the decoder complexity to {complexity}")
        self._complexity = complexity

    @property
    def complexity(self) -> int:
        """The decoder complexity in effect."""
        return self._complexity

    @property
    def library(self) -> LibOpus:
        return self._lib

    def _decode(self, payload: bytes | None, fec: bool) -> bytes:
        data = None if payload is None else bytes(payload)
        if data is not None and not data:
            data = None  # an empty payload means "lost": conceal
        n = self._lib.decode(
            self._state,
            data,
            0 if data is None else len(data),
            self._pcm,
            FRAME_SAMPLES,
            1 if fec and data is not None else 0,
        )
        if n < 0:
            raise CodecError(f"Opus decode failed: {self._lib.error(n)}")
        out = bytes(self._pcm)[: n * 2 * CHANNELS]
        if len(out) != FRAME_BYTES:  # a packet of a different duration: fit it
            out = out[:FRAME_BYTES].ljust(FRAME_BYTES, b"\x00")
        return out

    def decode(self, payload: bytes) -> bytes:
        """Decode one received Opus packet; CodecError if libopus rejects it."""
        return self._decode(payload, fec=False)

    def decode_fec(self, next_payload: bytes) -> bytes:
        """Recover the lost frame *before* ``next_payload`` from its in-band FEC data.

        Without FEC data in ``next_payload`` libopus falls back to concealment.
        """
        return self._decode(next_payload, fec=True)

    def conceal(self) -> bytes:
        """Packet-loss concealment for one lost frame (decode with no data)."""
        return self._decode(None, fec=False)

    def reset(self) -> None:
        """Forget all decoder state (e.g. after a stream restart); the complexity stays."""
        rc = self._lib.decoder_ctl(self._state, L.RESET_STATE)
        if rc != L.OPUS_OK:
            raise CodecError(f"Opus decoder reset failed: {self._lib.error(rc)}")
