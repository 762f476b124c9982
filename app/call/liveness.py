"""Is the media path in use still alive? A sans-IO watchdog fed with authenticated arrivals.

Media flows every 20 ms on the path in use (Opus frames, DTX and muted frames
included) and a sealed receiver report every second, so a path that delivers
nothing *authenticated* for `timeout` is dead: a QUIC connection would only
notice at its idle timeout (30 s). Only packets that passed the AEAD check count,
so an attacker cannot keep a dead path alive with junk.

Timing: 0.8 s is 40 missing frames in a row, far beyond what loss or a jitter
spike on a busy machine produces (the jitter buffer is at most 200 ms deep), and
short enough that, with the relay connection kept ready as a standby, the audio is
back within about one second of the break.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Nothing authenticated for this long on the path in use: the path is dead.
LIVENESS_TIMEOUT = 0.8
#: A path just switched to gets this long for its first packet (the peer may switch a
#: round trip later than we do).
FIRST_PACKET_GRACE = 2.0


@dataclass
class PathLiveness:
    timeout: float = LIVENESS_TIMEOUT
    first_packet_grace: float = FIRST_PACKET_GRACE

    def __post_init__(self) -> None:
        self._since: float | None = None
        self._last: float | None = None
        self._dead = False

    @property
    def dead(self) -> bool:
        return self._dead

    def started(self, now: float) -> None:
        """A new path is in use from `now` (nothing heard on it yet)."""
        self._since, self._last, self._dead = now, None, False

    def heard(self, now: float) -> bool:
        """An authenticated packet arrived on the path in use; True if it had been declared dead."""
        self._last = now
        recovered, self._dead = self._dead, False
        return recovered

    def check(self, now: float) -> bool:
        """True exactly once when the path becomes dead (call it as often as you like)."""
        if self._dead or self._since is None:
            return False
        if self._last is None:
            expired = now - self._since > self.first_packet_grace
        else:
            expired = now - self._last > self.timeout
        if expired:
            self._dead = True
        return expired
