"""Media engine figures: client CPU per full-duplex call, and engine latency capture -> playback.

Two MediaSessions talk over a real QUIC connection on loopback (the direct path), each with a
tone-burst source; CPU is measured for the whole process and divided by the two clients.
Latency: from the moment a source hands out the first frame of a burst to the moment the far
sink is handed a frame carrying it (encode, seal, QUIC, jitter buffer, decode; no device buffers).

Usage: python bench/bench_media.py [seconds]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import numpy as np

from app.media.media_keys import EphemeralKey, derive_media_keys
from app.media.session import MediaSession
from app.media.sinks import AudioSink
from app.media.sources import AudioSource, float_to_pcm, level_dbfs
from app.net import QuicEndpoint

BURST_EVERY = 25  # frames (500 ms)


class BurstSource(AudioSource):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.n = 0
        self.sent_at: list[float] = []
        t = np.arange(960) / 48000
        self.tone = float_to_pcm(0.5 * np.sin(2 * np.pi * 800 * t))

    def read_frame(self) -> bytes | None:
        self.n += 1
        if self.n % BURST_EVERY == 0:
            self.sent_at.append(self.loop.time())
            return self.tone
        return bytes(1920)

    def close(self) -> None:
        pass


class BurstSink(AudioSink):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.heard_at: list[float] = []
        self._in_burst = False

    def write_frame(self, pcm: bytes) -> None:
        loud = level_dbfs(pcm) > -20
        if loud and not self._in_burst:
            self.heard_at.append(self.loop.time())
        self._in_burst = loud

    def close(self) -> None:
        pass


async def main(seconds: float) -> None:
    loop = asyncio.get_running_loop()
    a_ep = await QuicEndpoint.create("::", 0)
    b_ep = await QuicEndpoint.create("::", 0)
    conn_a, conn_b = await asyncio.gather(a_ep.connect(("127.0.0.1", b_ep.port)), b_ep.accept())
    ea, eb = EphemeralKey.generate(), EphemeralKey.generate()
    cid, fa, fb = "0" * 32, "a" * 4 + ":aaaa" * 7, "b" * 4 + ":bbbb" * 7
    ka = derive_media_keys(ea, eb.public_bytes, cid, fa, fb, True)
    kb = derive_media_keys(eb, ea.public_bytes, cid, fa, fb, False)
    src_a, sink_b = BurstSource(loop), BurstSink(loop)
    sa = MediaSession(cid, ka, src_a, BurstSink(loop))
    sb = MediaSession(cid, kb, BurstSource(loop), sink_b)
    sa.set_transport(conn_a, "direct")
    sb.set_transport(conn_b, "direct")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await sa.start()
    await sb.start()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu0
    wall = time.perf_counter() - wall0
    await sa.stop()
    await sb.stop()
    await a_ep.close()
    await b_ep.close()
    lat = []
    for sent in src_a.sent_at[1:]:
        later = [h for h in sink_b.heard_at if h >= sent]
        if later and later[0] - sent < 0.5:
            lat.append((later[0] - sent) * 1000)
    lat.sort()
    print(f"media engine, {wall:.1f} s full-duplex call over loopback QUIC, Opus 24 kbit/s")
    print(f"  CPU per client: {100 * cpu / wall / 2:.1f} % of one core (both clients: {100 * cpu / wall:.1f} %)")
    print(f"  packets a->b: sent {sa.counters.sent}, received {sb.counters.received}")
    if lat:
        print(
            f"  engine latency capture->playback: median {statistics.median(lat):.1f} ms, "
            f"p95 {lat[int(0.95 * (len(lat) - 1))]:.1f} ms (n={len(lat)}; jitter-buffer floor 20 ms + 20 ms tick)"
        )


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
