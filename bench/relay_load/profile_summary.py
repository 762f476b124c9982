"""Summarise a py-spy raw (collapsed-stack) profile: where the sampled process spent its time.

Usage: python bench/relay_load/profile_summary.py PROFILE.txt [--top 20]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_LINE_NO = re.compile(r":\d+\)$")


def _func(frame: str) -> str:
    """'name (path/file.py:123)' -> 'name (path/file.py)'."""
    return _LINE_NO.sub(")", frame.strip())


def summarise(path: str) -> tuple[int, Counter[str], Counter[str]]:
    """Total samples, self samples per function, inclusive samples per function."""
    total = 0
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_func(x) for x in stack.split(";")]
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                inclusive[name] += count
    return total, own, inclusive


def report(path: str, top: int = 20, prefix: str = "   ") -> list[str]:
    total, own, inclusive = summarise(path)
    if not total:
        return [f"{prefix}(no samples)"]
    lines = [f"{prefix}{total} samples; self time (leaf frame):"]
    lines += [f"{prefix}  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines.append(f"{prefix}inclusive time (frame anywhere on the stack), app/ and aioquic only:")
    picked = [(name, n) for name, n in inclusive.most_common() if "app/" in name or "aioquic/" in name]
    lines += [f"{prefix}  {100 * n / total:5.1f}%  {name}" for name, n in picked[:top]]
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    print("\n".join(report(args.profile, args.top)))
