"""32-bit sequence numbers and timestamps that wrap: the one place that unwraps and compares them.

Media sequence numbers and RTP-style timestamps are 32-bit fields that wrap modulo 2**32.
A receiver keeps them as unbounded ("extended") integers by unwrapping each new value
against a reference it already holds (the SRTP / RFC 3550 rule): the extended value closest
to the reference whose low 32 bits match. Everything here is pure integer arithmetic.
"""

from __future__ import annotations

__all__ = ["MOD", "add", "delta", "unwrap", "wrap"]

MOD = 1 << 32
_HALF = 1 << 31


def wrap(value: int) -> int:
    """The 32-bit field value of ``value`` (an extended number or a sum that overflowed)."""
    return value % MOD


def add(value: int, step: int) -> int:
    """``value + step`` modulo 2**32 (``step`` may be negative)."""
    return (value + step) % MOD


def delta(value: int, reference: int) -> int:
    """How far ``value`` is ahead of ``reference`` (negative: behind), both 32-bit, in
    -2**31 .. 2**31-1: the shortest way round the circle."""
    d = (value - reference) % MOD
    return d - MOD if d >= _HALF else d


def unwrap(value: int, reference: int) -> int:
    """The extended number closest to the extended ``reference`` whose low 32 bits are ``value``."""
    return reference + delta(value, reference)
