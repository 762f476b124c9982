"""Small helpers shared by the relay bench and its worker processes."""

from __future__ import annotations

import math
import os
import struct

#: Media datagram: magic, stream id, send time (time.monotonic(), seconds), sequence; padded to the size
#: of a real sealed media datagram: app.media.packet's 10-byte header + a 60-byte Opus frame (the default
#: 24 kbit/s x 20 ms) + its 16-byte AEAD tag = 86 bytes.
MAGIC = b"WZPB"
HEADER = struct.Struct("!4sIdI")
PAYLOAD_SIZE = 10 + 60 + 16
PADDING = b"\x00" * (PAYLOAD_SIZE - HEADER.size)
PACKETS_PER_SECOND = 50
PERIOD = 1.0 / PACKETS_PER_SECOND

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (from /proc/<pid>/stat), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()  # fields after "pid (comm)"; fields[0] is state (field 3)
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / CLK_TCK


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list; nan when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def loopback_ip(group: int, index: int) -> str:
    """A distinct 127.x.y.z source address: the relay allows only 64 connections per IP."""
    return f"127.{group}.{index // 250}.{index % 250 + 1}"


def system_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs, from /proc/stat)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def udp_socket_stats(port: int) -> tuple[int, int]:
    """(bytes waiting in the receive queue, datagrams dropped so far) of the UDP socket(s) on `port`."""
    queued = drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table, encoding="ascii") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) != port:
                        continue
                    queued += int(fields[4].split(":")[1], 16)
                    drops += int(fields[-1])
        except OSError:
            continue
    return queued, drops
