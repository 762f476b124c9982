"""A small network lab built from Linux network namespaces (root only).

`Lab` creates namespaces, veth links, bridges, addresses, routes and sysctls;
NAT routers with nftables (`masquerade` keeps the source port when it can,
`masquerade fully-random` gives every new flow a random port: a symmetric
NAT); filter rules and packet counters; a user-space delay (the kernel here
has no netem); and processes inside namespaces (`ip netns exec`) whose stdout
is read line by line so a test can wait for what they print. Everything is
torn down by `Lab.close()`: the context manager, the test fixture and an
atexit hook all call it, so namespaces never outlive the run.

Names: every namespace is ``wzplab-<pid>-<n>-<name>``; interfaces are created
directly inside their namespaces, so nothing is ever named in the host's
namespace and concurrent labs cannot collide. Addresses are the lab's choice;
the WZP topologies use 192.168.x.0/24 LANs, 198.51.100.0/24 and 203.0.113.0/24
as "the internet" and 2001:db8::/32 for IPv6.

The delay (`Lab.delay`): two persistent TUN devices in a router namespace and
a helper process (`python netlab.py tun-delay ...`, see `tun_delay_main`).
Policy-routing rules send the selected flows into ``dly0``; the helper reads
each packet and writes it into ``dly1`` after the delay, where the kernel
receives it again and forwards it normally (a rule ``iif dly1 lookup main``
sits in front of the selectors). It works for any IP packet, of any size
(aioquic pads Initials to 1200 bytes), keeps order, and needs no extra
package. Each delayed packet crosses the router twice, so its TTL drops by 2
there instead of 1.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PREFIX = "wzplab"
_counter = itertools.count(1)
_open_labs: weakref.WeakSet[Lab] = weakref.WeakSet()


class LabError(RuntimeError):
    """A lab command failed or a process did not say what we waited for."""


# --------------------------------------------------------------------------- helpers


def _run(argv: Sequence[str], *, input: str | None = None, check: bool = True, timeout: float = 15.0) -> str:
    proc = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def netns_available() -> tuple[bool, str]:
    """(True, "") when this process can build namespaces; else (False, why)."""
    if os.name != "posix" or not sys.platform.startswith("linux"):
        return False, "the network lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return False, "the network lab needs root (ip netns, nftables)"
    if shutil.which("ip") is None:
        return False, "the `ip` command (iproute2) is not installed"
    probe = f"{PREFIX}-{os.getpid()}-probe"
    try:
        _run(["ip", "netns", "add", probe])
    except (LabError, OSError, subprocess.TimeoutExpired) as exc:
        return False, f"`ip netns add` does not work here: {exc}"
    with contextlib.suppress(LabError, OSError, subprocess.TimeoutExpired):
        _run(["ip", "netns", "del", probe])
    return True, ""


def sweep_stale_namespaces() -> list[str]:
    """Delete lab namespaces left by lab runs whose process is gone (names carry the pid)."""
    removed = []
    try:
        listing = _run(["ip", "netns", "list"], check=False)
    except (OSError, subprocess.TimeoutExpired):
        return removed
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        parts = name.split("-")
        if len(parts) < 3 or parts[0] != PREFIX or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid() or _alive(pid):
            continue
        with contextlib.suppress(LabError, OSError, subprocess.TimeoutExpired):
            _run(["ip", "netns", "del", name])
            removed.append(name)
        shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- processes


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the lab's process dies, even by SIGKILL, so a
    killed test run leaves no relay or client behind (it survives `ip netns exec`'s exec)."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


class Proc:
    """A process inside a namespace; stdout is read line by line by a thread.

    stderr goes to a file (``stderr_path``) so that a failing check can show it.
    Synchronise on what the process prints (`wait_line`, `wait_event`), not on time.
    """

    def __init__(self, name: str, argv: Sequence[str], *, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.stderr_path = log_dir / f"{name}.stderr"
        self.lines: list[str] = []
        self.started = time.monotonic()
        self._cond = threading.Condition()
        self._eof = False
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        if os.environ.get("WZP_LAB_PYTHONPATH"):
            full_env["PYTHONPATH"] = os.environ["WZP_LAB_PYTHONPATH"]
        if env:
            full_env.update(env)
        with open(self.stderr_path, "wb") as stderr:  # the child keeps its own descriptor
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=full_env,
                start_new_session=True,  # a Ctrl-C in the terminal does not reach it; close() ends it
                preexec_fn=_die_with_parent,
            )
        self.pid = self.popen.pid
        self._reader = threading.Thread(target=self._read, name=f"lab-{name}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    # ------------------------------------------------------------- reading

    def wait_line(self, predicate: Callable[[str], bool], timeout: float, what: str = "a line") -> str:
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self.lines):
                    line = self.lines[seen]
                    seen += 1
                    if predicate(line):
                        return line
                if self._eof:
                    raise LabError(f"{self.name} ended (rc={self.popen.poll()}) before printing {what}\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LabError(f"{self.name} did not print {what} within {timeout:g} s\n{self.tail()}")
                self._cond.wait(left)

    def events(self) -> list[dict[str, Any]]:
        """stdout lines that are JSON objects (wzp-cli --json)."""
        out = []
        with self._cond:
            lines = list(self.lines)
        for line in lines:
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out

    def wait_event(self, event: str, timeout: float, **fields: Any) -> dict[str, Any]:
        def match(line: str) -> bool:
            if not line.startswith("{"):
                return False
            try:
                data = json.loads(line)
            except ValueError:
                return False
            return data.get("event") == event and all(data.get(k) == v for k, v in fields.items())

        return json.loads(self.wait_line(match, timeout, f"a {event!r} event"))

    def wait(self, timeout: float) -> int:
        try:
            rc = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise LabError(f"{self.name} did not exit within {timeout:g} s\n{self.tail()}") from None
        self._reader.join(2.0)
        return rc

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 25) -> str:
        with self._cond:
            out = self.lines[-lines:]
        err = self.stderr_text().splitlines()[-lines:]
        return (
            f"--- {self.name} stdout (last {len(out)} lines)\n"
            + "\n".join(out)
            + f"\n--- {self.name} stderr (last {len(err)} lines)\n"
            + "\n".join(err)
        )

    def stop(self, grace: float = 2.0) -> None:
        """SIGTERM, then SIGKILL after `grace`; only this process, by its pid."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.popen.wait(grace)
        self._reader.join(1.0)


# --------------------------------------------------------------------------- namespaces


@dataclass
class Namespace:
    lab: Lab
    name: str  # short name inside the lab
    netns: str  # the real `ip netns` name
    router: bool = False
    nft_tables: list[str] = field(default_factory=list)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv]

    def ip(self, *args: str, check: bool = True) -> str:
        return _run(["ip", "-n", self.netns, *args], check=check)

    def sh(self, script: str, check: bool = True) -> str:
        return _run(self.exec_argv(["sh", "-c", script]), check=check)

    def sysctl(self, settings: dict[str, str | int], *, optional: bool = False) -> None:
        """Write sysctls in this namespace (one process for all); `optional` skips missing keys."""
        parts = []
        for key, value in settings.items():
            path = "/proc/sys/" + key.replace(".", "/")
            if optional:
                parts.append(f"[ -e {path} ] && echo {value} > {path}")
            else:
                parts.append(f"echo {value} > {path}")
        parts.append("true")
        self.sh(" ; ".join(parts) if optional else " && ".join(parts))

    def nft(self, ruleset: str) -> None:
        _run(self.exec_argv(["nft", "-f", "-"]), input=ruleset)

    def __str__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- the lab


class Lab:
    """Namespaces, links and processes; `close()` removes all of them (idempotent)."""

    def __init__(self, tag: str = "", *, workdir: Path | None = None, keep_workdir: bool | None = None) -> None:
        sweep_stale_namespaces()
        self.id = f"{PREFIX}-{os.getpid()}-{next(_counter)}"
        self.tag = tag
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"{self.id}-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.keep_workdir = bool(os.environ.get("WZP_LAB_KEEP")) if keep_workdir is None else keep_workdir
        self.namespaces: dict[str, Namespace] = {}
        self.procs: list[Proc] = []
        self._etc_dirs: list[Path] = []
        self.closed = False
        _open_labs.add(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- building

    def ns(self, name: str, *, router: bool = False) -> Namespace:
        """A new namespace with loopback up, no DAD, no rp_filter; routers forward v4 and v6."""
        if name in self.namespaces:
            raise LabError(f"namespace {name!r} already exists in this lab")
        netns = f"{self.id}-{name}"
        _run(["ip", "netns", "add", netns])
        ns = Namespace(self, name, netns, router=router)
        self.namespaces[name] = ns
        ns.ip("link", "set", "lo", "up")
        settings: dict[str, str | int] = {
            "net.ipv6.conf.all.accept_dad": 0,
            "net.ipv6.conf.default.accept_dad": 0,
            "net.ipv6.conf.default.dad_transmits": 0,
            "net.ipv6.conf.all.accept_ra": 0,
            "net.ipv6.conf.default.accept_ra": 0,
            "net.ipv4.conf.all.rp_filter": 0,
            "net.ipv4.conf.default.rp_filter": 0,
        }
        if router:
            settings.update({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1})
        ns.sysctl(settings)
        # With br_netfilter loaded (Docker hosts), bridged frames would go through this
        # namespace's IP hooks; a bridge here is a plain switch.
        ns.sysctl({"net.bridge.bridge-nf-call-iptables": 0, "net.bridge.bridge-nf-call-ip6tables": 0}, optional=True)
        return ns

    def link(
        self,
        a: Namespace,
        a_if: str,
        b: Namespace,
        b_if: str,
        *,
        a_addrs: Iterable[str] = (),
        b_addrs: Iterable[str] = (),
    ) -> None:
        """A veth pair a:a_if <-> b:b_if (created inside the namespaces), addressed and up."""
        _run(["ip", "-n", a.netns, "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", b.netns])
        for ns, ifname, addrs in ((a, a_if, a_addrs), (b, b_if, b_addrs)):
            for cidr in addrs:
                self.addr(ns, ifname, cidr)
            ns.ip("link", "set", ifname, "up")

    def bridge(self, ns: Namespace, name: str, *, addrs: Iterable[str] = ()) -> None:
        """A bridge (an Ethernet switch) in `ns`; attach ports with `attach`."""
        ns.ip("link", "add", name, "type", "bridge")
        for cidr in addrs:
            self.addr(ns, name, cidr)
        ns.ip("link", "set", name, "up")

    def attach(self, ns: Namespace, port: str, bridge: str) -> None:
        ns.ip("link", "set", port, "master", bridge)

    def dummy(self, ns: Namespace, name: str, *, addrs: Iterable[str] = ()) -> None:
        """An interface that goes nowhere: a dummy, or (kernels without the dummy driver) one
        end of a veth pair whose other end (`name` + "x") stays down in the same namespace."""
        try:
            ns.ip("link", "add", name, "type", "dummy")
        except LabError:
            ns.ip("link", "add", name, "type", "veth", "peer", "name", f"{name}x")
        for cidr in addrs:
            self.addr(ns, name, cidr)
        ns.ip("link", "set", name, "up")

    def hosts(self, ns: Namespace, names: dict[str, str]) -> None:
        """Name resolution inside `ns`: `ip netns exec` bind-mounts /etc/netns/<netns>/hosts over
        /etc/hosts for the programs it starts. Removed again by `close()`."""
        folder = Path("/etc/netns") / ns.netns
        folder.mkdir(parents=True, exist_ok=True)
        self._etc_dirs.append(folder)
        lines = ["127.0.0.1 localhost", *(f"{ip} {name}" for name, ip in names.items())]
        (folder / "hosts").write_text("\n".join(lines) + "\n")

    def addr(self, ns: Namespace, ifname: str, cidr: str) -> None:
        extra = ["nodad"] if ipaddress.ip_interface(cidr).version == 6 else []
        ns.ip("addr", "add", cidr, "dev", ifname, *extra)

    def route(self, ns: Namespace, dst: str, *, via: str | None = None, dev: str | None = None) -> None:
        family = "-6" if (":" in dst or (via and ":" in via)) else "-4"
        args = ["route", "add", dst]
        if via:
            args += ["via", via]
        if dev:
            args += ["dev", dev]
        ns.ip(family, *args)

    def nat(
        self,
        ns: Namespace,
        *,
        wan: str,
        lan: str,
        symmetric: bool = False,
        ipv6_inbound: bool = True,
        port_forwarding: bool = False,
    ) -> None:
        """Make `ns` a home router: masquerade IPv4 out of `wan`, filter unsolicited inbound.

        Port-preserving (default): `masquerade` keeps the source port when the tuple is free,
        so the mapping is endpoint-independent. `symmetric`: `masquerade fully-random`, a new
        random port for every new flow. Filtering comes from conntrack: the forward chain
        drops everything from the WAN that is not a reply to a flow the LAN started (same
        addresses and ports), i.e. address-and-port-dependent filtering. Hairpinning is not
        configured (no DNAT): a LAN host that dials the router's public address hits the router.
        IPv6 is routed, not translated; `ipv6_inbound=False` filters it statefully too.
        `port_forwarding`: inbound packets a DNAT rule forwarded (miniupnpd's mappings) pass.
        """
        flags = " fully-random" if symmetric else ""
        fwd = "" if port_forwarding else "# "
        v6 = "" if ipv6_inbound else "# "
        self.nft_table(
            ns,
            "inet",
            "labnat",
            f"""
            chain forward {{
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                {fwd}iifname "{wan}" ct status dnat accept
                iifname "{lan}" accept
                {v6}iifname "{wan}" meta nfproto ipv6 accept
            }}
            chain postrouting {{
                type nat hook postrouting priority srcnat; policy accept;
                oifname "{wan}" meta nfproto ipv4 masquerade{flags}
            }}
            """,
        )

    def nft_table(self, ns: Namespace, family: str, name: str, body: str) -> None:
        """Create (or replace) nft table `family name` in `ns` with `body`."""
        ruleset = f"table {family} {name}\ndelete table {family} {name}\ntable {family} {name} {{\n{body}\n}}\n"
        ns.nft(ruleset)
        key = f"{family} {name}"
        if key not in ns.nft_tables:
            ns.nft_tables.append(key)

    def drop_between(self, ns: Namespace, pairs: Iterable[tuple[str, str]], *, table: str = "labdrop") -> None:
        """Drop forwarded packets between each (a, b) pair of addresses/prefixes, both directions."""
        rules = []
        for a, b in pairs:
            fam = "ip6" if ":" in a else "ip"
            rules.append(f"{fam} saddr {a} {fam} daddr {b} counter drop")
            rules.append(f"{fam} saddr {b} {fam} daddr {a} counter drop")
        body = "chain forward {\n type filter hook forward priority filter - 10; policy accept;\n"
        body += "\n".join(rules) + "\n}"
        self.nft_table(ns, "inet", table, body)

    def counters(self, ns: Namespace, counters: dict[str, str], *, table: str = "labcount") -> None:
        """Named packet counters in `ns`: {name: nft match}, e.g. {"x": 'ip saddr 1.2.3.4'}.

        They sit at prerouting priority raw (-300): every packet that enters the namespace is
        seen, before conntrack, NAT or any filter decides anything. Read with `read_counters`.
        """
        decl = "\n".join(f"counter {name} {{ }}" for name in counters)
        rules = "\n".join(f'{match} counter name "{name}"' for name, match in counters.items())
        body = f"{decl}\nchain pre {{\n type filter hook prerouting priority raw; policy accept;\n{rules}\n}}"
        self.nft_table(ns, "inet", table, body)

    def read_counters(self, ns: Namespace, *, table: str = "labcount") -> dict[str, int]:
        data = json.loads(_run(ns.exec_argv(["nft", "-j", "list", "counters", "table", "inet", table])))
        out = {}
        for item in data.get("nftables", []):
            counter = item.get("counter")
            if counter:
                out[counter["name"]] = int(counter["packets"])
        return out

    def delay(
        self,
        ns: Namespace,
        selectors: Iterable[str],
        delay_ms: float,
        *,
        family: int = 4,
        pref: int = 1000,
    ) -> Proc:
        """Delay, by `delay_ms`, every packet that router `ns` forwards and that matches one of
        the `ip rule` selectors (e.g. "from 198.51.100.66 to 203.0.113.10"). See the module doc."""
        if not ns.router:
            raise LabError("delay() needs a router namespace (it forwards the packets it delays)")
        for dev in ("dly0", "dly1"):
            ns.ip("tuntap", "add", "dev", dev, "mode", "tun")
        proc = self.run(
            ns,
            [sys.executable, str(Path(__file__).resolve()), "tun-delay", "dly0", "dly1", str(delay_ms)],
            name=f"delay-{ns.name}",
        )
        proc.wait_line(lambda line: line.startswith("tun-delay ready"), 10.0, "tun-delay ready")
        for dev in ("dly0", "dly1"):
            ns.ip("link", "set", dev, "up")
        ns.sysctl({"net.ipv4.conf.dly1.rp_filter": 0, "net.ipv4.conf.dly1.accept_local": 1})
        fam = f"-{family}"
        table = str(pref + 1)
        ns.ip(fam, "rule", "add", "pref", str(pref), "iif", "dly1", "lookup", "main")
        for i, sel in enumerate(selectors, start=1):
            ns.ip(fam, "rule", "add", "pref", str(pref + i), *sel.split(), "lookup", table)
        ns.ip(fam, "route", "add", "default", "dev", "dly0", "table", table)
        return proc

    # ------------------------------------------------------------- processes

    def run(self, ns: Namespace, argv: Sequence[str], *, name: str, env: dict[str, str] | None = None) -> Proc:
        """Start `argv` inside `ns` (`ip netns exec`, which execs: the pid is the program's)."""
        if self.closed:
            raise LabError("the lab is closed")
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        taken = {p.name for p in self.procs}
        unique = safe
        for n in itertools.count(2):
            if unique not in taken:
                break
            unique = f"{safe}-{n}"
        proc = Proc(unique, ns.exec_argv(argv), log_dir=self.workdir, env=env)
        self.procs.append(proc)
        return proc

    # ------------------------------------------------------------- teardown

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        for ns in reversed(list(self.namespaces.values())):
            with contextlib.suppress(Exception):
                _run(["ip", "netns", "del", ns.netns])
        self.namespaces.clear()
        for folder in self._etc_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        if self._own_workdir and not self.keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        _open_labs.discard(self)


@atexit.register
def _close_open_labs() -> None:
    for lab in list(_open_labs):
        with contextlib.suppress(Exception):
            lab.close()


# --------------------------------------------------------------------------- tun delay helper

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def _open_tun(name: str) -> int:
    import fcntl
    import struct

    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def tun_delay_main(argv: Sequence[str]) -> int:
    """`tun-delay IN OUT MS`: every packet read from TUN IN is written to TUN OUT MS later."""
    import asyncio

    src_name, dst_name, ms = argv[0], argv[1], float(argv[2])
    delay = ms / 1000.0

    async def main() -> None:
        loop = asyncio.get_running_loop()
        src, dst = _open_tun(src_name), _open_tun(dst_name)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        count = 0

        def write(pkt: bytes) -> None:
            with contextlib.suppress(OSError):
                os.write(dst, pkt)

        def readable() -> None:
            nonlocal count
            while True:
                try:
                    pkt = os.read(src, 65535)
                except BlockingIOError:
                    return
                count += 1
                if count == 1:
                    print("tun-delay first packet", flush=True)
                loop.call_later(delay, write, pkt)  # equal delays: call_later keeps the order

        loop.add_reader(src, readable)
        print(f"tun-delay ready {src_name}->{dst_name} {ms:g} ms", flush=True)
        await stop.wait()
        print(f"tun-delay delayed {count} packets", flush=True)

    asyncio.run(main())
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "tun-delay":
        sys.exit(tun_delay_main(sys.argv[2:]))
    print("usage: netlab.py tun-delay IN OUT MS", file=sys.stderr)
    sys.exit(2)
