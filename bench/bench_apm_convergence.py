"""How soon the echo canceller converges on the real PulseAudio echo path, over many calls.

Issue 14's target: the echo at the far end at least 25 dB lower with processing on than off,
within 2 s of the call's start. One call with processing off gives the echo's level; then
`--runs` calls with processing on (tests/tools/echo_path.py: real relay, two wzp-cli processes,
null sinks with module-loopback 50 ms). Prints per run the reduction from 2 s (and from 1 s and
3 s), the echo level per 0.5 s, the reference's jumps, and the distribution at the end; first the
capture processing's CPU per 20 ms frame (in-process, synthetic echo).

`--baseline DIR` (a directory holding another version's `app/`, e.g. from `git archive`): every
run is made with both versions back to back, so both see the same machine load.

Usage: python bench/bench_apm_convergence.py [--runs 10] [--baseline DIR]   (root, PulseAudio, espeak-ng)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_echo_path import FAR_TEXT
from tests.tools.echo_path import FS, echo_call, level_db, voice, window

OFF = ("--no-aec", "--no-ns", "--no-agc")
#: The capture callback's processing per 20 ms frame (aligner, canceller and the other processors, the
#: echo delay measurement), in-process on a synthetic echo (-6 dB, 80 ms), for a version's `app/`.
COST = """
import time, numpy as np
from app.media.echo_reference import RenderReference
from app.media.session_factory import make_device_processing
from app.media.audio_processing import ProcessingConfig
capture, reference = make_device_processing(ProcessingConfig(), to_speaker=True, notice=print)
fs, n = 48000, 960
rng = np.random.default_rng(1)
far = (np.convolve(rng.standard_normal(20 * fs), np.ones(8) / 8, "same") * 0.2 * 32767).astype("<i2")
near = (np.concatenate([np.zeros(3840), far[:-3840]]) * 0.5).astype("<i2")
times = []
for i in range(0, len(far) - n, n):
    reference.played(far[i : i + n].tobytes(), i / fs + 0.05)
    t0 = time.perf_counter()
    capture.process(near[i : i + n].tobytes(), i / fs)
    times.append(time.perf_counter() - t0)
t = np.array(times[50:]) * 1e6
print(f"mean {t.mean():.0f} us, median {np.median(t):.0f}, p99 {np.percentile(t, 99):.0f}, max {t.max():.0f}")
"""
TARGET_DB = 25.0
STARTS = (1.0, 2.0, 3.0)
JUMPS = re.compile(r"echo reference (resync|past what was played|realigned|lock follows)[^\n]*?(-?[\d.]+)\n")


async def main(runs: int, keep: Path | None, baseline: Path | None) -> None:
    here = str(Path(__file__).resolve().parent.parent)
    versions = {"this": here} if baseline is None else {"this": here, "baseline": str(baseline.resolve())}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        far_wav = tmp / "far.wav"
        far = voice(far_wav, FAR_TEXT, "en-us", peak=0.5)
        seconds = len(far) / FS
        for name, path in versions.items():
            cost = subprocess.run(
                [sys.executable, "-c", COST], env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True
            )
            figure = cost.stdout.strip() or cost.stderr[-500:]
            print(f"{name}: capture processing per 20 ms frame: {figure}", flush=True)
        os.environ["PYTHONPATH"] = here
        off = await echo_call(tmp / "off", far_wav=far_wav, near_flags=OFF, duration=seconds + 1)
        print(f"echo with processing off: {level_db(window(off.received, 2.0, seconds)):.1f} dBFS from 2 s", flush=True)
        figures = {name: {start: [] for start in STARTS} for name in versions}
        for run in range(runs):
            for name, path in versions.items():
                os.environ["PYTHONPATH"] = path
                on = await echo_call(tmp / f"{name}{run}", far_wav=far_wav, duration=seconds + 1)
                row = []
                for start in STARTS:
                    off_db = level_db(window(off.received, start, seconds))
                    reduction = off_db - level_db(window(on.received, start, seconds))
                    figures[name][start].append(reduction)
                    row.append(f"from {start:g} s {reduction:5.1f} dB")
                profile = " ".join(f"{level_db(window(on.received, t, t + 0.5)):.0f}" for t in np.arange(0, 6, 0.5))
                jumps = [f"{kind} {value}" for kind, value in JUMPS.findall(on.near_stderr)]
                print(f"run {run + 1} {name}: {', '.join(row)}; dBFS per 0.5 s: {profile}; {jumps}", flush=True)
        for name, by_start in figures.items():
            for start, values in by_start.items():
                v = np.array(values)
                print(
                    f"{name}: reduction from {start:g} s over {runs} runs: min {v.min():.1f}, median "
                    f"{np.median(v):.1f}, max {v.max():.1f} dB; >= {TARGET_DB:g} dB in {int((v >= TARGET_DB).sum())}/"
                    f"{runs}; all: {' '.join(f'{x:.1f}' for x in sorted(v))}"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="keep the calls' files (logs, recordings) here")
    parser.add_argument("--baseline", type=Path, help="a directory with another version's app/, run alternately")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.keep, args.baseline))
