"""The sans-IO parts of port spraying: the hard-NAT hint (untrusted input), the probes, the plan's
rate limit and cap, and who dials."""

from __future__ import annotations

import random

from app.nat.candidates import dial_order
from app.nat.roles import decide_role
from app.nat.spray import (
    BURST,
    MAX_PROBES,
    ProbePlan,
    hard_hint,
    is_probe,
    parse_hard_hint,
    probe_payload,
)


def test_hard_hint_round_trip_and_untrusted_lists() -> None:
    assert hard_hint("198.51.100.66") == "198.51.100.66:0"
    assert parse_hard_hint(["192.168.1.10:5000", "198.51.100.66:0"]) == "198.51.100.66"
    for bad in (["10.0.0.1:0"], ["127.0.0.1:0"], ["0.0.0.0:0"], ["[2001:db8::1]:0"], ["x:0"], [5], "1.2.3.4:0", None):
        assert parse_hard_hint(bad) is None, bad
    # The hint is not a candidate: nothing dials port 0.
    assert dial_order(["198.51.100.66:0"], None) == []


def test_probe_is_bound_to_the_call_and_is_not_quic() -> None:
    probe = probe_payload("a" * 32)
    assert is_probe(probe, "a" * 32) and not is_probe(probe, "b" * 32)
    assert not probe[0] & 0x40  # QUIC's fixed bit is clear: the endpoint hands it to the spray


def test_probe_plan_is_rate_limited_and_capped() -> None:
    plan = ProbePlan(started_at=100.0, rate=2000.0, rng=random.Random(1))
    first = plan.due(100.0)
    assert len(first) == BURST and all(1024 <= p <= 65535 for p in first)
    assert plan.due(100.0) == []  # nothing more until time passes
    assert plan.next_at() > 100.0
    assert len(plan.due(100.5)) == 1000  # 2000/s
    plan.due(1000.0)
    assert plan.sent == MAX_PROBES and plan.exhausted
    assert plan.due(2000.0) == []


def test_the_hard_side_dials_unless_a_mapping_decides() -> None:
    assert decide_role("bbbb", "aaaa", own_hard=True) == "dialer"
    assert decide_role("aaaa", "bbbb", peer_hard=True) == "acceptor"
    assert decide_role("aaaa", "bbbb", own_hard=True, peer_hard=True) == "dialer"  # both: fingerprints
    assert decide_role("aaaa", "bbbb", own_hard=True, peer_mapped=True) == "dialer"  # the mapping first
    assert decide_role("aaaa", "bbbb", own_mapped=True, peer_hard=True) == "acceptor"
