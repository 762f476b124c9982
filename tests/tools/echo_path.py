"""A real acoustic echo path in PulseAudio, and a real call across it (tests/test_echo_path.py, bench/bench_echo.py).

The near end (`wzp-cli listen`, real sounddevice streams) plays to a null sink `spk` and records
from the monitor of a second null sink `mic`. `module-loopback` carries `spk`'s monitor into
`mic` with ~50 ms latency: whatever the near end plays comes back into its microphone, the echo.
A near-end talker (and noise) is `paplay`ed into `mic` too. The far end (`wzp-cli call`) sends a
WAV and records what comes back, so the echo it would hear is in its recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.media.sources import float_to_pcm, read_wav, resample
from tests.tools import processes as P
from tests.tools.pulse import null_sinks

FS = 48_000
LOOPBACK_MS = 50
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class EchoRun:
    received: np.ndarray  # what the far end recorded (float, 48 kHz)
    near_stats: list[dict[str, Any]]
    near_cpu_s: float  # user+system CPU of the near-end process over the call
    call_s: float
    near_stderr: str = ""
    far_events: list[dict[str, Any]] = field(default_factory=list)


def write_wav(path: Path, samples: np.ndarray, rate: int = FS) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(float_to_pcm(samples))
    return path


def voice(path: Path, text: str, voice_name: str, peak: float = 0.5) -> np.ndarray:
    """espeak-ng speech at 48 kHz, normalised to `peak`; also written to `path`."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice_name, "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
    x, rate = read_wav(raw)
    x = resample(x, rate, FS)
    x = x * (peak / np.max(np.abs(x)))
    write_wav(path, x)
    return x


def fan_noise(seconds: float, rms: float, seed: int = 5) -> np.ndarray:
    """Fan-like noise: low-frequency-heavy broadband noise with a 120 Hz hum."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FS)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / FS)
    spectrum *= 1 / np.sqrt(1 + (f / 300.0) ** 2)  # pink-ish roll-off above 300 Hz
    x = np.fft.irfft(spectrum, n)
    x += 0.3 * np.std(x) * np.sin(2 * np.pi * 120 * np.arange(n) / FS)
    return x * (rms / np.std(x))


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def _pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True, timeout=10).stdout


async def echo_call(
    tmp: Path,
    *,
    far_wav: Path | None,
    near_wav: Path | None = None,
    near_flags: tuple[str, ...] = (),
    duration: float = 10.0,
    echo: bool = True,
) -> EchoRun:
    """One call across the echo path; `near_wav` is paplayed into the near microphone once the call is up.
    `echo=False`: no loopback, as with a headset."""
    tmp.mkdir(parents=True, exist_ok=True)
    with null_sinks("spk", "mic") as s:
        loopback = (
            _pactl(
                "load-module",
                "module-loopback",
                f"source={s['spk']}.monitor",
                f"sink={s['mic']}",
                f"latency_msec={LOOPBACK_MS}",
            ).strip()
            if echo
            else ""
        )
        relay, port, _ = await P.start_relay(tmp / "relay")
        procs = [relay]
        cpu: dict[str, float] = {}
        sampler: asyncio.Task[None] | None = None
        try:
            addr = f"127.0.0.1:{port}"
            near_fp = P.identity(tmp / "near")
            near = await P.spawn(
                "near",
                tmp,
                "wzp-cli",
                *P.cli(tmp / "near", addr, "listen", "--max-calls", "1", *near_flags),
                env={"PULSE_SINK": s["spk"], "PULSE_SOURCE": s["mic"] + ".monitor"},
            )
            procs.append(near)
            await near.wait_event("registered")

            async def sample_cpu() -> None:
                while True:
                    value = _cpu_seconds(near.pid)
                    if value is not None:
                        cpu.setdefault("first", value)
                        cpu["last"] = value
                    await asyncio.sleep(0.25)

            out = tmp / "far_received.wav"
            far_args = ["--play", str(far_wav)] if far_wav is not None else ["--no-audio"]
            far = await P.spawn(
                "far",
                tmp,
                "wzp-cli",
                *P.cli(
                    tmp / "far", addr, "call", near_fp, "--duration", f"{duration:.1f}", *far_args, "--record", str(out)
                ),
            )
            procs.append(far)
            await near.wait_event("path", 30)
            sampler = asyncio.ensure_future(sample_cpu())
            if near_wav is not None:
                talker = await P.spawn("talker", tmp, "/usr/bin/paplay", f"--device={s['mic']}", str(near_wav))
                procs.append(talker)
            assert await far.finish(duration + 60) == 0, far.stderr[-2000:]
            assert await near.finish(60) == 0, near.stderr[-2000:]
        finally:
            if sampler is not None:
                sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sampler
            for proc in procs:
                await proc.stop()
            if loopback:
                subprocess.run(["pactl", "unload-module", loopback], capture_output=True, timeout=10)
    received, rate = read_wav(out)
    assert rate == FS
    return EchoRun(
        received=received,
        near_stats=near.named("stats"),
        near_cpu_s=cpu.get("last", 0.0) - cpu.get("first", 0.0),
        call_s=duration,
        near_stderr=near.stderr,
        far_events=far.events,
    )


def level_db(x: np.ndarray) -> float:
    return float(10 * np.log10(max(float(np.mean(x**2)), 1e-12)))


def window(x: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    return x[int(start_s * FS) : int(end_s * FS)]
