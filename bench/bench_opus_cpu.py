"""CPU per decoded and per concealed 20 ms frame, per libopus build and decoder complexity.

Speech from ``espeak-ng`` (about 9 s) at 24 kbit/s; every 10th frame is lost (concealed).
The decode of each frame is timed with ``time.process_time_ns`` (this process's CPU, so the
other processes on a shared machine cost it nothing) and summed per kind of frame; repeated
``--rounds`` times, the best round is printed (the least disturbed one). Complexity 5 turns
deep PLC on, 6 LACE and 7 NoLACE (OSCE) in a build that has them; a default build runs
the same code at every complexity. Usage::

    .venv/bin/python bench/bench_opus_cpu.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.media.codec import FRAME_MS, OpusDecoder, OpusEncoder
from app.media.libopus import LibOpus, bundled_wheel_library, dnn_wheel_library, load_library
from bench.bench_codec_loss import frames_of, synthesize_speech

LOST_EVERY = 10


def measure(lib: LibOpus, complexity: int, packets: list[bytes], rounds: int) -> tuple[float, float]:
    """(ms per received frame, ms per concealed frame), best of ``rounds``."""
    best_decode, best_conceal = float("inf"), float("inf")
    for _ in range(rounds):
        decoder = OpusDecoder(lib=lib, complexity=complexity)
        decode_ns = conceal_ns = 0
        decoded = concealed = 0
        for i, packet in enumerate(packets):
            lost = i % LOST_EVERY == LOST_EVERY - 1
            start = time.process_time_ns()
            if lost:
                decoder.conceal()
            else:
                decoder.decode(packet)
            spent = time.process_time_ns() - start
            if lost:
                conceal_ns += spent
                concealed += 1
            else:
                decode_ns += spent
                decoded += 1
        best_decode = min(best_decode, decode_ns / decoded / 1e6)
        best_conceal = min(best_conceal, conceal_ns / concealed / 1e6)
    return best_decode, best_conceal


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        frames = frames_of(synthesize_speech(Path(tmp)))
    libs = [("1.6 PyPI", load_library(bundled_wheel_library()))]
    dnn = dnn_wheel_library()
    if dnn is None:
        print("(1.6.1 dnn left out: packaging/build_opus_wheel.sh --install)")
    else:
        libs.append(("1.6.1 dnn", load_library(dnn)))
    print(f"speech: {len(frames) * FRAME_MS / 1000:.1f} s, every {LOST_EVERY}th frame concealed, best of {args.rounds}")
    print(f"{'library':>10} | complexity | ms/decoded frame | ms/concealed frame | CPU share of real time")
    for name, lib in libs:
        packets = [OpusEncoder(lib=lib).encode(f) for f in frames]
        for complexity in (0, 5, 7, 10):
            decode_ms, conceal_ms = measure(lib, complexity, packets, args.rounds)
            mean = (decode_ms * (LOST_EVERY - 1) + conceal_ms) / LOST_EVERY
            print(
                f"{name:>10} | {complexity:>10} | {decode_ms:16.3f} | {conceal_ms:18.3f} | "
                f"{100 * mean / FRAME_MS:5.2f} % of one core"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
