"""Opus encoder/decoder wrappers for the call audio format.

Format: 48 kHz, mono, 20 ms frames (960 samples), signed 16-bit little-endian PCM
bytes (1920 bytes per frame).

Two libopus/opuslib details this module works around on purpose:

* opuslib 3.0.1's ``Encoder.inband_fec`` property setter is broken (it never passes
  the value to the CTL), so in-band FEC is switched on with the raw
  ``OPUS_SET_INBAND_FEC`` CTL and read back with ``OPUS_GET_INBAND_FEC``; a value
  that did not take raises :class:`CodecError`.
* libopus 1.3.1 at 24 kbit/s stays in fullband hybrid mode and emits *no* LBRR (FEC)
  data at all for an expected loss of 5 % or less. :meth:`OpusEncoder.set_expected_loss`
  therefore caps the bandwidth to wideband whenever the expected loss is non-zero,
  and lifts the cap again at 0 %. Measured with libopus 1.3.1 (20 ms frames, speech):
  with the cap, FEC data is present at 24 kbit/s and above for 1, 5, 10 and 20 %
  expected loss; at 18-23 kbit/s reliably only from 10 % on; at 16 kbit/s only from about
  25 % on (libopus finds the rate too low for LBRR). Below 24 kbit/s rely on RED.
"""

from __future__ import annotations

import logging
from typing import Any

import opuslib  # type: ignore[import-untyped]
import opuslib.api.ctl  # type: ignore[import-untyped]
import opuslib.api.decoder  # type: ignore[import-untyped]
import opuslib.api.encoder  # type: ignore[import-untyped]
import opuslib.exceptions  # type: ignore[import-untyped]

from app.media.errors import CodecError

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

    def __init__(self, bitrate: int = DEFAULT_BITRATE, fec: bool = True, dtx: bool = False) -> None:
        try:
            self._state: Any = opuslib.api.encoder.create_state(SAMPLE_RATE, CHANNELS, opuslib.APPLICATION_VOIP)
        except opuslib.exceptions.OpusError as exc:
            raise CodecError(f"cannot create the Opus encoder: {exc}") from exc
        self._fec = False
        self._expected_loss = 0
        self.set_bitrate(bitrate)
        self._set_fec(fec)
        self._ctl(opuslib.api.ctl.set_dtx, 1 if dtx else 0)
        self._dtx = dtx
        self._ctl(opuslib.api.ctl.set_packet_loss_perc, 0)
        self._ctl(opuslib.api.ctl.set_max_bandwidth, opuslib.BANDWIDTH_FULLBAND)

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            opuslib.api.encoder.destroy(state)
            self._state = None

    def _ctl(self, request: Any, value: int | None = None) -> Any:
        try:
            return opuslib.api.encoder.encoder_ctl(self._state, request, value)
        except opuslib.exceptions.OpusError as exc:
            raise CodecError(f"Opus encoder CTL failed: {exc}") from exc

    # -- configuration ---------------------------------------------------------------

    @property
    def bitrate(self) -> int:
        """The target bitrate in bit/s, as libopus reports it."""
        return int(self._ctl(opuslib.api.ctl.get_bitrate))

    def set_bitrate(self, bitrate: int) -> None:
        """Change the target bitrate; ValueError outside 16000..64000 bit/s."""
        if isinstance(bitrate, bool) or not isinstance(bitrate, int):
            raise TypeError("bitrate must be an int")
        if not MIN_BITRATE <= bitrate <= MAX_BITRATE:
            raise ValueError(f"bitrate must be {MIN_BITRATE}..{MAX_BITRATE} bit/s, got {bitrate}")
        self._ctl(opuslib.api.ctl.set_bitrate, bitrate)

    def _set_fec(self, enabled: bool) -> None:
        self._ctl(opuslib.api.ctl.set_inband_fec, 1 if enabled else 0)
        actual = bool(self._ctl(opuslib.api.ctl.get_inband_fec))
        if actual != bool(enabled):
            raise CodecError(f"OPUS_SET_INBAND_FEC({int(enabled)}) did not take effect")
        self._fec = actual

    def set_fec(self, enabled: bool) -> None:
        """Switch in-band FEC on or off (CodecError if libopus does not take it)."""
        self._set_fec(bool(enabled))

    @property
    def fec(self) -> bool:
        """Whether in-band FEC is on (read back from libopus)."""
        return bool(self._ctl(opuslib.api.ctl.get_inband_fec))

    @property
    def dtx(self) -> bool:
        return self._dtx

    @property
    def expected_loss(self) -> int:
        """The expected packet loss in percent, as libopus reports it."""
        return int(self._ctl(opuslib.api.ctl.get_packet_loss_perc))

    @property
    def max_bandwidth(self) -> int:
        """The libopus max bandwidth constant (``opuslib.BANDWIDTH_*``)."""
        return int(self._ctl(opuslib.api.ctl.get_max_bandwidth))

    def set_expected_loss(self, percent: int) -> None:
        """Tell the encoder how much loss to expect (0..100 %).

        With a non-zero value the bandwidth is capped to wideband so that libopus
        actually emits FEC data (see the module docstring); at 0 the cap is lifted.
        """
        if isinstance(percent, bool) or not isinstance(percent, int):
            raise TypeError("percent must be an int")
        if not 0 <= percent <= 100:
            raise ValueError(f"expected loss must be 0..100 %, got {percent}")
        self._ctl(opuslib.api.ctl.set_packet_loss_perc, percent)
        cap = opuslib.BANDWIDTH_WIDEBAND if percent > 0 else opuslib.BANDWIDTH_FULLBAND
        self._ctl(opuslib.api.ctl.set_max_bandwidth, cap)
        if percent != self._expected_loss:
            log.debug("opus expected loss %d%% (max bandwidth %d)", percent, cap)
        self._expected_loss = percent

    @property
    def lookahead(self) -> int:
        """The encoder's algorithmic delay in samples (312 at 48 kHz for VoIP)."""
        return int(self._ctl(opuslib.api.ctl.get_lookahead))

    # -- coding ----------------------------------------------------------------------

    def encode(self, pcm: bytes) -> bytes:
        """Encode one 20 ms frame (1920 bytes of int16 LE PCM) into an Opus packet."""
        data = _check_pcm(pcm)
        try:
            return bytes(opuslib.api.encoder.encode(self._state, data, FRAME_SAMPLES, MAX_PACKET_BYTES))
        except opuslib.exceptions.OpusError as exc:
            raise CodecError(f"Opus encode failed: {exc}") from exc


class OpusDecoder:
    """A 48 kHz mono Opus decoder with FEC recovery and packet-loss concealment.

    Every method returns exactly one 20 ms frame (1920 bytes of int16 LE PCM).
    Call the methods in playout order: for a lost frame ``n`` call
    :meth:`decode_fec` with packet ``n+1`` (or :meth:`conceal` if it is missing too),
    then :meth:`decode` with packet ``n+1`` as usual.
    """

    def __init__(self) -> None:
        try:
            self._state: Any = opuslib.api.decoder.create_state(SAMPLE_RATE, CHANNELS)
        except opuslib.exceptions.OpusError as exc:
            raise CodecError(f"cannot create the Opus decoder: {exc}") from exc

    def __del__(self) -> None:
        state = getattr(self, "_state", None)
        if state is not None:
            opuslib.api.decoder.destroy(state)
            self._state = None

    def _decode(self, payload: bytes | None, fec: bool) -> bytes:
        data = None if payload is None else bytes(payload)
        if data is not None and not data:
            data = None  # an empty payload means "lost": conceal
        try:
            pcm = opuslib.api.decoder.decode(
                self._state,
                data,
                0 if data is None else len(data),
                FRAME_SAMPLES,
                fec and data is not None,
                channels=CHANNELS,
            )
        except opuslib.exceptions.OpusError as exc:
            raise CodecError(f"Opus decode failed: {exc}") from exc
        out = bytes(pcm)
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
        """Forget all decoder state (e.g. after a stream restart)."""
        try:
            opuslib.api.decoder.decoder_ctl(self._state, opuslib.api.ctl.reset_state)
        except opuslib.exceptions.OpusError as exc:
            raise CodecError(f"Opus decoder reset failed: {exc}") from exc
