"""Speech to send (espeak-ng), the offline Opus ceiling, and PESQ-WB of what arrived."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import numpy as np
from pesq import pesq

from app.media.codec import FRAME_SAMPLES, OpusDecoder, OpusEncoder
from app.media.sources import float_to_pcm, read_wav, resample

SENTENCES = (
    "The quick brown fox jumps over the lazy dog. "
    "We are testing a voice call between two computers over an encrypted connection. "
    "Please speak clearly and slowly, so that every word can be understood at the far end. "
    "Seven silver spoons were placed beside the old wooden table."
)


def make_speech(path: Path, text: str = SENTENCES) -> Path:
    """A mono WAV of espeak-ng speech (its own sample rate, 22050 Hz)."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (scripts/setup.sh installs it)")
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    return path


def load_16k(path: Path) -> np.ndarray:
    samples, rate = read_wav(path)
    return resample(samples, rate, 16_000).astype(np.float32)


def offline_ceiling(
    speech: Path, *, bitrate: int = 24_000, loss: float = 0.0, fec: bool = True, seed: int = 7
) -> float:
    """PESQ-WB of the speech encoded and decoded directly with libopus (no network).

    With loss, the decoder knows exactly which packets were lost and recovers each from the
    next packet's in-band FEC (the encoder told the true loss rate, wideband cap on).
    """
    samples, rate = read_wav(speech)
    pcm48 = float_to_pcm(resample(samples, rate, 48_000))
    frames = [pcm48[i : i + FRAME_SAMPLES * 2] for i in range(0, len(pcm48) - FRAME_SAMPLES * 2 + 1, FRAME_SAMPLES * 2)]
    enc = OpusEncoder(bitrate=bitrate, fec=fec)
    if loss:
        enc.set_expected_loss(round(loss * 100))
    packets = [enc.encode(f) for f in frames]
    rng = random.Random(seed)
    lost = [rng.random() < loss for _ in packets]
    dec = OpusDecoder()
    out = []
    for i, pkt in enumerate(packets):
        if not lost[i]:
            out.append(dec.decode(pkt))
        elif fec and i + 1 < len(packets) and not lost[i + 1]:
            out.append(dec.decode_fec(packets[i + 1]))
        else:
            out.append(dec.conceal())
    decoded = np.frombuffer(b"".join(out), dtype="<i2").astype(np.float32) / 32768
    ref = load_16k(speech)
    deg = resample(decoded, 48_000, 16_000).astype(np.float32)
    return score(ref, deg)


def score(ref16: np.ndarray, received16: np.ndarray) -> float:
    """PESQ-WB after aligning the received audio to the reference (cross-correlation)."""
    n = len(ref16)
    probe = ref16[: min(n, 16_000 * 3)]
    search = received16[: len(received16)]
    if len(search) < len(probe):
        search = np.pad(search, (0, len(probe) - len(search)))
    corr = np.correlate(search, probe, mode="valid")
    lag = int(np.argmax(np.abs(corr)))
    aligned = received16[lag : lag + n]
    if len(aligned) < n:
        aligned = np.pad(aligned, (0, n - len(aligned)))
    return float(pesq(16_000, ref16, aligned.astype(np.float32), "wb"))


def score_files(speech: Path, received: Path) -> float:
    return score(load_16k(speech), load_16k(received))
