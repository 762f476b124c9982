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
    #: Presence changes are batched into one PresenceDelta per recipient per interval.
    presence_batch_interval: float = 0.5
    #: A PresenceQuery costs 1 + (page size / this) tokens: rate limits follow the work done.
    presence_entries_per_token: int = 20


class TokenBucket:
    """Classic token bucket on an explicit clock (seconds)."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.last = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend `cost` tokens if there are that many; a request's cost is the work it makes."""
        elapsed = max(0.0, now - self.last)
        self.last = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
