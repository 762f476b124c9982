"""`quieter_than` (the sender's per-frame silence check, from one sample in four) agrees with
`level_dbfs` wherever the level is not within a dB of the threshold."""

from __future__ import annotations

import random
from array import array

from app.media.pcm import level_dbfs, pcm_of, quieter_than


def test_quieter_than_agrees_with_level_dbfs() -> None:
    rng = random.Random(5)
    for _ in range(400):
        peak = int(10 ** rng.uniform(0, 4.5))
        frame = array("h", (max(-32768, min(32767, rng.randint(-peak, peak))) for _ in range(960)))
        if rng.random() < 0.3:  # speech that starts late in the frame
            frame[:720] = array("h", bytes(1440))
        pcm = pcm_of(frame)
        level = level_dbfs(pcm)
        for threshold in (-80.0, -55.0, -30.0, -10.0):
            if abs(level - threshold) > 1.0:
                assert quieter_than(pcm, threshold) == (level < threshold), (level, threshold)
    assert quieter_than(bytes(1920), -55.0)


def test_quieter_than_on_speech_and_its_pauses() -> None:
    from app.media.sources import ToneSource

    tone = ToneSource(440.0, 0.3).read_frame()  # about -13 dBFS
    assert tone is not None and not quieter_than(tone, -55.0)
    faint = ToneSource(1000.0, 0.0005).read_frame()  # about -69 dBFS: a pause with room noise
    assert faint is not None and quieter_than(faint, -55.0)
