"""Synthesize the app's sounds into resources/sounds/ (48 kHz mono 16-bit WAV). Run: python resources/make_sounds.py

Everything is computed here from sine partials and envelopes (no samples from
anywhere else), so the files are ours under the project's license. The output is
deterministic: running the script again gives the same bytes.

* ringtone.wav  the incoming-call ring: a soft marimba-like arpeggio (E major, two
                phrases), 4 s per loop including the pause
* ringback.wav  what the caller hears while it rings: 425 Hz, 1 s on, 3 s off (the
                European ringback cadence), quiet; 4 s per loop
* busy.wav      the other side is busy: 425 Hz, 4 x (0.2 s on, 0.2 s off)
* declined.wav  the call was declined: three soft falling notes
* ended.wav     a call ended: two soft falling notes
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 48_000
OUT = Path(__file__).resolve().parent / "sounds"


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE))


def _note(freq: float, seconds: float, *, decay: float, partials: tuple[tuple[float, float], ...]) -> np.ndarray:
    """A struck note: a few partials (ratio, level) under an exponential decay, with a 4 ms attack."""
    t = np.arange(round(seconds * RATE)) / RATE
    tone = sum(
        level * np.sin(2 * np.pi * freq * ratio * t) * np.exp(-t * decay * ratio**0.5) for ratio, level in partials
    )
    attack = np.minimum(1.0, t / 0.004)
    release = np.minimum(1.0, (seconds - t) / 0.02)  # no click at the cut
    return np.asarray(tone * attack * release)


MARIMBA = ((1.0, 1.0), (3.93, 0.22), (9.2, 0.05))  # a wooden bar's inharmonic overtones
CHIME = ((1.0, 1.0), (2.0, 0.18), (3.0, 0.06))


def _mix(length_s: float, events: list[tuple[float, np.ndarray]]) -> np.ndarray:
    out = np.zeros(round(length_s * RATE))
    for at, sound in events:
        start = round(at * RATE)
        end = min(len(out), start + len(sound))
        out[start:end] += sound[: end - start]
    return out


def _tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    ramp = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)  # 10 ms ramps: no clicks
    return np.sin(2 * np.pi * freq * t) * ramp


def ringtone() -> np.ndarray:
    e5, gs5, b5, e6 = 659.26, 830.61, 987.77, 1318.51
    phrase = [(0.0, e5), (0.14, gs5), (0.28, b5), (0.42, e6), (0.56, b5)]
    events = []
    for start in (0.0, 1.0):
        events += [(start + at, _note(f, 1.2, decay=5.0, partials=MARIMBA)) for at, f in phrase]
    return _mix(4.0, events)


def ringback() -> np.ndarray:
    return np.concatenate([_tone(425.0, 1.0), _silence(3.0)])


def busy() -> np.ndarray:
    return np.concatenate([np.concatenate([_tone(425.0, 0.2), _silence(0.2)]) for _ in range(4)])


def declined() -> np.ndarray:
    notes = [(0.0, 783.99), (0.16, 659.26), (0.32, 523.25)]  # G5 E5 C5
    return _mix(1.0, [(at, _note(f, 0.6, decay=7.0, partials=CHIME)) for at, f in notes])


def ended() -> np.ndarray:
    notes = [(0.0, 1046.50), (0.18, 783.99)]  # C6 G5
    return _mix(0.9, [(at, _note(f, 0.7, decay=7.0, partials=CHIME)) for at, f in notes])


SOUNDS = {
    "ringtone": (ringtone, 0.5),
    "ringback": (ringback, 0.2),
    "busy": (busy, 0.2),
    "declined": (declined, 0.35),
    "ended": (ended, 0.35),
}


def write(name: str, samples: np.ndarray, peak: float) -> Path:
    samples = samples / max(1e-9, float(np.max(np.abs(samples)))) * peak
    pcm = np.round(samples * 32767).astype("<i2").tobytes()
    path = OUT / f"{name}.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm)
    return path


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, (make, peak) in SOUNDS.items():
        path = write(name, make(), peak)
        print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
