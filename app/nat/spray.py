"""Port spraying through one symmetric NAT (the birthday method), sans-IO parts.

A side behind a NAT that maps per destination ("hard", `wzp-cli nat` says symmetric)
says so in its address list with its public IP and port 0 (`hard_hint`); a peer that is
not hard then sprays with it:

* the hard side opens `SPRAY_SOCKETS` side sockets and sends from each a low-TTL packet
  to the easy side's reflexive address (each opens a mapping on its NAT that lets that one
  address in, and dies before the easy side's NAT), then says `PunchReady`;
* the easy side sends probes from its shared socket to random ports of the hard side's
  public IP (`ProbePlan`: at most `MAX_PROBES`, `PROBE_RATE` a second); its NAT keeps the
  port, so a probe that hits one of the mapped ports passes the hard NAT and lands on a
  side socket. With 256 sockets among ~64k ports, 2048 probes miss all with p ≈ e^-8;
* the hard side dials QUIC from the socket that got a probe; the others are closed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import random
from dataclasses import dataclass, field

from app.nat.ranges import is_non_public, unusable_reason

__all__ = [
    "MAX_PROBES",
    "PROBE_RATE",
    "SPRAY_SOCKETS",
    "STOP_AFTER_RELAY_S",
    "ProbePlan",
    "hard_hint",
    "is_probe",
    "parse_hard_hint",
    "probe_payload",
    "spray_enabled",
]

SPRAY_SOCKETS = 256
MAX_PROBES = 2048
PROBE_RATE = 2000.0  # probes a second (in bursts of BURST)
BURST = 20
#: The easy side stops probing once the relay has carried the call this long.
STOP_AFTER_RELAY_S = 3.0
#: How long the direct attempts of a sprayed call may take (instead of 2 s / 4 s).
SPRAY_WINDOW_S = 6.0
LOW_PORT, HIGH_PORT = 1024, 65535
_PROBE_MAGIC = b"\x00WZPspray"  # first byte without QUIC's fixed bit: never taken for QUIC


def hard_hint(public_ip: str) -> str:
    """The address-list entry that says: my NAT maps per destination; my public IP is this."""
    return f"{ipaddress.IPv4Address(public_ip)}:0"


def parse_hard_hint(local: object) -> str | None:
    """The public IPv4 of a hard-NAT hint in an (untrusted) address list, else None."""
    if not isinstance(local, (list, tuple)):
        return None
    for entry in local[:32]:
        if not isinstance(entry, str) or not entry.endswith(":0") or entry.count(":") != 1:
            continue
        try:
            ip = ipaddress.IPv4Address(entry[:-2])
        except ValueError:
            continue
        if unusable_reason(ip) is None and not is_non_public(ip):
            return str(ip)
    return None


def _tag(call_id: str) -> bytes:
    return hashlib.sha256(b"wzp-spray" + call_id.encode()).digest()[:8]


def probe_payload(call_id: str) -> bytes:
    return _PROBE_MAGIC + _tag(call_id)


def is_probe(data: bytes, call_id: str) -> bool:
    return data == probe_payload(call_id)


@dataclass
class ProbePlan:
    """Which random ports to probe when: `due(now)` gives the ports to send now."""

    started_at: float
    max_probes: int = MAX_PROBES
    rate: float = PROBE_RATE
    rng: random.Random = field(default_factory=random.SystemRandom)
    sent: int = 0

    def due(self, now: float) -> list[int]:
        allowed = min(self.max_probes, int((now - self.started_at) * self.rate) + BURST)
        count = max(0, allowed - self.sent)
        self.sent += count
        return [self.rng.randint(LOW_PORT, HIGH_PORT) for _ in range(count)]

    @property
    def exhausted(self) -> bool:
        return self.sent >= self.max_probes

    def next_at(self) -> float:
        """When the next burst is allowed."""
        return self.started_at + (self.sent + 1 - BURST) / self.rate


ENV_SPRAY = "WZP_SPRAY"  # "off": never classify the NAT for spraying nor spray (tests outside the lab)


def spray_enabled() -> bool:
    return os.environ.get(ENV_SPRAY, "").strip().lower() not in ("off", "0", "no", "none")
