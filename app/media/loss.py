"""Loss in, repair out: the receiver's loss meter and the sender's redundancy policy.

The receiver counts, per report interval, how many media datagrams it got against how
many the sequence numbers say were sent (:class:`LossMeter`) and reports the fraction
(:mod:`app.media.report`). The sender turns the peer's reported loss into a RED depth and
encoder settings (:class:`RedundancyPolicy`). The defaults are the product's thresholds:
RED from 3 % measured loss (at 5 % it scores ~3.5 PESQ-WB against ~2.7 for in-band FEC
alone, ``bench/bench_codec_loss.py``), two copies from 12 %.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

__all__ = [
    "OFF_DEPTH1",
    "OFF_DEPTH2",
    "ON_DEPTH1",
    "ON_DEPTH2",
    "CodecSettings",
    "LossMeter",
    "RedundancyPolicy",
]

log = logging.getLogger(__name__)

#: Measured loss that turns one RED copy on / two copies on (the product's thresholds).
ON_DEPTH1 = 0.03
ON_DEPTH2 = 0.12
#: Loss the link must stay below (for `hold_reports` reports) to drop back from 2 / from 1.
OFF_DEPTH2 = 0.07
OFF_DEPTH1 = 0.01


class LossMeter:
    """Receiver side: the fraction of media datagrams lost in each report interval.

    Feed it the *extended* sequence number of every authenticated, non-duplicate datagram
    (:attr:`app.media.packet.MediaPacket.extended_seq`); :meth:`end_interval` returns the
    interval's loss. A datagram lost at the very end of an interval counts once a later
    one arrives, in the next interval.
    """

    def __init__(self) -> None:
        self._highest: int | None = None
        self._base: int | None = None  # highest extended seq at the end of the last interval
        self._received = 0
        self.loss = 0.0  # the last interval's loss (kept over an interval with no datagram)

    def received(self, extended_seq: int) -> None:
        if self._base is None:
            self._base = extended_seq - 1
        if self._highest is None or extended_seq > self._highest:
            self._highest = extended_seq
        self._received += 1

    def end_interval(self) -> float:
        """Close the interval: its loss (0..1); the previous figure when nothing was expected."""
        if self._highest is None or self._base is None:
            return self.loss
        expected = self._highest - self._base
        if expected > 0:
            self.loss = max(0.0, min(1.0, 1.0 - self._received / expected))
        self._base = self._highest
        self._received = 0
        return self.loss


@dataclass(frozen=True, slots=True)
class CodecSettings:
    """How the sender should configure its encoder and RED packetizer."""

    red_depth: int
    fec: bool
    expected_loss_percent: int


@dataclass(frozen=True, slots=True)
class _Thresholds:
    on_depth1: float
    on_depth2: float
    off_depth2: float
    off_depth1: float


class RedundancyPolicy:
    """Chooses the RED depth (0, 1 or 2) from the measured loss, with hysteresis.

    Going up is immediate: loss >= ``on_depth1`` (3 %) turns depth 1 on, loss >=
    ``on_depth2`` (12 %) goes to depth 2. Going down needs the loss to fall clearly
    below the entry threshold (< ``off_depth2`` = 7 % to leave depth 2, < ``off_depth1``
    = 1 % to switch off) for ``hold_reports`` consecutive updates, so that a loss
    rate hovering around a threshold does not make the bandwidth flap.
    """

    def __init__(
        self,
        on_depth1: float = ON_DEPTH1,
        on_depth2: float = ON_DEPTH2,
        off_depth2: float = OFF_DEPTH2,
        off_depth1: float = OFF_DEPTH1,
        hold_reports: int = 3,
    ) -> None:
        if not 0.0 <= off_depth1 < on_depth1 <= 1.0:
            raise ValueError("need 0 <= off_depth1 < on_depth1 <= 1")
        if not off_depth1 < off_depth2 < on_depth2 <= 1.0 or on_depth2 <= on_depth1:
            raise ValueError("need off_depth1 < off_depth2 < on_depth2 and on_depth1 < on_depth2")
        if hold_reports < 1:
            raise ValueError("hold_reports must be >= 1")
        self._t = _Thresholds(on_depth1, on_depth2, off_depth2, off_depth1)
        self._hold = hold_reports
        self._depth = 0
        self._below = 0

    @property
    def depth(self) -> int:
        """The current number of previous frames to repeat (0 = RED off)."""
        return self._depth

    def update(self, loss: float) -> int:
        """Feed a loss measurement (fraction 0..1, e.g. from a receiver report) and
        return the depth to use from now on."""
        if loss != loss or loss < 0.0:  # NaN or negative: ignore the report
            return self._depth
        loss = min(loss, 1.0)
        t = self._t
        wanted = 2 if loss >= t.on_depth2 else 1 if loss >= t.on_depth1 else 0
        if wanted > self._depth:
            self._set(wanted, loss)
            self._below = 0
            return self._depth
        floor = t.off_depth2 if self._depth == 2 else t.off_depth1
        if self._depth > 0 and loss < floor:
            self._below += 1
            if self._below >= self._hold:
                lower = 1 if self._depth == 2 and loss >= t.off_depth1 else 0
                self._set(lower, loss)
                self._below = 0
        else:
            self._below = 0
        return self._depth

    def codec_settings(self, loss: float) -> CodecSettings:
        """Encoder settings that go with the current depth at measured ``loss``.

        Without RED, in-band FEC is on and the encoder expects the measured loss.
        With RED, in-band FEC is switched off: the FEC data for frame ``n`` travels
        in packet ``n+1``, which already carries a full-quality copy of frame ``n``,
        so FEC could never recover anything RED does not, and its bits are better
        spent on the primary encoding. The encoder is then told the *residual* loss
        (frames whose packet and all packets carrying copies were lost,
        ``loss ** (depth + 1)`` for independent losses, at least 1 %), which keeps
        its loss-robust mode and the wideband cap.
        """
        loss = 0.0 if loss != loss else min(max(loss, 0.0), 1.0)
        measured = min(100, math.ceil(round(loss * 100, 6)))
        if self._depth == 0:
            return CodecSettings(0, True, measured)
        residual = loss ** (self._depth + 1)
        expected = max(1, math.ceil(round(residual * 100, 6))) if loss > 0 else 0
        return CodecSettings(self._depth, False, min(expected, measured))

    def _set(self, depth: int, loss: float) -> None:
        if depth != self._depth:
            log.info("RED depth %d -> %d at %.1f %% loss", self._depth, depth, 100 * loss)
        self._depth = depth
