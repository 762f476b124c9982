"""Echo cancellation, noise suppression and gain control on a real echo path (tests/tools/echo_path.py).

Two real clients and a real relay; the near end runs real sounddevice streams on PulseAudio null
sinks with `module-loopback` feeding its speaker back into its microphone (~50 ms). The far end
sends espeak speech and records what comes back: the echo it would hear.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.media.sources import resample
from tests.tools.audio_quality import score
from tests.tools.echo_path import FS, echo_call, level_db, voice, window

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


async def test_echo_is_cancelled_within_two_seconds(tmp_path: Path, voices) -> None:
    far_wav, far = voices["far"]
    seconds = len(far) / FS
    off = await echo_call(tmp_path / "off", far_wav=far_wav, near_flags=("--no-aec", "--no-ns", "--no-agc"),
                          duration=seconds + 1)
    on = await echo_call(tmp_path / "on", far_wav=far_wav, duration=seconds + 1)
    # far-end-only speech: from 2 s after the call's start to the end of the far voice
    level_off = level_db(window(off.received, 2.0, seconds))
    level_on = level_db(window(on.received, 2.0, seconds))
    first_off = level_db(window(off.received, 0.0, 2.0))
    first_on = level_db(window(on.received, 0.0, 2.0))
    erle = [s.get("echo_erle_db") for s in on.near_stats]
    print(
        f"echo at the far end: off {level_off:.1f} dBFS, on {level_on:.1f} dBFS "
        f"(reduction {level_off - level_on:.1f} dB; first 2 s {first_off:.1f} -> {first_on:.1f}); "
        f"near CPU {on.near_cpu_s / on.call_s * 100:.1f} % on, {off.near_cpu_s / off.call_s * 100:.1f} % off; "
        f"ERLE in stats {erle}"
    )
    assert level_off > -40, "the echo path carried nothing back: the test set-up is broken"
    assert level_off - level_on >= 25.0
