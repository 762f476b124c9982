"""Classify the NAT in front of us from reflexive-address probes.

The probes must all be sent from the SAME local socket to two or more DIFFERENT server
addresses; each server reports the address it saw (``observed``). Comparing the answers:

* same public IP and port everywhere -> ``"cone"`` (endpoint-independent mapping, or no NAT)
* same public IP, different ports    -> ``"symmetric"``
* different public IPs               -> ``"multiple"``
* fewer than two usable answers      -> ``"unknown"``

"Public" follows :func:`app.nat.ranges.is_non_public`: only RFC 1918, CGNAT, loopback,
link-local and ULA addresses are local; the documentation ranges used by the test lab
(203.0.113.0/24, 198.51.100.0/24, ...) count as public. Answers with a non-public address
come from servers inside our own network and are reported but not counted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from app.nat.addresses import AddressError, IPAddress, format_addr, parse_addr, parse_ip
from app.nat.ranges import is_non_public, unusable_reason

__all__ = ["NatProbe", "NatReport", "NatType", "classify_nat"]

logger = logging.getLogger(__name__)

NatType = Literal["cone", "symmetric", "multiple", "unknown"]


@dataclass(frozen=True, slots=True)
class NatProbe:
    """Result of one reflexive-address probe.

    ``server`` is the probed server address, ``observed`` the ``"ip:port"`` it reported for us
    (None if there was no answer), ``error`` a failure description (None on success).
    """

    server: str
    observed: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class NatReport:
    """Outcome of :func:`classify_nat`.

    * ``public_addr``: our reachable ``"ip:port"``, set only for ``"cone"``.
    * ``public_ip``: our public IP when all counted probes agree on it (cone, symmetric).
    * ``behind_nat_unknown``: True when servers answered but every answer was a private/local
      address (the servers are inside our network), so whether a NAT separates us from the
      internet cannot be told.
    * ``notes``: one line per probe that was ignored, and why.
    """

    nat_type: NatType
    probes: tuple[NatProbe, ...]
    public_addr: str | None
    explanation: str
    behind_nat_unknown: bool = False
    public_ip: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class _Observation:
    server: str
    ip: IPAddress
    port: int

    @property
    def addr(self) -> str:
        return format_addr(str(self.ip), self.port)


def _short(value: object, limit: int = 60) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _server_key(server: object) -> str:
    """Canonical server identity so that "[2001:DB8::1]:5" and "[2001:db8::1]:5" match."""
    try:
        return format_addr(*parse_addr(server))  # type: ignore[arg-type]
    except AddressError:
        return _short(server).strip()  # host names etc. are compared as given


def _probes_word(count: int) -> str:
    return "both probes" if count == 2 else f"all {count} probes"


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def classify_nat(observations: Sequence[NatProbe]) -> NatReport:
    """Classify the NAT from ``observations`` (see the module docstring for the rules)."""
    probes = tuple(observations)
    notes: list[str] = []
    counted: dict[str, _Observation] = {}
    non_public: list[str] = []

    for probe in probes:
        server = _server_key(probe.server)
        if probe.error:
            notes.append(f"{server}: probe failed ({_short(probe.error)})")
            continue
        if probe.observed is None:
            notes.append(f"{server}: no answer")
            continue
        try:
            host, port = parse_addr(probe.observed)
        except AddressError as exc:
            notes.append(f"{server}: invalid observed address ({exc})")
            continue
        ip = parse_ip(host)
        reason = unusable_reason(ip)
        if reason is not None:
            notes.append(f"{server}: invalid observed address {format_addr(host, port)} ({reason})")
            continue
        addr = format_addr(host, port)
        if is_non_public(ip):
            non_public.append(addr)
            notes.append(f"{server}: saw private/local address {addr} (not counted)")
            continue
        if server in counted:
            notes.append(f"{server}: duplicate probe of the same server (not counted)")
            continue
        counted[server] = _Observation(server, ip, port)

    v4 = [o for o in counted.values() if o.ip.version == 4]
    v6 = [o for o in counted.values() if o.ip.version == 6]
    group: list[_Observation] = []
    if len(v4) >= 2:
        group = v4
        if v6:
            notes.append("IPv6 observations were not compared with the IPv4 ones")
    elif len(v6) >= 2:
        group = v6
        if v4:
            notes.append("IPv4 observations were not compared with the IPv6 ones")

    report = _classify_group(group, probes, notes, counted, non_public)
    logger.info("NAT type %s: %s", report.nat_type, report.explanation)
    for note in report.notes:
        logger.debug("NAT probe note: %s", note)
    return report


def _classify_group(
    group: list[_Observation],
    probes: tuple[NatProbe, ...],
    notes: list[str],
    counted: dict[str, _Observation],
    non_public: list[str],
) -> NatReport:
    if len(group) < 2:
        behind_nat_unknown = not counted and bool(non_public)
        if behind_nat_unknown:
            explanation = (
                "Unknown: the servers only saw private/local addresses "
                f"({', '.join(_unique(non_public))}), so they are inside this network and "
                "whether a NAT separates us from the internet cannot be determined."
            )
        elif len(counted) >= 2:
            explanation = (
                "Unknown: the usable answers were one IPv4 and one IPv6 address; at least two "
                "answers of the same IP family are needed to classify the NAT."
            )
        else:
            explanation = (
                f"Unknown: only {len(counted)} of {len(probes)} probes returned a usable public "
                "address; at least two different servers must answer to classify the NAT."
            )
        return NatReport(
            nat_type="unknown",
            probes=probes,
            public_addr=None,
            explanation=explanation,
            behind_nat_unknown=behind_nat_unknown,
            notes=tuple(notes),
        )

    ips = _unique([str(o.ip) for o in group])
    ports = _unique([str(o.port) for o in group])
    who = _probes_word(len(group))
    if len(ips) > 1:
        return NatReport(
            nat_type="multiple",
            probes=probes,
            public_addr=None,
            explanation=(
                f"Multiple public addresses: the probes saw different public IPs "
                f"({', '.join(ips)}); the network leaves through more than one address, so "
                "direct calls may fail and the relay may be needed."
            ),
            notes=tuple(notes),
        )
    if len(ports) == 1:
        addr = group[0].addr
        return NatReport(
            nat_type="cone",
            probes=probes,
            public_addr=addr,
            public_ip=ips[0],
            explanation=(f"Cone NAT: the same public address {addr} was seen by {who}; direct calls should work."),
            notes=tuple(notes),
        )
    return NatReport(
        nat_type="symmetric",
        probes=probes,
        public_addr=None,
        public_ip=ips[0],
        explanation=(
            f"Symmetric NAT: the public IP {ips[0]} was the same for {who} but the port "
            f"changed ({', '.join(ports)}); direct calls will probably fail and the relay "
            "will be used."
        ),
        notes=tuple(notes),
    )
