"""Which PulseAudio device a stream really reads from or plays to, for tests/test_audio_devices.py.

PortAudio sees PulseAudio only as "pulse" and "default": two names for one device. To give the device menus
real choices, `alsa_devices_env` names PulseAudio sources and sinks as ALSA devices (ALSA's pulse plugin,
`type pulse device <name>`), as a desktop with built-in sound and a USB headset lists them. PortAudio lists
devices once, when it initialises, so a process given that environment at its start sees them.

Run as a program (`python -m tests.tools.audio_probe SPEC`), it opens the app's microphone and speaker on the
first devices of SPEC, plays a tone into the speaker, then switch()es both through SPEC's steps; after the
start and after each step it prints one JSON line: the pitch and level the microphone captured, and what each
monitor (a null sink's monitor source: what that sink plays) heard. It runs apart from pytest because a
broken switch() can take PortAudio's process down with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

SPEAKER_TONE_HZ = 700.0


def tone_of(pcm: bytes) -> tuple[float, float]:
    """(dominant frequency in Hz, RMS level) of 48 kHz mono int16 PCM."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * 48000 / len(x)), float(np.sqrt(np.mean(x**2)))


def listen(source: str, seconds: float = 0.3) -> tuple[float, float]:
    """(dominant frequency, RMS) of what a PulseAudio source captures over the next `seconds`
    (a sink's monitor: what that sink plays now)."""
    size = int(48000 * seconds) * 2
    with subprocess.Popen(
        ["parec", "-d", source, "--raw", "--format=s16le", "--rate=48000", "--channels=1", "--latency-msec=20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as parec:
        assert parec.stdout is not None
        data = parec.stdout.read(size)
        parec.terminate()
    assert len(data) == size, f"parec {source}: {parec.stderr.read().decode() if parec.stderr else ''}"
    return tone_of(data)


def _alsa_top_config() -> str:
    """The file ALSA reads its configuration from when ALSA_CONFIG_PATH is unset."""
    libasound = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
    libasound.snd_config_topdir.restype = ctypes.c_char_p
    return os.path.join(libasound.snd_config_topdir().decode(), "alsa.conf")


def alsa_devices_env(directory: Path, devices: dict[str, str]) -> dict[str, str]:
    """The environment under which a new process's PortAudio lists a device called as each key, that is
    the PulseAudio source or sink named by its value."""
    conf = directory / "asound.conf"
    conf.write_text("".join(f'pcm.{name} {{ type pulse device "{target}" }}\n' for name, target in devices.items()))
    env = dict(os.environ)
    env["ALSA_CONFIG_PATH"] = f"{env.get('ALSA_CONFIG_PATH') or _alsa_top_config()}:{conf}"
    return env


class ToneFeeder:
    """Keeps a speaker's frame bridge fed with a tone from a thread, as the call's decoder does."""

    def __init__(self, speaker: Any) -> None:
        from app.media.sources import ToneSource

        self.speaker = speaker
        self.tone = ToneSource(SPEAKER_TONE_HZ)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            if len(self.speaker.bridge) < 4:
                self.speaker.write_frame(self.tone.read_frame())
            else:
                self.stop.wait(0.005)  # pacing: the output callback takes a frame every 20 ms

    def __enter__(self) -> ToneFeeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def _tap(mic: Any) -> queue.Queue[bytes]:
    """A queue that gets every frame the microphone's stream captures from now on."""
    from app.media.audio_devices import FrameBridge

    captured: queue.Queue[bytes] = queue.Queue()

    class TapBridge(FrameBridge):
        def push(self, frame: bytes) -> None:
            super().push(frame)
            captured.put(frame)

    mic._stream.bridge = TapBridge()  # the input callback pushes to whatever bridge the stream holds
    return captured


def probe(spec: dict[str, Any]) -> None:
    from app.media.audio_devices import MicrophoneSource, SpeakerSink

    problems: list[str] = []
    mic = MicrophoneSource(spec["mic"], on_problem=problems.append)
    speaker = SpeakerSink(spec["speaker"], on_problem=problems.append)
    captured = _tap(mic)
    try:
        with ToneFeeder(speaker):
            for step in [{}, *spec["steps"]]:
                if step:
                    mic.switch(step["mic"])
                    speaker.switch(step["speaker"])
                # switch() stops and closes the old stream before it opens the new one, so all queued by
                # now came from the old one (or is the new one's first frames): only what follows counts
                with contextlib.suppress(queue.Empty):
                    while True:
                        captured.get_nowait()
                heard = tone_of(b"".join(captured.get(timeout=5) for _ in range(10)))  # 200 ms
                report = {
                    "step": step,
                    "microphone": heard,
                    "monitors": {monitor: listen(monitor) for monitor in spec["monitors"]},
                    "streams_alive": mic.check() and speaker.check(),
                    "problems": list(problems),
                }
                print(json.dumps(report), flush=True)
    finally:
        mic.close()
        speaker.close()


if __name__ == "__main__":
    probe(json.loads(sys.argv[1]))
