"""Real audio devices: PulseAudio null sinks seen through PortAudio (sounddevice).

A 1 kHz tone is played into the caller's microphone (a null sink's monitor); the call runs with
sounddevice streams on both ends; the callee's speaker (another null sink) is recorded, and the
tone's frequency must be what dominates there.
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.tools import processes as P
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
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * 48000 / len(x)), float(np.sqrt(np.mean(x**2)))


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
    silence meanwhile (the call goes on), and the stream comes back by itself."""
    import threading

    from app.media.audio_devices import SILENCE, MicrophoneSource
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
        assert frames[-1] == SILENCE  # nothing captured now: silence, not an error
        assert back.wait(10), messages
        assert mic.check()  # a live stream again
    finally:
        mic.close()
    assert any("stopped working" in m for m in messages)


def test_switching_devices_mid_stream_keeps_audio_flowing() -> None:
    """The in-call device menus call switch(): the stream moves to the other device and frames keep coming."""
    import threading
    import time

    from app.media.audio_devices import MicrophoneSource, SpeakerSink, list_devices
    from tests.tools.pulse import ensure_pulseaudio

    ensure_pulseaudio()
    names = [d.name for d in list_devices() if d.inputs and d.outputs]
    assert len(names) >= 2, names  # "pulse" and "default" through ALSA's PulseAudio plugin
    mic = MicrophoneSource(names[0])
    speaker = SpeakerSink(names[0])
    try:
        for device in (names[1], names[0]):
            mic.switch(device)
            speaker.switch(device)
            mic.bridge.clear()  # only frames captured on the new device count
            got = threading.Event()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not got.is_set():
                speaker.write_frame(bytes(1920))
                got.wait(0.02)  # paces the writes; set below once the mic delivered after the switch
                if len(mic.bridge):
                    got.set()
            assert got.is_set(), f"no captured frame after switching to {device!r}"
            assert mic.check() and speaker.check()
    finally:
        mic.close()
        speaker.close()


def _pactl(*args: str) -> str:
    import subprocess

    return subprocess.run(["pactl", *args], check=True, capture_output=True, text=True, timeout=10).stdout


def _sink_of_streams() -> set[str]:
    """The sink index of every playback stream (sink-input) now on the server."""
    return {line.split("\t")[1] for line in _pactl("list", "short", "sink-inputs").splitlines() if line.strip()}


def _sink_index(name: str) -> str:
    for line in _pactl("list", "short", "sinks").splitlines():
        fields = line.split("\t")
        if fields[1] == name:
            return fields[0]
    raise AssertionError(f"no sink {name}")


def test_default_device_follows_a_headset_plugged_in_and_removed_mid_call() -> None:
    """With the system default device (the app's default), a headset that appears mid-call takes
    the call's audio, and when it is pulled the audio moves back; the stream never stops.
    (module-switch-on-connect does the set-default-sink on a real desktop when a headset appears.)"""
    import threading
    import time

    from app.media.audio_devices import SpeakerSink
    from app.media.sources import ToneSource
    from tests.tools.pulse import ensure_pulseaudio

    ensure_pulseaudio()
    previous_default = next(
        (line.split(": ", 1)[1] for line in _pactl("info").splitlines() if line.startswith("Default Sink: ")), None
    )
    with null_sinks("speakers") as s:
        _pactl("set-default-sink", s["speakers"])
        speaker = SpeakerSink()  # no device chosen: the system default
        tone = ToneSource(700.0)
        stop = threading.Event()

        def pump() -> None:
            while not stop.is_set():
                speaker.write_frame(tone.read_frame() or b"")
                stop.wait(0.02)

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        headset_module = None
        try:

            def wait_on(sink: str) -> None:
                deadline = time.monotonic() + 10
                while _sink_of_streams() != {sink}:
                    assert time.monotonic() < deadline, f"the call's audio did not move to sink {sink}"
                    stop.wait(0.1)

            wait_on(_sink_index(s["speakers"]))
            headset_module = _pactl("load-module", "module-null-sink", "sink_name=wzptest_headset").strip()
            _pactl("set-default-sink", "wzptest_headset")  # what the desktop does when a headset is plugged in
            wait_on(_sink_index("wzptest_headset"))
            assert speaker.check()
            _pactl("unload-module", headset_module)  # pulled out
            headset_module = None
            deadline = time.monotonic() + 10
            while _sink_of_streams() in (set(), {""}):
                assert time.monotonic() < deadline, "the call's audio stream vanished with the headset"
                stop.wait(0.1)
            assert speaker.check()  # still playing, on whatever sink the server fell back to
        finally:
            stop.set()
            pumper.join(5)
            speaker.close()
            if headset_module is not None:
                _pactl("unload-module", headset_module)
            if previous_default:
                _pactl("set-default-sink", previous_default)
