"""Port-mapped candidates in the lab: two symmetric NATs (no direct path without help), the
mapping side's router runs miniupnpd. Each protocol alone (UPnP-IGD, NAT-PMP, PCP) must get the
call direct over a `mapped` candidate, whichever side holds the mapping and whichever side the
fingerprints would make the dialer; the router holds no mapping once the client has exited."""

from __future__ import annotations

import pytest

from .netlab import Lab
from .topologies import (
    UPNP_PUB_A,
    WZP_CLI,
    WZP_RELAY,
    CallResult,
    build_mapped,
    host_of,
    miniupnpd_rules,
    run_call,
    run_nat,
    start_miniupnpd,
)

pytestmark = [pytest.mark.netns]

OFF = {"WZP_PORT_MAPPING": "off"}


def _race_role(r: CallResult, side: str) -> str:
    started = r.events(side, "race_started")
    assert started, f"{side} never started a race\n{r.report()}"
    return started[-1]["role"]


@pytest.mark.parametrize(
    ("method", "mapped_side", "fingerprint_role"),
    [
        ("natpmp", "caller", "dialer"),  # the mapped caller would dial by fingerprint: it accepts instead
        ("pcp", "callee", "acceptor"),  # the mapped callee would dial by fingerprint: it accepts instead
        ("upnp", "caller", "acceptor"),  # the fingerprints already make the mapped side accept
    ],
)
def test_call_goes_direct_through_a_port_mapping(
    lab: Lab, method: str, mapped_side: str, fingerprint_role: str
) -> None:
    topo = build_mapped(lab, f"h-mapped-{method}", mapped_side=mapped_side)
    miniupnpd = start_miniupnpd(topo)
    mapped_env = {"WZP_PORT_MAPPING": method}
    r = run_call(
        topo,
        caller_role=fingerprint_role,
        caller_env=mapped_env if mapped_side == "caller" else OFF,
        callee_env=mapped_env if mapped_side == "callee" else OFF,
    )
    report = r.report() + "\n" + miniupnpd.tail(30)
    assert r.ok, report
    other = "callee" if mapped_side == "caller" else "caller"

    mappings = [e for e in r.events(mapped_side, "port_mapping") if e["state"] == "mapped"]
    assert mappings, f"{mapped_side} got no port mapping\n{report}"
    mapped_addr = mappings[0]["mapped_addr"]
    assert mappings[0]["method"] == method and host_of(mapped_addr) == UPNP_PUB_A, report
    assert not r.events(other, "port_mapping") or all(e["state"] == "off" for e in r.events(other, "port_mapping"))

    # Dialing follows the candidates: the side with the mapping accepts, the other dials it.
    assert _race_role(r, mapped_side) == "acceptor", report
    assert _race_role(r, other) == "dialer", report
    for side in ("caller", "callee"):
        path = r.path(side)
        assert (path.get("path"), path.get("candidate")) == ("direct", "mapped"), f"{side}: {path}\n{report}"
        stats = r.events(side, "stats")
        assert stats and stats[-1]["path"] == "direct" and stats[-1]["packets_received"] > 0, report
    assert r.path(other)["remote"] == mapped_addr, report

    # The client deleted its mapping on exit: miniupnpd forwards nothing any more.
    rules = miniupnpd_rules(topo)
    assert "dnat" not in rules, f"mapping left behind after the client exited:\n{rules}\n{report}"


def test_without_a_mapping_two_symmetric_nats_use_the_relay(lab: Lab) -> None:
    """Positive control: the same topology with port mapping off on both sides stays on the relay."""
    topo = build_mapped(lab, "h-unmapped")
    start_miniupnpd(topo)
    r = run_call(topo, caller_env=OFF, callee_env=OFF)
    assert r.ok, r.report()
    for side in ("caller", "callee"):
        assert r.path(side).get("path") == "relay", r.report()


def test_wzp_cli_nat_reports_the_mapping(lab: Lab) -> None:
    topo = build_mapped(lab, "h-nat-report")
    start_miniupnpd(topo)
    event, proc = run_nat(topo, topo.caller_ns, env={"WZP_PORT_MAPPING": "upnp,natpmp,pcp"})
    mapping = event["port_mapping"]
    assert mapping["state"] == "mapped", proc.tail(30)
    assert mapping["method"] in ("upnp", "natpmp", "pcp")
    assert host_of(mapping["mapped_addr"]) == UPNP_PUB_A
    assert mapping["method"] in mapping["answers"]
    assert "dnat" not in miniupnpd_rules(topo), "wzp-cli nat left its mapping behind"


def test_hosted_relay_is_reached_from_outside_through_its_mapping(lab: Lab) -> None:
    """A relay on a home computer (`wzp-relay --map-port`, as the GUI's hosted relay) asks its
    router for its port; a client on another network registers through the mapped address; the
    mapping is gone once the relay stops."""
    topo = build_mapped(lab, "h-hosted-relay")
    start_miniupnpd(topo)
    relay = lab.run(
        topo.caller_ns,
        [WZP_RELAY, "--listen", "0.0.0.0:4433", "--data-dir", str(lab.workdir / "hosted"), "--map-port"],
        name="hosted-relay",
        env={"WZP_PORT_MAPPING": "natpmp"},
    )
    line = relay.wait_line(lambda s: s.startswith("wzp-relay port mapping "), 15.0, "its port mapping line")
    words = line.split()
    assert words[3:6] == ["mapped", "method", "natpmp"], relay.tail(20)
    mapped = words[words.index("mapped", 4) + 1]
    assert host_of(mapped) == UPNP_PUB_A, line
    friend = lab.run(
        topo.callee_ns,
        [WZP_CLI, "--data-dir", str(lab.workdir / "friend"), "--relay", mapped, "--json", "listen", "--no-audio"],
        name="friend",
        env=OFF,
    )
    try:
        friend.wait_event("registered", 15.0)
    finally:
        friend.stop()
        relay.stop()
    assert relay.returncode is not None
    assert "dnat" not in miniupnpd_rules(topo), "the hosted relay left its mapping behind"
