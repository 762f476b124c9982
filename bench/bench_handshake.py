"""Loopback QUIC handshake time on the shared endpoint (median of N, default 30).

Usage: python bench/bench_handshake.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from app.net import QuicEndpoint


async def main(n: int) -> None:
    server = await QuicEndpoint.create("::", 0)
    client = await QuicEndpoint.create("::", 0)
    times: list[float] = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            conn, accepted = await asyncio.gather(client.connect(("127.0.0.1", server.port)), server.accept())
            times.append((time.perf_counter() - start) * 1000)
            conn.close()
            await conn.wait_closed()
            await accepted.wait_closed()
    finally:
        await client.close()
        await server.close()
    times.sort()
    print(f"loopback QUIC handshake on the shared endpoint, n={n}")
    print(f"  median {statistics.median(times):.2f} ms")
    print(f"  p95    {times[int(0.95 * (n - 1))]:.2f} ms")
    print(f"  min    {times[0]:.2f} ms   max {times[-1]:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
