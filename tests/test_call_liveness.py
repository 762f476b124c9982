"""PathLiveness, sans-IO: a fake clock, table-driven."""

from __future__ import annotations

import pytest

from app.call.liveness import PathLiveness

# (events, expected check results) with events as (time, "heard" | "check")
CASES = [
    # steady media every 20 ms: never dead
    ([(t / 50, "heard") for t in range(100)] + [(2.0, "check")], [False]),
    # media stops at 1.0 s: alive at 1.8, dead just after 1.8 s, reported once
    ([(1.0, "heard"), (1.79, "check"), (1.81, "check"), (1.9, "check")], [False, True, False]),
    # nothing ever heard: dead only after the first-packet grace
    ([(1.9, "check"), (2.01, "check")], [False, True]),
    # recovery: heard again after death -> alive, and can die again
    ([(0.1, "heard"), (1.0, "check"), (1.1, "heard"), (1.5, "check"), (2.0, "check")], [True, False, True]),
]


@pytest.mark.parametrize(("events", "expected"), CASES)
def test_liveness_rules(events: list[tuple[float, str]], expected: list[bool]) -> None:
    live = PathLiveness()
    live.started(0.0)
    results = []
    for now, what in events:
        if what == "heard":
            live.heard(now)
        else:
            results.append(live.check(now))
    assert results == expected


def test_heard_reports_a_recovery_and_started_resets() -> None:
    live = PathLiveness(timeout=0.5)
    live.started(0.0)
    live.heard(0.1)
    assert live.check(0.7) and live.dead
    assert live.heard(0.8) is True and not live.dead
    assert live.heard(0.9) is False
    live.started(5.0)  # a new path: the old arrivals do not count for it
    assert not live.check(6.0)
    assert live.check(7.1)


def test_not_started_is_never_dead() -> None:
    assert PathLiveness().check(100.0) is False
