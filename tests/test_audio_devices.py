"""Real audio devices: PulseAudio null sinks seen through PortAudio (sounddevice).

A 1 kHz tone is played into the caller's microphone (a null sink's monitor); the call runs with
sounddevice streams on both ends; the callee's speaker (another null sink) is recorded, and the
tone's frequency must be what dominates there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from tests.tools import processes as P
from tests.tools.audio_probe import SPEAKER_TONE_HZ, ToneFeeder, alsa_devices_env, listen, tone_of
from tests.tools.pulse import null_sinks

pytestmark = [pytest.mark.audio, pytest.mark.slow]

TONE_HZ = 1000.0

PLAY_TONE = f"""
import sys, numpy as np, sounddevice as sd
seconds = float(sys.argv[1])
t = np.arange(int(48000 * seconds)) / 48000
sd.play((0.5 * np.sin(2 * np.pi * {TONE_HZ:f} * t)).astype("float32"), 48000)
sd.wait()
"""

RECORD = """
import sys, wave, numpy as np, sounddevice as sd
seconds, path = float(sys.argv[1]), sys.argv[2]
x = sd.rec(int(48000 * seconds), samplerate=48000, channels=1, dtype="int16")
sd.wait()
with wave.open(path, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(48000); w.writeframes(x.tobytes())
"""


def dominant_frequency(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as w:
        return tone_of(w.readframes(w.getnframes()))


async def test_call_with_real_devices_carries_the_tone(tmp_path: Path) -> None:
    with null_sinks("mic_a", "spk_a", "mic_b", "spk_b") as s:
        relay, port, _ = await P.start_relay(tmp_path / "relay")
        procs = [relay]
        try:
            addr = f"127.0.0.1:{port}"
            callee_fp = P.identity(tmp_path / "b")
            callee = await P.spawn(
                "callee",
                tmp_path,
                "wzp-cli",
                *P.cli(tmp_path / "b", addr, "listen", "--max-calls", "1"),
                env={"PULSE_SINK": s["spk_b"], "PULSE_SOURCE": s["mic_b"] + ".monitor"},
            )
            procs.append(callee)
            await callee.wait_event("registered")
            tone = await P.spawn(
                "tone", tmp_path, sys.executable, "-c", PLAY_TONE, "12", env={"PULSE_SINK": s["mic_a"]}
            )
            procs.append(tone)
            caller = await P.spawn(
                "caller",
                tmp_path,
                "wzp-cli",
                *P.cli(tmp_path / "a", addr, "call", callee_fp, "--duration", "6"),
                env={"PULSE_SINK": s["spk_a"], "PULSE_SOURCE": s["mic_a"] + ".monitor"},
            )
            procs.append(caller)
            await callee.wait_event("path")
            recording = tmp_path / "speaker_b.wav"
            recorder = await P.spawn(
                "recorder",
                tmp_path,
                sys.executable,
                "-c",
                RECORD,
                "3",
                str(recording),
                env={"PULSE_SOURCE": s["spk_b"] + ".monitor"},
            )
            procs.append(recorder)
            assert await recorder.finish(60) == 0, recorder.stderr
            assert await caller.finish(60) == 0, caller.stderr[-2000:]
            assert await callee.finish(60) == 0, callee.stderr[-2000:]
        finally:
            for proc in procs:
                await proc.stop()
    freq, rms = dominant_frequency(recording)
    assert rms > 0.01, "the far end played nothing"
    assert abs(freq - TONE_HZ) < 10, f"the far end played {freq:.0f} Hz, not the {TONE_HZ:.0f} Hz tone"
    notices = [e for e in caller.events + callee.events if e.get("event") == "audio_notice"]
    assert not any("No microphone" in n["message"] or "No speaker" in n["message"] for n in notices)
    stats = callee.named("stats")
    assert stats and stats[-1]["output_level_db"] > -40


async def test_no_audio_device_still_connects_and_says_so(tmp_path: Path) -> None:
    """With PortAudio pointed at a device that does not exist, the call connects and the user is told."""
    relay, port, _ = await P.start_relay(tmp_path / "relay")
    procs = [relay]
    try:
        addr = f"127.0.0.1:{port}"
        callee_fp = P.identity(tmp_path / "b")
        callee = await P.spawn(
            "callee", tmp_path, "wzp-cli", *P.cli(tmp_path / "b", addr, "listen", "--max-calls", "1", "--no-audio")
        )
        procs.append(callee)
        await callee.wait_event("registered")
        caller = await P.spawn(
            "caller",
            tmp_path,
            "wzp-cli",
            *P.cli(tmp_path / "a", addr, "call", callee_fp, "--duration", "1"),
            env={"PULSE_SERVER": "unix:/nonexistent/pulse"},
        )
        procs.append(caller)
        assert await caller.finish(60) == 0, caller.stderr[-2000:]
        assert await callee.finish(60) == 0
    finally:
        for proc in procs:
            await proc.stop()
    messages = [e["message"] for e in caller.named("audio_notice")]
    assert any("No microphone" in m for m in messages), messages
    assert caller.named("path")


def test_device_that_stops_mid_call_is_reported_and_reopened() -> None:
    """A PortAudio stream that dies (as when a USB headset is pulled) is reported, the source gives
    nothing meanwhile (the call covers it with silence, test_media_session), and the stream comes back by itself."""
    import threading

    from app.media.audio_devices import MicrophoneSource
    from tests.tools.pulse import ensure_pulseaudio

    ensure_pulseaudio()
    messages: list[str] = []
    back = threading.Event()
    lost = threading.Event()

    def on_problem(message: str) -> None:
        messages.append(message)
        (back if "works again" in message else lost).set()

    mic = MicrophoneSource(on_problem=on_problem)
    try:
        mic._stream._stream.abort()  # the device vanished under PortAudio
        assert lost.wait(5), messages
        frames = [mic.read_frame() for _ in range(12)]  # drain what was captured before (bridge holds 10)
        assert frames[-1] is None  # nothing captured now: nothing to read, not an error
        assert back.wait(10), messages
        assert mic.check()  # a live stream again
    finally:
        mic.close()
    assert any("stopped working" in m for m in messages)


# -- Device switching and hot-plug: which PulseAudio device the call's audio really comes from and goes to.
# The microphones are sine sources at different pitches, so the pitch captured says which device a stream
# reads from; the speakers are null sinks whose monitors are recorded, so what plays there says which device
# plays the call (tests/tools/audio_probe.py).


def _pactl(*args: str) -> str:
    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True, timeout=10).stdout


class _Modules:
    """PulseAudio modules loaded by one test; whatever is still loaded is unloaded on the way out."""

    def __init__(self) -> None:
        self.loaded: list[str] = []

    def load(self, name: str, *args: str) -> str:
        module = _pactl("load-module", name, *args).strip()
        self.loaded.append(module)
        return module

    def unload(self, module: str) -> None:
        self.loaded.remove(module)
        _pactl("unload-module", module)

    def __enter__(self) -> _Modules:
        return self

    def __exit__(self, *exc: object) -> None:
        for module in reversed(self.loaded):
            subprocess.run(["pactl", "unload-module", module], capture_output=True, timeout=10)


def assert_plays(heard: tuple[float, float], where: str) -> None:
    freq, rms = heard
    assert rms > 0.01, f"nothing plays on {where} (RMS {rms:.4f})"
    assert abs(freq - SPEAKER_TONE_HZ) < 10, f"{where} plays {freq:.0f} Hz, not the call's {SPEAKER_TONE_HZ:.0f} Hz"


def assert_silent(heard: tuple[float, float], where: str) -> None:
    freq, rms = heard
    assert rms < 0.001, f"{where} plays the call ({freq:.0f} Hz at RMS {rms:.4f})"


def test_switching_devices_mid_stream_moves_capture_and_playback_to_the_chosen_devices(tmp_path: Path) -> None:
    """The in-call device menus call switch(): the stream then reads from / plays to the device picked (the
    pitch captured changes; the tone leaves one speaker for the other), frames keep coming, and the switch
    is not mistaken for a failing device."""
    from tests.tools.pulse import ensure_pulseaudio

    ensure_pulseaudio()
    tag = os.getpid()
    mic_440, mic_1000 = f"wzptest_mic440_{tag}", f"wzptest_mic1000_{tag}"
    speaker_a, speaker_b = f"wzptest_spk_a_{tag}", f"wzptest_spk_b_{tag}"
    monitor_a, monitor_b = f"{speaker_a}.monitor", f"{speaker_b}.monitor"
    with _Modules() as modules:
        modules.load("module-sine-source", f"source_name={mic_440}", "frequency=440")
        modules.load("module-sine-source", f"source_name={mic_1000}", "frequency=1000")
        modules.load("module-null-sink", f"sink_name={speaker_a}")
        modules.load("module-null-sink", f"sink_name={speaker_b}")
        devices = {"wzp_mic_440": mic_440, "wzp_mic_1000": mic_1000, "wzp_spk_a": speaker_a, "wzp_spk_b": speaker_b}
        to_a = {"mic": "wzp_mic_440", "speaker": "wzp_spk_a"}
        to_b = {"mic": "wzp_mic_1000", "speaker": "wzp_spk_b"}
        # (devices switched to, the pitch the microphone must hear, the monitor with the tone, the silent one)
        expected = [
            (None, 440.0, monitor_a, monitor_b),
            (to_b, 1000.0, monitor_b, monitor_a),
            (to_a, 440.0, monitor_a, monitor_b),
            (to_b, 1000.0, monitor_b, monitor_a),
        ]
        steps = [step for step, *_ in expected[1:]]
        spec = {"mic": "wzp_mic_440", "speaker": "wzp_spk_a", "steps": steps, "monitors": [monitor_a, monitor_b]}
        # its own process: a broken switch() can crash PortAudio's process (a leaked stream's callback)
        probe = subprocess.run(
            [sys.executable, "-m", "tests.tools.audio_probe", json.dumps(spec)],
            cwd=Path(__file__).resolve().parent.parent,
            env=alsa_devices_env(tmp_path, devices),
            capture_output=True,
            text=True,
            timeout=120,
        )
    reports = [json.loads(line) for line in probe.stdout.splitlines() if line.startswith("{")]
    for i, (step, pitch, playing, silent) in enumerate(expected):
        assert i < len(reports), (
            f"the probe stopped after {i} of {len(expected)} steps (exit {probe.returncode}): " + probe.stderr[-3000:]
        )
        report = reports[i]
        where = f"after switching to {step}" if step else "at the start"
        freq, rms = report["microphone"]
        assert rms > 0.05, f"{where} the microphone captured nothing (RMS {rms:.4f})"
        assert abs(freq - pitch) < 10, f"{where} the microphone hears {freq:.0f} Hz, not the {pitch:.0f} Hz device"
        assert_plays(report["monitors"][playing], f"the chosen speaker {where}")
        assert_silent(report["monitors"][silent], f"the other speaker {where}")
        assert report["streams_alive"], where
        assert report["problems"] == [], f"{where} the user was told: {report['problems']}"
    assert probe.returncode == 0, probe.stderr[-3000:]


def _sinks_playing_our_streams() -> set[int]:
    """The sink of each playback stream (sink-input) this process has on the server."""
    streams = json.loads(_pactl("-f", "json", "list", "sink-inputs"))
    return {s["sink"] for s in streams if s["properties"].get("application.process.id") == str(os.getpid())}


def _sink_index(name: str) -> int:
    for sink in json.loads(_pactl("-f", "json", "list", "sinks")):
        if sink["name"] == name:
            return int(sink["index"])
    raise AssertionError(f"no sink {name}")


def _wait_until_the_call_plays_on(sink: str, what: str) -> None:
    """PulseAudio has no event a client can wait on for another client's stream moving: poll, bounded."""
    index = _sink_index(sink)
    deadline = time.monotonic() + 10
    while (now := _sinks_playing_our_streams()) != {index}:
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: the call's audio is on sinks {now}, not {sink} (#{index})")
        time.sleep(0.1)


def test_default_device_follows_a_headset_plugged_in_and_removed_mid_call() -> None:
    """With the system default device (the app's default), a headset that appears mid-call takes the call's
    audio, and when it is pulled the audio comes back to the speakers; the stream never stops.

    On a desktop module-switch-on-connect makes a new headset the default sink; when it goes PulseAudio falls
    back to the best remaining sink, which the built-in speakers are because they are a sound card. The
    speakers here carry a sound card's properties so PulseAudio ranks them the same way (a bare null sink
    would lose to the server's own null sink, and the audio would not come back to them)."""
    from app.media.audio_devices import SpeakerSink
    from tests.tools.pulse import ensure_pulseaudio

    ensure_pulseaudio()
    tag = os.getpid()
    speakers, headset = f"wzptest_speakers_{tag}", f"wzptest_headset_{tag}"
    previous_default = json.loads(_pactl("-f", "json", "info")).get("default_sink_name")
    with _Modules() as modules:
        try:
            modules.load(
                "module-null-sink",
                f"sink_name={speakers}",
                "sink_properties='device.class=sound device.form_factor=internal device.profile.name=analog-stereo'",
            )
            _pactl("set-default-sink", speakers)
            speaker = SpeakerSink()  # no device chosen: the system default
            try:
                with ToneFeeder(speaker):
                    _wait_until_the_call_plays_on(speakers, "at the start")
                    assert_plays(listen(f"{speakers}.monitor"), "the speakers")

                    plugged = modules.load("module-null-sink", f"sink_name={headset}")
                    _pactl("set-default-sink", headset)  # what the desktop does when a headset is plugged in
                    _wait_until_the_call_plays_on(headset, "with the headset plugged in")
                    assert_plays(listen(f"{headset}.monitor"), "the headset")
                    assert_silent(listen(f"{speakers}.monitor"), "the speakers, with the headset in,")
                    assert speaker.check()

                    modules.unload(plugged)  # pulled out
                    _wait_until_the_call_plays_on(speakers, "after the headset was pulled")
                    assert_plays(listen(f"{speakers}.monitor"), "the speakers, after the headset was pulled,")
                    assert speaker.check()
            finally:
                speaker.close()
        finally:
            if previous_default:
                subprocess.run(["pactl", "set-default-sink", previous_default], capture_output=True, timeout=10)
