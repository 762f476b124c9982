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


def decide_role(own_fingerprint: str, peer_fingerprint: str) -> Role:
    """Decide this side's role: the side whose (normalized) fingerprint is lexicographically
    smaller dials, the other accepts.

    Deterministic and symmetric (``decide_role(a, b)`` and ``decide_role(b, a)`` always give
    opposite roles) and independent of network addresses, so both peers agree without any
    extra round trip. Raises :class:`ValueError` if a fingerprint is empty or both are equal
    (a call to oneself, or a broken identity), since there would be no tie-breaker.
    """
    own = normalize_fingerprint(own_fingerprint)
    peer = normalize_fingerprint(peer_fingerprint)
    if not own or not peer:
        raise ValueError("fingerprints must not be empty")
    if own == peer:
        raise ValueError("own and peer fingerprints are equal; cannot decide who dials")
    role: Role = "dialer" if own < peer else "acceptor"
    logger.debug("role decided: %s (own %.16s..., peer %.16s...)", role, own, peer)
    return role
