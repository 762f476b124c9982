"""PESQ-WB of a real call (wzp-relay + two wzp-cli processes) at 0/5/10/20 % random loss.

Loss is applied by a user-space proxy on the caller's link to the relay (relay path, privacy answer),
on the caller->relay direction, so the speech crosses it once. Each row also shows the offline
libopus ceilings (no network; PLC only, and in-band FEC with perfect loss knowledge).

Usage: python bench/bench_media_pesq.py
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_media_e2e import _call
from tests.tools.audio_quality import make_speech, offline_ceiling


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        speech = make_speech(Path(tmp) / "speech.wav")
        print("loss | call PESQ-WB | offline PLC | offline FEC")
        for loss in (0.0, 0.05, 0.10, 0.20):
            run = Path(tmp) / f"loss{int(loss * 100)}"
            run.mkdir()
            path, score = await _call(run, speech, answer="generic", loss=loss)
            plc = offline_ceiling(speech, loss=loss, fec=False)
            fec = offline_ceiling(speech, loss=loss)
            print(f"{loss:4.0%} | {score:12.2f} | {plc:11.2f} | {fec:11.2f}   (path {path['path']})", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
