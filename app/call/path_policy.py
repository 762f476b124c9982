"""Which media path a call uses, from the first packet to the hang-up: the rules, sans-IO.

`PathPolicy` is fed what happens to a call's two paths, each with an explicit
`now`, and answers with decisions; `next_wake()` says when it wants `tick()`.
The asyncio side (`app.call.race.PathRace`) dials, punches, opens the relay
room, watches the connections and carries the decisions out. Like `RelayCore`,
it never touches a socket or a clock, so every rule is tested with a fake clock.

The rules:

* **First path wins the start.** Audio flows on whichever path is up first: the
  relay media room (about one relay round trip after the answer) or a checked
  direct connection. Nobody waits for the race.
* **Upgrade without a gap.** Only the dialer decides direct (it saw the peer's
  proof on its own dial) and tells the acceptor in-band. A direct path that comes
  up while the relay carries the call replaces it if its RTT is at most the relay's
  plus `UPGRADE_MARGIN_S` + `UPGRADE_MARGIN_RATIO` of it (minimum RTTs: a busy
  event loop only ever makes a sample larger): 20 ms is far below what people
  notice in a conversation, and a direct path spares the relay and one point of
  failure, so near-equal is worth taking. A slower direct path is kept as a
  standby and compared again every `RECHECK_S` with fresh samples (its first one
  may have been taken while the machine was busy); the media
  session sends on both paths for a moment after a switch; the receiver plays
  whichever copy comes first (the replay window drops the other).
* **Failover.** The path in use going silent (the media session's liveness
  watchdog) or closing moves the call to the other path at once if it is up (the
  relay is kept open as a standby while direct carries the call), else asks for a
  relay connection; the peer is told through whichever channel still works.
  A call on the relay whose relay goes away moves to a checked direct path, else
  fails with a clear reason.
* **Give up.** Direct attempts stop at `direct_timeout` (dialer) or
  `acceptor_wait` (acceptor, which waits for the dialer's word). With no path at
  all by `relay_timeout`, or when every path failed, the call fails.

Not yet: probing a dead direct path again while the relay carries the call
("recovered"); a failed-over call stays on the relay.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: An upgrade to direct is taken if direct RTT <= relay RTT * (1 + ratio) + this.
UPGRADE_MARGIN_S = 0.020
UPGRADE_MARGIN_RATIO = 0.2
#: A checked direct path not (yet) worth an upgrade is compared again this often.
RECHECK_S = 1.0

DIRECT = "direct"
RELAY = "relay"


class PathState(enum.Enum):
    PENDING = "pending"  # being set up
    UP = "up"  # usable (relay room joined / direct checked)
    FAILED = "failed"  # never came up, or given up
    DEAD = "dead"  # was up, then went silent or closed
    OFF = "off"  # not allowed for this call (privacy answer) or not ours to decide


# --------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Use:
    """Carry the call's media on `path` from now on."""

    path: str
    reason: str  # "first" | "upgrade" | "failover"


@dataclass(frozen=True)
class Tell:
    """Tell the peer which path we use: direct in-band on the direct stream, relay via signaling."""

    path: str


@dataclass(frozen=True)
class StopDirect:
    """Stop every direct attempt and close direct connections not in use."""

    reason: str


@dataclass(frozen=True)
class OpenRelay:
    """A relay media connection is needed (the standby is gone): open one."""


@dataclass(frozen=True)
class Fail:
    """No path is left: end the call; the message is for the user."""

    message: str


Decision = Use | Tell | StopDirect | OpenRelay | Fail


@dataclass
class PathPolicy:
    role: str  # "dialer" | "acceptor"
    allow_direct: bool
    started_at: float
    direct_timeout: float = 2.0
    acceptor_wait: float = 4.0
    relay_timeout: float = 6.0
    margin_s: float = UPGRADE_MARGIN_S
    margin_ratio: float = UPGRADE_MARGIN_RATIO

    def __post_init__(self) -> None:
        self.relay = PathState.PENDING
        self.direct = PathState.PENDING if self.allow_direct else PathState.OFF
        self.in_use: str | None = None
        self.failed = False
        self.relay_rtt: float | None = None
        self.direct_rtt: float | None = None
        self.relay_error = ""
        self._recheck_at: float | None = None  # a checked direct path waits as a standby

    # ------------------------------------------------------------------ queries

    @property
    def settled(self) -> bool:
        """Nothing more to decide until a path breaks (the race is over)."""
        return self.failed or (self.in_use is not None and self.direct is not PathState.PENDING)

    def next_wake(self) -> float | None:
        if self.failed:
            return None
        wakes = []
        if self.direct is PathState.PENDING:
            wakes.append(self.started_at + self._direct_deadline())
        if self.in_use is None:
            wakes.append(self.started_at + self.relay_timeout)
        if self._recheck_at is not None:
            wakes.append(self._recheck_at)
        return min(wakes) if wakes else None

    def _direct_deadline(self) -> float:
        return self.direct_timeout if self.role == "dialer" else self.acceptor_wait

    # ------------------------------------------------------------------- inputs

    def relay_ready(self, now: float, rtt: float | None = None) -> list[Decision]:
        if self.failed:
            return []
        self.relay, self.relay_rtt = PathState.UP, rtt
        if self.in_use is None:
            return self._use(RELAY, "first")
        if self.in_use == DIRECT and self.direct is PathState.DEAD:
            return [*self._use(RELAY, "failover"), Tell(RELAY)]
        return []

    def relay_failed(self, now: float, reason: str) -> list[Decision]:
        if self.failed or self.relay is PathState.UP:
            return []
        self.relay, self.relay_error = PathState.FAILED, reason
        if self.in_use == DIRECT and self.direct is PathState.DEAD:
            return self._fail(f"The direct path dropped and the relay is unreachable ({reason}).")
        return self._check_hopeless(now)

    def relay_lost(self, now: float) -> list[Decision]:
        """The relay media connection closed (or went silent while in use)."""
        if self.failed or self.relay is not PathState.UP:
            return []
        self.relay = PathState.DEAD
        if self.in_use != RELAY:
            return []  # only the standby went: the call goes on direct
        if self.direct is PathState.UP:
            return [*self._use(DIRECT, "failover"), Tell(DIRECT)]
        if self.direct is PathState.PENDING:
            return []  # a direct path may still come up before the deadline
        return self._fail("The connection to the relay was lost and there is no direct path.")

    def direct_checked(self, now: float, rtt: float | None = None) -> list[Decision]:
        """Dialer: a direct connection passed the peer check. Acceptor: the dialer chose direct
        (followed even after the acceptor stopped waiting: the dialer may upgrade late)."""
        late_word = self.role == "acceptor" and self.direct is PathState.FAILED
        if self.failed or (self.direct is not PathState.PENDING and not late_word):
            return []
        self.direct_rtt = rtt
        won = [StopDirect("a direct path won")]
        if self.in_use is None:
            self.direct = PathState.UP
            return self._use(DIRECT, "first") + self._tell_direct() + won
        self.direct = PathState.UP
        if self.role == "acceptor" or self._worth_upgrading():
            return self._use(DIRECT, "upgrade") + self._tell_direct() + won
        self._recheck_at = now + RECHECK_S  # slower for now: a standby, compared again soon
        return won

    def rtt(self, relay_rtt: float | None, direct_rtt: float | None) -> None:
        """Fresh RTT figures (minimum RTTs) of the two paths, for the next comparison."""
        self.relay_rtt, self.direct_rtt = relay_rtt, direct_rtt

    def direct_failed(self, now: float) -> list[Decision]:
        """Every direct attempt failed (dialer), or the direct connection broke before use."""
        if self.failed or self.direct is not PathState.PENDING:
            return []
        self.direct = PathState.FAILED
        return [StopDirect("no direct path"), *self._check_hopeless(now)]

    def silent(self, path: str, now: float) -> list[Decision]:
        """The media session heard nothing authenticated on `path` (the path in use) for a while."""
        if path != self.in_use:
            return []
        return self.direct_lost(now) if path == DIRECT else self.relay_lost(now)

    def direct_lost(self, now: float) -> list[Decision]:
        if self.failed or self.direct is not PathState.UP:
            return []
        self.direct = PathState.DEAD
        if self.in_use != DIRECT:
            return []
        if self.relay is PathState.UP:
            return [*self._use(RELAY, "failover"), Tell(RELAY)]
        return [OpenRelay()]

    def peer_chose(self, path: str, now: float) -> list[Decision]:
        """The peer says (through the relay) it moved the call to `path`."""
        if path == RELAY and self.in_use == DIRECT:
            return self.direct_lost(now)
        return []

    def tick(self, now: float) -> list[Decision]:
        if self.failed:
            return []
        out: list[Decision] = []
        if self._recheck_at is not None and now >= self._recheck_at:
            self._recheck_at = None
            if self.in_use == RELAY and self.direct is PathState.UP:
                if self._worth_upgrading():
                    out += self._use(DIRECT, "upgrade") + self._tell_direct()
                else:
                    self._recheck_at = now + RECHECK_S
        if self.direct is PathState.PENDING and now >= self.started_at + self._direct_deadline():
            self.direct = PathState.FAILED
            out.append(StopDirect("direct attempts timed out"))
        if self.in_use is None and now >= self.started_at + self.relay_timeout:
            out += self._fail("No path to the other side: the relay media room did not answer in time.")
        return out + (self._check_hopeless(now) if not self.failed else [])

    # ------------------------------------------------------------------ helpers

    def _worth_upgrading(self) -> bool:
        if self.direct_rtt is None or self.relay_rtt is None:
            return True  # no measurement to the contrary: direct spares the relay
        return self.direct_rtt <= self.relay_rtt * (1 + self.margin_ratio) + self.margin_s

    def _tell_direct(self) -> list[Decision]:
        return [Tell(DIRECT)] if self.role == "dialer" else []

    def _use(self, path: str, reason: str) -> list[Decision]:
        self.in_use = path
        return [Use(path, reason)]

    def _check_hopeless(self, now: float) -> list[Decision]:
        if self.failed or self.in_use is not None:
            return []
        direct_over = self.direct in (PathState.FAILED, PathState.OFF, PathState.DEAD)
        relay_over = self.relay in (PathState.FAILED, PathState.DEAD)
        if direct_over and relay_over:
            detail = f" ({self.relay_error})" if self.relay_error else ""
            return self._fail(f"No path to the other side: the relay failed{detail} and no direct path worked.")
        return []

    def _fail(self, message: str) -> list[Decision]:
        self.failed = True
        return [Fail(message)]
