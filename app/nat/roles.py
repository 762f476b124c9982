"""Who dials and who accepts in a direct peer-to-peer attempt."""

from __future__ import annotations

import logging
import re
from typing import Literal

__all__ = ["Role", "decide_role", "normalize_fingerprint"]

logger = logging.getLogger(__name__)

Role = Literal["dialer", "acceptor"]

# Cosmetic separators that different UIs put into fingerprints ("AB:CD", "ab cd", "ab-cd").
_SEPARATORS = re.compile(r"[\s:\-]+")


def normalize_fingerprint(fingerprint: str) -> str:
    """Lower-case ``fingerprint`` and drop ``:``/``-``/whitespace separators.

    Both sides compare normalized values, so a peer that renders the same fingerprint in a
    different case or with separators still reaches the same, symmetric decision.
    """
    if not isinstance(fingerprint, str):
        raise TypeError(f"fingerprint must be a str, got {type(fingerprint).__name__}")
    return _SEPARATORS.sub("", fingerprint).lower()


def decide_role(
    own_fingerprint: str,
    peer_fingerprint: str,
    *,
    own_mapped: bool = False,
    peer_mapped: bool = False,
    own_hard: bool = False,
    peer_hard: bool = False,
) -> Role:
    """Decide this side's role. Dialing follows the candidates: when exactly one side holds a
    port mapping (a ``mapped`` candidate: its router forwards a public port to it), that side
    accepts and the other dials it, since only a dial *towards* a mapping gets through.
    Else, when exactly one side is behind a NAT that maps per destination (``*_hard``: it said
    so in its address list, `app.nat.spray`), that side dials: from the side socket that one
    of the peer's spray probes reached. Otherwise the side whose (normalized) fingerprint is
    lexicographically smaller dials.

    ``own_mapped``/``peer_mapped`` must come from the address lists as they were sent (the
    relay forwards them unchanged), read with `app.nat.candidates.has_mapped` on both sides,
    so both sides reach opposite roles.

    Deterministic and symmetric (``decide_role(a, b, ...)`` and ``decide_role(b, a, ...)`` with
    the flags swapped always give opposite roles), so both peers agree without any extra
    round trip. Raises :class:`ValueError` if a fingerprint is empty or both are equal
    (a call to oneself, or a broken identity), since there would be no tie-breaker.
    """
    own = normalize_fingerprint(own_fingerprint)
    peer = normalize_fingerprint(peer_fingerprint)
    if not own or not peer:
        raise ValueError("fingerprints must not be empty")
    if own == peer:
        raise ValueError("own and peer fingerprints are equal; cannot decide who dials")
    if own_mapped != peer_mapped:
        role: Role = "acceptor" if own_mapped else "dialer"
    elif own_hard != peer_hard:
        role = "dialer" if own_hard else "acceptor"
    else:
        role = "dialer" if own < peer else "acceptor"
    logger.debug(
        "role decided: %s (own %.16s... mapped=%s, peer %.16s... mapped=%s)", role, own, own_mapped, peer, peer_mapped
    )
    return role
