"""Echo cancellation, noise suppression and gain control on a real echo path (tests/tools/echo_path.py).

Two real clients and a real relay; the near end runs real sounddevice streams on PulseAudio null
sinks with `module-loopback` feeding its speaker back into its microphone (~50 ms). The far end
sends espeak speech and records what comes back: the echo it would hear.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from app.media.sources import resample
from tests.tools.audio_quality import score
from tests.tools.echo_path import FS, EchoRun, echo_call, fan_noise, level_db, voice, window, write_wav

pytestmark = [pytest.mark.audio, pytest.mark.slow]

FAR_TEXT = (
    "The quick brown fox jumps over the lazy dog. We are testing a voice call between two computers "
    "over an encrypted connection. Seven silver spoons were placed beside the old wooden table."
)
NEAR_TEXT = "Please speak clearly and slowly, so that every word can be understood at the far end."


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    tmp = tmp_path_factory.mktemp("voices")
    far = voice(tmp / "far.wav", FAR_TEXT, "en-us", peak=0.5)
    near = voice(tmp / "near.wav", NEAR_TEXT, "en+f3", peak=0.5)
    return {"far": (tmp / "far.wav", far), "near": (tmp / "near.wav", near)}


def _pesq(clean: np.ndarray, received: np.ndarray) -> float:
    return score(resample(clean, FS, 16_000).astype(np.float32), resample(received, FS, 16_000).astype(np.float32))


# Issue 14's target: 25 dB less echo from 2 s after the call's start (the whole far-only speech from there).
# Where the canceller has converged in every run seen here, asserted too.
TARGET_S = 2.0
CONVERGED_S = 6.0


async def test_echo_is_cancelled(tmp_path: Path, voices) -> None:
    far_wav, far = voices["far"]
    seconds = len(far) / FS
    off = await echo_call(
        tmp_path / "off", far_wav=far_wav, near_flags=("--no-aec", "--no-ns", "--no-agc"), duration=seconds + 1
    )
    on = await echo_call(tmp_path / "on", far_wav=far_wav, duration=seconds + 1)
    assert seconds > CONVERGED_S + 2, f"the far voice is too short ({seconds:.1f} s) to measure a converged echo"

    def reduction(run: EchoRun, start: float) -> float:
        return level_db(window(off.received, start, seconds)) - level_db(window(run.received, start, seconds))

    if reduction(on, TARGET_S) < 25.0 and _starved(on):
        # A device glitch (the sound server played silence we never wrote: the echo's delay stepped mid-call)
        # or a starved media loop measures this machine's load: the canceller re-learns for a second or two.
        # Once more, printed (bench/bench_apm_convergence.py gives the distribution over many calls).
        print(f"echo reduction from 2 s {reduction(on, TARGET_S):.1f} dB on a starved machine: once more")
        on = await echo_call(tmp_path / "on2", far_wav=far_wav, duration=seconds + 1)
    level_off = level_db(window(off.received, CONVERGED_S, seconds))
    level_on = level_db(window(on.received, CONVERGED_S, seconds))
    from_2s = reduction(on, TARGET_S)
    first_off = level_db(window(off.received, 0.0, 2.0))
    first_on = level_db(window(on.received, 0.0, 2.0))
    erle = [(s.get("echo_erle_db"), s.get("echo_delay_ms")) for s in on.near_stats]
    print(
        f"echo at the far end: off {level_off:.1f} dBFS, on {level_on:.1f} dBFS "
        f"(reduction from {CONVERGED_S:g} s {level_off - level_on:.1f} dB, from 2 s {from_2s:.1f} dB; "
        f"first 2 s {first_off:.1f} -> {first_on:.1f}); "
        f"near CPU {on.near_cpu_s / on.call_s * 100:.1f} % on, {off.near_cpu_s / off.call_s * 100:.1f} % off; "
        f"(ERLE, echo delay) in stats {erle}"
    )
    assert level_off > -40, "the echo path carried nothing back: the test set-up is broken"
    profile = " ".join(f"{level_db(window(on.received, t, t + 0.5)):.0f}" for t in np.arange(0, seconds, 0.5))
    notes = [line for line in on.near_stderr.splitlines() if "echo reference" in line or "underrun" in line]
    assert level_off - level_on >= 25.0, f"echo on, per 0.5 s: {profile}; {notes}; stats {on.near_stats}"
    assert from_2s >= 25.0, f"echo on, per 0.5 s: {profile}; {notes}"
    # the stats event carries the processing figures once the far end has talked for a while
    late = [s for s in on.near_stats[3:] if s.get("echo_erle_db") is not None]
    assert late and max(s["echo_erle_db"] for s in late) >= 20.0, on.near_stats
    delays = [s["echo_delay_ms"] for s in late if s.get("echo_delay_ms") is not None]
    assert delays and all(40 <= d <= 400 for d in delays), delays  # ~50 ms loopback plus the sound server
    assert all(s.get("echo_erle_db") is None for s in off.near_stats)
    assert not any("echo path absent" in line for line in on.near_stderr.splitlines())  # never bypassed here


def _lag(clean: np.ndarray, received: np.ndarray) -> int:
    """Where `clean` starts in `received` (48 kHz samples), by cross-correlation at 8 kHz."""
    c, r = clean[::6], received[::6]
    corr = np.correlate(r, c[: min(len(c), 8000 * 3)], mode="valid")
    return int(np.argmax(np.abs(corr))) * 6


STARVED = re.compile(r"media stopped .*? stalls=(\d+) late=(\d+) .*?forced_drops=(\d+) .*?underruns=(\d+)")


def _starved(run: EchoRun) -> bool:
    """The near end's media loop fell behind, played late, dropped or ran dry, or its audio device
    reported an underrun or overflow (PortAudio's status, ALSA's own message): signs of a machine short of CPU."""
    text = run.near_stderr
    if any(word in text for word in ("underflow", "overflow", "xrun", "underrun occurred", "reported a glitch")):
        return True
    return any(any(int(n) for n in counts) for counts in STARVED.findall(text))


async def test_near_end_speech_single_talk_and_double_talk(tmp_path: Path, voices) -> None:
    far_wav, _ = voices["far"]
    near_wav, near = voices["near"]
    seconds = len(near) / FS + 2
    single = await echo_call(tmp_path / "single", far_wav=None, near_wav=near_wav, duration=seconds)
    if _pesq(near, single.received) < 3.0 and _starved(single):
        # The sound server and both clients share this machine's CPU: a run whose audio callbacks or media
        # loop were starved measures the machine, not the processing. Once more, printed.
        print(f"single talk PESQ-WB {_pesq(near, single.received):.2f} on a starved machine: once more")
        single = await echo_call(tmp_path / "single2", far_wav=None, near_wav=near_wav, duration=seconds)
    single_off = await echo_call(
        tmp_path / "single_off",
        far_wav=None,
        near_wav=near_wav,
        near_flags=("--no-aec", "--no-ns", "--no-agc"),
        duration=seconds,
    )
    # double talk: the far end talks alone for 4 s (the canceller converges), then the near end talks over it
    late_wav = write_wav(tmp_path / "near_late.wav", np.concatenate([np.zeros(4 * FS), near]))
    double = await echo_call(tmp_path / "double", far_wav=far_wav, near_wav=late_wav, duration=seconds + 4)
    scores = {
        name: _pesq(near, run.received)
        for name, run in (("single", single), ("single_off", single_off), ("double", double))
    }
    # The near voice's level at the far end, alone and while the far end talks over it (its echo cancelled).
    levels = {}
    for name, run in (("single", single), ("double", double)):
        lag = _lag(near, run.received)
        levels[name] = level_db(run.received[lag : lag + len(near)])
    print(
        f"near-end PESQ-WB at the far end: single talk {scores['single']:.2f} (processing off "
        f"{scores['single_off']:.2f}), double talk {scores['double']:.2f}; near voice level single "
        f"{levels['single']:.1f} dBFS, double talk {levels['double']:.1f} dBFS"
    )
    # Nearly untouched: the canceller takes nothing in single talk (AEC alone: PESQ-WB 4.57 offline, as the
    # input); NS at 12 dB and AGC up to 9 dB cost ~0.6 offline (3.99), 0.3-0.9 here through Opus (3.2-3.5 vs 3.8-4.1).
    # Judged against the same call with processing off on the same machine at the same moment: a machine
    # too busy to run the sound server lowers both (loaded CI run: 2.62 on, 3.22 off), the processing
    # only the first. Quiet: 3.37-3.41 on, 4.01-4.11 off.
    assert scores["single"] >= scores["single_off"] - 1.0
    # Double talk: PESQ cannot judge a voice with another one under it (a clean mix scores ~1.1 too);
    # what must hold is that the canceller does not suppress the near talker while the far end talks.
    assert levels["double"] >= levels["single"] - 6.0


NEAR_LEAD_S = 2.5


async def test_a_headset_is_not_harmed_by_the_echo_canceller(tmp_path: Path, voices) -> None:
    """No echo path (a headset) and both ends talking from the call's start: the near voice passes as with
    processing off, in its first 3 s too (EchoCoupling recognises the headset within the first second)."""
    far_wav, _ = voices["far"]
    _, near = voices["near"]
    # paplay starts when the near end reports its path, ~2 s before the far end's recording has the near voice
    # (measured): with this lead the near voice reaches the far end from about 0.5 s into the call
    late_wav = write_wav(tmp_path / "near_late.wav", np.concatenate([np.zeros(int(NEAR_LEAD_S * FS)), near]))
    seconds = len(near) / FS + NEAR_LEAD_S + 2
    on = await echo_call(tmp_path / "on", far_wav=far_wav, near_wav=late_wav, duration=seconds, echo=False)
    off = await echo_call(
        tmp_path / "off", far_wav=far_wav, near_wav=late_wav, duration=seconds, echo=False, near_flags=("--no-aec",)
    )
    first = 3 * FS
    scores = {}
    for name, run in (("on", on), ("off", off)):
        lag = _lag(near, run.received)
        scores[name] = (_pesq(near, run.received), _pesq(near[:first], run.received[lag : lag + first]))
    starts = {name: _lag(near, run.received) / FS for name, run in (("on", on), ("off", off))}
    print(
        f"headset, both talking from the start (near voice at {starts['on']:.1f} s / {starts['off']:.1f} s): "
        f"near PESQ-WB with AEC {scores['on'][0]:.2f} (first 3 s "
        f"{scores['on'][1]:.2f}), without {scores['off'][0]:.2f} ({scores['off'][1]:.2f}) (NS and AGC on)"
    )
    assert any("echo path absent" in line for line in on.near_stderr.splitlines()), on.near_stderr[-3000:]
    assert scores["on"][0] >= scores["off"][0] - 0.3
    assert scores["on"][1] >= scores["off"][1] - 0.3


async def test_noise_is_suppressed_and_speech_kept(tmp_path: Path, voices) -> None:
    _, near = voices["near"]
    lead = 6.0  # noise alone: the suppressor learns it
    noise = fan_noise(lead + len(near) / FS + 0.5, rms=0.03)
    noisy = noise.copy()
    start = int(lead * FS)
    noisy[start : start + len(near)] += near
    noisy_wav = write_wav(tmp_path / "noisy.wav", noisy)
    seconds = len(noisy) / FS + 1.5
    runs = {
        "on": await echo_call(tmp_path / "on", far_wav=None, near_wav=noisy_wav, duration=seconds),
        "off": await echo_call(
            tmp_path / "off", far_wav=None, near_wav=noisy_wav, near_flags=("--no-ns", "--no-agc"), duration=seconds
        ),
    }
    figures = {}
    for name, run in runs.items():
        lag = _lag(near, run.received)  # where the voice starts in the far end's recording
        noise_level = level_db(run.received[lag - int(2.5 * FS) : lag - int(0.5 * FS)])
        speech_level = level_db(run.received[lag : lag + len(near)])
        figures[name] = (noise_level, speech_level, _pesq(near, run.received[lag - FS :]))
    on, off = figures["on"], figures["off"]
    print(
        f"noisy near end: noise {off[0]:.1f} -> {on[0]:.1f} dBFS, speech {off[1]:.1f} -> {on[1]:.1f} dBFS, "
        f"speech-to-noise {off[1] - off[0]:.1f} -> {on[1] - on[0]:.1f} dB, PESQ-WB {off[2]:.2f} -> {on[2]:.2f}"
    )
    # WebRTC NS takes 6-7 dB off this fan noise (offline too); livekit's newer NS ~13 dB (bench_apm_libraries.py)
    assert (on[1] - on[0]) - (off[1] - off[0]) >= 4.0  # the noise goes down, the speech does not
    assert on[2] >= off[2]  # and the speech is no worse for it


def test_settings_microphone_test_plays_back_through_the_processing(qtbot, monkeypatch, tmp_path: Path, voices) -> None:
    """Settings' microphone test: the near voice comes out of the chosen speaker, through the same processing
    (with its echo reference) as a call; the echo of that playback is cancelled in what the meter shows."""
    import subprocess

    from app.media.audio_processing import ProcessingConfig
    from tests.tools.audio_probe import listen
    from tests.tools.pulse import null_sinks
    from ui.audio_test import MicTester

    near_wav, _ = voices["near"]
    with null_sinks("spk", "mic") as s:
        loopback = subprocess.run(
            [
                "pactl",
                "load-module",
                "module-loopback",
                f"source={s['spk']}.monitor",
                f"sink={s['mic']}",
                "latency_msec=50",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        monkeypatch.setenv("PULSE_SINK", s["spk"])
        monkeypatch.setenv("PULSE_SOURCE", s["mic"] + ".monitor")
        tester = MicTester()
        levels: list[float] = []
        tester.level.connect(levels.append)
        talker = None
        try:
            assert tester.start("", output_device="", processing=ProcessingConfig())
            source = tester._source
            assert source is not None and source.processing is not None and source.processing.reference is not None
            talker = subprocess.Popen(["paplay", f"--device={s['mic']}", str(near_wav)])
            qtbot.waitUntil(lambda: max(levels, default=-100.0) > -40, timeout=5000)
            _, played = listen(f"{s['spk']}.monitor", seconds=1.0)  # the voice, played back on the speaker
            assert played > 0.01, "the microphone test played nothing back"
            qtbot.waitUntil(lambda: source.processing.stats().frames > 100, timeout=5000)
        finally:
            if talker is not None:
                talker.terminate()
                talker.wait(5)
            tester.stop()
            subprocess.run(["pactl", "unload-module", loopback], capture_output=True, timeout=10)
    assert source.processing.reference.blocks > 50  # the playback fed the echo reference
