"""How long after the reference its echo shows up in the raw capture: measured, to the sample.

Neither processing library reports its canceller's delay estimate, and the device timestamps that
line the reference up with the capture are rough (through PulseAudio's ALSA plugin they move 15-50
ms from block to block, and step by 25-300 ms when a loaded machine starves a stream). So the echo
itself is measured: every quarter second, the last half second of the reference as fed to the canceller is
cross-correlated with the raw capture over lags of -300..+500 ms (at 12 kHz through one FFT, then
refined at 48 kHz around the peak). A clear match (normalised correlation >= `MIN_QUALITY`) is a
measurement; with no far speech, no echo (a headset) or a near talker over it, there is none.

Sans-IO and pure numpy: `add` takes the blocks, `measure` returns a lag or None. ~0.5 ms of CPU per
quarter second. `ReferenceAligner.measured` (echo_reference.py) keeps the canceller's delay still with it.
"""

from __future__ import annotations

from typing import Any

from app.media.audio_format import SAMPLE_RATE

WINDOW_S = 0.5  # the reference correlated per measurement
MIN_LAG_S = -0.300  # a reference that comes after its echo (a misaligned cursor) is found too
MAX_LAG_S = 0.500
#: Until that much history is held (1.3 s), a narrower range around the delays measured here (70-130 ms)
#: needs only 0.8 s: the first echo is known sooner (the capture bypasses the canceller until then).
EARLY_MIN_LAG_S = -0.050
EARLY_MAX_LAG_S = 0.250
EVERY_S = 0.25
DECIMATE = 4
MIN_QUALITY = 0.5
FAR_ACTIVE_MS = 10 ** (-50 / 10) * 32768.0**2  # -50 dBFS mean square: the far end is talking
AGREE_S = 0.005  # the reported estimate: three measurements in a row within this


class EchoDelayEstimator:
    """The lag (samples) at which the raw capture best matches the reference fed to the canceller."""

    def __init__(self) -> None:
        import numpy

        self._np: Any = numpy
        self._window = int(WINDOW_S * SAMPLE_RATE)
        self._min_lag = int(MIN_LAG_S * SAMPLE_RATE)
        self._max_lag = int(MAX_LAG_S * SAMPLE_RATE)
        self._history = self._window + self._max_lag - self._min_lag
        self._early_range = (int(EARLY_MIN_LAG_S * SAMPLE_RATE), int(EARLY_MAX_LAG_S * SAMPLE_RATE))
        self._early_history = self._window + self._early_range[1] - self._early_range[0]
        self._near: list[Any] = []
        self._far: list[Any] = []
        self._held = 0  # samples in the lists
        self._since = 0  # samples since the last measurement
        self._recent: list[int | None] = []
        self._estimate: int | None = None
        self.measurements = 0

    def reset(self) -> None:
        """The reference jumped: what is held no longer lines up with what comes."""
        self._near.clear()
        self._far.clear()
        self._held = self._since = 0
        self._recent.clear()

    def add(self, near: bytes, far: bytes) -> int | None:
        """One block (raw capture and the reference fed with it); a new measurement (samples) when made."""
        np = self._np
        self._near.append(np.frombuffer(near, dtype="<i2"))
        self._far.append(np.frombuffer(far, dtype="<i2"))
        n = len(self._near[-1])
        self._held += n
        self._since += n
        while self._held - len(self._near[0]) >= self._history:
            self._held -= len(self._near.pop(0))
            self._far.pop(0)
        if self._held < self._early_history or self._since < EVERY_S * SAMPLE_RATE:
            return None
        self._since = 0
        lo, hi = (self._min_lag, self._max_lag) if self._held >= self._history else self._early_range
        size = self._window + hi - lo
        lag = self.measure(np.concatenate(self._near)[-size:], np.concatenate(self._far)[-size:], lo, hi)
        self._push(lag)
        return lag

    def measure(self, near: Any, far: Any, min_lag: int, max_lag: int) -> int | None:
        """`near` and `far` of (window + max_lag - min_lag) samples, ending now: the lag (samples, within
        the range) at which the reference window's echo is in the capture, or None."""
        np = self._np
        start = -min_lag
        ref = far[start : start + self._window].astype(np.float64)
        if float(np.mean(ref * ref)) < FAR_ACTIVE_MS:
            return None
        x = near.astype(np.float64)
        xd = x[: len(x) // DECIMATE * DECIMATE].reshape(-1, DECIMATE).mean(axis=1)
        rd = ref.reshape(-1, DECIMATE).mean(axis=1)
        xd -= xd.mean()
        rd -= rd.mean()
        size = 1 << int(len(xd) + len(rd)).bit_length()
        corr = np.fft.irfft(np.fft.rfft(xd, size) * np.conj(np.fft.rfft(rd, size)), size)
        valid = (len(xd) - len(rd)) + 1
        corr = corr[:valid]
        p = int(np.argmax(corr))
        seg = xd[p : p + len(rd)]
        # (a * b).sum(), not np.dot: numpy's BLAS may start threads for a dot this long, which on a
        # loaded machine took 100-300 ms (measured) in the capture callback
        norm = float(np.sqrt((rd * rd).sum() * (seg * seg).sum()))
        if norm <= 0 or corr[p] / norm < MIN_QUALITY:
            return None
        coarse = p * DECIMATE  # offset of the echo window in `near`
        best, best_value = coarse, -np.inf
        for offset in range(max(coarse - DECIMATE, 0), min(coarse + DECIMATE, len(x) - self._window) + 1):
            value = float((x[offset : offset + self._window] * ref).sum())
            if value > best_value:
                best, best_value = offset, value
        lag = best - start
        return lag if min_lag <= lag <= max_lag else None

    def _push(self, lag: int | None) -> None:
        """Reported only when three in a row agree: a chance match of two voices does not hold still."""
        self._recent = [*self._recent[-2:], lag]
        lags = [x for x in self._recent if x is not None]
        if len(lags) == 3 and max(lags) - min(lags) <= AGREE_S * SAMPLE_RATE:
            self._estimate = lags[-1]
        elif lag is None or len(lags) < 2:
            self._estimate = None

    def estimate(self) -> float | None:
        """The confirmed echo delay in ms (None: no clear echo lately)."""
        return None if self._estimate is None else self._estimate / SAMPLE_RATE * 1000
