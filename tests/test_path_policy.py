"""PathPolicy, sans-IO: every rule of the call's path choice, table-driven, with a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from app.call.path_policy import (
    DIRECT,
    RELAY,
    Fail,
    OpenRelay,
    PathPolicy,
    PathState,
    Probe,
    StopDirect,
    Tell,
    Use,
)

WON = StopDirect("a direct path won")


def run(policy: PathPolicy, steps: list[tuple[float, str, Any]]) -> list[list[object]]:
    """Feed (time, input, argument) steps; returns the decisions of each step."""
    out = []
    for now, what, arg in steps:
        if what == "relay_ready":
            out.append(policy.relay_ready(now, arg))
        elif what == "relay_failed":
            out.append(policy.relay_failed(now, arg))
        elif what == "relay_lost":
            out.append(policy.relay_lost(now))
        elif what == "direct_checked":
            out.append(policy.direct_checked(now, arg))
        elif what == "direct_failed":
            out.append(policy.direct_failed(now))
        elif what == "silent":
            out.append(policy.silent(arg, now))
        elif what == "peer_chose":
            out.append(policy.peer_chose(arg, now))
        elif what == "peer_probing":
            out.append(policy.peer_probing(now))
        elif what == "end":
            out.append(policy.end(now))
        elif what == "tick":
            out.append(policy.tick(now))
        else:
            raise AssertionError(what)
    return out


def dialer(**kw: Any) -> PathPolicy:
    return PathPolicy(role="dialer", allow_direct=kw.pop("allow_direct", True), started_at=0.0, **kw)


def acceptor(**kw: Any) -> PathPolicy:
    return PathPolicy(role="acceptor", allow_direct=kw.pop("allow_direct", True), started_at=0.0, **kw)


CASES: list[tuple[str, PathPolicy, list[tuple[float, str, Any]], list[list[object]]]] = [
    (
        "direct checked first: used at once, the peer told in-band, the relay becomes the standby",
        dialer(),
        [(0.05, "direct_checked", 0.002), (0.08, "relay_ready", 0.010)],
        [[Use(DIRECT, "first"), Tell(DIRECT), WON], []],
    ),
    (
        "relay first, direct checked at 0.9 s with a similar RTT: upgrade",
        dialer(),
        [(0.1, "relay_ready", 0.040), (0.9, "direct_checked", 0.030)],
        [[Use(RELAY, "first")], [Use(DIRECT, "upgrade"), Tell(DIRECT), WON]],
    ),
    (
        "relay first, direct a little slower but within the margin (40 ms * 1.2 + 20 ms = 68 ms): upgrade",
        dialer(),
        [(0.1, "relay_ready", 0.040), (0.5, "direct_checked", 0.065)],
        [[Use(RELAY, "first")], [Use(DIRECT, "upgrade"), Tell(DIRECT), WON]],
    ),
    (
        "direct RTT three times the relay's: no upgrade yet, a standby compared again every second",
        dialer(),
        [(0.1, "relay_ready", 0.040), (0.5, "direct_checked", 0.120), (1.5, "tick", None), (2.5, "tick", None)],
        [[Use(RELAY, "first")], [WON], [], []],
    ),
    (
        "direct checked at 0.9 s, relay at 1.1 s: direct first, relay as standby",
        dialer(),
        [(0.9, "direct_checked", None), (1.1, "relay_ready", None)],
        [[Use(DIRECT, "first"), Tell(DIRECT), WON], []],
    ),
    (
        "every direct attempt fails, then the relay: relay first",
        dialer(),
        [(0.3, "direct_failed", None), (0.5, "relay_ready", None)],
        [[StopDirect("no direct path")], [Use(RELAY, "first")]],
    ),
    (
        "direct attempts time out at 2 s while the relay carries the call",
        dialer(),
        [(0.2, "relay_ready", None), (1.99, "tick", None), (2.0, "tick", None), (2.5, "direct_checked", None)],
        [[Use(RELAY, "first")], [], [StopDirect("direct attempts timed out")], []],
    ),
    (
        "the acceptor follows the dialer's word, without an RTT check of its own",
        acceptor(),
        [(0.1, "relay_ready", 0.010), (0.4, "direct_checked", 0.500)],
        [[Use(RELAY, "first")], [Use(DIRECT, "upgrade"), WON]],
    ),
    (
        "the acceptor stops waiting for direct at 4 s and stays on the relay, but follows a late upgrade",
        acceptor(),
        [(0.1, "relay_ready", None), (4.0, "tick", None), (6.5, "direct_checked", None)],
        [[Use(RELAY, "first")], [StopDirect("direct attempts timed out")], [Use(DIRECT, "upgrade"), WON]],
    ),
    (
        "privacy answer: relay only, nothing to wait for",
        dialer(allow_direct=False),
        [(0.1, "relay_ready", None), (0.2, "direct_checked", None)],
        [[Use(RELAY, "first")], []],
    ),
    (
        "direct in use goes silent with the relay standby up: failover at once, the peer told via the relay",
        dialer(),
        [(0.05, "direct_checked", None), (0.1, "relay_ready", None), (9.0, "silent", DIRECT)],
        [[Use(DIRECT, "first"), Tell(DIRECT), WON], [], [Use(RELAY, "failover"), Tell(RELAY)]],
    ),
    (
        "direct in use dies with no standby: open a relay connection, then move to it",
        dialer(),
        [
            (0.05, "direct_checked", None),
            (0.1, "relay_failed", "x"),
            (9.0, "silent", DIRECT),
            (9.2, "relay_ready", None),
        ],
        [[Use(DIRECT, "first"), Tell(DIRECT), WON], [], [OpenRelay()], [Use(RELAY, "failover"), Tell(RELAY)]],
    ),
    (
        "direct dies and the relay is unreachable: the call fails with a reason",
        dialer(),
        [(0.05, "direct_checked", None), (9.0, "silent", DIRECT), (9.3, "relay_failed", "timeout")],
        [
            [Use(DIRECT, "first"), Tell(DIRECT), WON],
            [OpenRelay()],
            [Fail("The direct path dropped and the relay is unreachable (timeout).")],
        ],
    ),
    (
        "the peer moved to the relay: follow it",
        acceptor(),
        [(0.1, "relay_ready", None), (0.3, "direct_checked", None), (5.0, "peer_chose", RELAY)],
        [[Use(RELAY, "first")], [Use(DIRECT, "upgrade"), WON], [Use(RELAY, "failover"), Tell(RELAY)]],
    ),
    (
        "the relay goes away while it carries the call and direct was never checked: fail",
        dialer(allow_direct=False),
        [(0.1, "relay_ready", None), (20.0, "relay_lost", None)],
        [[Use(RELAY, "first")], [Fail("The connection to the relay was lost and there is no direct path.")]],
    ),
    (
        "the relay standby goes away while direct carries the call: nothing changes",
        dialer(),
        [(0.05, "direct_checked", None), (0.1, "relay_ready", None), (20.0, "relay_lost", None)],
        [[Use(DIRECT, "first"), Tell(DIRECT), WON], [], []],
    ),
    (
        "silence on a path not in use means nothing",
        dialer(),
        [(0.1, "relay_ready", None), (3.0, "silent", DIRECT)],
        [[Use(RELAY, "first")], []],
    ),
    (
        "no relay and no direct by the relay timeout: fail",
        acceptor(),
        [(4.0, "tick", None), (6.0, "tick", None)],
        [
            [StopDirect("direct attempts timed out")],
            [Fail("No path to the other side: the relay media room did not answer in time.")],
        ],
    ),
    (
        "relay failed and direct failed: fail at once, naming the relay's error",
        dialer(),
        [(0.2, "relay_failed", "refused"), (0.4, "direct_failed", None)],
        [
            [],
            [
                StopDirect("no direct path"),
                Fail("No path to the other side: the relay failed (refused) and no direct path worked."),
            ],
        ],
    ),
    # ------------------------------------------------------------ recovered: probing direct again
    (
        "failover, then a probe 3 s later finds direct back with a good RTT: recovered",
        dialer(),
        [
            (0.05, "direct_checked", 0.002),
            (0.1, "relay_ready", 0.010),
            (9.0, "silent", DIRECT),
            (11.99, "tick", None),
            (12.0, "tick", None),
            (12.3, "direct_checked", 0.003),
        ],
        [
            [Use(DIRECT, "first"), Tell(DIRECT), WON],
            [],
            [Use(RELAY, "failover"), Tell(RELAY)],
            [],
            [Probe(2.0)],
            [Use(DIRECT, "recovered"), Tell(DIRECT), WON],
        ],
    ),
    (
        "direct never came up (timed out at 2 s) on a call on the relay: probed from 5 s, recovered",
        dialer(),
        [(0.2, "relay_ready", 0.030), (2.0, "tick", None), (5.0, "tick", None), (5.4, "direct_checked", 0.020)],
        [
            [Use(RELAY, "first")],
            [StopDirect("direct attempts timed out")],
            [Probe(2.0)],
            [Use(DIRECT, "recovered"), Tell(DIRECT), WON],
        ],
    ),
    (
        "a probed direct path three times slower than the relay is no recovery: kept as a standby",
        dialer(),
        [
            (0.1, "relay_ready", 0.040),
            (0.3, "direct_failed", None),
            (3.3, "tick", None),
            (3.6, "direct_checked", 0.120),
            (4.6, "tick", None),
        ],
        [[Use(RELAY, "first")], [StopDirect("no direct path")], [Probe(2.0)], [WON], []],
    ),
    (
        "a probe round that finds nothing ends at its window; the next one waits 4.5 s",
        dialer(),
        [
            (0.1, "relay_ready", None),
            (0.3, "direct_failed", None),
            (3.3, "tick", None),
            (5.3, "tick", None),
            (9.79, "tick", None),
            (9.8, "tick", None),
        ],
        [
            [Use(RELAY, "first")],
            [StopDirect("no direct path")],
            [Probe(2.0)],
            [StopDirect("probe timed out")],
            [],
            [Probe(2.0)],
        ],
    ),
    (
        "privacy (relay-only) call: never probed",
        dialer(allow_direct=False),
        [(0.1, "relay_ready", None), (5.0, "tick", None), (60.0, "tick", None)],
        [[Use(RELAY, "first")], [], []],
    ),
    (
        "hung up on the relay after a failover: no probe after the hang-up",
        dialer(),
        [
            (0.05, "direct_checked", None),
            (0.1, "relay_ready", None),
            (9.0, "silent", DIRECT),
            (10.0, "end", None),
            (12.0, "tick", None),
            (12.1, "direct_checked", None),
        ],
        [[Use(DIRECT, "first"), Tell(DIRECT), WON], [], [Use(RELAY, "failover"), Tell(RELAY)], [], [], []],
    ),
    (
        "the acceptor probes only when the dialer asks (PunchReady), then follows its word: recovered",
        acceptor(),
        [
            (0.1, "relay_ready", None),
            (0.3, "direct_checked", None),
            (5.0, "peer_chose", RELAY),
            (60.0, "tick", None),
            (61.0, "peer_probing", None),
            (61.2, "direct_checked", 0.5),
        ],
        [
            [Use(RELAY, "first")],
            [Use(DIRECT, "upgrade"), WON],
            [Use(RELAY, "failover"), Tell(RELAY)],
            [],
            [Probe(3.0)],
            [Use(DIRECT, "recovered"), WON],
        ],
    ),
    (
        "the acceptor's probe window ends: it stops accepting, and still follows a late word",
        acceptor(),
        [
            (0.1, "relay_ready", None),
            (4.0, "tick", None),
            (8.0, "peer_probing", None),
            (11.0, "tick", None),
            (11.5, "direct_checked", None),
        ],
        [
            [Use(RELAY, "first")],
            [StopDirect("direct attempts timed out")],
            [Probe(3.0)],
            [StopDirect("probe timed out")],
            [Use(DIRECT, "recovered"), WON],
        ],
    ),
    (
        "the dialer's PunchReady of the first race is no probe for the acceptor",
        acceptor(),
        [(0.05, "peer_probing", None), (0.1, "relay_ready", None), (0.2, "peer_probing", None)],
        [[], [Use(RELAY, "first")], []],
    ),
    (
        "the relay goes away during a probe round: wait for the probe, and fail when it finds nothing",
        dialer(),
        [
            (0.1, "relay_ready", None),
            (0.3, "direct_failed", None),
            (3.3, "tick", None),
            (3.5, "relay_lost", None),
            (4.0, "direct_failed", None),
        ],
        [
            [Use(RELAY, "first")],
            [StopDirect("no direct path")],
            [Probe(2.0)],
            [],
            [StopDirect("probe failed"), Fail("The connection to the relay was lost and there is no direct path.")],
        ],
    ),
    (
        "the relay goes away during a probe round that then finds direct: the call moves there",
        dialer(),
        [
            (0.1, "relay_ready", None),
            (0.3, "direct_failed", None),
            (3.3, "tick", None),
            (3.5, "relay_lost", None),
            (3.7, "direct_checked", 0.5),
        ],
        [
            [Use(RELAY, "first")],
            [StopDirect("no direct path")],
            [Probe(2.0)],
            [],
            [Use(DIRECT, "recovered"), Tell(DIRECT), WON],
        ],
    ),
]


@pytest.mark.parametrize(("policy", "steps", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_path_rules(policy: PathPolicy, steps: list[tuple[float, str, Any]], expected: list[list[object]]) -> None:
    assert run(policy, steps) == expected


def test_a_slower_direct_path_is_taken_once_fresh_samples_show_it_is_not() -> None:
    """The first direct RTT sample was taken while the machine was busy (a late timer makes
    every sample larger): the next comparison, with fresh minimum RTTs, upgrades."""
    p = dialer()
    assert p.relay_ready(0.1, 0.001) == [Use(RELAY, "first")]
    assert p.direct_checked(0.3, 0.240) == [WON]
    assert p.next_wake() == pytest.approx(1.3)
    p.rtt(0.001, 0.240)
    assert p.tick(1.3) == []
    assert p.next_wake() == pytest.approx(2.3)
    p.rtt(0.001, 0.0008)
    assert p.tick(2.3) == [Use(DIRECT, "upgrade"), Tell(DIRECT)]
    assert p.next_wake() is None and p.settled
    # ... and a slower direct path that was checked is a failover target when the relay goes.
    q = dialer()
    q.relay_ready(0.1, 0.010)
    q.direct_checked(0.3, 0.500)
    assert q.relay_lost(5.0) == [Use(DIRECT, "failover"), Tell(DIRECT)]


def test_next_wake_and_settled() -> None:
    p = dialer()
    assert p.next_wake() == 2.0 and not p.settled  # direct deadline before the relay timeout
    p.relay_ready(0.1)
    assert p.next_wake() == 2.0 and not p.settled
    p.tick(2.0)
    assert p.settled and p.direct is PathState.FAILED
    assert p.next_wake() == 5.0  # the relay carries the call: direct is probed again 3 s later
    a = acceptor()
    assert a.next_wake() == 4.0
    a.direct_checked(0.2)
    assert a.next_wake() is None and a.settled and a.in_use == DIRECT


def test_a_failed_policy_decides_nothing_more() -> None:
    p = dialer(allow_direct=False)
    assert p.tick(6.0) == [Fail("No path to the other side: the relay media room did not answer in time.")]
    assert p.relay_ready(6.1) == [] and p.tick(7.0) == [] and p.next_wake() is None


def test_probe_cadence_backs_off_to_a_cap() -> None:
    """Every failed round makes the next wait 1.5 times longer, from 3 s up to 15 s; a direct path
    that is up again resets the back-off."""
    p = dialer()
    p.relay_ready(0.1)
    p.direct_failed(0.5)
    now, waits = 0.5, []
    for _ in range(7):
        wake = p.next_wake()
        assert wake is not None
        waits.append(round(wake - now, 3))
        assert p.tick(wake) == [Probe(2.0)] and p.direct is PathState.PROBING
        now = wake + 0.5
        assert p.direct_failed(now) == [StopDirect("probe failed")]  # every re-dial failed
    assert waits == [3.0, 4.5, 6.75, 10.125, 15.0, 15.0, 15.0]
    assert p.probes == 7
    wake = p.next_wake()
    assert wake is not None and p.tick(wake) == [Probe(2.0)]
    assert p.direct_checked(wake + 0.1, None) == [Use(DIRECT, "recovered"), Tell(DIRECT), WON]
    assert p.next_wake() is None  # on direct: nothing to probe
    assert p.silent(DIRECT, 100.0) == [Use(RELAY, "failover"), Tell(RELAY)]
    assert p.next_wake() == pytest.approx(103.0)  # back-off reset


def test_a_slow_probed_path_is_taken_as_recovered_once_fresh_samples_pass() -> None:
    p = dialer()
    p.relay_ready(0.1, 0.010)
    p.direct_checked(0.2, 0.002)
    p.silent(DIRECT, 5.0)
    assert p.tick(8.0) == [Probe(2.0)]
    assert p.direct_checked(8.2, 0.300) == [WON]  # slower than the relay: no recovery yet
    assert p.in_use == RELAY and p.next_wake() == pytest.approx(9.2)
    p.rtt(0.010, 0.300)
    assert p.tick(9.2) == []
    p.rtt(0.010, 0.011)
    assert p.tick(10.2) == [Use(DIRECT, "recovered"), Tell(DIRECT)]


def test_a_probe_never_touches_the_relay_path() -> None:
    """Probe rounds add direct attempts only: no decision about the relay while they run or fail."""
    p = dialer()
    p.relay_ready(0.1)
    p.direct_failed(0.3)
    decisions: list[object] = []
    now = 0.3
    for _ in range(5):
        wake = p.next_wake()
        assert wake is not None
        decisions += p.tick(wake)
        now = wake + 2.0
        decisions += p.tick(now)
    assert all(isinstance(d, Probe | StopDirect) for d in decisions)
    assert p.in_use == RELAY and p.relay is PathState.UP
