"""The dual-path race in every lab topology, N calls each (default 5); needs root (network namespaces).

Each topology is built once (tests/lab/topologies.py); then N calls run through it, each with a
fresh pair of identities, a real wzp-relay and real wzp-cli processes. Printed per topology:
the path each call settled on (the caller's last `path` event: path/candidate), how many calls
settled on the expected path and ended normally on both sides, accept-to-first-audio
(`first_audio_ms` of the `audio` event: from CallSetup to the first decoded frame played) and,
where the call went direct, accept-to-direct-in-use (`setup_ms` of that `path` event), median
and p95 over both sides.

Usage: sudo .venv/bin/python bench/bench_race.py [N] [--only NAME ...] [--random-roles] [--duration S]
"""

from __future__ import annotations

import argparse
import math
import signal
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lab.netlab import Lab, netns_available
from lab.topologies import SPECS, CallResult, run_spec


def p95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def fmt(values: list[int]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.0f} / {p95(values)}"


def bench(name: str, n: int, *, random_roles: bool, duration: float) -> dict[str, object]:
    spec = SPECS[name]
    paths: Counter[str] = Counter()
    audio_ms: list[int] = []
    direct_ms: list[int] = []
    expected = ended_ok = 0
    notes: Counter[str] = Counter()
    start = time.monotonic()
    with Lab(f"bench-{name}") as lab:
        topo = spec.build(lab)
        for _ in range(n):
            role = None if (random_roles and not spec.rogue) else spec.caller_role
            r: CallResult = run_spec(topo, spec, caller_role=role, duration=duration)
            first = {side: r.path(side) for side in ("caller", "callee")}
            key = f"{first['caller'].get('path', 'none')}/{first['caller'].get('candidate', '-')}"
            paths[key] += 1
            if (first["caller"].get("path"), first["caller"].get("candidate")) == (
                spec.expect_path,
                spec.expect_candidate,
            ) and first["caller"].get("path") == first["callee"].get("path"):
                expected += 1
            ended_ok += r.ok
            if not r.ok:
                reasons = {r.ended(side).get("reason", "?") for side in ("caller", "callee")}
                notes["ended " + "/".join(sorted(reasons))] += 1
            for side in ("caller", "callee"):
                for path in r.paths(side):
                    notes[f"{path['path']} ({path.get('reason', '?')})"] += 1
                    if path["path"] == "direct":
                        direct_ms.append(int(path["setup_ms"]))
                audio = r.events(side, "audio")
                if audio:
                    audio_ms.append(int(audio[0]["first_audio_ms"]))
                else:
                    notes["no audio played"] += 1
    return {
        "name": name,
        "runs": n,
        "paths": ", ".join(f"{k} x{v}" for k, v in paths.most_common()),
        "expected": f"{expected}/{n}",
        "ended_ok": f"{ended_ok}/{n}",
        "audio": fmt(audio_ms),
        "direct": fmt(direct_ms),
        "notes": "; ".join(f"{k} x{v}" for k, v in notes.items()),
        "seconds": time.monotonic() - start,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=5, help="calls per topology (default 5)")
    parser.add_argument("--only", nargs="+", choices=sorted(SPECS), help="only these topologies")
    parser.add_argument(
        "--random-roles",
        action="store_true",
        help="let fresh fingerprints pick who dials (default: fixed per topology)",
    )
    parser.add_argument("--duration", type=float, default=1.0, help="seconds each call stays up (default 1)")
    args = parser.parse_args()
    ok, why = netns_available()
    if not ok:
        print(f"bench_race: {why}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the Lab context manager cleans up
    names = args.only or list(SPECS)
    rows = []
    for name in names:
        row = bench(name, args.n, random_roles=args.random_roles, duration=args.duration)
        rows.append(row)
        print(f"  {name}: {row['paths']} ({row['seconds']:.1f} s)", file=sys.stderr, flush=True)
    head = ["topology", "expected", "settled path (caller)", "ended ok", "first audio ms med/p95", "direct ms med/p95"]
    table = [
        [
            str(r["name"]),
            f"{SPECS[str(r['name'])].expect_path}/{SPECS[str(r['name'])].expect_candidate} {r['expected']}",
            str(r["paths"]),
            str(r["ended_ok"]),
            str(r["audio"]),
            str(r["direct"]),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(head)]
    print(f"dual-path race, {args.n} calls per topology (ms from the accept; both sides pooled)")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in table:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    notes = [(r["name"], r["notes"]) for r in rows if r["notes"]]
    if notes:
        print("path events per topology (path (reason) x count, both sides):")
        for name, note in notes:
            print(f"  {name}: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
