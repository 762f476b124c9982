"""Echo cancellation, noise suppression and gain control on the real PulseAudio echo path, in figures.

The set-up of tests/test_echo_path.py (tests/tools/echo_path.py): a real relay, two wzp-cli
processes, the near end on null sinks with module-loopback (50 ms) from its speaker into its
microphone. Prints: echo at the far end with processing off/on (whole far-only speech from 2 s,
and the first 2 s), the stats figures, near-end PESQ-WB single/double talk, noise suppression,
CPU of the near-end process per call, and the processing's added latency and cost per frame.

Usage: python bench/bench_echo.py   (root, PulseAudio and espeak-ng as for the tests)
Set WZP_AUDIO_PROCESSING=livekit to measure the other backend (livekit installed).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.media.audio_processing import ProcessingConfig, make_processor
from tests.test_echo_path import FAR_TEXT, NEAR_TEXT, _lag, _pesq
from tests.tools.echo_path import FS, echo_call, fan_noise, level_db, voice, window, write_wav

OFF = ("--no-aec", "--no-ns", "--no-agc")


def added_latency_and_cost(speech: np.ndarray) -> tuple[int, float]:
    """Lag (samples) of the processed speech against the input, and microseconds per 20 ms frame."""
    processor = make_processor(ProcessingConfig())
    assert processor is not None
    pcm = (np.clip(speech, -1, 1) * 32767).astype("<i2").tobytes()
    frames = [pcm[i : i + 1920] for i in range(0, len(pcm) - 1919, 1920)]
    t0 = time.perf_counter()
    out = b"".join(processor.process(f, bytes(1920)) for f in frames)
    cost = (time.perf_counter() - t0) / len(frames) * 1e6
    x = np.frombuffer(b"".join(frames), dtype="<i2").astype(np.float64)
    y = np.frombuffer(out, dtype="<i2").astype(np.float64)
    corr = np.correlate(y[: 4 * FS], x[: 4 * FS - 2000], mode="valid")
    return int(np.argmax(corr)), cost


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        far = voice(tmp / "far.wav", FAR_TEXT, "en-us")
        near = voice(tmp / "near.wav", NEAR_TEXT, "en+f3")
        seconds = len(far) / FS

        lag, cost = added_latency_and_cost(near)
        print(f"processing (AEC+NS+AGC): added latency {lag / FS * 1000:.1f} ms, {cost:.0f} us per 20 ms")

        off = await echo_call(tmp / "echo_off", far_wav=tmp / "far.wav", near_flags=OFF, duration=seconds + 1)
        on = await echo_call(tmp / "echo_on", far_wav=tmp / "far.wav", duration=seconds + 1)
        lo, ln = level_db(window(off.received, 2.0, seconds)), level_db(window(on.received, 2.0, seconds))
        fo, fn = level_db(window(off.received, 0.0, 2.0)), level_db(window(on.received, 0.0, 2.0))
        print(f"echo at the far end (2 s..end of far speech): off {lo:.1f} dBFS, on {ln:.1f} dBFS: {lo - ln:.1f} dB")
        print(f"echo at the far end (first 2 s): off {fo:.1f} dBFS, on {fn:.1f} dBFS: {fo - fn:.1f} dB")
        per_half = [level_db(window(on.received, t, t + 0.5)) for t in np.arange(0, 4, 0.5)]
        print("echo on, per 0.5 s from the start: " + " ".join(f"{v:.0f}" for v in per_half))
        stats = [(s.get("echo_erle_db"), s.get("echo_delay_ms"), s.get("echo_drift_ms")) for s in on.near_stats]
        print(f"stats (erle dB, echo delay ms, drift ms) per second: {stats}")
        print(
            f"near-end CPU per call: on {on.near_cpu_s / on.call_s * 100:.1f} % of a core, "
            f"off {off.near_cpu_s / off.call_s * 100:.1f} %"
        )

        near_s = len(near) / FS + 2
        single = await echo_call(tmp / "single", far_wav=None, near_wav=tmp / "near.wav", duration=near_s)
        single_off = await echo_call(
            tmp / "single_off", far_wav=None, near_wav=tmp / "near.wav", near_flags=OFF, duration=near_s
        )
        late = write_wav(tmp / "near_late.wav", np.concatenate([np.zeros(4 * FS), near]))
        double = await echo_call(tmp / "double", far_wav=tmp / "far.wav", near_wav=late, duration=near_s + 4)
        double_off = await echo_call(
            tmp / "double_off", far_wav=tmp / "far.wav", near_wav=late, near_flags=OFF, duration=near_s + 4
        )
        print(
            f"near-end PESQ-WB: single talk on {_pesq(near, single.received):.2f} / off "
            f"{_pesq(near, single_off.received):.2f}; double talk on {_pesq(near, double.received):.2f} / off "
            f"{_pesq(near, double_off.received):.2f}"
        )

        lead = 6.0
        noisy = fan_noise(lead + len(near) / FS + 0.5, rms=0.03)
        noisy[int(lead * FS) : int(lead * FS) + len(near)] += near
        write_wav(tmp / "noisy.wav", noisy)
        for name, flags in (("processing on", ()), ("--no-ns --no-agc", ("--no-ns", "--no-agc")), ("all off", OFF)):
            run = await echo_call(
                tmp / f"noise_{len(flags)}",
                far_wav=None,
                near_wav=tmp / "noisy.wav",
                near_flags=flags,
                duration=len(noisy) / FS + 1.5,
            )
            at = _lag(near, run.received)
            noise = level_db(run.received[at - int(2.5 * FS) : at - int(0.5 * FS)])
            speech = level_db(run.received[at : at + len(near)])
            print(
                f"noisy near end, {name}: noise {noise:.1f} dBFS, speech {speech:.1f} dBFS, "
                f"PESQ-WB {_pesq(near, run.received[at - FS :]):.2f}"
            )


if __name__ == "__main__":
    asyncio.run(main())
