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
* **Recovered.** While the relay carries the call and direct is dead (failed over)
  or never came up, the dialer probes direct again: `PROBE_FIRST_S` (3 s) after it
  was lost or given up (or after the last round ended), each wait `PROBE_BACKOFF`
  (1.5) times the last, up to `PROBE_MAX_S` (15 s): 3, 4.5, 6.8, 10.1, 15, 15 s...
  A path that drops with a Wi-Fi blip or a NAT rebinding is usually back within
  seconds, so the first probes come soon; one that stays blocked (a firewall,
  symmetric NATs) costs a few handshake packets and one signature per side every
  15 s, and 15 s (plus one round) bounds how long a call stays on the relay once the
  path is back. A round (`Probe`) gets `PROBE_WINDOW_S`: the dialer punches and
  says `PunchReady` through the relay; the acceptor, asked by that word (it never
  probes on its own, so the two sides never drift apart), accepts and punches for
  `ACCEPTOR_PROBE_WINDOW_S` and says `PunchReady` back; only then does the dialer
  re-dial every candidate, with the same identity proof as the first dial. A
  checked path passes the same RTT rule as an upgrade and is used with reason
  "recovered" (a slower one waits as a standby, compared every `RECHECK_S`). A
  probe only adds direct attempts: the relay keeps carrying the audio until the
  switch. No probing on a relay-only (privacy) call or after the hang-up (`end()`);
  a relay lost during a round fails the call only if the round finds nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

#: An upgrade to direct is taken if direct RTT <= relay RTT * (1 + ratio) + this.
UPGRADE_MARGIN_S = 0.020
UPGRADE_MARGIN_RATIO = 0.2
#: A checked direct path not (yet) worth an upgrade is compared again this often.
RECHECK_S = 1.0
#: Probing direct again while the relay carries the call: the first round this long after
#: direct was lost (or given up), each next wait times the back-off, up to the cap.
PROBE_FIRST_S = 3.0
PROBE_BACKOFF = 1.5
PROBE_MAX_S = 15.0
#: One probe round: punch, the peer's word, QUIC handshake, identity proof (dialer).
PROBE_WINDOW_S = 2.0
#: The acceptor accepts a little longer: the dialer dials one relay round trip after asking.
ACCEPTOR_PROBE_WINDOW_S = 3.0

DIRECT = "direct"
RELAY = "relay"


class PathState(enum.Enum):
    PENDING = "pending"  # being set up
    UP = "up"  # usable (relay room joined / direct checked)
    FAILED = "failed"  # never came up, or given up
    DEAD = "dead"  # was up, then went silent or closed
    OFF = "off"  # not allowed for this call (privacy answer) or not ours to decide
    PROBING = "probing"  # tried again while the relay carries the call (a probe round)


# --------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Use:
    """Carry the call's media on `path` from now on."""

    path: str
    reason: str  # "first" | "upgrade" | "failover" | "recovered"


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
class Probe:
    """Try the direct path again for `window` seconds while the relay carries the call. Dialer:
    punch, say PunchReady, re-dial every candidate once the peer says PunchReady back.
    Acceptor (asked by the dialer's PunchReady): accept incoming dials, punch, say PunchReady."""

    window: float


@dataclass(frozen=True)
class Fail:
    """No path is left: end the call; the message is for the user."""

    message: str


Decision = Use | Tell | StopDirect | OpenRelay | Probe | Fail


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
    probe_first: float = PROBE_FIRST_S
    probe_backoff: float = PROBE_BACKOFF
    probe_max: float = PROBE_MAX_S
    probe_window: float = PROBE_WINDOW_S
    acceptor_probe_window: float = ACCEPTOR_PROBE_WINDOW_S

    def __post_init__(self) -> None:
        self.relay = PathState.PENDING
        self.direct = PathState.PENDING if self.allow_direct else PathState.OFF
        self.in_use: str | None = None
        self.failed = False
        self.relay_rtt: float | None = None
        self.direct_rtt: float | None = None
        self.relay_error = ""
        self._recheck_at: float | None = None  # a checked direct path waits as a standby
        self.ended = False  # hung up: nothing more to decide
        self.probes = 0  # probe rounds started
        self._probe_at: float | None = None  # dialer: the next probe round
        self._probe_until: float | None = None  # the round under way ends
        self._probe_failures = 0  # rounds that failed since direct was last up (the back-off)
        self._direct_reason = "upgrade"  # "recovered" once direct was probed again

    # ------------------------------------------------------------------ queries

    @property
    def settled(self) -> bool:
        """Nothing more to decide until a path breaks (the race is over)."""
        return self.failed or (self.in_use is not None and self.direct not in (PathState.PENDING, PathState.PROBING))

    def next_wake(self) -> float | None:
        if self.failed or self.ended:
            return None
        wakes = [t for t in (self._probe_at, self._probe_until) if t is not None]
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
        if self.failed or self.ended:
            return []
        self.relay, self.relay_rtt = PathState.UP, rtt
        if self.in_use is None:
            return self._then(now, self._use(RELAY, "first"))
        if self.in_use == DIRECT and self.direct is PathState.DEAD:
            return self._then(now, [*self._use(RELAY, "failover"), Tell(RELAY)])
        return self._then(now, [])

    def relay_failed(self, now: float, reason: str) -> list[Decision]:
        if self.failed or self.ended or self.relay is PathState.UP:
            return []
        self.relay, self.relay_error = PathState.FAILED, reason
        if self.in_use == DIRECT and self.direct is PathState.DEAD:
            return self._fail(f"The direct path dropped and the relay is unreachable ({reason}).")
        return self._check_hopeless(now)

    def relay_lost(self, now: float) -> list[Decision]:
        """The relay media connection closed (or went silent while in use)."""
        if self.failed or self.ended or self.relay is not PathState.UP:
            return []
        self.relay = PathState.DEAD
        if self.in_use != RELAY:
            return []  # only the standby went: the call goes on direct
        if self.direct is PathState.UP:
            return [*self._use(DIRECT, "failover"), Tell(DIRECT)]
        if self.direct in (PathState.PENDING, PathState.PROBING):
            return []  # a direct path may still come up before the deadline (or the probe's end)
        return self._fail("The connection to the relay was lost and there is no direct path.")

    def direct_checked(self, now: float, rtt: float | None = None) -> list[Decision]:
        """Dialer: a direct connection passed the peer check (first dial or a probe). Acceptor: the
        dialer chose direct (followed even after the acceptor stopped waiting: the dialer may upgrade
        late)."""
        late_word = self.role == "acceptor" and self.direct in (PathState.FAILED, PathState.DEAD)
        if self.failed or self.ended or (self.direct not in (PathState.PENDING, PathState.PROBING) and not late_word):
            return []
        self.direct_rtt = rtt
        self.direct = PathState.UP
        self._probe_at = self._probe_until = None
        self._probe_failures = 0
        won = [StopDirect("a direct path won")]
        if self.in_use is None:
            return self._use(DIRECT, "first") + self._tell_direct() + won
        reason = self._direct_reason
        if self.in_use == RELAY and self.relay is not PathState.UP:
            return self._use(DIRECT, reason) + self._tell_direct() + won  # the relay is gone: no comparison
        if self.role == "acceptor" or self._worth_upgrading():
            return self._use(DIRECT, reason) + self._tell_direct() + won
        self._recheck_at = now + RECHECK_S  # slower for now: a standby, compared again soon
        return won

    def rtt(self, relay_rtt: float | None, direct_rtt: float | None) -> None:
        """Fresh RTT figures (minimum RTTs) of the two paths, for the next comparison."""
        self.relay_rtt, self.direct_rtt = relay_rtt, direct_rtt

    def direct_failed(self, now: float) -> list[Decision]:
        """Every direct attempt (of the first race or of a probe round) failed, or the direct
        connection broke before use."""
        if self.failed or self.ended:
            return []
        if self.direct is PathState.PROBING:
            return self._probe_over(now, "probe failed")
        if self.direct is not PathState.PENDING:
            return []
        self.direct = PathState.FAILED
        return self._then(now, [StopDirect("no direct path"), *self._check_hopeless(now)])

    def silent(self, path: str, now: float) -> list[Decision]:
        """The media session heard nothing authenticated on `path` (the path in use) for a while."""
        if path != self.in_use:
            return []
        return self.direct_lost(now) if path == DIRECT else self.relay_lost(now)

    def direct_lost(self, now: float) -> list[Decision]:
        if self.failed or self.ended or self.direct is not PathState.UP:
            return []
        self.direct = PathState.DEAD
        if self.in_use != DIRECT:
            return self._then(now, [])  # the slower standby went: probe again later
        if self.relay is PathState.UP:
            return self._then(now, [*self._use(RELAY, "failover"), Tell(RELAY)])
        return [OpenRelay()]

    def peer_chose(self, path: str, now: float) -> list[Decision]:
        """The peer says (through the relay) it moved the call to `path`."""
        if path == RELAY and self.in_use == DIRECT:
            return self.direct_lost(now)
        return []

    def peer_probing(self, now: float) -> list[Decision]:
        """Acceptor: the dialer said PunchReady. On a call the relay carries with no direct path, that
        is a probe round: accept and punch for a window (again, if a round is under way)."""
        if self.role != "acceptor" or not (self._may_probe() or self.direct is PathState.PROBING):
            return []
        return self._start_probe(now, self.acceptor_probe_window)

    def end(self, now: float) -> list[Decision]:
        """The call is over (hung up): no more probes, nothing more to decide."""
        self.ended = True
        self._probe_at = self._probe_until = self._recheck_at = None
        return []

    def tick(self, now: float) -> list[Decision]:
        if self.failed or self.ended:
            return []
        out: list[Decision] = []
        if self._recheck_at is not None and now >= self._recheck_at:
            self._recheck_at = None
            if self.in_use == RELAY and self.direct is PathState.UP:
                if self._worth_upgrading():
                    out += self._use(DIRECT, self._direct_reason) + self._tell_direct()
                else:
                    self._recheck_at = now + RECHECK_S
        if self.direct is PathState.PENDING and now >= self.started_at + self._direct_deadline():
            self.direct = PathState.FAILED
            out.append(StopDirect("direct attempts timed out"))
        if self.direct is PathState.PROBING and self._probe_until is not None and now >= self._probe_until:
            out += self._probe_over(now, "probe timed out")
        if self._probe_at is not None and now >= self._probe_at:
            self._probe_at = None
            if self._may_probe():
                out += self._start_probe(now, self.probe_window)
        if self.in_use is None and now >= self.started_at + self.relay_timeout:
            out += self._fail("No path to the other side: the relay media room did not answer in time.")
        return self._then(now, out + (self._check_hopeless(now) if not self.failed else []))

    # ------------------------------------------------------------------ helpers

    def _may_probe(self) -> bool:
        """A probe round may start: the relay carries the call and direct is allowed but not up."""
        return (
            not self.failed
            and not self.ended
            and self.in_use == RELAY
            and self.relay is PathState.UP
            and self.direct in (PathState.DEAD, PathState.FAILED)
        )

    def _start_probe(self, now: float, window: float) -> list[Decision]:
        self.direct = PathState.PROBING
        self._probe_until = now + window
        self.probes += 1
        self._direct_reason = "recovered"
        return [Probe(window)]

    def _probe_over(self, now: float, reason: str) -> list[Decision]:
        self.direct = PathState.FAILED
        self._probe_until = None
        self._probe_failures += 1
        return self._then(now, [StopDirect(reason), *self._check_hopeless(now)])

    def _then(self, now: float, decisions: list[Decision]) -> list[Decision]:
        """After every input: the dialer schedules its next probe round while one may start."""
        if self.role == "dialer" and self._probe_at is None and self._may_probe():
            wait = self.probe_first * self.probe_backoff**self._probe_failures
            self._probe_at = now + min(self.probe_max, wait)
        elif not self._may_probe():
            self._probe_at = None
        return decisions

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
        if self.failed:
            return []
        direct_over = self.direct in (PathState.FAILED, PathState.OFF, PathState.DEAD)
        relay_over = self.relay in (PathState.FAILED, PathState.DEAD)
        if self.in_use == RELAY and self.relay is PathState.DEAD and direct_over:
            return self._fail("The connection to the relay was lost and there is no direct path.")
        if self.in_use is not None:
            return []
        if direct_over and relay_over:
            detail = f" ({self.relay_error})" if self.relay_error else ""
            return self._fail(f"No path to the other side: the relay failed{detail} and no direct path worked.")
        return []

    def _fail(self, message: str) -> list[Decision]:
        self.failed = True
        self._probe_at = self._probe_until = None
        return [Fail(message)]
