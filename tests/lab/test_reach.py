"""Reaching people (issue 12) in the network lab, with real wzp-relay and wzp-cli processes:
relays named by host name on two LANs and a call from an invite link across them; two hosts on
one LAN with no relay configured at all that find each other (mDNS) and call; an impostor who
announces the callee's fingerprint on the LAN gets nowhere."""

from __future__ import annotations

import json
import sys

import pytest

from .netlab import Lab, Namespace, Proc
from .topologies import (
    CORE_RELAY_IP,
    RELAY_IP,
    WZP_CLI,
    WZP_RELAY,
    Topology,
    build_same_lan,
    build_two_lans,
)

pytestmark = [pytest.mark.netns]

RELAY_B_IP = "203.0.113.20"
NAMES = {"relay-a.lab": RELAY_IP, "relay-b.lab": RELAY_B_IP}


def cli(lab: Lab, ns: Namespace, data: str, *args: str, name: str) -> Proc:
    return lab.run(ns, [WZP_CLI, "--data-dir", str(lab.workdir / data), "--json", *args], name=name)


def output(lab: Lab, ns: Namespace, data: str, *args: str, name: str, timeout: float = 15.0) -> list[dict]:
    proc = cli(lab, ns, data, *args, name=name)
    rc = proc.wait(timeout)
    assert rc == 0, f"{name} exited {rc}\n{proc.tail()}"
    return proc.events()


def fingerprint(lab: Lab, ns: Namespace, data: str) -> str:
    proc = lab.run(ns, [WZP_CLI, "--data-dir", str(lab.workdir / data), "id"], name=f"id-{data}")
    assert proc.wait(10.0) == 0
    return json.loads(proc.wait_line(lambda s: s.startswith("{"), 5.0))["fingerprint"]


def two_named_relays(lab: Lab) -> Topology:
    topo = build_two_lans(lab, "reach-two-relays")
    lab.addr(topo.relay_ns, "eth0", f"{RELAY_B_IP}/24")
    for host in (topo.caller_ns, topo.callee_ns):
        lab.hosts(host, NAMES)
    for name, ip in NAMES.items():
        relay = lab.run(
            topo.relay_ns,
            [WZP_RELAY, "--listen", f"{ip}:4433", "--data-dir", str(lab.workdir / name)],
            name=name,
        )
        relay.wait_line(lambda s: s.startswith("wzp-relay listening on"), 15.0, "its listening line")
    assert CORE_RELAY_IP  # both relays sit on the lab internet, behind the core router
    return topo


def test_an_invite_link_across_relays_named_by_host_name(lab: Lab) -> None:
    topo = two_named_relays(lab)
    alice, bob = topo.caller_ns, topo.callee_ns
    invite = output(lab, bob, "bob", "--relay", "relay-b.lab", "invite", name="invite")[0]["invite"]
    assert "relay=relay-b.lab:4433" in invite
    callee = cli(lab, bob, "bob", "--relay", "relay-b.lab", "listen", "--max-calls", "1", "--no-audio", name="bob")
    callee.wait_event("registered", 15.0)
    caller = cli(
        lab, alice, "alice", "--relay", "relay-a.lab", "call", invite, "--duration", "2.5", "--no-audio", name="alice"
    )
    rc = caller.wait(25.0)
    assert rc == 0, f"the call failed (rc {rc})\n{caller.tail()}\n{callee.tail()}"
    assert callee.wait(10.0) == 0, callee.tail()
    registered = [e for e in caller.events() if e["event"] == "registered"]
    assert registered and registered[0]["relay"] == "relay-a.lab:4433"
    assert [e["relay"] for e in callee.events() if e["event"] == "registered"][:1] == ["relay-b.lab:4433"]
    for proc in (caller, callee):
        stats = [e for e in proc.events() if e["event"] == "stats"]
        assert stats and stats[-1]["packets_received"] > 0, f"no audio arrived at {proc.name}\n{proc.tail()}"
        assert [e["reason"] for e in proc.events() if e["event"] == "ended"] == ["Normal"]


def test_two_hosts_on_one_lan_with_no_relay_configured_find_each_other_and_call(lab: Lab) -> None:
    topo = build_same_lan(lab)
    alice, bob = topo.caller_ns, topo.callee_ns
    bob_fp = fingerprint(lab, bob, "bob")
    callee = cli(lab, bob, "bob", "listen", "--max-calls", "1", "--no-audio", name="bob")
    registered = callee.wait_event("registered", 15.0)
    assert registered["relay"].endswith(":4433")  # the relay it hosts
    found = output(lab, alice, "alice", "nearby", "--wait", "4", name="nearby")
    assert [(p["fingerprint"], p["addresses"]) for p in found] == [(bob_fp, [f"{topo.callee_lan}:4433"])]
    caller = cli(lab, alice, "alice", "call", bob_fp, "--duration", "2.5", "--no-audio", name="alice")
    rc = caller.wait(25.0)
    assert rc == 0, f"the call failed (rc {rc})\n{caller.tail()}\n{callee.tail()}"
    paths = [e for e in caller.events() if e["event"] == "path"]
    assert paths and paths[-1]["path"] == "direct", caller.tail()  # same LAN: straight there
    stats = [e for e in caller.events() if e["event"] == "stats"]
    assert stats and stats[-1]["packets_received"] > 0


IMPOSTOR = """
import asyncio, sys
from app.lan.nearby import Nearby
async def main():
    nearby = Nearby(sys.argv[1], "Bob", [sys.argv[2]])
    await nearby.start()
    print("announcing", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def test_an_impostor_announcing_the_callees_fingerprint_gets_nowhere(lab: Lab) -> None:
    topo = build_same_lan(lab)
    alice, bob = topo.caller_ns, topo.callee_ns
    mallory = lab.ns("mallory")
    from .topologies import GW_A

    lab.link(topo.routers["natA"], "p-mal", mallory, "eth0", b_addrs=["192.168.1.66/24"])
    lab.attach(topo.routers["natA"], "p-mal", "lan")
    lab.route(mallory, "default", via=GW_A)
    bob_fp = fingerprint(lab, bob, "bob")
    # Mallory runs a relay of her own and announces Bob's fingerprint with it.
    relay = lab.run(
        mallory, [WZP_RELAY, "--listen", "192.168.1.66:4433", "--data-dir", str(lab.workdir / "m")], name="m"
    )
    relay.wait_line(lambda s: s.startswith("wzp-relay listening on"), 15.0, "its listening line")
    fake = lab.run(mallory, [sys.executable, "-c", IMPOSTOR, bob_fp, "192.168.1.66:4433"], name="impostor")
    fake.wait_line(lambda s: s.startswith("announcing"), 15.0, "announcing")
    caller = cli(lab, alice, "alice", "call", bob_fp, "--duration", "2", "--no-audio", name="alice")
    assert caller.wait(25.0) == 1, caller.tail()
    assert "not online at the relay 192.168.1.66:4433" in caller.stderr_text()
    assert not [e for e in caller.events() if e["event"] in ("setup", "path", "stats")]
    # The real Bob comes online: the same call now reaches him, whatever Mallory announces.
    callee = cli(lab, bob, "bob", "listen", "--max-calls", "1", "--no-audio", name="bob")
    callee.wait_event("registered", 15.0)
    caller = cli(lab, alice, "alice", "call", bob_fp, "--duration", "2", "--no-audio", name="alice2")
    rc = caller.wait(25.0)
    assert rc == 0, f"the call failed (rc {rc})\n{caller.tail()}\n{callee.tail()}"
    setup = [e for e in caller.events() if e["event"] == "setup"]
    assert setup and setup[0]["peer_fingerprint"] == bob_fp
