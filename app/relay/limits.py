"""Relay limits and the token bucket that enforces message rates."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RelayLimits:
    """Everything the relay bounds, so one client cannot hurt the others."""

    register_timeout: float = 10.0
    ring_timeout: float = 45.0
    messages_per_second: float = 20.0
    message_burst: int = 60
    connections_per_ip: int = 256  # a NAT of many users; each call party holds two (signal + media)
    calls_per_user: int = 4
    max_users: int = 10_000
    max_calls: int = 10_000
    max_connections: int = 20_000


class TokenBucket:
    """Classic token bucket on an explicit clock (seconds)."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.last)
        self.last = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
