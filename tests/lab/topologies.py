"""WZP topologies on top of `netlab.Lab`, and one call through each (real wzp-relay, real wzp-cli).

The internet is one router namespace, ``core``. Attached to it: the relay
(203.0.113.10, UDP 4433) and the WAN side of each home router (NAT A on
198.51.100.2, NAT B on 198.51.100.66). Each home router has a LAN, a bridge
(an Ethernet switch) with 192.168.1.0/24 (A) or 192.168.2.0/24 (B). The
caller, ``alice``, lives on LAN A; the callee, ``bob``, on LAN B (or on LAN A
in the same-LAN topology). From a peer, a packet to the other NAT crosses
NAT -> core -> NAT: the core is the router hop between the NATs that makes the
low-TTL punches die before the far NAT.

    alice --[LAN A br]-- natA ==198.51.100.0/26== core ==198.51.100.64/26== natB --[LAN B br]-- bob
                                                   ||
                                             203.0.113.0/24
                                                   ||
                                                 relay

Every two-LAN topology also installs packet counters (`COUNTERS`) at the raw
prerouting hook of both NATs and of the core, so a test can prove which direct
packets flowed (and that a privacy answer sent none).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .netlab import Lab, LabError, Namespace, Proc

RELAY_IP = "203.0.113.10"
RELAY_PORT = 4433
RELAY = f"{RELAY_IP}:{RELAY_PORT}"
RELAY_PROBE = f"{RELAY_IP}:{RELAY_PORT + 1}"  # the relay's second (NAT-type probe) port
CORE_RELAY_IP = "203.0.113.1"
PUB_A, CORE_A = "198.51.100.2", "198.51.100.1"
PUB_B, CORE_B = "198.51.100.66", "198.51.100.65"
LAN_A, GW_A = "192.168.1.0/24", "192.168.1.1"
LAN_B, GW_B = "192.168.2.0/24", "192.168.2.1"
ALICE_V4 = "192.168.1.10"
BOB_V4 = "192.168.2.10"
BOB_SAME_LAN_V4 = "192.168.1.11"
V6_LAN_A, V6_GW_A, ALICE_V6 = "2001:db8:a::/64", "2001:db8:a::1", "2001:db8:a::10"
V6_LAN_B, V6_GW_B, BOB_V6 = "2001:db8:b::/64", "2001:db8:b::1", "2001:db8:b::10"
V6_WAN_A_CORE, V6_WAN_A = "2001:db8:ff0a::1", "2001:db8:ff0a::2"
V6_WAN_B_CORE, V6_WAN_B = "2001:db8:ff0b::1", "2001:db8:ff0b::2"
ROGUE_IP = "192.168.1.77"  # a stale LAN address of bob's, now held by a rogue host on LAN A
CALLEE_PORT = 47001  # fixed so the rogue can listen on the port bob's stale candidate names
DEFAULT_DELAY_MS = 150.0

BIN = Path(sys.executable).parent
WZP_CLI = str(BIN / "wzp-cli")
WZP_RELAY = str(BIN / "wzp-relay")
TESTS_DIR = Path(__file__).resolve().parent.parent

# name -> (router, nft match); read with Topology.counters()
COUNTERS: dict[str, tuple[str, str]] = {
    # at bob's router, from bob's LAN towards any of alice's addresses
    "callee_to_caller": ("natB", f'iifname "lan" ip daddr {{ {PUB_A}, {LAN_A} }}'),
    # at alice's router, from the internet side with bob's public address as source
    "callee_at_caller_nat": ("natA", f'iifname "wan" ip saddr {PUB_B}'),
    # at alice's router, from alice's LAN towards any of bob's addresses
    "caller_to_callee": ("natA", f'iifname "lan" ip daddr {{ {PUB_B}, {LAN_B} }}'),
    # at bob's router, from the LAN to the relay (positive control: the relay path works)
    "callee_to_relay": ("natB", f'iifname "lan" ip daddr {RELAY_IP}'),
    # in the core, between the two public addresses
    "core_b_to_a": ("core", f"ip saddr {PUB_B} ip daddr {PUB_A}"),
    "core_a_to_b": ("core", f"ip saddr {PUB_A} ip daddr {PUB_B}"),
}


@dataclass
class Topology:
    name: str
    lab: Lab
    core: Namespace
    relay_ns: Namespace
    caller_ns: Namespace
    callee_ns: Namespace
    routers: dict[str, Namespace]
    caller_pub: str
    callee_pub: str
    caller_lan: str
    callee_lan: str
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    relay: Proc | None = None
    relay_fingerprint: str = ""
    _calls: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def start_relay(self) -> Proc:
        if self.relay is None or self.relay.returncode is not None:
            data = self.lab.workdir / "relay"
            self.relay = self.lab.run(
                self.relay_ns,
                [WZP_RELAY, "--listen", RELAY, "--probe-listen", RELAY_PROBE, "--data-dir", str(data)],
                name="relay",
            )
            line = self.relay.wait_line(lambda s: s.startswith("wzp-relay listening on"), 15.0, "its listening line")
            self.relay_fingerprint = line.rsplit(" ", 1)[-1]
        return self.relay

    def counters(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for router in {r for r, _ in COUNTERS.values()}:
            if router in self.routers:
                out.update(self.lab.read_counters(self.routers[router]))
        return out


# --------------------------------------------------------------------------- builders


def _internet(lab: Lab) -> tuple[Namespace, Namespace]:
    core = lab.ns("core", router=True)
    relay = lab.ns("relay")
    lab.link(core, "r0", relay, "eth0", a_addrs=[f"{CORE_RELAY_IP}/24"], b_addrs=[f"{RELAY_IP}/24"])
    lab.route(relay, "default", via=CORE_RELAY_IP)
    return core, relay


def _home(
    lab: Lab,
    core: Namespace,
    name: str,
    *,
    core_if: str,
    core_ip: str,
    pub: str,
    gw: str,
    symmetric: bool,
    v6: tuple[str, str, str, str] | None,
    port_forwarding: bool = False,
) -> Namespace:
    """A home router `name` with WAN `wan` to the core and a LAN bridge `lan`."""
    nat = lab.ns(name, router=True)
    a_addrs, b_addrs = [f"{core_ip}/26"], [f"{pub}/26"]
    if v6:
        core_v6, wan_v6 = v6[0], v6[1]
        a_addrs.append(f"{core_v6}/64")
        b_addrs.append(f"{wan_v6}/64")
    lab.link(core, core_if, nat, "wan", a_addrs=a_addrs, b_addrs=b_addrs)
    lab.route(nat, "default", via=core_ip)
    lab.bridge(nat, "lan", addrs=[f"{gw}/24"] + ([f"{v6[3]}/64"] if v6 else []))
    if v6:
        lab.route(nat, "default", via=v6[0])
        lab.route(core, v6[2], via=v6[1])
    lab.nat(nat, wan="wan", lan="lan", symmetric=symmetric, port_forwarding=port_forwarding)
    return nat


def _host(lab: Lab, router: Namespace, name: str, port: str, ip: str, gw: str, v6: tuple[str, str] | None) -> Namespace:
    host = lab.ns(name)
    addrs = [f"{ip}/24"] + ([f"{v6[0]}/64"] if v6 else [])
    lab.link(router, port, host, "eth0", b_addrs=addrs)
    lab.attach(router, port, "lan")
    lab.route(host, "default", via=gw)
    if v6:
        lab.route(host, "default", via=v6[1])
    return host


def build_same_lan(lab: Lab) -> Topology:
    core, relay = _internet(lab)
    nat = _home(lab, core, "natA", core_if="wa", core_ip=CORE_A, pub=PUB_A, gw=GW_A, symmetric=False, v6=None)
    alice = _host(lab, nat, "alice", "p-alice", ALICE_V4, GW_A, None)
    bob = _host(lab, nat, "bob", "p-bob", BOB_SAME_LAN_V4, GW_A, None)
    return Topology(
        "a-same-lan",
        lab,
        core,
        relay,
        alice,
        bob,
        {"core": core, "natA": nat},
        PUB_A,
        PUB_A,
        ALICE_V4,
        BOB_SAME_LAN_V4,
        "both peers on one LAN behind one NAT without hairpinning; relay on the internet",
    )


def build_two_lans(
    lab: Lab,
    name: str,
    *,
    symmetric: bool = False,
    ipv6: bool = False,
    block_v4_direct: bool = False,
    delay_side: str | None = None,
    delay_ms: float = DEFAULT_DELAY_MS,
    description: str = "",
) -> Topology:
    core, relay = _internet(lab)
    v6a = (V6_WAN_A_CORE, V6_WAN_A, V6_LAN_A, V6_GW_A) if ipv6 else None
    v6b = (V6_WAN_B_CORE, V6_WAN_B, V6_LAN_B, V6_GW_B) if ipv6 else None
    nat_a = _home(lab, core, "natA", core_if="wa", core_ip=CORE_A, pub=PUB_A, gw=GW_A, symmetric=symmetric, v6=v6a)
    nat_b = _home(lab, core, "natB", core_if="wb", core_ip=CORE_B, pub=PUB_B, gw=GW_B, symmetric=symmetric, v6=v6b)
    alice = _host(lab, nat_a, "alice", "p-alice", ALICE_V4, GW_A, (ALICE_V6, V6_GW_A) if ipv6 else None)
    bob = _host(lab, nat_b, "bob", "p-bob", BOB_V4, GW_B, (BOB_V6, V6_GW_B) if ipv6 else None)
    routers = {"core": core, "natA": nat_a, "natB": nat_b}
    for router in routers:
        lab.counters(routers[router], {n: match for n, (r, match) in COUNTERS.items() if r == router})
    if block_v4_direct:
        lab.drop_between(core, [(PUB_A, PUB_B)])
    topo = Topology(name, lab, core, relay, alice, bob, routers, PUB_A, PUB_B, ALICE_V4, BOB_V4, description)
    if delay_side is not None:
        pub = PUB_A if delay_side == "caller" else PUB_B
        topo.extra["delay"] = lab.delay(core, [f"from {pub} to {RELAY_IP}", f"from {RELAY_IP} to {pub}"], delay_ms)
        topo.extra["delay_side"] = delay_side
    return topo


def build_rogue(lab: Lab) -> Topology:
    """Two LANs (cone NATs); bob still lists ROGUE_IP, an address he had on LAN A, and a rogue
    on LAN A now holds it and runs a QUIC server on bob's port that answers with a bad proof."""
    topo = build_two_lans(lab, "g-rogue", description="rogue host on the caller's LAN holds a stale callee address")
    lab.dummy(topo.callee_ns, "stale0", addrs=[f"{ROGUE_IP}/32"])
    nat_a = topo.routers["natA"]
    rogue = lab.ns("rogue")
    lab.link(nat_a, "p-rogue", rogue, "eth0", b_addrs=[f"{ROGUE_IP}/24"])
    lab.attach(nat_a, "p-rogue", "lan")
    lab.route(rogue, "default", via=GW_A)
    topo.extra["rogue_ns"] = rogue
    return topo


def build_one_symmetric(lab: Lab, name: str = "i-spray", *, hard_side: str = "callee") -> Topology:
    """Two LANs: one NAT maps per destination (`masquerade fully-random`), the other keeps ports;
    both filter by address and port. `hard_side` ("caller" or "callee") is behind the first."""
    core, relay = _internet(lab)
    nat_a = _home(
        lab, core, "natA", core_if="wa", core_ip=CORE_A, pub=PUB_A, gw=GW_A, symmetric=hard_side == "caller", v6=None
    )
    nat_b = _home(
        lab, core, "natB", core_if="wb", core_ip=CORE_B, pub=PUB_B, gw=GW_B, symmetric=hard_side == "callee", v6=None
    )
    alice = _host(lab, nat_a, "alice", "p-alice", ALICE_V4, GW_A, None)
    bob = _host(lab, nat_b, "bob", "p-bob", BOB_V4, GW_B, None)
    routers = {"core": core, "natA": nat_a, "natB": nat_b}
    for router in routers:
        lab.counters(routers[router], {n: match for n, (r, match) in COUNTERS.items() if r == router})
    desc = f"the {hard_side}'s NAT is symmetric, the other keeps ports"
    return Topology(name, lab, core, relay, alice, bob, routers, PUB_A, PUB_B, ALICE_V4, BOB_V4, desc)


# miniupnpd refuses a reserved outside address (the documentation ranges above), so the
# port-mapping gateway's WAN is in 11.0.13.0/26: an unreserved block that exists only in these
# namespaces (the core has no route off the machine; nothing leaves it).
UPNP_PUB_A, UPNP_CORE_A = "11.0.13.2", "11.0.13.1"


def build_mapped(lab: Lab, name: str = "h-mapped", *, mapped_side: str = "caller") -> Topology:
    """Two symmetric NATs; alice's router (natA) runs miniupnpd (`start_miniupnpd`): UPnP-IGD,
    NAT-PMP and PCP on its LAN, its WAN on an unreserved address. Alice is the caller, or the
    callee with ``mapped_side="callee"``."""
    core, relay = _internet(lab)
    nat_a = _home(
        lab, core, "natA", core_if="wa", core_ip=UPNP_CORE_A, pub=UPNP_PUB_A, gw=GW_A, symmetric=True, v6=None,
        port_forwarding=True,
    )
    nat_b = _home(lab, core, "natB", core_if="wb", core_ip=CORE_B, pub=PUB_B, gw=GW_B, symmetric=True, v6=None)
    alice = _host(lab, nat_a, "alice", "p-alice", ALICE_V4, GW_A, None)
    bob = _host(lab, nat_b, "bob", "p-bob", BOB_V4, GW_B, None)
    routers = {"core": core, "natA": nat_a, "natB": nat_b}
    desc = f"two symmetric NATs; the {mapped_side}'s router maps ports (miniupnpd)"
    if mapped_side == "callee":
        return Topology(name, lab, core, relay, bob, alice, routers, PUB_B, UPNP_PUB_A, BOB_V4, ALICE_V4, desc)
    return Topology(name, lab, core, relay, alice, bob, routers, UPNP_PUB_A, PUB_B, ALICE_V4, BOB_V4, desc)


MINIUPNPD = "/usr/sbin/miniupnpd"


def start_miniupnpd(topo: Topology, router: str = "natA") -> Proc:
    """miniupnpd on `router` (LAN `lan`, WAN `wan`) in the foreground, with its nftables chains
    created first (it only adds rules to existing chains)."""
    ns = topo.routers[router]
    topo.lab.nft_table(
        ns,
        "inet",
        "miniupnpd",
        """
        chain forward { type filter hook forward priority filter - 5; policy accept; jump miniupnpd; }
        chain miniupnpd { }
        chain prerouting { type nat hook prerouting priority dstnat; policy accept; jump prerouting_miniupnpd; }
        chain postrouting {
            type nat hook postrouting priority srcnat - 5; policy accept; jump postrouting_miniupnpd;
        }
        chain prerouting_miniupnpd { }
        chain postrouting_miniupnpd { }
        """,
    )
    conf = topo.lab.workdir / f"miniupnpd-{router}.conf"
    conf.write_text(
        "\n".join(
            [
                "ext_ifname=wan",
                "listening_ip=lan",
                "http_port=0",
                "enable_natpmp=yes",
                "enable_upnp=yes",
                "secure_mode=yes",
                "system_uptime=yes",
                f"lease_file={topo.lab.workdir / f'miniupnpd-{router}.leases'}",
                "upnp_table_name=miniupnpd",
                "upnp_nat_table_name=miniupnpd",
                "upnp_forward_chain=miniupnpd",
                "upnp_nat_chain=prerouting_miniupnpd",
                "upnp_nat_postrouting_chain=postrouting_miniupnpd",
                "uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b",
                "allow 1024-65535 192.168.0.0/16 1024-65535",
                "deny 0-65535 0.0.0.0/0 0-65535",
                "",
            ]
        )
    )
    # -d logs to stderr: fold it into stdout, which the lab reads line by line
    proc = topo.lab.run(ns, ["sh", "-c", f'exec {MINIUPNPD} -d -f "{conf}" 2>&1'], name=f"miniupnpd-{router}")
    proc.wait_line(lambda s: "Listening for NAT-PMP/PCP traffic" in s, 10.0, "miniupnpd listening")
    return proc


def miniupnpd_rules(topo: Topology, router: str = "natA") -> str:
    """The port forwards miniupnpd holds now (its DNAT chain)."""
    return topo.routers[router].sh("nft list chain inet miniupnpd prerouting_miniupnpd")


@dataclass(frozen=True)
class Spec:
    """One topology: how to build it, how to call through it, what must happen."""

    name: str
    build: Callable[[Lab], Topology]
    expect_path: str  # "direct" | "relay"
    expect_candidate: str  # "host" | "reflexive" | "relay"
    answer: str = "trusted"
    caller_role: str | None = "dialer"  # None: whatever the fresh fingerprints decide
    callee_port: int = 0
    rogue: bool = False
    summary: str = ""


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec("a-same-lan", build_same_lan, "direct", "host", summary="one LAN, NAT without hairpin"),
        Spec(
            "b-cone",
            lambda lab: build_two_lans(lab, "b-cone", description="two LANs, port-preserving filtering NATs"),
            "direct",
            "reflexive",
            caller_role="acceptor",
            summary="two LANs, port-preserving NATs",
        ),
        Spec(
            "b-cone-delay-caller",
            lambda lab: build_two_lans(
                lab, "b-cone-delay-caller", delay_side="caller", description="b + caller's relay link +150 ms"
            ),
            "direct",
            "reflexive",
            summary="b, caller (dialer) relay link +150 ms",
        ),
        Spec(
            "b-cone-delay-callee",
            lambda lab: build_two_lans(
                lab, "b-cone-delay-callee", delay_side="callee", description="b + callee's relay link +150 ms"
            ),
            "direct",
            "reflexive",
            summary="b, callee (acceptor) relay link +150 ms",
        ),
        Spec(
            "c-symmetric",
            lambda lab: build_two_lans(lab, "c-symmetric", symmetric=True, description="symmetric NATs both sides"),
            "relay",
            "relay",
            summary="symmetric NATs (fully-random)",
        ),
        Spec(
            "d-ipv6",
            lambda lab: build_two_lans(
                lab, "d-ipv6", ipv6=True, block_v4_direct=True, description="IPv4 between peers blocked, IPv6 routed"
            ),
            "direct",
            "host",
            summary="IPv4 blocked between peers, IPv6 routed",
        ),
        Spec(
            "e-privacy",
            lambda lab: build_two_lans(lab, "e-privacy", description="callee answers generic (privacy)"),
            "relay",
            "relay",
            answer="generic",
            summary="callee answers generic",
        ),
        Spec(
            "f-blocked",
            lambda lab: build_two_lans(
                lab, "f-blocked", block_v4_direct=True, description="all direct traffic between the peers dropped"
            ),
            "relay",
            "relay",
            summary="all direct traffic dropped",
        ),
        Spec(
            "g-rogue",
            build_rogue,
            "direct",
            "reflexive",
            callee_port=CALLEE_PORT,
            rogue=True,
            summary="rogue on the LAN holds a stale callee address",
        ),
    ]
}


# --------------------------------------------------------------------------- one call


@dataclass
class CallResult:
    topology: Topology
    caller: Proc
    callee: Proc
    caller_fp: str
    callee_fp: str
    caller_role: str
    caller_rc: int | None
    callee_rc: int | None
    error: str = ""
    rogue: Proc | None = None

    def proc(self, side: str) -> Proc:
        return {"caller": self.caller, "callee": self.callee}[side]

    def side_of(self, role: str) -> str:
        return "caller" if self.caller_role == role else "callee"

    def role_of(self, side: str) -> str:
        if side == "caller":
            return self.caller_role
        return "acceptor" if self.caller_role == "dialer" else "dialer"

    def events(self, side: str, name: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.proc(side).events() if name is None or e.get("event") == name]

    def paths(self, side: str) -> list[dict[str, Any]]:
        return self.events(side, "path")

    def path(self, side: str) -> dict[str, Any]:
        """The path the call settled on: the first one carries the audio at once, a checked
        direct path may take over from the relay ("upgrade")."""
        paths = self.paths(side)
        return paths[-1] if paths else {}

    def ended(self, side: str) -> dict[str, Any]:
        ended = self.events(side, "ended")
        return ended[-1] if ended else {}

    def candidates(self, side: str) -> list[dict[str, Any]]:
        return self.events(side, "candidate")

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and self.caller_rc == 0
            and self.callee_rc == 0
            and self.ended("caller").get("reason") == "Normal"
            and self.ended("callee").get("reason") == "Normal"
        )

    def report(self) -> str:
        """Everything a failing assertion should show."""
        lines = [
            f"topology {self.topology.name}: caller {self.caller_role}, rc caller={self.caller_rc} "
            f"callee={self.callee_rc} {self.error}".rstrip()
        ]
        for proc in (self.caller, self.callee, self.rogue, self.topology.relay):
            if proc is not None:
                lines.append(proc.tail(40))
        return "\n".join(lines)


def _identities(workdir: Path, n: int, caller_role: str | None) -> tuple[Path, str, Path, str, str]:
    from app.identity import load_or_create_identity
    from app.nat.roles import decide_role

    dirs = [workdir / f"call{n}-id1", workdir / f"call{n}-id2"]
    fps = [load_or_create_identity(d).fingerprint for d in dirs]
    role = decide_role(fps[0], fps[1])
    if caller_role is not None and role != caller_role:
        dirs.reverse()
        fps.reverse()
        role = caller_role
    return dirs[0], fps[0], dirs[1], fps[1], role


def run_call(
    topo: Topology,
    *,
    answer: str = "trusted",
    duration: float = 2.5,  # long enough for each side's media session to report stats (once a second)
    caller_role: str | None = "dialer",
    callee_port: int = 0,
    rogue: bool = False,
    timeout: float = 20.0,
    caller_env: dict[str, str] | None = None,
    callee_env: dict[str, str] | None = None,
) -> CallResult:
    """Relay up, callee listening and registered, caller calls, both exit; never raises on a
    misbehaving call (the result says what happened)."""
    lab = topo.lab
    topo.start_relay()
    n = next(topo._calls)
    caller_dir, caller_fp, callee_dir, callee_fp, role = _identities(lab.workdir, n, caller_role)
    rogue_proc = None
    if rogue:
        rogue_proc = lab.run(
            topo.extra["rogue_ns"],
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(TESTS_DIR)!r}); "
                "from lab.topologies import rogue_main; rogue_main(sys.argv[1:])",
                str(callee_port),
                callee_fp,
            ],
            name=f"rogue{n}",
        )
        rogue_proc.wait_line(lambda s: s.startswith("rogue listening"), 10.0, "rogue listening")
    port_args = ["--port", str(callee_port)] if callee_port else []
    listen_args = ["--answer", answer, "--max-calls", "1", "--no-audio"]
    callee = lab.run(
        topo.callee_ns,
        [WZP_CLI, "--data-dir", str(callee_dir), "--relay", RELAY, "--json", *port_args, "listen", *listen_args],
        name=f"callee{n}",
        env=callee_env,
    )
    error = ""
    caller: Proc | None = None
    caller_rc = callee_rc = None
    try:
        callee.wait_event("registered", 15.0)
        call_args = ["--duration", f"{duration:g}", "--no-audio"]
        caller = lab.run(
            topo.caller_ns,
            [WZP_CLI, "--data-dir", str(caller_dir), "--relay", RELAY, "--json", "call", callee_fp, *call_args],
            name=f"caller{n}",
            env=caller_env,
        )
        caller_rc = caller.wait(timeout)
        callee_rc = callee.wait(10.0)
    except LabError as exc:
        error = str(exc).splitlines()[0]
    finally:
        for proc in (caller, callee, rogue_proc):
            if proc is not None:
                proc.stop()
    if caller is None:  # the callee never registered: keep a result shape anyway
        caller = callee
    return CallResult(topo, caller, callee, caller_fp, callee_fp, role, caller_rc, callee_rc, error, rogue_proc)


def run_spec(topo: Topology, spec: Spec, **overrides: Any) -> CallResult:
    kwargs: dict[str, Any] = {
        "answer": spec.answer,
        "caller_role": spec.caller_role,
        "callee_port": spec.callee_port,
        "rogue": spec.rogue,
    }
    kwargs.update(overrides)
    return run_call(topo, **kwargs)


def is_v6(addr: str) -> bool:
    host = addr.rsplit(":", 1)[0].strip("[]")
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).version == 6
    return False


def host_of(addr: str) -> str:
    return addr.rsplit(":", 1)[0].strip("[]")


# --------------------------------------------------------------------------- the rogue


def rogue_main(argv: list[str]) -> None:
    """`rogue PORT FINGERPRINT`: a QUIC server that answers every dial with a PeerProof that
    names FINGERPRINT (the peer the dialer expects) but carries a signature it cannot make."""
    import asyncio
    import json
    import os

    from app.net import ConnectionClosed, QuicEndpoint
    from app.net.message_stream import MessageStream
    from app.protocol import ProtocolError
    from app.protocol import messages as m

    port, fingerprint = int(argv[0]), argv[1]

    async def handle(conn: Any) -> None:
        try:
            stream = MessageStream(*await asyncio.wait_for(conn.accept_stream(), 5.0))
            proof = await asyncio.wait_for(stream.recv(), 5.0)
            call_id = getattr(proof, "call_id", "")
            print(json.dumps({"event": "rogue_dialed", "remote": conn.remote_addr, "call_id": call_id}), flush=True)
            stream.send(m.PeerProof(call_id=call_id, fingerprint=fingerprint, signature=os.urandom(64)))
            await conn.wait_closed()
        except (TimeoutError, ConnectionClosed, ProtocolError, ValueError) as exc:
            print(json.dumps({"event": "rogue_error", "error": str(exc)}), flush=True)

    async def main() -> None:
        endpoint = await QuicEndpoint.create("0.0.0.0", port)
        print(f"rogue listening on {port}", flush=True)
        tasks = set()
        while True:
            conn = await endpoint.accept()
            task = asyncio.ensure_future(handle(conn))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


def run_nat(
    topo: Topology, ns: Namespace, *, timeout: float = 15.0, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], Proc]:
    """`wzp-cli nat` from `ns` against the relay and its probe port; returns its `nat` event."""
    topo.start_relay()
    n = next(topo._calls)
    data = topo.lab.workdir / f"nat{n}-{ns.name}"
    argv = [WZP_CLI, "--data-dir", str(data), "--relay", RELAY, "--json", "nat"]
    proc = topo.lab.run(ns, argv, name=f"nat{n}", env=env)
    try:
        event = proc.wait_event("nat", timeout)
        proc.wait(5.0)
    finally:
        proc.stop()
    return event, proc
