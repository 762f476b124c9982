"""A real two-process relay call (wzp-cli call --play -> listen --record) scored with PESQ-WB, with
every core pinned by a busy loop: how much a busy computer costs the call.

    PYTHONPATH=$PWD .venv/bin/python bench/bench_busy_call.py --runs 3 --busy 2

Prints, per call, the PESQ-WB score and the callee's media counters (stalls, late, concealed,
accelerated, stretched, forced drops, underruns), then the median. `--busy 0` measures idle.
The busy loops are this script's own child processes, ended by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_media_e2e import _one_call
from tests.tools.audio_quality import make_speech, offline_ceiling

COUNTERS = re.compile(
    r"media stopped .*?received=(\d+) .*?stalls=(\d+) late=(\d+) concealed=(\d+) "
    r"accelerated=(\d+) stretched=(\d+) forced_drops=(\d+) skipped=(\d+) underruns=(\d+)(?: resyncs=\d+ delayed=(\d+))?"
)
NAMES = (
    "received",
    "stalls",
    "late",
    "concealed",
    "accelerated",
    "stretched",
    "forced_drops",
    "skipped",
    "underruns",
    "delayed",
)


def start_busy_loops(n: int) -> list[subprocess.Popen[bytes]]:
    cores = sorted(os.sched_getaffinity(0))
    procs = []
    for i in range(n):
        core = cores[i % len(cores)]
        procs.append(subprocess.Popen(["taskset", "-c", str(core), sys.executable, "-c", "while True: pass"]))
    return procs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--busy", type=int, default=2, help="busy loops, one per core in turn (0: idle)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_busy_"))
    speech = make_speech(tmp / "speech.wav")
    print(f"offline ceiling PESQ-WB {offline_ceiling(speech):.2f}")
    busy = start_busy_loops(args.busy)
    scores = []
    try:
        for run in range(args.runs):
            try:
                _path, score, _stats, starved = await _one_call(tmp / f"run{run}", speech, answer="generic")
            except AssertionError as exc:  # the call itself failed (on a loaded machine: the race timed out)
                print(f"run {run}: the call failed: {str(exc).strip().splitlines()[-1]}", flush=True)
                continue
            scores.append(score)
            stderr = (tmp / f"run{run}").glob("callee*")
            counters = ""
            for f in stderr:
                for m in COUNTERS.finditer(f.read_text(errors="replace")):
                    counters = " ".join(f"{n}={v}" for n, v in zip(NAMES, m.groups(), strict=True))
            print(f"run {run}: PESQ-WB {score:.2f} starved={starved} callee: {counters}", flush=True)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    print(
        f"busy loops {args.busy}: median PESQ-WB {statistics.median(scores):.2f} "
        f"min {min(scores):.2f} over {len(scores)} calls"
    )


if __name__ == "__main__":
    asyncio.run(main())
