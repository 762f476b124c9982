"""ICE-like host candidates and the order in which a peer's addresses are dialed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal, Protocol, get_args

import ifaddr

from app.nat.addresses import AddressError, format_addr, parse_addr, parse_ip
from app.nat.ranges import host_candidate_skip_reason, unusable_reason
from app.nat.spray import parse_hard_hint

__all__ = [
    "DEFAULT_HOST_LIMIT",
    "MAX_DIAL_CANDIDATES",
    "MAX_PEER_HOST_INPUT",
    "AdapterLike",
    "Candidate",
    "CandidateKind",
    "IPLike",
    "dial_order",
    "has_mapped",
    "local_host_candidates",
]

logger = logging.getLogger(__name__)

CandidateKind = Literal["host", "mapped", "reflexive", "spray", "relay"]
_KINDS: frozenset[str] = frozenset(get_args(CandidateKind))

DEFAULT_HOST_LIMIT = 8
MAX_DIAL_CANDIDATES = 9
#: Public IPv4 entries of a peer's address list are port mappings its router granted.
MAX_MAPPED = 2
# A peer's candidate list is untrusted: look at no more than this many entries.
MAX_PEER_HOST_INPUT = 32


class IPLike(Protocol):
    """What we use of :class:`ifaddr.IP`: IPv4 is a str, IPv6 is ``(ip, flowinfo, scope_id)``."""

    @property
    def ip(self) -> str | tuple[str, int, int]: ...


class AdapterLike(Protocol):
    """What we use of :class:`ifaddr.Adapter`."""

    @property
    def name(self) -> str: ...

    @property
    def ips(self) -> Sequence[IPLike]: ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """One address to try when connecting to a peer.

    ``addr`` is an ``"ip:port"`` string (relay candidates may carry whatever the relay
    configuration uses); ``kind`` says where it came from.
    """

    addr: str
    kind: CandidateKind

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"invalid candidate kind {self.kind!r}; expected one of {_KINDS}")


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _adapter_host(entry: IPLike) -> str:
    raw = entry.ip
    if isinstance(raw, tuple):
        return str(raw[0]) if raw else ""
    return str(raw)


def local_host_candidates(
    port: int,
    *,
    limit: int = DEFAULT_HOST_LIMIT,
    adapters: Iterable[AdapterLike] | None = None,
) -> list[str]:
    """LAN addresses of this machine paired with ``port``, as canonical ``"ip:port"`` strings.

    Kept: IPv4 RFC 1918 and CGNAT (100.64.0.0/10); IPv6 global unicast (2000::/3, including the
    2001:db8::/32 lab range) and ULA (fc00::/7). Skipped: loopback, link-local, unspecified,
    multicast, reserved and public IPv4 (the reflexive address covers the latter).

    The result is de-duplicated (first occurrence wins), IPv4 before IPv6 with interface order
    preserved inside each family, and capped at ``limit`` entries. ``adapters`` defaults to
    :func:`ifaddr.get_adapters`; tests inject fakes.
    """
    format_addr("0.0.0.0", port)  # validates the port, raises AddressError
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")

    if adapters is None:
        try:
            adapters = ifaddr.get_adapters()
        except Exception:  # enumeration is best-effort; the call can still use reflexive/relay
            logger.warning("could not enumerate network interfaces", exc_info=True)
            adapters = []

    v4: list[str] = []
    v6: list[str] = []
    seen: set[str] = set()
    for adapter in adapters:
        name = getattr(adapter, "name", "?")
        for entry in adapter.ips:
            host = _adapter_host(entry)
            try:
                ip = parse_ip(host)
            except AddressError as exc:
                logger.debug("skip %s on %s: unparseable address (%s)", _short(host), name, exc)
                continue
            reason = host_candidate_skip_reason(ip)
            if reason is not None:
                logger.debug("skip %s on %s: %s", ip, name, reason)
                continue
            addr = format_addr(str(ip), port)
            if addr in seen:
                logger.debug("skip %s on %s: duplicate", addr, name)
                continue
            seen.add(addr)
            (v4 if ip.version == 4 else v6).append(addr)

    ordered = v4 + v6
    if len(ordered) > limit:
        logger.debug("skip %s: over the limit of %d host candidates", ordered[limit:], limit)
        ordered = ordered[:limit]
    logger.info("local host candidates: %s", ordered)
    return ordered


def _canonical(text: object, role: str) -> str | None:
    """Canonical form of an untrusted ``"ip:port"`` or None (logged) if invalid."""
    try:
        host, port = parse_addr(text)  # type: ignore[arg-type]  # may be anything; parse checks
    except AddressError as exc:
        logger.info("dropping invalid %s candidate %s: %s", role, _short(text), exc)
        return None
    ip = parse_ip(host)
    reason = host_candidate_skip_reason(ip) if role == "host" else unusable_reason(ip)
    if reason is not None:
        logger.info("dropping %s candidate %s: %s", role, format_addr(host, port), reason)
        return None
    return format_addr(host, port)


def _classify(text: object) -> Candidate | None:
    """One entry of a peer's address list: a LAN host candidate, or a public IPv4 address its
    router mapped for it (``mapped``), or None (logged) when it is neither."""
    if isinstance(text, str) and text.endswith(":0") and parse_hard_hint([text]) is not None:
        logger.debug("peer says its NAT maps per destination (%s): a spray hint, not a candidate", text)
        return None
    try:
        host, port = parse_addr(text)  # type: ignore[arg-type]
    except AddressError as exc:
        logger.info("dropping invalid host candidate %s: %s", _short(text), exc)
        return None
    ip = parse_ip(host)
    addr = format_addr(host, port)
    reason = host_candidate_skip_reason(ip)
    if reason is None:
        return Candidate(addr, "host")
    if ip.version == 4 and unusable_reason(ip) is None and not ip.is_loopback and not ip.is_link_local:
        return Candidate(addr, "mapped")
    logger.info("dropping host candidate %s: %s", addr, reason)
    return None


def has_mapped(local: Iterable[str] | None) -> bool:
    """Whether an address list (ours as we sent it, or the peer's as we got it) holds a mapped
    candidate: both sides read the same list the same way, so both agree (see `roles`)."""
    return any(c.kind == "mapped" for c in dial_order(local, None))


def dial_order(local: Iterable[str] | None, reflexive: str | None) -> list[Candidate]:
    """Order a peer's addresses for dialing: LAN host candidates (IPv4, then IPv6), then the
    public addresses its router mapped for it (``mapped``: public IPv4 entries of the list),
    then the reflexive address unless it is already listed. ``local`` is the peer's address
    list (``None`` means none).

    Input is untrusted peer data: entries are parsed and canonicalized, invalid ones dropped
    (logged), host candidates must pass the same LAN filter used by
    :func:`local_host_candidates`, duplicates removed, at most :data:`MAX_PEER_HOST_INPUT`
    entries considered, :data:`MAX_MAPPED` mapped ones kept and at most
    :data:`MAX_DIAL_CANDIDATES` returned. Slots are kept for the mapped and the reflexive
    addresses so that host candidates can never push them out.
    """
    refl: str | None = None
    if reflexive is not None:
        refl = _canonical(reflexive, "reflexive")

    entries: list[object] = []
    if local is None:
        pass
    elif isinstance(local, (str, bytes, bytearray)) or not isinstance(local, Iterable):
        logger.info("dropping peer host candidates: expected a list, got %s", _short(local))
    else:
        entries = list(islice(local, MAX_PEER_HOST_INPUT + 1))
        if len(entries) > MAX_PEER_HOST_INPUT:
            logger.info(
                "peer sent more than %d host candidates; only the first %d are considered",
                MAX_PEER_HOST_INPUT,
                MAX_PEER_HOST_INPUT,
            )
            entries = entries[:MAX_PEER_HOST_INPUT]

    v4: list[str] = []
    v6: list[str] = []
    mapped: list[str] = []
    seen: set[str] = set()
    for text in entries:
        cand = _classify(text)
        if cand is None:
            continue
        if cand.addr in seen:
            logger.debug("dropping duplicate candidate %s", cand.addr)
            continue
        seen.add(cand.addr)
        if cand.kind == "mapped":
            mapped.append(cand.addr)
        else:
            (v6 if cand.addr.startswith("[") else v4).append(cand.addr)
    if len(mapped) > MAX_MAPPED:
        logger.info("dropping mapped candidates over the cap: %s", mapped[MAX_MAPPED:])
        mapped = mapped[:MAX_MAPPED]

    hosts = v4 + v6
    host_budget = MAX_DIAL_CANDIDATES - len(mapped) - (1 if refl is not None and refl not in mapped else 0)
    if len(hosts) > host_budget:
        logger.info("dropping host candidates over the cap: %s", hosts[host_budget:])
        hosts = hosts[:host_budget]

    order = [Candidate(addr, "host") for addr in hosts] + [Candidate(addr, "mapped") for addr in mapped]
    if refl is not None:
        if refl in hosts or refl in mapped:
            logger.debug("reflexive address %s is already a host or mapped candidate", refl)
        else:
            order.append(Candidate(refl, "reflexive"))
    logger.debug("dial order: %s", [(c.kind, c.addr) for c in order])
    return order
