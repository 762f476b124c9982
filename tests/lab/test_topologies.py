"""The dual-path race in real network topologies: a real wzp-relay on the lab's internet, real
wzp-cli listen/call processes behind real (nftables) NATs. Each test asserts, from the CLIs'
JSON events, which path both sides chose and over which candidate kind, and how the call ended.
See docs/LAB.md."""

from __future__ import annotations

import pytest

from .netlab import Lab
from .topologies import (
    ALICE_V4,
    ALICE_V6,
    BOB_SAME_LAN_V4,
    BOB_V6,
    CALLEE_PORT,
    PUB_A,
    PUB_B,
    RELAY,
    ROGUE_IP,
    SPECS,
    CallResult,
    build_two_lans,
    host_of,
    is_v6,
    run_nat,
    run_spec,
)

pytestmark = [pytest.mark.netns]

SIDES = ("caller", "callee")


# --------------------------------------------------------------------------- helpers


def expect_path(r: CallResult, side: str, path: str, candidate: str, remote: str | None = None) -> dict:
    chosen = r.path(side)
    assert chosen, f"{side} ({r.role_of(side)}) chose no path\n{r.report()}"
    got = (chosen["path"], chosen["candidate"])
    assert got == (path, candidate), (
        f"{side} ({r.role_of(side)}) chose {got}, expected {(path, candidate)}\n{r.report()}"
    )
    if remote is not None:
        assert chosen["remote"] == remote, f"{side} remote {chosen['remote']}, expected {remote}\n{r.report()}"
    expect_media_flowed(r, side)
    return chosen


def expect_media_flowed(r: CallResult, side: str) -> None:
    """The CLI's `path` event is its own claim: media must really have arrived on that path (the
    last `stats` event, sent once a second by the media session, counts received packets)."""
    stats = r.events(side, "stats")
    assert stats, f"{side} sent no stats event: no media session ran long enough\n{r.report()}"
    last, path = stats[-1], r.paths(side)[-1]["path"]
    assert last["path"] == path, f"{side} chose {path} but its media ran on {last['path']}\n{r.report()}"
    assert last["packets_received"] > 0, f"{side} received no media on the {path} path: {last}\n{r.report()}"


def expect_normal_end(r: CallResult) -> None:
    """Both CLIs exited 0 and both saw the call end with reason Normal."""
    ended = {side: r.ended(side).get("reason") for side in SIDES}
    assert r.ok, f"the call did not end normally: ended={ended} rc=({r.caller_rc}, {r.callee_rc})\n{r.report()}"


def registered_addr(r: CallResult, side: str) -> str:
    return r.events(side, "registered")[0]["reflexive_addr"]


def local_port(r: CallResult, side: str) -> int:
    """The port of the side's shared socket (its first host candidate)."""
    cands = r.events(side, "candidates")
    assert cands and cands[0]["local_addrs"], f"{side} announced no host candidates\n{r.report()}"
    return int(cands[0]["local_addrs"][0].rsplit(":", 1)[1])


# --------------------------------------------------------------------------- topologies


def test_a_same_lan_direct_over_host_candidate(lab: Lab) -> None:
    """One LAN behind a NAT without hairpinning: the host candidate wins on both sides."""
    spec = SPECS["a-same-lan"]
    r = run_spec(spec.build(lab), spec)
    expect_path(r, "caller", "direct", "host", f"{BOB_SAME_LAN_V4}:{local_port(r, 'callee')}")
    expect_path(r, "callee", "direct", "host", f"{ALICE_V4}:{local_port(r, 'caller')}")
    expect_normal_end(r)


def test_b_cone_nats_direct_over_reflexive(lab: Lab) -> None:
    """Port-preserving, address-and-port filtering NATs with a router between them: the NAT
    dance opens both, and both sides talk to the other's public (reflexive) address."""
    spec = SPECS["b-cone"]
    topo = spec.build(lab)
    r = run_spec(topo, spec)
    assert r.caller_role == "acceptor"
    # port-preserving: the public port the relay saw is the socket's own port
    assert registered_addr(r, "callee") == f"{PUB_B}:{local_port(r, 'callee')}"
    expect_path(r, "caller", "direct", "reflexive", registered_addr(r, "callee"))
    expect_path(r, "callee", "direct", "reflexive", registered_addr(r, "caller"))
    expect_normal_end(r)
    counts = topo.counters()
    # positive control for the privacy test: these counters do see a direct call
    assert counts["core_a_to_b"] > 0 and counts["core_b_to_a"] > 0, counts
    assert counts["callee_at_caller_nat"] > 0, counts


@pytest.mark.parametrize("delayed", ["caller", "callee"])
def test_b_cone_nats_one_side_relay_link_delayed(lab: Lab, delayed: str) -> None:
    """As b, but one side's link to the relay is 150 ms slower (each way), so that side learns
    of the call (and of the peer's PunchReady) later. The dance must still open the NATs."""
    spec = SPECS[f"b-cone-delay-{delayed}"]
    topo = spec.build(lab)
    r = run_spec(topo, spec)
    assert r.caller_role == "dialer"
    expect_path(r, "caller", "direct", "reflexive", registered_addr(r, "callee"))
    expect_path(r, "callee", "direct", "reflexive", registered_addr(r, "caller"))
    expect_normal_end(r)
    delay = topo.extra["delay"]
    assert "tun-delay first packet" in delay.lines, "the delay saw no packet: the topology is wrong"


@pytest.mark.parametrize("delayed", ["caller", "callee"])
def test_peer_hangup_is_not_a_lost_path(lab: Lab, delayed: str) -> None:
    """The caller hangs up a direct call while one relay link is slow, so the direct
    CONNECTION_CLOSE beats the relay's Hangup: the callee must end the call, not take the close
    for a lost path (no failover at hangup: the path events end on direct, first or upgrade)."""
    spec = SPECS[f"b-cone-delay-{delayed}"]
    r = run_spec(spec.build(lab), spec)
    expect_path(r, "callee", "direct", "reflexive")
    expect_normal_end(r)
    for side in SIDES:
        moves = [(p["path"], p["reason"]) for p in r.paths(side)]
        assert moves in ([("direct", "first")], [("relay", "first"), ("direct", "upgrade")]), (
            f"{side} changed path at hangup: {moves}\n{r.report()}"
        )
        assert "path failed" not in r.proc(side).stderr_text(), f"{side} saw a lost path\n{r.report()}"


def test_c_symmetric_nats_use_the_relay(lab: Lab) -> None:
    """Symmetric NATs (a new random port per flow) on both sides: no direct path; the relay wins."""
    spec = SPECS["c-symmetric"]
    r = run_spec(spec.build(lab), spec)
    # the NAT really is symmetric: the public port is not the socket's port
    assert registered_addr(r, "caller").rsplit(":", 1)[1] != str(local_port(r, "caller")), r.report()
    for side in SIDES:
        expect_path(r, side, "relay", "relay", RELAY)
    dialer = r.side_of("dialer")
    won = [c for c in r.candidates(dialer) if c["outcome"] in ("won", "ok")]
    assert not won, f"a direct candidate won through symmetric NATs: {won}"
    expect_normal_end(r)


def test_d_ipv6_direct_when_ipv4_is_blocked(lab: Lab) -> None:
    """IPv4 between the peers dropped, IPv6 routed: the peers meet over their global IPv6 addresses."""
    spec = SPECS["d-ipv6"]
    r = run_spec(spec.build(lab), spec)
    to_bob = expect_path(r, "caller", "direct", "host")
    to_alice = expect_path(r, "callee", "direct", "host")
    assert is_v6(to_bob["remote"]) and host_of(to_bob["remote"]) == BOB_V6, r.report()
    assert is_v6(to_alice["remote"]) and host_of(to_alice["remote"]) == ALICE_V6, r.report()
    expect_normal_end(r)


def test_e_privacy_answer_sends_nothing_direct(lab: Lab) -> None:
    """`listen --answer generic`: relay only, no addresses revealed, and not one packet from the
    callee reaches any of the caller's addresses (nor the other way round)."""
    spec = SPECS["e-privacy"]
    topo = spec.build(lab)
    r = run_spec(topo, spec)
    for side in SIDES:
        expect_path(r, side, "relay", "relay", RELAY)
        setup = r.events(side, "setup")[0]
        assert setup["accept_mode"] == "AcceptGeneric", setup
        assert setup["peer_direct_addr"] is None and setup["peer_local_addrs"] == [], setup
    assert not r.events("callee", "candidates"), "the callee announced its addresses"
    counts = topo.counters()
    assert counts["callee_to_relay"] > 0, f"the counters saw nothing at all: {counts}"
    for name in ("callee_to_caller", "callee_at_caller_nat", "core_b_to_a", "caller_to_callee", "core_a_to_b"):
        assert counts[name] == 0, f"{name}: {counts[name]} direct packets\n{counts}\n{r.report()}"
    expect_normal_end(r)


def test_f_all_direct_traffic_dropped_relay_within_1500_ms(lab: Lab) -> None:
    """Everything between the peers' public addresses is dropped: the relay wins, and fast."""
    spec = SPECS["f-blocked"]
    topo = spec.build(lab)
    r = run_spec(topo, spec)
    for side in SIDES:
        chosen = expect_path(r, side, "relay", "relay", RELAY)
        assert chosen["setup_ms"] < 1500, f"{side} took {chosen['setup_ms']} ms to choose the relay"
    counts = topo.counters()
    assert counts["core_a_to_b"] + counts["core_b_to_a"] > 0, f"no direct attempt reached the core: {counts}"
    assert counts["callee_at_caller_nat"] == 0, counts
    expect_normal_end(r)


def test_g_rogue_host_on_the_lan_is_rejected(lab: Lab) -> None:
    """The callee lists a stale LAN address that a rogue host on the caller's LAN now holds, with a
    QUIC server on the callee's port: the peer check rejects it and the call goes elsewhere."""
    spec = SPECS["g-rogue"]
    r = run_spec(spec.build(lab), spec)
    assert r.caller_role == "dialer"
    rogue_addr = f"{ROGUE_IP}:{CALLEE_PORT}"
    assert r.rogue is not None and any('"rogue_dialed"' in line for line in r.rogue.lines), (
        f"the rogue was never dialed: the test proves nothing\n{r.report()}"
    )
    outcomes = [c["outcome"] for c in r.candidates("caller") if c["addr"] == rogue_addr]
    assert outcomes == ["rejected"], f"rogue candidate outcomes {outcomes}\n{r.report()}"
    for side in SIDES:
        for chosen in r.paths(side):
            assert host_of(chosen["remote"]) != ROGUE_IP, f"{side} chose the rogue\n{r.report()}"
    expect_path(r, "caller", "direct", "reflexive", registered_addr(r, "callee"))
    expect_path(r, "callee", "direct", "reflexive", registered_addr(r, "caller"))
    expect_normal_end(r)


@pytest.mark.parametrize(("symmetric", "expected"), [(False, "cone"), (True, "symmetric")])
def test_nat_type_detection(lab: Lab, symmetric: bool, expected: str) -> None:
    """`wzp-cli nat` behind each kind of NAT, probing the relay's two ports."""
    topo = build_two_lans(lab, f"nat-{expected}", symmetric=symmetric)
    event, proc = run_nat(topo, topo.caller_ns)
    assert event["nat_type"] == expected, f"{event}\n{proc.tail()}"
    if expected == "cone":
        assert event["public_addr"].startswith(f"{PUB_A}:"), event
