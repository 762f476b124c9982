"""Offline ceiling for call audio under random packet loss (PESQ wideband).

Speech from ``espeak-ng -w`` (about 9 s) is resampled to 48 kHz, encoded with the
call codec at 24 kbit/s in 20 ms frames, put through random packet loss (fixed
seed) and decoded by an *ideal* receiver that knows exactly which packets were
lost and waits as long as needed (no jitter, no late packets):

* ``PLC``      FEC off, lost frames concealed by the decoder.
* ``FEC``      in-band FEC on, expected loss = the real loss (wideband cap), a lost
               frame is decoded from the next packet's FEC when that packet arrived.
* ``FEC+RED naive``   as FEC, plus RED copies of 1 or 2 previous packets, the depth
               chosen by :class:`app.media.red.RedundancyPolicy` from the real loss rate.
* ``FEC+RED policy``  what the app does: the same RED depth, with the encoder set by
               :meth:`RedundancyPolicy.codec_settings`. While RED is on, in-band FEC
               is handed over to RED (FEC for frame n rides in packet n+1, which
               already carries a full copy of frame n) and the encoder is told the
               residual loss; below the RED threshold it is plain FEC.

Reference and decoded audio are resampled to 16 kHz and scored with PESQ in
wideband mode. Usage::

    .venv/bin/python bench/bench_codec_loss.py [--seeds 1 2 3] [--bitrate 24000]
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pesq import pesq  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.media.codec import (
    FRAME_BYTES,
    FRAME_MS,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    OpusDecoder,
    OpusEncoder,
)
from app.media.red import RedPacketizer, RedundancyPolicy, expand_red
from app.media.sources import float_to_pcm, pcm_to_float, read_wav, resample

log = logging.getLogger("bench_codec_loss")

TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
    "background. It is easy to tell the depth of a well. These days a chicken leg "
    "is a rare dish."
)
LOSS_RATES = (0, 5, 10, 20)
PESQ_RATE = 16_000
CONFIGS = ("PLC", "FEC", "FEC+RED naive", "FEC+RED policy")


@dataclass
class Result:
    pesq: float
    kbps: float
    red_depth: int


def synthesize_speech(workdir: Path) -> np.ndarray:
    """espeak-ng speech as 48 kHz mono float samples."""
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is required (apt-get install espeak-ng)")
    wav = workdir / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "165", "-w", str(wav), TEXT], check=True)
    samples, rate = read_wav(wav)
    return resample(samples, rate, SAMPLE_RATE)


def frames_of(signal: np.ndarray) -> list[bytes]:
    pcm = float_to_pcm(signal)
    pcm += bytes(-len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


def loss_mask(n: int, percent: int, seed: int) -> list[bool]:
    """True = packet lost; independent (Bernoulli) losses with a fixed seed."""
    rng = random.Random(f"{seed}:{percent}")
    return [rng.random() < percent / 100 for _ in range(n)]


def run_config(
    config: str, frames: list[bytes], lost: list[bool], percent: int, bitrate: int
) -> tuple[np.ndarray, float, int]:
    """Encode, lose, decode; returns (48 kHz output, kbit/s on the wire, RED depth)."""
    fec = config != "PLC"
    encoder = OpusEncoder(bitrate=bitrate, fec=fec)
    encoder.set_expected_loss(percent if fec else 0)
    depth = 0
    if config.startswith("FEC+RED"):
        policy = RedundancyPolicy()
        depth = policy.update(percent / 100)  # perfect knowledge of the loss rate
        if config.endswith("policy"):
            settings = policy.codec_settings(percent / 100)
            fec = settings.fec
            encoder.set_fec(fec)
            encoder.set_expected_loss(settings.expected_loss_percent)
    packetizer = RedPacketizer()
    packets = [encoder.encode(frame) for frame in frames]
    wire = [packetizer.build(seq, p, depth) if depth else p for seq, p in enumerate(packets)]
    kbps = sum(len(w) for w in wire) * 8 / (len(wire) * FRAME_MS)

    # What the receiver ends up holding for every frame (primary or RED copy).
    received: dict[int, bytes] = {}
    for seq, datagram in enumerate(wire):
        if lost[seq]:
            continue
        if depth:
            for frame_seq, _ts, payload, _redundant in expand_red(seq, seq * FRAME_SAMPLES, datagram):
                received.setdefault(frame_seq, payload)
        else:
            received[seq] = datagram

    decoder = OpusDecoder()
    out = []
    primaries = {seq: packets[seq] for seq in range(len(packets)) if not lost[seq]}
    for seq in range(len(packets)):
        if seq in received:
            out.append(decoder.decode(received[seq]))
        elif fec and seq + 1 in primaries:
            out.append(decoder.decode_fec(primaries[seq + 1]))
        else:
            out.append(decoder.conceal())
    decoded = pcm_to_float(b"".join(out))
    return decoded[encoder.lookahead :], kbps, depth


def score(reference_48k: np.ndarray, decoded_48k: np.ndarray) -> float:
    n = min(len(reference_48k), len(decoded_48k))
    ref = resample(reference_48k[:n], SAMPLE_RATE, PESQ_RATE)
    deg = resample(decoded_48k[:n], SAMPLE_RATE, PESQ_RATE)
    return float(pesq(PESQ_RATE, ref, deg, "wb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[1, 2, 3], help="loss-pattern seeds; scores are averaged over them"
    )
    parser.add_argument("--bitrate", type=int, default=24_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        speech = synthesize_speech(Path(tmp))
    frames = frames_of(speech)
    reference = pcm_to_float(b"".join(frames))
    print(
        f"speech: {len(frames) * FRAME_MS / 1000:.1f} s, {len(frames)} frames, "
        f"Opus {args.bitrate // 1000} kbit/s, seeds {args.seeds}"
    )

    table: dict[tuple[int, str], list[Result]] = {}
    for percent in LOSS_RATES:
        for seed in args.seeds:
            lost = loss_mask(len(frames), percent, seed)
            for config in CONFIGS:
                decoded, kbps, depth = run_config(config, frames, lost, percent, args.bitrate)
                table.setdefault((percent, config), []).append(Result(score(reference, decoded), kbps, depth))

    header = f"{'loss':>5} | " + " | ".join(f"{c:>17}" for c in CONFIGS) + " | RED depth"
    print("\nPESQ-WB (MOS-LQO), mean over seeds; payload kbit/s in brackets")
    print(header)
    print("-" * len(header))
    failures = []
    for percent in LOSS_RATES:
        cells = []
        means = {}
        for config in CONFIGS:
            results = table[(percent, config)]
            means[config] = float(np.mean([r.pesq for r in results]))
            kbps = float(np.mean([r.kbps for r in results]))
            cells.append(f"{means[config]:5.2f} [{kbps:5.1f} kb/s]")
        depth = table[(percent, "FEC+RED policy")][0].red_depth
        print(f"{percent:>4}% | " + " | ".join(f"{c:>17}" for c in cells) + f" | {depth}")
        red = min(means["FEC+RED naive"], means["FEC+RED policy"])
        if percent >= 10 and red <= means["FEC"]:
            failures.append(percent)
    print(f"\n({time.monotonic() - started:.1f} s)")
    if failures:
        print(f"FAIL: FEC+RED does not beat FEC alone at {failures} % loss")
        return 1
    print("OK: FEC+RED beats FEC alone at 10 % and 20 % loss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
