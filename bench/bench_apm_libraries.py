"""pywebrtc-audio against livekit's AudioProcessingModule, through our one interface.

Synthetic echo path at 48 kHz, 10 ms blocks: far-end espeak speech, echo = far at -6 dB,
delayed 40 ms, plus a room tail (exponentially decaying noise, RT60 ~ 150 ms); a second voice
as the near-end talker; optional fan-like noise. Figures per backend:

* echo reduction (dB, mic energy / output energy) during far-end-only speech, over the whole
  run and from 2 s on, with AEC alone and with AEC+NS
* near-end speech kept in double talk (PESQ-WB of the output against the clean near voice)
* CPU time per 20 ms frame with AEC+NS+AGC

Usage: python bench/bench_apm_libraries.py   (livekit must be installed: it is not a dependency)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.media.audio_processing import BACKENDS, ProcessingConfig
from app.media.sources import read_wav, resample
from tests.tools.audio_quality import score

FS = 48_000
BLOCK = FS // 100
FAR_TEXT = (
    "The quick brown fox jumps over the lazy dog. We are testing a voice call between two computers. "
    "Seven silver spoons were placed beside the old wooden table."
)
NEAR_TEXT = "Please speak clearly and slowly, so that every word can be understood at the far end."


def speech(tmp: Path, name: str, text: str, voice: str) -> np.ndarray:
    path = tmp / f"{name}.wav"
    import subprocess

    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    x, rate = read_wav(path)
    return resample(x, rate, FS)


def echo_of(far: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    delay = int(0.040 * FS)
    tail_n = int(0.150 * FS)
    t = np.arange(tail_n) / FS
    tail = rng.standard_normal(tail_n) * np.exp(-6.9 * t / 0.150) * 0.03
    tail[0] = 1.0
    h = np.concatenate([np.zeros(delay), tail]) * 0.5  # -6 dB
    return np.convolve(far, h)[: len(far)]


def fan_noise(n: int, rng: np.random.Generator, level: float) -> np.ndarray:
    white = rng.standard_normal(n)
    brown = np.cumsum(white)
    brown -= np.convolve(brown, np.ones(480) / 480, mode="same")  # high-pass the drift away
    hum = np.sin(2 * np.pi * 120 * np.arange(n) / FS)
    x = brown / np.std(brown) + 0.5 * hum
    return level * x / np.std(x)


def to_pcm(x: np.ndarray) -> bytes:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype("<i2").tobytes()


def from_pcm(b: bytes) -> np.ndarray:
    return np.frombuffer(b, dtype="<i2").astype(np.float64) / 32768


def run(backend: str, config: ProcessingConfig, near: np.ndarray, far: np.ndarray) -> tuple[np.ndarray, float]:
    proc = BACKENDS[backend](config)
    n = len(near) // (2 * BLOCK) * 2 * BLOCK
    near_b, far_b = to_pcm(near[:n]), to_pcm(far[:n])
    step = 2 * BLOCK * 2  # 20 ms, as the device path hands them
    out = bytearray()
    spent = 0.0
    for i in range(0, len(near_b), step):
        t0 = time.perf_counter()
        out += proc.process(near_b[i : i + step], far_b[i : i + step])
        spent += time.perf_counter() - t0
    return from_pcm(bytes(out)), spent / (len(near_b) // step) * 1e6


def reduction_db(mic: np.ndarray, out: np.ndarray, mask: np.ndarray) -> float:
    m = mask[: len(out)]
    return 10 * np.log10(np.mean(mic[: len(out)][m] ** 2) / max(np.mean(out[m] ** 2), 1e-15))


def main() -> None:
    rng = np.random.default_rng(3)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        far_voice = speech(tmp, "far", FAR_TEXT, "en-us")
        near_voice = speech(tmp, "near", NEAR_TEXT, "en+f3")
    far_voice *= 0.5 / np.max(np.abs(far_voice))
    near_voice *= 0.3 / np.max(np.abs(near_voice))
    n = len(far_voice)
    far_only_end = int(n * 0.55)
    echo = echo_of(far_voice, rng)
    # far-end only for the first 55 %, then the near talker joins (double talk)
    near = np.zeros(n)
    dt_len = min(len(near_voice), n - far_only_end)
    near[far_only_end : far_only_end + dt_len] = near_voice[:dt_len]
    mic = echo + near
    env = np.convolve(np.abs(far_voice), np.ones(480) / 480, mode="same")
    active = env > 0.01 * np.max(env)
    idx = np.arange(n)
    far_only = active & (idx < far_only_end)
    after_2s = far_only & (idx >= 2 * FS)
    noisy_mic = mic + fan_noise(n, rng, 0.01)

    print(f"signal: {n / FS:.1f} s, far-end only {far_only_end / FS:.1f} s, then double talk {dt_len / FS:.1f} s")
    print(
        "backend        | AEC: echo red. all / >=2s | AEC+NS: all / >=2s | near PESQ-WB single / double talk"
        " | us per 20 ms (all 3)"
    )
    for backend in BACKENDS:
        try:
            aec, _ = run(backend, ProcessingConfig(True, False, False), mic, far_voice)
            aec_ns, _ = run(backend, ProcessingConfig(True, True, False), noisy_mic, far_voice)
            _, cost = run(backend, ProcessingConfig(True, True, True), mic, far_voice)
        except Exception as exc:  # livekit not installed
            print(f"{backend:14s} | unavailable: {exc}")
            continue
        seg = slice(far_only_end, far_only_end + dt_len)
        ref16 = resample(near_voice[:dt_len], FS, 16_000).astype(np.float32)
        deg16 = resample(aec[seg], FS, 16_000).astype(np.float32)
        pesq_dt = score(ref16, deg16)
        single, _ = run(backend, ProcessingConfig(True, True, True), near, far_voice * 0)
        pesq_st = score(ref16, resample(single[seg], FS, 16_000).astype(np.float32))
        raw_dt = score(ref16, resample(mic[seg], FS, 16_000).astype(np.float32))
        print(
            f"{backend:14s} | {reduction_db(mic, aec, far_only):10.1f} / {reduction_db(mic, aec, after_2s):5.1f} dB"
            f"      | {reduction_db(noisy_mic, aec_ns, far_only):6.1f} /"
            f" {reduction_db(noisy_mic, aec_ns, after_2s):5.1f} dB"
            f"   | {pesq_st:.2f} / {pesq_dt:.2f} (raw {raw_dt:.2f}) | {cost:8.0f}"
        )


if __name__ == "__main__":
    main()
