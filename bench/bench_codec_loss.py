"""Offline ceiling for call audio under packet loss (PESQ wideband), per libopus build.

Speech from ``espeak-ng -w`` (about 9 s) is resampled to 48 kHz, encoded at 24 kbit/s in
20 ms frames, put through packet loss (fixed seeds; every library and configuration sees
the *same* loss patterns, so the comparison is paired) and decoded by an *ideal* receiver
that knows exactly which packets were lost and waits as long as needed (no jitter).

Libraries (each encodes and decodes its own column; absent ones are left out and said so):

* ``1.3.1``      the system's libopus 1.3.1 (Debian 12's libopus0), what the app used before;
* ``1.6 PyPI``   opuslib-next-bundled's default libopus 1.6 build, decoder complexity 0;
* ``1.6.1 dnn``  wzp-opus-dnn, libopus 1.6.1 with deep PLC + OSCE, at ``--dnn-complexity``
                 (default: the app's, 7);
* ``1.3.1>dnn``  a 1.3.1 sender into the 1.6.1 dnn decoder (what the receiver's upgrade alone gives).

Configurations, for each library:

* ``FEC``   in-band FEC on, expected loss = the real loss (wideband cap), a lost frame is
            decoded from the next packet's FEC when that packet arrived, else concealed.
* ``app``   what the app does: RED copies of 1 or 2 previous packets as
            :class:`app.media.loss.RedundancyPolicy` with the product's thresholds (its defaults)
            chooses for the real loss rate, the encoder set
            by :meth:`RedundancyPolicy.codec_settings` (FEC handed over to RED while RED is on).

Loss patterns: none; random (Bernoulli) 5, 10 and 20 %; bursty ~10 % (a Gilbert model:
bursts of 3 packets on average). Reference and decoded audio are resampled to 16 kHz and
scored with PESQ in wideband mode. Usage::

    .venv/bin/python bench/bench_codec_loss.py [--seeds 1 2 3 4 5 6] [--bitrate 24000] [--dnn-complexity 7]
"""

from __future__ import annotations

import argparse
import logging
import os
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
    SAMPLE_RATE,
    OpusDecoder,
    OpusEncoder,
)
from app.media.errors import CodecError
from app.media.libopus import LibOpus, bundled_wheel_library, dnn_wheel_library, load_library
from app.media.loss import RedundancyPolicy
from app.media.opus_probe import OSCE_COMPLEXITY
from app.media.red import RedPacketizer, expand_red
from app.media.sources import float_to_pcm, pcm_to_float, read_wav, resample

log = logging.getLogger("bench_codec_loss")

TEXT = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
    "background. It is easy to tell the depth of a well. These days a chicken leg "
    "is a rare dish."
)
PESQ_RATE = 16_000
CONFIGS = ("FEC", "app")


@dataclass(frozen=True)
class Pattern:
    name: str
    percent: int  # the loss rate the sender is told (the measured one)
    burst: float  # mean burst length in packets; 1 = independent losses


PATTERNS = (
    Pattern("none", 0, 1),
    Pattern("random 5 %", 5, 1),
    Pattern("random 10 %", 10, 1),
    Pattern("random 20 %", 20, 1),
    Pattern("bursty ~10 %, bursts ~3", 10, 3),
)


@dataclass(frozen=True)
class Library:
    name: str
    lib: LibOpus  # the decoder's
    complexity: int
    sender: LibOpus | None = None  # the encoder's, when it is another library (an old peer)


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


def loss_mask(n: int, pattern: Pattern, seed: int) -> list[bool]:
    """True = packet lost. Independent losses, or a two-state Gilbert model whose bad state
    loses every packet and lasts ``burst`` packets on average; fixed seed."""
    rng = random.Random(f"{seed}:{pattern.name}")
    p = pattern.percent / 100
    if pattern.burst <= 1:
        return [rng.random() < p for _ in range(n)]
    leave = 1 / pattern.burst  # P(bad -> good)
    enter = p * leave / (1 - p)  # P(good -> bad), so that the stationary loss is p
    lost, bad = [], False
    for _ in range(n):
        bad = rng.random() >= leave if bad else rng.random() < enter
        lost.append(bad)
    return lost


def system_libopus_131(path: str | None) -> LibOpus | None:
    """The system's libopus 1.3.x by its real path (``dlopen`` by soname would hand back a libopus
    already loaded under the same soname), or None."""
    candidates = (
        [path]
        if path
        else [
            f"{folder}/libopus.so.0"
            for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib")
        ]
    )
    for candidate in candidates:
        if os.path.isfile(candidate):
            lib = load_library(os.path.realpath(candidate))
            if lib.version.startswith("libopus 1.3"):
                return lib
    return None


def libraries(dnn_complexity: int, old_path: str | None) -> tuple[list[Library], list[str]]:
    found, missing = [], []
    old = system_libopus_131(old_path)
    if old is not None:
        found.append(Library("1.3.1", old, 0))
    else:
        missing.append("1.3.1 (apt-get install libopus0)")
    found.append(Library("1.6 PyPI", load_library(bundled_wheel_library()), 0))
    dnn = dnn_wheel_library()
    if dnn is not None:
        found.append(Library("1.6.1 dnn", load_library(dnn), dnn_complexity))
        if old is not None:  # an old peer sending to us: the receiver's upgrade alone
            found.append(Library("1.3.1>dnn", found[-1].lib, dnn_complexity, sender=old))
    else:
        missing.append("1.6.1 dnn (packaging/build_opus_wheel.sh --install)")
    return found, missing


def run_config(
    library: Library, config: str, frames: list[bytes], lost: list[bool], percent: int, bitrate: int
) -> tuple[np.ndarray, float, int]:
    """Encode, lose, decode; returns (48 kHz output, kbit/s on the wire, RED depth)."""
    encoder = OpusEncoder(bitrate=bitrate, fec=True, lib=library.sender or library.lib)
    encoder.set_expected_loss(percent)
    fec, depth = True, 0
    if config == "app":
        policy = RedundancyPolicy()  # the product thresholds (RED from 3 % measured loss)
        depth = policy.update(percent / 100)  # perfect knowledge of the loss rate
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
            for frame_seq, _ts, payload, _redundant in expand_red(seq, seq * 960, datagram):
                received.setdefault(frame_seq, payload)
        else:
            received[seq] = datagram

    decoder = OpusDecoder(lib=library.lib, complexity=library.complexity)
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
        "--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6], help="loss-pattern seeds (paired across columns)"
    )
    parser.add_argument("--bitrate", type=int, default=24_000)
    parser.add_argument("--old-lib", default=None, help="the libopus 1.3.x file (default: the system's)")
    parser.add_argument("--dnn-complexity", type=int, default=OSCE_COMPLEXITY, help="decoder complexity, dnn build")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        speech = synthesize_speech(Path(tmp))
    frames = frames_of(speech)
    reference = pcm_to_float(b"".join(frames))
    libs, missing = libraries(args.dnn_complexity, args.old_lib)
    print(
        f"speech: {len(frames) * FRAME_MS / 1000:.1f} s, {len(frames)} frames, "
        f"Opus {args.bitrate // 1000} kbit/s, seeds {args.seeds}"
    )
    for library in libs:
        print(f"  {library.name:>9}: {library.lib.describe()}, decoder complexity {library.complexity}")
    for name in missing:
        print(f"  (left out: {name})")

    columns = [(library, config) for library in libs for config in CONFIGS]
    table: dict[tuple[str, str, str], list[Result]] = {}
    for pattern in PATTERNS:
        for seed in args.seeds:
            lost = loss_mask(len(frames), pattern, seed)
            for library, config in columns:
                try:
                    decoded, kbps, depth = run_config(library, config, frames, lost, pattern.percent, args.bitrate)
                except CodecError as exc:
                    raise SystemExit(f"{library.name} {config}: {exc}") from exc
                key = (pattern.name, library.name, config)
                table.setdefault(key, []).append(Result(score(reference, decoded), kbps, depth))

    width = 16
    header = f"{'loss':>24} | " + " | ".join(f"{lib.name + ' ' + cfg:>{width}}" for lib, cfg in columns)
    print("\nPESQ-WB (MOS-LQO), mean over seeds; payload kbit/s in brackets")
    print(header)
    print("-" * len(header))
    failures = []
    means: dict[tuple[str, str, str], float] = {}
    for pattern in PATTERNS:
        cells = []
        for library, config in columns:
            results = table[(pattern.name, library.name, config)]
            mean = float(np.mean([r.pesq for r in results]))
            means[(pattern.name, library.name, config)] = mean
            kbps = float(np.mean([r.kbps for r in results]))
            cells.append(f"{mean:4.2f} [{kbps:4.1f}]")
        print(f"{pattern.name:>24} | " + " | ".join(f"{c:>{width}}" for c in cells))
        for library in libs:
            if (
                pattern.percent >= 10
                and means[(pattern.name, library.name, "app")] <= means[(pattern.name, library.name, "FEC")]
            ):
                failures.append(f"{library.name} at {pattern.name}")

    print("\nPaired differences (same loss patterns), app configuration: mean delta PESQ [seeds better / all]")
    pairs = [(b, a) for i, a in enumerate(libs) for b in libs[i + 1 :] if b.sender is None or a.name == "1.3.1"]
    for newer, older in pairs:
        cells = []
        for pattern in PATTERNS:
            new = [r.pesq for r in table[(pattern.name, newer.name, "app")]]
            old = [r.pesq for r in table[(pattern.name, older.name, "app")]]
            deltas = [n - o for n, o in zip(new, old, strict=True)]
            better = sum(d > 0 for d in deltas)
            cells.append(f"{pattern.name}: {float(np.mean(deltas)):+.2f} [{better}/{len(deltas)}]")
        print(f"  {newer.name} vs {older.name}: " + "; ".join(cells))
    print(f"\n({time.monotonic() - started:.1f} s)")
    if failures:
        print(f"FAIL: the app's FEC+RED does not beat FEC alone for {failures}")
        return 1
    print("OK: the app's FEC+RED beats FEC alone at 10 % and 20 % loss (random and bursty) with every library")
    return 0


if __name__ == "__main__":
    sys.exit(main())
