"""`quieter_than` (the sender's per-frame silence check) agrees with `level_dbfs` everywhere."""

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
        for threshold in (-80.0, -55.0, -30.0, -10.0):
            assert quieter_than(pcm, threshold) == (level_dbfs(pcm) < threshold)
    assert quieter_than(bytes(1920), -55.0)
