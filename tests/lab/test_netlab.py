"""Self-tests of the lab itself (no WZP code): NAT mapping and filtering, the delay, teardown.
If these fail, the topology tests prove nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .netlab import Lab
from .topologies import PUB_A, PUB_B, RELAY_IP, build_same_lan, build_two_lans

pytestmark = [pytest.mark.netns]

# A tiny UDP tool run inside namespaces. Modes:
#   reflect PORT STRANGER_PORT: print what address each packet came from; answer it first from
#                               STRANGER_PORT ("stranger"), then from PORT ("reply")
#   open SRC DST DPORT...:      send "hello" to each DST:DPORT from port SRC, print what comes back
#   hairpin SRC DST DPORT:      send one packet, print "refused" if an ICMP port unreachable comes back
#   ping SRC DST DPORT N:       N request/answer round trips to a `reflect` server, print the RTTs
UDP_TOOL = r"""
import json, socket, sys, time
mode = sys.argv[1]
def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port))
    return s
if mode == "reflect":
    main, stranger = sock(int(sys.argv[2])), sock(int(sys.argv[3]))
    print("ready", flush=True)
    while True:
        data, addr = main.recvfrom(2048)
        print(json.dumps({"from": f"{addr[0]}:{addr[1]}", "data": data.decode()}), flush=True)
        stranger.sendto(b"stranger", addr)
        main.sendto(b"reply", addr)
elif mode == "open":
    s = sock(int(sys.argv[2]))
    for port in sys.argv[4:]:
        s.sendto(b"hello", (sys.argv[3], int(port)))
    print("ready", flush=True)
    while True:
        data, addr = s.recvfrom(2048)
        print(json.dumps({"from": f"{addr[0]}:{addr[1]}", "data": data.decode()}), flush=True)
elif mode == "hairpin":
    s = sock(int(sys.argv[2]))
    s.connect((sys.argv[3], int(sys.argv[4])))
    s.settimeout(3.0)
    s.send(b"hairpin")
    try:
        s.recv(2048)
        print("answer", flush=True)
    except ConnectionRefusedError:
        print("refused", flush=True)
    except TimeoutError:
        print("timeout", flush=True)
elif mode == "ping":
    s = sock(int(sys.argv[2]))
    s.settimeout(3.0)
    rtts = []
    for i in range(int(sys.argv[5])):
        t0 = time.monotonic()
        s.sendto(b"ping", (sys.argv[3], int(sys.argv[4])))
        while True:
            data, _ = s.recvfrom(2048)
            if data == b"reply":
                break
        rtts.append((time.monotonic() - t0) * 1000)
    print(json.dumps({"rtts": rtts}), flush=True)
"""


def udp(lab: Lab, ns, *args: object, name: str):
    return lab.run(ns, [sys.executable, "-c", UDP_TOOL, *map(str, args)], name=name)


def observed(proc, timeout: float = 5.0) -> str:
    line = proc.wait_line(lambda s: s.startswith("{"), timeout, "a packet")
    return json.loads(line)["from"]


@pytest.mark.parametrize("symmetric", [False, True], ids=["port-preserving", "symmetric"])
def test_nat_mapping_and_filtering(lab: Lab, symmetric: bool) -> None:
    topo = build_two_lans(lab, "selftest", symmetric=symmetric)
    servers = [udp(lab, topo.relay_ns, "reflect", port, port + 100, name=f"reflect{port}") for port in (5000, 5001)]
    for server in servers:
        server.wait_line(lambda s: s == "ready", 5.0, "ready")
    alice = udp(lab, topo.caller_ns, "open", 40000, RELAY_IP, 5000, 5001, name="open")
    seen = [observed(server) for server in servers]
    assert all(addr.startswith(f"{PUB_A}:") for addr in seen), seen
    if symmetric:  # a new random port for each destination
        assert seen[0] != seen[1] and f"{PUB_A}:40000" not in seen, seen
    else:  # the same mapping for every destination, and the source port kept
        assert seen == [f"{PUB_A}:40000"] * 2, seen
    # filtering: each server answers first from another port of the same host ("stranger"),
    # then from the port alice sent to ("reply"); only the replies may come through
    for n in (1, 2):
        alice.wait_line(lambda s, n=n: sum('"reply"' in line for line in alice.lines) >= n, 5.0, f"reply {n}")
    assert not any('"stranger"' in line for line in alice.lines), alice.lines


def test_nat_does_not_hairpin(lab: Lab) -> None:
    """On one LAN, alice dialing bob's public mapping hits the router itself (ICMP port
    unreachable comes back): the NAT does not hairpin, so only host candidates work there."""
    topo = build_same_lan(lab)
    server = udp(lab, topo.relay_ns, "reflect", 5000, 5100, name="reflect")
    server.wait_line(lambda s: s == "ready", 5.0, "ready")
    bob = udp(lab, topo.callee_ns, "open", 40000, RELAY_IP, 5000, name="open-bob")
    mapping = observed(server)
    assert mapping == f"{PUB_A}:40000"
    alice = udp(lab, topo.caller_ns, "hairpin", 40001, PUB_A, 40000, name="hairpin")
    assert alice.wait_line(lambda s: s in ("answer", "refused", "timeout"), 5.0, "an outcome") == "refused"
    assert not any("hairpin" in line for line in bob.lines), bob.lines


def test_delay_applies_to_the_selected_flows_only(lab: Lab) -> None:
    topo = build_two_lans(lab, "delay", delay_side="callee", delay_ms=100)
    server = udp(lab, topo.relay_ns, "reflect", 5000, 5100, name="reflect")
    server.wait_line(lambda s: s == "ready", 5.0, "ready")
    slow = udp(lab, topo.callee_ns, "ping", 41000, RELAY_IP, 5000, 3, name="ping-bob")
    fast = udp(lab, topo.caller_ns, "ping", 41000, RELAY_IP, 5000, 3, name="ping-alice")
    slow_rtts = json.loads(slow.wait_line(lambda s: s.startswith("{"), 10.0, "rtts"))["rtts"]
    fast_rtts = json.loads(fast.wait_line(lambda s: s.startswith("{"), 10.0, "rtts"))["rtts"]
    assert all(190 <= rtt <= 400 for rtt in slow_rtts), f"delayed RTTs {slow_rtts} (100 ms each way)"
    assert all(rtt < 50 for rtt in fast_rtts), f"undelayed RTTs {fast_rtts}"
    assert f"{PUB_B}:41000" in [json.loads(s)["from"] for s in server.lines if s.startswith("{")]


def test_close_removes_namespaces_and_processes(netns_ok: None) -> None:
    lab = Lab("teardown")
    ns = lab.ns("box")
    proc = lab.run(ns, [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"], name="sleeper")
    proc.wait_line(lambda s: s == "up", 5.0, "up")
    names = [n.netns for n in lab.namespaces.values()]
    lab.close()
    assert proc.returncode is not None
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in listing for name in names), listing
